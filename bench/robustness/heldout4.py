"""The fourth round of held-out styles for the robustness benchmark (written 2026-11-29).

The third round (``heldout3.py``) is being worked on (a candidate for pictures in textured
surrounds), so it too will stop showing whether the stage generalises. These styles were written
by someone who did not work on the stage, and nobody who works on it was to open this file
before the round is measured (``run.py --styles heldout4`` draws every hard copy and every
disguised distractor from :data:`STYLES` alone; ``--styles all`` and ``heldout3`` never draw
them). The round leans on padding and framing, each a thing an examiner meets:

- ``letterbox``: centred on a blurred, darkened copy of another scene or on a gradient mesh; a
  scrapbook page (torn-paper mount, tape, doodles); a printed page or poster on a surface; a
  monitor or TV on a desk with the picture as its screen; a thick rounded coloured border with a
  drop shadow on a patterned background; padded to 9:16 for a story with stickers and text;
- ``watermark``: a diagonal ribbon across a corner; a row of small logos along an edge;
- ``screenshot``: an image-board thread with the picture and its file-info line; a cloud
  drive's web viewer with a details panel;
- ``crop``: 3-8 % per edge and a mild sharpening; 3-8 % per edge and a colour-temperature shift.

Every padding style keeps the picture whole and unscaled; every style takes the picture and the
run's generator and draws only from that generator, so a run is reproducible.
"""

from __future__ import annotations

import numpy as np
from heldout3 import _colour, _crop, _cuts, _face, _fit, _pick, _screen, _shrink_to
from PIL import Image, ImageDraw, ImageFilter
from styles import Style, _font, _over

_RGB = tuple[int, int, int]


def _margins(w: int, h: int, rng: np.random.Generator, lo: float, hi: float) -> tuple[int, int]:
    """A margin on the left/right and one on the top/bottom, each ``lo``-``hi`` of the long side."""
    side = max(w, h)
    return round(side * rng.uniform(lo, hi)), round(side * rng.uniform(lo, hi))


def _scene(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Another photograph, as far as a blurred backdrop shows one: a few large soft blobs of
    colour over a sky-to-ground gradient."""
    w, h = size
    sw, sh = 48, max(8, round(48 * h / max(1, w)))
    top, ground = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    t = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
    plane = np.broadcast_to(top * (1 - t) + ground * t, (sh, sw, 3)).copy()
    y, x = np.mgrid[0:sh, 0:sw]
    for _ in range(int(rng.integers(4, 9))):
        cx, cy, r = rng.uniform(0, sw), rng.uniform(0, sh), rng.uniform(3, sw / 3)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        plane = plane * (1 - weight) + np.array(_colour(rng), np.float32) * weight
    small = Image.fromarray(np.clip(plane, 0, 255).astype(np.uint8), "RGB")
    return small.resize((w, h), Image.Resampling.BICUBIC)


def _mesh(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A gradient mesh: a colour at each corner and one in the middle, blended smoothly."""
    w, h = size
    grid = np.array([[_colour(rng, 30, 240) for _ in range(3)] for _ in range(3)], np.uint8)
    small = Image.fromarray(grid, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    return small.filter(ImageFilter.GaussianBlur(max(w, h) / 20))


def _shadow(out: Image.Image, box: tuple[int, int, int, int], blur: float, depth: int) -> None:
    """A soft drop shadow of ``box`` (x0, y0, x1, y1) darkened into ``out``."""
    mask = Image.new("L", out.size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=depth)
    out.paste((0, 0, 0), (0, 0, *out.size), mask.filter(ImageFilter.GaussianBlur(max(1.0, blur))))


def _grain(
    size: tuple[int, int], colour: _RGB, rng: np.random.Generator, amount: float
) -> Image.Image:
    """A surface of ``colour`` with a fine grain (paper, card, a desk's finish): noise drawn at
    half the size and enlarged, which softens it as a blur would, at a quarter of the cost."""
    w, h = size
    noise = rng.standard_normal((h // 2 + 1, w // 2 + 1), dtype=np.float32) * amount + 128
    small = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "L")
    grain = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), np.int16) - 128
    plane = np.array(colour, np.int16)[None, None, :] + grain[..., None]
    return Image.fromarray(np.clip(plane, 0, 255).astype(np.uint8), "RGB")


# ---------------------------------------------------------------------------------------------
# Letterbox (padding, framing)


def lb_backdrop(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Centred on a backdrop 5-25 % wider and taller per side: two times in three a blurred,
    darkened, enlarged copy of another scene (a template's stock background), else a gradient
    mesh; half the time with a thin white keyline round the picture."""
    w, h = img.size
    mx, my = _margins(w, h, rng, 0.05, 0.25)
    cw, ch = w + 2 * mx, h + 2 * my
    if rng.random() < 2 / 3:
        back = _scene((cw, ch), rng).filter(ImageFilter.GaussianBlur(max(cw, ch) * 0.02))
        dim = float(rng.uniform(0.45, 0.8))
        back = back.point(lambda v: int(v * dim))
    else:
        back = _mesh((cw, ch), rng)
    if rng.random() < 0.5:
        k = max(2, round(min(w, h) * 0.01))
        ImageDraw.Draw(back).rectangle(
            (mx - k, my - k, mx + w + k - 1, my + h + k - 1), fill="white"
        )
    back.paste(img, (mx, my))
    return back


_DOODLES = ("star", "heart", "dot", "swirl")


def _star(cx: float, cy: float, r: float, turn: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        a = turn + k * np.pi / 5
        rr = r if k % 2 == 0 else r * 0.45
        pts.append((cx + rr * np.sin(a), cy - rr * np.cos(a)))
    return pts


def _doodle(
    d: ImageDraw.ImageDraw,
    kind: str,
    cx: float,
    cy: float,
    r: float,
    colour: _RGB,
    rng: np.random.Generator,
) -> None:
    if kind == "star":
        d.polygon(_star(cx, cy, r, float(rng.uniform(0, 1))), fill=colour)
    elif kind == "heart":
        d.ellipse((cx - r, cy - r * 0.8, cx, cy), fill=colour)
        d.ellipse((cx, cy - r * 0.8, cx + r, cy), fill=colour)
        d.polygon(
            ((cx - r * 0.97, cy - r * 0.25), (cx + r * 0.97, cy - r * 0.25), (cx, cy + r)),
            fill=colour,
        )
    elif kind == "dot":
        d.ellipse((cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2), fill=colour)
    else:
        t = np.linspace(0, 4 * np.pi, 60)
        xs, ys = cx + r * t / 13 * np.cos(t), cy + r * t / 13 * np.sin(t)
        d.line(
            list(zip(xs.tolist(), ys.tolist(), strict=True)),
            fill=colour,
            width=max(1, round(r / 8)),
        )


def lb_scrapbook(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A scrapbook page: the picture on a white mount with torn (jagged) edges, on coloured card
    with a grain; strips of translucent washi tape over the mount at two or four corners (never
    over the picture); stars, hearts, dots and swirls scattered in the margins; a handwritten
    title above or below half the time."""
    w, h = img.size
    mx, my = _margins(w, h, rng, 0.12, 0.22)
    cw, ch = w + 2 * mx, h + 2 * my
    page = _grain((cw, ch), _colour(rng, 150, 245), rng, 6.0)
    d = ImageDraw.Draw(page, "RGBA")
    mount = max(6, round(min(w, h) * rng.uniform(0.04, 0.08)))
    x0, y0, x1, y1 = mx - mount, my - mount, mx + w + mount, my + h + mount
    # The mount's outline: each edge torn, jittering outwards from the picture by up to a mount.
    step = max(3, mount // 2)
    edge: list[tuple[float, float]] = []
    for x in range(x0, x1, step):
        edge.append((x, y0 + rng.uniform(-mount * 0.5, mount * 0.4)))
    for y in range(y0, y1, step):
        edge.append((x1 + rng.uniform(-mount * 0.4, mount * 0.5), y))
    for x in range(x1, x0, -step):
        edge.append((x, y1 + rng.uniform(-mount * 0.4, mount * 0.5)))
    for y in range(y1, y0, -step):
        edge.append((x0 + rng.uniform(-mount * 0.5, mount * 0.4), y))
    shade = [(x + mount * 0.3, y + mount * 0.4) for x, y in edge]
    d.polygon(shade, fill=(0, 0, 0, 50))
    d.polygon(edge, fill=(250, 249, 244, 255))
    r = max(6, round(min(mx, my) * 0.35))
    for _ in range(int(rng.integers(5, 12))):  # doodles in the margins only
        side = int(rng.integers(0, 4))
        if side < 2:
            cx, cy = (
                rng.uniform(r, cw - r),
                rng.uniform(r, max(r + 1, my - mount - r))
                if side == 0
                else ch - rng.uniform(r, max(r + 1, my - mount - r)),
            )
        else:
            cy = rng.uniform(r, ch - r)
            cx = (
                rng.uniform(r, max(r + 1, mx - mount - r))
                if side == 2
                else cw - rng.uniform(r, max(r + 1, mx - mount - r))
            )
        _doodle(
            d, _pick(rng, _DOODLES), cx, cy, r * rng.uniform(0.5, 1.0), _colour(rng, 40, 230), rng
        )
    if rng.random() < 0.5:
        title = _pick(rng, ("Summer!", "our trip", "Best friends", "2026 memories", "Holiday"))
        font = _shrink_to(d, title, "DejaVuSerif-BoldItalic.ttf", round(my * 0.5), cw * 0.8)
        ty = (my - mount) // 2 if rng.random() < 0.5 else ch - (my - mount) // 2
        d.text((cw / 2, ty), title, font=font, fill=(*_colour(rng, 20, 120), 255), anchor="mm")
    page.paste(img, (mx, my))
    # Tape: a translucent strip across a corner of the mount, clipped to stay off the picture.
    tape = Image.new("RGBA", page.size, (0, 0, 0, 0))
    td = ImageDraw.Draw(tape)
    colour = (*_colour(rng, 150, 255), int(rng.integers(140, 210)))
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    picks = (0, 2) if rng.random() < 0.5 else (0, 1, 2, 3)
    tl = mount * 1.6
    for k in picks:
        cx, cy = corners[k]
        dx = 1 if k in (0, 3) else -1
        dy = 1 if k in (0, 1) else -1
        # A strip along the corner's diagonal, perpendicular to it.
        px, py = -dy * tl, dx * tl
        td.polygon(
            (
                (cx + px * 0.5, cy + py * 0.5),
                (cx + px * 0.5 + dx * mount * 0.6, cy + py * 0.5 + dy * mount * 0.6),
                (cx - px * 0.5 + dx * mount * 0.6, cy - py * 0.5 + dy * mount * 0.6),
                (cx - px * 0.5, cy - py * 0.5),
            ),
            fill=colour,
        )
    hole = Image.new("L", page.size, 255)
    ImageDraw.Draw(hole).rectangle((mx, my, mx + w - 1, my + h - 1), fill=0)
    tape.putalpha(Image.fromarray(np.minimum(np.asarray(tape.getchannel("A")), np.asarray(hole))))
    return Image.alpha_composite(page.convert("RGBA"), tape).convert("RGB")


_HEADLINES = ("MISSING", "LOST CAT", "Community Fair 2026", "GALLERY OPENING", "Newsletter")


def lb_printed_page(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture printed on a page or poster (axis-aligned): off-white paper with a grain, a
    headline above, lines of body text below, a page number; the page on a grained table or
    wall with a soft shadow. The printed picture is the file's pixels (no ink or light)."""
    w, h = img.size
    side = round(w * rng.uniform(0.08, 0.16))
    head = round(h * rng.uniform(0.18, 0.3))
    foot = round(h * rng.uniform(0.3, 0.5))
    pw, ph = w + 2 * side, h + head + foot
    paper = _grain(
        (pw, ph), (int(rng.integers(236, 252)),) * 2 + (int(rng.integers(225, 245)),), rng, 3.0
    )
    d = ImageDraw.Draw(paper)
    ink = (int(rng.integers(10, 50)),) * 3
    headline = _pick(rng, _HEADLINES)
    font = _shrink_to(d, headline, "DejaVuSans-Bold.ttf", round(head * 0.45), pw * 0.85)
    d.text((pw / 2, head * 0.5), headline, font=font, fill=ink, anchor="mm")
    line, y = max(4, round(foot / 14)), h + head + max(6, round(foot * 0.1))
    while y + line < ph - 2 * line:
        d.rectangle(
            (side, y, side + round(w * rng.uniform(0.6, 1.0)), y + line // 2), fill=(120, 120, 120)
        )
        y += line
    d.text(
        (pw / 2, ph - line), str(int(rng.integers(1, 40))), font=_font(line), fill=ink, anchor="mm"
    )
    paper.paste(img, (side, head))
    m = max(8, round(max(pw, ph) * rng.uniform(0.04, 0.1)))
    out = _grain((pw + 2 * m, ph + 2 * m), _colour(rng, 50, 180), rng, 8.0)
    _shadow(
        out,
        (m + m // 4, m + m // 3, m + pw + m // 4, m + ph + m // 3),
        m / 3,
        int(rng.integers(100, 180)),
    )
    out.paste(paper, (m, m))
    return out


def lb_monitor(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture as the screen of a monitor or TV on a desk: a black or silver bezel (a logo
    and a power light on its chin), a stand, a wooden or white desk top, a wall behind; the
    screen is the picture edge to edge."""
    w, h = img.size
    s = min(w, h)
    bezel = max(4, round(s * rng.uniform(0.02, 0.05)))
    chin = bezel + round(s * rng.uniform(0.0, 0.06))
    silver = rng.random() < 0.3
    body = (196, 198, 202) if silver else (int(rng.integers(12, 35)),) * 3
    mw, mh = w + 2 * bezel, h + bezel + chin
    neck, foot = round(mh * rng.uniform(0.1, 0.2)), round(mh * rng.uniform(0.03, 0.06))
    wall, side = round(mh * rng.uniform(0.06, 0.2)), round(mw * rng.uniform(0.06, 0.18))
    desk = round(mh * rng.uniform(0.12, 0.3))
    cw, ch = mw + 2 * side, wall + mh + neck + desk
    out = Image.new("RGB", (cw, ch), _colour(rng, 150, 235))
    desk_y = wall + mh + neck
    wood = rng.random() < 0.6
    top = _grain(
        (cw, desk), (150, 105, 65) if wood else (235, 235, 232), rng, 10.0 if wood else 3.0
    )
    if wood:
        top = top.resize((cw // 8 + 1, desk), Image.Resampling.BILINEAR).resize(
            (cw, desk), Image.Resampling.BILINEAR
        )
    out.paste(top, (0, desk_y))
    d = ImageDraw.Draw(out)
    x0, y0 = side, wall
    _shadow(out, (x0 + mw // 4, desk_y - 4, x0 + 3 * mw // 4, desk_y + foot + 6), foot, 120)
    stand = tuple(int(c * 0.8) for c in body)
    d.rectangle(
        (x0 + mw // 2 - mw // 14, y0 + mh, x0 + mw // 2 + mw // 14, desk_y + foot // 2), fill=stand
    )
    d.rounded_rectangle(
        (x0 + mw // 2 - mw // 5, desk_y - foot // 2, x0 + mw // 2 + mw // 5, desk_y + foot // 2),
        radius=max(1, foot // 2),
        fill=stand,
    )
    d.rounded_rectangle((x0, y0, x0 + mw - 1, y0 + mh - 1), radius=max(2, bezel // 2), fill=body)
    if chin > bezel + 6:
        logo = _pick(rng, ("EXAMPLE", "Monitr", "VIEWTEC", "SAMTV"))
        font = _shrink_to(d, logo, "DejaVuSans-Bold.ttf", round((chin - bezel) * 0.5), mw * 0.2)
        d.text(
            (x0 + mw / 2, y0 + bezel + h + (chin) / 2),
            logo,
            font=font,
            fill=(110, 110, 110) if not silver else (70, 70, 70),
            anchor="mm",
        )
    led = max(1, bezel // 5)
    lx, ly = x0 + mw - bezel * 2, y0 + mh - chin / 2
    d.ellipse(
        (lx - led, ly - led, lx + led, ly + led),
        fill=(80, 200, 255) if rng.random() < 0.5 else (255, 170, 40),
    )
    out.paste(img, (x0 + bezel, y0 + bezel))
    return out


def _dots(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A background as card makers offer it: confetti of small rounded shapes, wavy lines, or a
    diamond (argyle) lattice, in two or three colours."""
    w, h = size
    back = Image.new("RGB", size, _colour(rng, 170, 255))
    d = ImageDraw.Draw(back)
    ink = [_colour(rng, 40, 220) for _ in range(2)]
    cell = max(6, round(max(w, h) * rng.uniform(0.03, 0.07)))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        for _ in range(int(w * h / cell**2 * 1.5)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), cell * rng.uniform(0.1, 0.25)
            d.rounded_rectangle(
                (x - r, y - r / 2, x + r, y + r / 2),
                radius=r / 3,
                fill=ink[int(rng.integers(0, 2))],
            )
    elif kind == 1:
        xs = np.arange(0, w + 4, 4)
        for k, y in enumerate(range(0, h + cell, cell)):
            ys = y + cell * 0.25 * np.sin(xs / cell * np.pi)
            d.line(
                list(zip(xs.tolist(), ys.tolist(), strict=True)),
                fill=ink[k % 2],
                width=max(1, cell // 6),
            )
    else:
        for row, y in enumerate(range(-cell, h + cell, cell)):
            for x in range(-cell + (row % 2) * cell // 2, w + cell, cell):
                d.polygon(
                    ((x, y - cell / 2), (x + cell / 2, y), (x, y + cell / 2), (x - cell / 2, y)),
                    fill=ink[row % 2],
                )
    return back


def lb_rounded_border(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A thick coloured border (4-10 % of the short side) with rounded outer corners and a drop
    shadow, on a patterned background (confetti, waves or a diamond lattice)."""
    w, h = img.size
    s = min(w, h)
    b = max(4, round(s * rng.uniform(0.04, 0.1)))
    mx, my = _margins(w, h, rng, 0.06, 0.16)
    cw, ch = w + 2 * (b + mx), h + 2 * (b + my)
    out = _dots((cw, ch), rng)
    off = max(2, round(b * rng.uniform(0.3, 0.8)))
    _shadow(
        out, (mx + off, my + off, cw - mx + off, ch - my + off), off, int(rng.integers(90, 170))
    )
    card = Image.new("RGB", (w + 2 * b, h + 2 * b), _colour(rng, 0, 256))
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, card.width - 1, card.height - 1), radius=round(b * rng.uniform(0.8, 1.6)), fill=255
    )
    out.paste(card, (mx, my), mask)
    out.paste(img, (mx + b, my + b))
    return out


_STORY = ("@jo_n", "link in bio", "swipe up", "tag a friend", "#weekend", "2 days left!")


def lb_story(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Padded to 9:16 for a story: a gradient or flat fill, the picture unscaled in the middle
    (a little above or below half the time), stickers (rounded labels, emoji-like faces, a poll
    box) and a line of text in the padding; the progress bars and the poster's name at the top."""
    w, h = img.size
    cw = w + 2 * round(w * rng.uniform(0.03, 0.12))
    ch = max(round(cw * 16 / 9), h + round(h * 0.3))
    if ch > round(cw * 16 / 9):  # a tall picture: widen instead, the ratio kept
        cw = round(ch * 9 / 16)
    out = _mesh((cw, ch), rng) if rng.random() < 0.6 else Image.new("RGB", (cw, ch), _colour(rng))
    free = ch - h
    py = round(free * rng.uniform(0.35, 0.65))
    px = (cw - w) // 2
    d = ImageDraw.Draw(out)
    u = max(6, round(cw / 40))
    bars = int(rng.integers(1, 6))
    for k in range(bars):
        x0 = u + k * (cw - 2 * u) // bars
        d.rounded_rectangle(
            (x0, u, x0 + (cw - 2 * u) // bars - u // 3, u + max(2, u // 4)),
            radius=2,
            fill=(255, 255, 255) if k == 0 else (200, 200, 200),
        )
    d.ellipse((u, 2 * u, 4 * u, 5 * u), fill=_colour(rng, 60, 220))
    d.text(
        (5 * u, 3.5 * u),
        _pick(rng, ("kim.lee", "max_b", "rita.m")),
        font=_font(round(u * 1.3), True),
        fill=(255, 255, 255),
        anchor="lm",
    )
    regions = [(6 * u, py - u), (py + h + u, ch - u)]  # the padding above and below the picture
    for top, bottom in regions:
        if bottom - top < 3 * u:
            continue
        n = int(rng.integers(1, 3))
        slot = (bottom - top) / n  # one sticker per slot, so that none covers another
        for j in range(n):
            kind = int(rng.integers(0, 3))
            r = round(min(slot, cw) * rng.uniform(0.3, 0.6) / 2)
            cx = rng.uniform(r + u, cw - r - u)
            cy = rng.uniform(
                top + j * slot + r, max(top + j * slot + r + 1, top + (j + 1) * slot - r)
            )
            if kind == 0:
                d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 205, 40))
                d.ellipse(
                    (cx - r * 0.45, cy - r * 0.35, cx - r * 0.2, cy - r * 0.05), fill=(60, 40, 20)
                )
                d.ellipse(
                    (cx + r * 0.2, cy - r * 0.35, cx + r * 0.45, cy - r * 0.05), fill=(60, 40, 20)
                )
                d.arc(
                    (cx - r * 0.55, cy - r * 0.5, cx + r * 0.55, cy + r * 0.6),
                    20,
                    160,
                    fill=(60, 40, 20),
                    width=max(1, r // 8),
                )
            elif kind == 1:
                text = _pick(rng, _STORY)
                font = _shrink_to(d, text, "DejaVuSans-Bold.ttf", round(r * 0.8), cw * 0.7)
                tw = d.textlength(text, font=font)
                cx = min(max(cx, tw / 2 + 2 * u), cw - tw / 2 - 2 * u)
                d.rounded_rectangle(
                    (cx - tw / 2 - u, cy - r * 0.6, cx + tw / 2 + u, cy + r * 0.6),
                    radius=r * 0.4,
                    fill=(255, 255, 255),
                )
                d.text((cx, cy), text, font=font, fill=_colour(rng, 0, 160), anchor="mm")
            else:
                bw = min(cw - 4 * u, r * 5)
                cx = cw / 2
                d.rounded_rectangle(
                    (cx - bw / 2, cy - r, cx + bw / 2, cy + r), radius=u, fill=(255, 255, 255)
                )
                font = _face("DejaVuSans-Bold.ttf", max(6, round(r * 0.4)))
                d.text((cx, cy - r * 0.5), "Would you?", font=font, fill=(30, 30, 30), anchor="mm")
                d.text(
                    (cx - bw / 4, cy + r * 0.4), "YES", font=font, fill=(40, 160, 80), anchor="mm"
                )
                d.text(
                    (cx + bw / 4, cy + r * 0.4), "NO", font=font, fill=(220, 60, 60), anchor="mm"
                )
    out.paste(img, (px, py))
    return out


# ---------------------------------------------------------------------------------------------
# Watermarks

_RIBBONS = ("SAMPLE", "PREVIEW", "NEW", "EXCLUSIVE", "example.net", "FREE")


def wm_ribbon(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A diagonal ribbon across one corner (a sash at 45 degrees, 5-9 % of the short side wide,
    red, blue, black or gold, opaque or nearly), with a word in it and thin stitched edges."""
    w, h = img.size
    s = min(w, h)
    band = max(6, round(s * rng.uniform(0.05, 0.09)))
    reach = round(s * rng.uniform(0.18, 0.3))  # where the ribbon's inner edge meets the sides
    colour = ((200, 30, 40), (30, 80, 180), (20, 20, 20), (212, 170, 50))[int(rng.integers(0, 4))]
    alpha = int(rng.integers(200, 256))
    text = _pick(rng, _RIBBONS)
    corner = int(rng.integers(0, 4))
    # The ribbon drawn for the top-left corner on a square tile, flipped to the chosen corner.
    side = reach + band + 2
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    a, b = reach, reach + band
    d.polygon(((a, 0), (b, 0), (0, b), (0, a)), fill=(*colour, alpha))
    stitch = (255, 255, 255, 200)
    k = max(1, band // 8)
    d.line(((a + k * 1.4, 0), (0, a + k * 1.4)), fill=stitch, width=1)
    d.line(((b - k * 1.4, 0), (0, b - k * 1.4)), fill=stitch, width=1)
    label = Image.new("RGBA", (round((a + b) / np.sqrt(2)) + 2, band), (0, 0, 0, 0))
    ld = ImageDraw.Draw(label)
    font = _shrink_to(ld, text, "DejaVuSans-Bold.ttf", round(band * 0.6), label.width * 0.8)
    ld.text((label.width / 2, band / 2), text, font=font, fill=(255, 255, 255, 255), anchor="mm")
    label = label.rotate(45, expand=True, resample=Image.Resampling.BICUBIC)
    c = (a + b) / 4  # the band's middle at the tile's diagonal
    tile.alpha_composite(
        label, (max(0, round(c - label.width / 2)), max(0, round(c - label.height / 2)))
    )
    if corner in (1, 2):
        tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if corner in (2, 3):
        tile = tile.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    x = 0 if corner in (0, 3) else w - side
    y = 0 if corner in (0, 1) else h - side
    base = img.convert("RGBA")
    base.alpha_composite(tile, (x, y))
    return base.convert("RGB")


def _logo(
    d: ImageDraw.ImageDraw, x: float, y: float, s: float, kind: int, ink: tuple[int, int, int, int]
) -> None:
    """A small platform-like logo in an ``s`` box: a rounded square with a ring, a play button,
    a speech bubble, a bird-ish circle with a letter."""
    if kind == 0:
        d.rounded_rectangle(
            (x, y, x + s, y + s), radius=s * 0.28, outline=ink, width=max(1, round(s / 10))
        )
        d.ellipse(
            (x + s * 0.28, y + s * 0.28, x + s * 0.72, y + s * 0.72),
            outline=ink,
            width=max(1, round(s / 10)),
        )
    elif kind == 1:
        d.rounded_rectangle((x, y + s * 0.15, x + s, y + s * 0.85), radius=s * 0.2, fill=ink)
        d.polygon(
            ((x + s * 0.4, y + s * 0.32), (x + s * 0.4, y + s * 0.68), (x + s * 0.7, y + s * 0.5)),
            fill=(0, 0, 0, 0),
        )
    elif kind == 2:
        d.ellipse((x, y, x + s, y + s * 0.8), fill=ink)
        d.polygon(
            ((x + s * 0.2, y + s * 0.6), (x + s * 0.1, y + s), (x + s * 0.45, y + s * 0.75)),
            fill=ink,
        )
    else:
        d.ellipse((x, y, x + s, y + s), fill=ink)
        d.text(
            (x + s / 2, y + s / 2),
            "f",
            font=_face("DejaVuSans-Bold.ttf", round(s * 0.7)),
            fill=(0, 0, 0, 0),
            anchor="mm",
        )


def wm_logo_row(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A row of three to five small platform logos followed by a handle, along the bottom or
    the top edge (left, centre or right), white or black at alpha 150-230, 3-6 % of the short
    side tall, as reposting accounts stamp their pictures."""
    w, h = img.size
    s = max(8, round(min(w, h) * rng.uniform(0.03, 0.06)))
    n = int(rng.integers(3, 6))
    light = rng.random() < 0.7
    ink = ((255, 255, 255) if light else (15, 15, 15)) + (int(rng.integers(150, 231)),)
    handle = _pick(rng, ("@example_user", "/examplepage", "u/example", "@pics.daily"))
    bottom, where = rng.random() < 0.75, int(rng.integers(0, 3))
    kinds = [int(rng.integers(0, 4)) for _ in range(n)]

    def draw(d: ImageDraw.ImageDraw) -> None:
        font = _face("DejaVuSans-Bold.ttf", round(s * 0.7))
        tw = d.textlength(handle, font=font)
        total = n * s * 1.3 + s * 0.3 + tw
        m = max(2, round(min(w, h) * 0.025))
        x = (m, (w - total) / 2, w - total - m)[where]
        y = h - s - m if bottom else m
        for kind in kinds:
            _logo(d, x, y, s, kind, ink)
            x += s * 1.3
        d.text((x + s * 0.3, y + s / 2), handle, font=font, fill=ink, anchor="lm")

    return _over(img, draw)  # the logos, cut out of a layer of their own: holes show the picture


# ---------------------------------------------------------------------------------------------
# Screenshots


def ss_imageboard(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An image-board thread in a browser: a board banner and title, the opening post with a
    file-info line ("File: 1732894551.jpg (412 KB, 1280x853)") over the picture (a thumbnail
    up to 250-500 px, or expanded to the column's width), the subject, name, date and number
    beside it, then reply boxes; a pale yellow or a blue-grey theme."""
    sw, sh = _screen(rng)
    blue = rng.random() < 0.5
    page, reply, ink, accent, name = (
        ((238, 242, 255), (214, 218, 240), (0, 0, 0), (52, 52, 92), (17, 119, 67))
        if blue
        else ((255, 255, 238), (240, 224, 214), (128, 0, 0), (175, 10, 15), (17, 119, 67))
    )
    shot = Image.new("RGB", (sw, sh), page)
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, sw, 72), fill=(222, 225, 230))  # the browser's tabs and address bar
    d.rounded_rectangle((12, 8, 260, 34), radius=6, fill=page)
    d.text((24, 21), "/p/ - Photography", font=_font(13), fill=(30, 30, 30), anchor="lm")
    d.rounded_rectangle((90, 40, sw - 90, 66), radius=13, fill=(255, 255, 255))
    thread = int(rng.integers(10**6, 10**7))
    d.text(
        (108, 53),
        f"boards.example.org/p/thread/{thread}",
        font=_font(13),
        fill=(60, 60, 60),
        anchor="lm",
    )
    y = 84
    d.text((sw // 2, y + 18), "/p/ - Photography", font=_font(28, True), fill=accent, anchor="mm")
    d.line((sw // 8, y + 46, sw * 7 // 8, y + 46), fill=(200, 200, 200))
    y += 60
    big = rng.random() < 0.35
    box = sw - 40 if big else int(rng.integers(250, 501))
    pic = _fit(img, box, sh - y - 40) if big else _fit(img, box, box)
    stamp = int(rng.integers(1_600_000_000, 1_800_000_000))
    kb = int(rng.integers(80, 4000))
    info = f"File: {stamp}.jpg ({kb} KB, {img.width}x{img.height})"
    d.text((20, y), info, font=_font(13), fill=ink if blue else (0, 0, 0))
    y += 20
    shot.paste(pic, (20, y))
    tx = 20 + pic.width + 16 if not big else 20
    ty = y if not big else y + pic.height + 8
    subject = _pick(rng, ("old pics thread", "where is this?", "post your best", "rate"))
    no = int(rng.integers(10**8, 10**9))
    dd, hh, mi = int(rng.integers(1, 29)), int(rng.integers(0, 24)), int(rng.integers(0, 60))
    day = f"11/{dd:02d}/26(Sun){hh:02d}:{mi:02d}"
    d.text((tx, ty), subject, font=_font(14, True), fill=(15, 12, 93))
    sx = tx + d.textlength(subject, font=_font(14, True)) + 8
    d.text((sx, ty), "Anonymous", font=_font(14, True), fill=name)
    d.text((sx + 90, ty), f"{day} No.{no}", font=_font(13), fill=(0, 0, 0))
    if not big:
        for k in range(int(rng.integers(1, 4))):
            d.text(
                (tx, ty + 30 + 20 * k),
                _pick(rng, ("anyone got more of these?", ">same", "source?", "bump")),
                font=_font(14),
                fill=(0, 0, 0),
            )
    ry = max(y + pic.height, ty + 100) + 20
    while ry < sh - 40:  # replies
        rh = int(rng.integers(60, 110))
        rw = int(rng.integers(sw // 3, sw * 2 // 3))
        d.text((20, ry + 8), ">>", font=_font(13), fill=(150, 150, 150))
        d.rectangle((44, ry, 44 + rw, ry + rh), fill=reply, outline=tuple(c - 20 for c in reply))
        d.text(
            (54, ry + 8),
            f"Anonymous  {day} No.{no + int(rng.integers(1, 9999))}",
            font=_font(13),
            fill=name,
        )
        d.text(
            (54, ry + 34),
            _pick(rng, (f">>{no}", "nice", "what camera?", "more")),
            font=_font(14),
            fill=(120, 153, 34) if rng.random() < 0.4 else (0, 0, 0),
        )
        ry += rh + 10
    return shot


def ss_cloud_drive(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A cloud drive's web viewer over its file list: a dark overlay with the file's name, an
    icon row (download, share, more) at the top, the picture fitted in the middle with arrows
    either side, and a white details panel on the right (owner, size, type, dates, location)
    half the time or more; the browser's bar above."""
    sw, sh = _screen(rng)
    shot = Image.new("RGB", (sw, sh), (32, 33, 36))
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, sw, 74), fill=(53, 54, 58))
    d.rounded_rectangle((12, 8, 240, 34), radius=6, fill=(32, 33, 36))
    d.text((24, 21), "My Drive - Example Drive", font=_font(13), fill=(230, 230, 230), anchor="lm")
    d.rounded_rectangle((90, 42, sw - 90, 68), radius=13, fill=(32, 33, 36))
    d.text(
        (108, 55),
        "drive.example.com/file/d/1aX9"
        + "".join(_pick(rng, tuple("abcdefk0123456789")) for _ in range(18))
        + "/view",
        font=_font(13),
        fill=(200, 200, 200),
        anchor="lm",
    )
    top = 74 + 56
    fname = f"{_pick(rng, ('IMG', 'DSC', 'photo', 'scan'))}_{int(rng.integers(1000, 9999))}.jpg"
    d.text((64, 74 + 28), fname, font=_font(16), fill=(232, 234, 237), anchor="lm")
    d.text((24, 74 + 28), "<-", font=_font(18, True), fill=(232, 234, 237), anchor="lm")
    panel = round(sw * rng.uniform(0.22, 0.3)) if rng.random() < 0.6 else 0
    for k in range(3):
        x = sw - panel - 40 - 44 * k
        d.ellipse((x - 12, 74 + 16, x + 12, 74 + 40), outline=(232, 234, 237), width=2)
    area_w, area_h = sw - panel - 160, sh - top - 40
    pic = _fit(img, area_w, area_h)
    px = (sw - panel - pic.width) // 2
    py = top + (sh - top - pic.height) // 2 - 10
    shot.paste(pic, (px, py))
    for x, arrow in ((40, "<"), (sw - panel - 40, ">")):
        d.ellipse((x - 20, sh // 2 - 20, x + 20, sh // 2 + 20), fill=(60, 64, 67))
        d.text((x, sh // 2), arrow, font=_font(18, True), fill=(232, 234, 237), anchor="mm")
    if panel:
        px0 = sw - panel
        d.rectangle((px0, top - 56, sw, sh), fill=(255, 255, 255))
        d.text(
            (px0 + 20, top - 30), "Details", font=_font(18, True), fill=(32, 33, 36), anchor="lm"
        )
        rows = (
            ("Type", "Image"),
            ("Size", f"{rng.uniform(0.3, 6.0):.1f} MB"),
            ("Dimensions", f"{img.width} x {img.height}"),
            ("Location", "My Drive / Camera uploads"),
            ("Owner", "me"),
            ("Modified", f"Nov {int(rng.integers(1, 29))}, 2026"),
            ("Created", f"Oct {int(rng.integers(1, 31))}, 2026"),
        )
        y = top + 20
        for label, value in rows:
            d.text((px0 + 20, y), label, font=_font(12), fill=(95, 99, 104))
            d.text(
                (px0 + 20, y + 18),
                value,
                font=_shrink_to(d, value, "DejaVuSans.ttf", 14, panel - 40),
                fill=(32, 33, 36),
            )
            y += 52
    return shot


# ---------------------------------------------------------------------------------------------
# Crops


def crop_sharpen(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3-8 % cut from each edge and a mild unsharp mask (radius 1-2.5 px, 40-120 %), as a phone
    editor's "sharpen" or "clarity" slider leaves it."""
    out = _crop(img, _cuts(rng))
    radius, percent = float(rng.uniform(1.0, 2.5)), int(rng.integers(40, 121))
    return out.filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=2))


def crop_warmth(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3-8 % cut from each edge and a colour-temperature shift (warmer or cooler: red scaled by
    1 + t, blue by 1 - t, green by 1 + t / 4, with t of 4-12 % either way)."""
    out = _crop(img, _cuts(rng))
    t = float(rng.uniform(0.04, 0.12)) * (1 if rng.random() < 0.5 else -1)
    gain = np.array((1 + t, 1 + t / 4, 1 - t), np.float32)
    plane = np.asarray(out.convert("RGB"), np.float32) * gain
    return Image.fromarray(np.clip(plane, 0, 255).astype(np.uint8), "RGB")


#: Per hard transform, the fourth round's styles by name (distinct from every name in
#: ``styles.STYLES`` and ``heldout3.STYLES``, so results by style never mix the rounds).
STYLES: dict[str, dict[str, Style]] = {
    "watermark": {"corner-ribbon": wm_ribbon, "logo-row": wm_logo_row},
    "letterbox": {
        "backdrop": lb_backdrop,
        "scrapbook": lb_scrapbook,
        "printed-page": lb_printed_page,
        "monitor": lb_monitor,
        "rounded-border": lb_rounded_border,
        "story": lb_story,
    },
    "screenshot": {"imageboard": ss_imageboard, "cloud-drive": ss_cloud_drive},
    "crop": {"crop-sharpen": crop_sharpen, "crop-warmth": crop_warmth},
}
