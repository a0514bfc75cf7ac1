"""The third round of held-out styles for the robustness benchmark (written 2026-11-29).

The second round (``styles.UNSEEN``) has been looked at since it was measured, so it no longer
shows whether the robust stage generalises. These styles were written by someone who did not
work on the stage, and nobody who works on it was to open this file before the round is
measured (``run.py --styles heldout3`` draws every hard copy and every disguised distractor
from :data:`STYLES` alone; ``--styles all`` never draws them). Each is a thing an examiner meets:

- ``watermark``: a site's name in a translucent banner across the middle; a photographer's
  signature in an italic hand with a flourish in a corner; a camera's orange date stamp;
- ``letterbox``: padded to a square with a patterned or textured fill; a photo frame (wood and
  a mat) on a wall with a drop shadow; a polaroid-style card with a thick bottom edge;
- ``screenshot``: a social-media post card in a feed; a desktop file manager with the picture
  in its preview pane; a video call with the picture as one tile or as a shared screen;
- ``crop``: 3-8 % per edge then resized to a standard width; 3-8 % per edge to reach 4:3,
  3:2 or 16:9; 3-8 % per edge and re-saved as JPEG at quality 60-80.

Every style takes the picture and the run's generator and draws only from that generator, so
a run is reproducible.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from styles import Style, _font, _over

_FONTS = Path("/usr/share/fonts/truetype/dejavu")
_RGB = tuple[int, int, int]


def _face(file: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A DejaVu face by file name (Debian's fonts-dejavu-core), else the benchmark's font."""
    path = _FONTS / file
    size = max(6, size)
    return ImageFont.truetype(str(path), size) if path.exists() else _font(size)


def _fit(img: Image.Image, bw: int, bh: int) -> Image.Image:
    """``img`` scaled to fit a ``bw`` x ``bh`` box, its aspect ratio kept."""
    s = min(bw / img.width, bh / img.height)
    size = (max(1, round(img.width * s)), max(1, round(img.height * s)))
    return img.resize(size, Image.Resampling.BILINEAR)


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> _RGB:
    r, g, b = (int(c) for c in rng.integers(lo, hi, 3))
    return r, g, b


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(0, len(options)))]


def _shrink_to(
    d: ImageDraw.ImageDraw, text: str, file: str, size: int, width: float
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest face of at most ``size`` in which ``text`` is at most ``width`` wide."""
    font = _face(file, size)
    while size > 6 and d.textlength(text, font=font) > width:
        size = max(6, int(size * 0.9))
        font = _face(file, size)
    return font


# ---------------------------------------------------------------------------------------------
# Watermarks

_SITES = ("PICSHARE.EXAMPLE", "www.example-pics.net", "IMAGEBOARD", "photo-dump.example.org")
_NAMES = ("Anna Kowalski", "J. Marlow", "Lena Fischer Photography", "M. Okafor", "Sam Reyes")


def wm_banner(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A site's name in a translucent band across the whole width, near the middle (35-65 % of
    the height), 8-14 % of the height tall, dark or light, with thin rules at its edges."""
    w, h = img.size
    bh = round(h * rng.uniform(0.08, 0.14))
    y0 = round(h * rng.uniform(0.35, 0.65)) - bh // 2
    light = rng.random() < 0.5
    band = (
        (255, 255, 255, int(rng.integers(70, 140)))
        if light
        else (0, 0, 0, int(rng.integers(90, 160)))
    )
    ink = (
        (20, 20, 20, int(rng.integers(170, 230)))
        if light
        else (255, 255, 255, int(rng.integers(170, 230)))
    )
    text = _pick(rng, _SITES)
    rules = rng.random() < 0.5

    def draw(d: ImageDraw.ImageDraw) -> None:
        d.rectangle((0, y0, w, y0 + bh), fill=band)
        if rules:
            d.line((0, y0, w, y0), fill=ink, width=max(1, bh // 30))
            d.line((0, y0 + bh, w, y0 + bh), fill=ink, width=max(1, bh // 30))
        font = _shrink_to(d, text, "DejaVuSans-Bold.ttf", round(bh * 0.55), w * 0.9)
        d.text((w / 2, y0 + bh / 2), text, font=font, fill=ink, anchor="mm")

    return _over(img, draw)


def wm_signature(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A photographer's signature in a corner (bottom right most often): a name in an italic
    serif, 4-8 % of the short side tall, white or black, with a hand-drawn flourish under it."""
    w, h = img.size
    size = round(min(w, h) * rng.uniform(0.04, 0.08))
    text = _pick(rng, _NAMES)
    file = "DejaVuSerif-BoldItalic.ttf" if rng.random() < 0.5 else "DejaVuSerif-Italic.ttf"
    white = rng.random() < 0.7
    ink = (
        (255, 255, 255, int(rng.integers(170, 245)))
        if white
        else (10, 10, 10, int(rng.integers(170, 245)))
    )
    right, bottom = rng.random() < 0.7, rng.random() < 0.85
    amp, turns = rng.uniform(0.08, 0.2), rng.uniform(0.6, 1.6)

    def draw(d: ImageDraw.ImageDraw) -> None:
        font = _shrink_to(d, text, file, size, w * 0.6)
        x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
        tw, th = x1 - x0, y1 - y0
        mx, my = round(w * 0.03), round(h * 0.03)
        x = w - tw - mx - x0 if right else mx - x0
        y = h - th - my - y0 - th // 2 if bottom else my - y0
        d.text((x, y), text, font=font, fill=ink)
        # The flourish: a stroke under the name that swings up at its end.
        base = y + y1 + th * 0.15
        t = np.linspace(0.0, 1.0, 60)
        xs = x + x0 - tw * 0.05 + t * tw * 1.1
        ys = base + th * amp * np.sin(t * np.pi * turns) - th * 0.6 * t**6
        d.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=ink, width=max(1, size // 14))

    return _over(img, draw)


def wm_datestamp(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A date printed into the picture as film and compact cameras do: orange-red monospaced
    digits with a faint glow, 3-5 % of the short side tall, in the bottom right corner."""
    w, h = img.size
    size = round(min(w, h) * rng.uniform(0.03, 0.05))
    yy, mm, dd = (
        int(rng.integers(90, 126)) % 100,
        int(rng.integers(1, 13)),
        int(rng.integers(1, 29)),
    )
    hh, mi = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    text = (
        f"'{yy:02d} {mm:2d} {dd:2d}",
        f"20{yy:02d}/{mm:02d}/{dd:02d}",
        f"{dd:02d}.{mm:02d}.20{yy:02d} {hh:02d}:{mi:02d}",
    )[int(rng.integers(0, 3))]
    colour = (255, int(rng.integers(120, 180)), int(rng.integers(0, 60)))
    mx, my = round(w * rng.uniform(0.03, 0.07)), round(h * rng.uniform(0.03, 0.07))
    font = _face("DejaVuSansMono-Bold.ttf", size)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
    pos = (w - (x1 - x0) - mx - x0, h - (y1 - y0) - my - y0)
    d.text(pos, text, font=font, fill=(*colour, 255))
    glow = layer.filter(ImageFilter.GaussianBlur(max(1.0, size / 8)))
    base = Image.alpha_composite(img.convert("RGBA"), glow)
    return Image.alpha_composite(base, layer).convert("RGB")


# ---------------------------------------------------------------------------------------------
# Letterbox (padding and borders)


def _pattern(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A fill as editing apps offer it: a checkerboard, diagonal stripes, polka dots, or a
    paper/canvas texture (a colour with blurred noise)."""
    w, h = size
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    cell = max(4, round(max(w, h) * rng.uniform(0.02, 0.06)))
    y, x = np.mgrid[0:h, 0:w]
    kind = int(rng.integers(0, 4))
    if kind == 0:
        mask = ((x // cell + y // cell) % 2).astype(np.float32)
    elif kind == 1:
        mask = (((x + y) // cell) % 2).astype(np.float32)
    elif kind == 2:
        cx, cy = x % cell - cell / 2, y % cell - cell / 2
        mask = (np.hypot(cx, cy) < cell * 0.3).astype(np.float32)
    else:
        noise = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
        grain = Image.fromarray(np.clip(noise * 40 + 128, 0, 255).astype(np.uint8), "L")
        grain = grain.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 3.0))))
        mask = (np.asarray(grain, np.float32) - 128) / 255 + 0.5
        b = a * 0.7  # the same colour, darker in the grain
    plane = a * (1 - mask[..., None]) + b * mask[..., None]
    return Image.fromarray(np.clip(plane, 0, 255).astype(np.uint8), "RGB")


def lb_pattern_square(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Padded to a square (as for a square feed) on a patterned or textured fill, the long side
    keeping a margin of 2-8 % too."""
    w, h = img.size
    side = max(w, h) + 2 * round(max(w, h) * rng.uniform(0.02, 0.08))
    back = _pattern((side, side), rng)
    back.paste(img, ((side - w) // 2, (side - h) // 2))
    return back


def _wood(size: tuple[int, int], rng: np.random.Generator, border: int) -> np.ndarray:
    """A frame's wood: grain along each side (rows for the top and bottom, columns for the
    sides, split at the mitres), in a brown, black or gilt tone."""
    w, h = size
    tone = np.array(
        ((120, 78, 45), (40, 32, 28), (176, 140, 70), (200, 190, 175))[int(rng.integers(0, 4))],
        np.float32,
    )

    def grain(n: int) -> np.ndarray:
        g = rng.normal(0.0, 1.0, n)
        g = np.convolve(g, np.ones(5) / 5, mode="same")
        return (g * 0.12).astype(np.float32)

    y, x = np.mgrid[0:h, 0:w]
    edge_h = np.minimum(y, h - 1 - y)  # distance to the top or bottom
    edge_v = np.minimum(x, w - 1 - x)
    rows = grain(h)[:, None] + np.zeros((1, w), np.float32)
    cols = grain(w)[None, :] + np.zeros((h, 1), np.float32)
    g = np.where(edge_h < edge_v, rows, cols)
    bevel = np.minimum(edge_h, edge_v) / max(1, border)  # lighter outside, darker at the mat
    shade = 1.0 + g + 0.15 * (0.5 - bevel)
    return np.clip(tone * shade[..., None], 0, 255)


def lb_frame_shadow(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture in a photo frame (wood, 3-7 % of the short side, and half the time a cream
    mat of 4-10 %) hanging on a plain wall, with a soft drop shadow down and to one side."""
    w, h = img.size
    s = min(w, h)
    frame = max(3, round(s * rng.uniform(0.03, 0.07)))
    mat = round(s * rng.uniform(0.04, 0.1)) if rng.random() < 0.5 else 0
    wall = max(4, round(s * rng.uniform(0.04, 0.1)))
    fw, fh = w + 2 * (mat + frame), h + 2 * (mat + frame)
    cw, ch = fw + 2 * wall, fh + 2 * wall
    out = Image.new("RGB", (cw, ch), _colour(rng, 150, 240))
    off = (
        round(wall * rng.uniform(0.2, 0.5)) * (1 if rng.random() < 0.5 else -1),
        round(wall * rng.uniform(0.3, 0.6)),
    )
    shadow = Image.new("L", (cw, ch), 0)
    ImageDraw.Draw(shadow).rectangle(
        (wall + off[0], wall + off[1], wall + fw + off[0], wall + fh + off[1]),
        fill=int(rng.integers(90, 170)),
    )
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(1.0, wall / 3)))
    out.paste((0, 0, 0), (0, 0, cw, ch), shadow)
    wood = Image.fromarray(_wood((fw, fh), rng, frame).astype(np.uint8), "RGB")
    if mat:
        cream = tuple(int(c) for c in rng.integers(232, 252, 3))
        ImageDraw.Draw(wood).rectangle((frame, frame, fw - frame - 1, fh - frame - 1), fill=cream)
    out.paste(wood, (wall, wall))
    out.paste(img, (wall + frame + mat, wall + frame + mat))
    return out


def lb_polaroid(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A polaroid-style card: an off-white border of 4-7 % of the width on three sides and
    16-24 % at the bottom, a handwritten caption there half the time; a third of the time the
    card lies on a table with a soft shadow."""
    w, h = img.size
    b = round(w * rng.uniform(0.04, 0.07))
    bottom = round(w * rng.uniform(0.16, 0.24))
    card_colour = (
        int(rng.integers(244, 253)),
        int(rng.integers(240, 250)),
        int(rng.integers(228, 244)),
    )
    cw, ch = w + 2 * b, h + b + bottom
    card = Image.new("RGB", (cw, ch), card_colour)
    card.paste(img, (b, b))
    if rng.random() < 0.5:
        d = ImageDraw.Draw(card)
        caption = _pick(rng, ("summer '26", "us <3", "lake house", "Nov 2026", "best day"))
        ink = ((25, 40, 120), (30, 30, 30))[int(rng.integers(0, 2))]
        font = _face("DejaVuSerif-Italic.ttf", round(bottom * rng.uniform(0.3, 0.45)))
        d.text(
            (b + round(w * rng.uniform(0.0, 0.3)), h + b + bottom // 2),
            caption,
            font=font,
            fill=ink,
            anchor="lm",
        )
    if rng.random() >= 1 / 3:
        return card
    m = max(4, round(min(cw, ch) * rng.uniform(0.04, 0.1)))
    out = Image.new("RGB", (cw + 2 * m, ch + 2 * m), _colour(rng, 60, 200))
    shadow = Image.new("L", out.size, 0)
    ImageDraw.Draw(shadow).rectangle(
        (m + m // 4, m + m // 3, m + cw + m // 4, m + ch + m // 3), fill=140
    )
    out.paste((0, 0, 0), (0, 0, *out.size), shadow.filter(ImageFilter.GaussianBlur(m / 3)))
    out.paste(card, (m, m))
    return out


# ---------------------------------------------------------------------------------------------
# Screenshots

_SCREENS = ((1280, 800), (1366, 768), (1440, 900), (1920, 1080))
_POSTS = (
    "Found this on an old drive, anyone know where it's from?",
    "Throwback to last weekend",
    "no context needed",
    "Reposting because the first one got removed. Thoughts?",
    "Look what I found",
)


def _screen(rng: np.random.Generator) -> tuple[int, int]:
    return _SCREENS[int(rng.integers(0, len(_SCREENS)))]


def _bars_of_text(
    d: ImageDraw.ImageDraw,
    x: int,
    y: int,
    width: int,
    n: int,
    colour: _RGB,
    rng: np.random.Generator,
) -> int:
    """``n`` grey bars standing for lines of text; the y under them."""
    for _ in range(n):
        d.rounded_rectangle(
            (x, y, x + round(width * rng.uniform(0.4, 1.0)), y + 8), radius=4, fill=colour
        )
        y += 18
    return y


def ss_post(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A post in a social-media feed: avatar, name and handle, a line of text, the picture at the
    card's width, a row of like/comment/share buttons with counts; the card in a centred feed
    column on a desktop (with a side panel) or full width on a phone; light or dark."""
    phone = rng.random() < 0.4
    sw, sh = (720, round(720 * rng.uniform(1.9, 2.2))) if phone else _screen(rng)
    light = rng.random() < 0.6
    feed, card, ink, faint = (
        ((240, 242, 245), (255, 255, 255), (5, 5, 5), (101, 103, 107))
        if light
        else ((24, 25, 26), (36, 37, 38), (228, 230, 235), (176, 179, 184))
    )
    shot = Image.new("RGB", (sw, sh), feed)
    d = ImageDraw.Draw(shot)
    top = 0
    if not phone:  # the site's top bar and a side panel of links
        top = 56
        d.rectangle((0, 0, sw, top), fill=card)
        d.text((20, 14), "example.social", font=_font(24, bold=True), fill=(24, 119, 242))
        d.rounded_rectangle((sw // 2 - 200, 10, sw // 2 + 200, 46), radius=18, fill=feed)
        for k in range(6):
            d.ellipse((20, top + 24 + 44 * k, 48, top + 52 + 44 * k), fill=_colour(rng, 80, 220))
            d.text(
                (60, top + 30 + 44 * k),
                ("Home", "Friends", "Groups", "Saved", "Events", "Pages")[k],
                font=_font(16),
                fill=ink,
            )
    else:
        top = 48
        d.rectangle((0, 0, sw, top), fill=card)
        d.text((20, 10), "12:4" + str(int(rng.integers(0, 10))), font=_font(26), fill=ink)
    u = 2 if phone else 1  # a phone's screenshot is at twice the density
    cw = sw - 8 * u if phone else min(680, round(sw * rng.uniform(0.4, 0.5)))
    cx = (sw - cw) // 2
    y = top + int(rng.integers(8, 40))
    header, caption, footer = 64 * u, 44 * u, 66 * u
    name = _pick(rng, ("Kim Lee", "Max Bauer", "jo_n", "Rita M."))
    room = sh - y - header - caption - footer - 10
    pic = _fit(img, cw, room) if img.width / cw < img.height / room else _fit(img, cw, 10**6)
    ch = header + caption + pic.height + footer
    d.rounded_rectangle((cx, y, cx + cw, y + ch), radius=8 * u, fill=card)
    d.ellipse((cx + 16 * u, y + 12 * u, cx + 56 * u, y + 52 * u), fill=_colour(rng, 60, 220))
    d.text(
        (cx + 36 * u, y + 32 * u),
        name[0].upper(),
        font=_font(20 * u, True),
        fill=(255, 255, 255),
        anchor="mm",
    )
    d.text((cx + 68 * u, y + 14 * u), name, font=_font(17 * u, True), fill=ink)
    d.text(
        (cx + 68 * u, y + 36 * u),
        f"{int(rng.integers(1, 23))} h · public",
        font=_font(14 * u),
        fill=faint,
    )
    for k in range(3):
        x = cx + cw - (40 - 7 * k) * u
        d.ellipse((x, y + 28 * u, x + 4 * u, y + 32 * u), fill=faint)
    text = _pick(rng, _POSTS)
    font = _shrink_to(d, text, "DejaVuSans.ttf", 17 * u, cw - 32 * u)
    d.text((cx + 16 * u, y + header + 4 * u), text, font=font, fill=ink)
    py = y + header + caption
    shot.paste(pic, (cx + (cw - pic.width) // 2, py))
    by = py + pic.height + 12 * u
    likes = f"{int(rng.integers(3, 900))} likes  ·  {int(rng.integers(0, 80))} comments"
    d.text((cx + 16 * u, by), likes, font=_font(14 * u), fill=faint)
    d.line((cx + 12 * u, by + 22 * u, cx + cw - 12 * u, by + 22 * u), fill=faint, width=u)
    for k, label in enumerate(("Like", "Comment", "Share")):
        d.text(
            (cx + cw * (2 * k + 1) // 6, by + 38 * u),
            label,
            font=_font(15 * u, True),
            fill=faint,
            anchor="mm",
        )
    ny = y + ch + 12 * u
    if ny < sh:  # the next post's top, cut off by the screen
        d.rounded_rectangle((cx, ny, cx + cw, sh + 20), radius=8 * u, fill=card)
        d.ellipse((cx + 16 * u, ny + 12 * u, cx + 56 * u, ny + 52 * u), fill=_colour(rng, 60, 220))
        d.text((cx + 68 * u, ny + 14 * u), "Dana", font=_font(17 * u, True), fill=ink)
        _bars_of_text(d, cx + 16 * u, ny + 70 * u, cw - 32 * u, 3, faint, rng)
    return shot


def _tile_colours(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A generic thumbnail: a two-colour gradient (another file in the folder)."""
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    plane = np.broadcast_to(a * (1 - t) + b * t, (h, w, 3))
    return Image.fromarray(np.ascontiguousarray(plane.astype(np.uint8)), "RGB")


def ss_file_manager(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A desktop file manager: toolbar with a path, places in a sidebar, a grid of thumbnails
    (the picture's own among them, selected), the picture in the preview pane on the right
    with its name, type and size under it, a status bar; light or dark theme."""
    sw, sh = _screen(rng)
    light = rng.random() < 0.6
    win, side, ink, sel = (
        ((250, 250, 250), (236, 236, 238), (30, 30, 30), (53, 132, 228))
        if light
        else ((36, 36, 36), (48, 48, 50), (230, 230, 230), (53, 132, 228))
    )
    shot = Image.new("RGB", (sw, sh), win)
    d = ImageDraw.Draw(shot)
    bar, status, sidebar = 48, 28, int(rng.integers(170, 230))
    d.rectangle((0, 0, sw, bar), fill=side)
    for k in range(2):
        d.text((16 + 28 * k, bar // 2), ("<", ">")[k], font=_font(20, True), fill=ink, anchor="lm")
    d.rounded_rectangle((90, 9, sw // 2, bar - 9), radius=6, fill=win)
    d.text(
        (102, bar // 2),
        "Home  >  Pictures  >  2026  >  export",
        font=_font(15),
        fill=ink,
        anchor="lm",
    )
    d.rectangle((0, bar, sidebar, sh - status), fill=side)
    for k, place in enumerate(
        ("Recent", "Home", "Desktop", "Documents", "Downloads", "Pictures", "Trash")
    ):
        yy = bar + 16 + 34 * k
        if place == "Pictures":
            d.rounded_rectangle((6, yy - 6, sidebar - 6, yy + 24), radius=5, fill=sel)
        d.text(
            (40, yy), place, font=_font(15), fill=(255, 255, 255) if place == "Pictures" else ink
        )
        d.rectangle((16, yy + 2, 30, yy + 14), outline=ink)
    pane = round(sw * rng.uniform(0.3, 0.42))
    px0 = sw - pane
    d.rectangle((px0, bar, sw, sh - status), fill=side)
    d.line((px0, bar, px0, sh - status), fill=(190, 190, 190) if light else (70, 70, 70))
    # The grid of files; the picture's own thumbnail, selected, among them.
    cell, gap = int(rng.integers(110, 150)), 14
    cols = max(1, (px0 - sidebar - gap) // (cell + gap))
    rows = max(1, (sh - status - bar - gap) // (cell + 30 + gap))
    mine = int(rng.integers(0, cols * rows))
    for k in range(cols * rows):
        gx = sidebar + gap + (k % cols) * (cell + gap)
        gy = bar + gap + (k // cols) * (cell + 30 + gap)
        if k == mine:
            d.rounded_rectangle((gx - 4, gy - 4, gx + cell + 4, gy + cell + 26), radius=6, fill=sel)
            thumb = _fit(img, cell, cell)
        else:
            thumb = _fit(_tile_colours(rng, 4, 3), cell, cell)
            if rng.random() < 0.3:  # a folder or a document
                thumb = Image.new(
                    "RGB",
                    (cell * 3 // 4, cell * 3 // 5),
                    (220, 170, 60) if rng.random() < 0.5 else (200, 200, 210),
                )
        shot.paste(thumb, (gx + (cell - thumb.width) // 2, gy + (cell - thumb.height) // 2))
        d.text(
            (gx + cell // 2, gy + cell + 12),
            f"IMG_{2000 + k:04d}.jpg",
            font=_font(12),
            fill=(255, 255, 255) if k == mine else ink,
            anchor="mm",
        )
    # The preview pane.
    margin = 16
    room_h = sh - status - bar - 2 * margin - 110
    pic = _fit(img, pane - 2 * margin, room_h)
    shot.paste(pic, (px0 + (pane - pic.width) // 2, bar + margin))
    ty = bar + margin + pic.height + 16
    details = (
        (f"IMG_{2000 + mine:04d}.jpg", True),
        ("JPEG image  -  " + f"{rng.uniform(0.4, 4.0):.1f} MB", False),
        (f"{img.width} x {img.height} pixels", False),
        ("Modified  29 Nov 2026, 14:07", False),
    )
    for text, bold in details:
        d.text((px0 + margin, ty), text, font=_font(15 if bold else 13, bold), fill=ink)
        ty += 24
    d.rectangle((0, sh - status, sw, sh), fill=side)
    d.text(
        (12, sh - status // 2),
        f"{cols * rows} items, 1 selected",
        font=_font(13),
        fill=ink,
        anchor="lm",
    )
    return shot


def _participant(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A participant's tile: camera off (an initial in a circle) or a blurred room."""
    w, h = size
    if rng.random() < 0.5:
        tile = Image.new("RGB", size, (60, 64, 67))
        d = ImageDraw.Draw(tile)
        r = min(w, h) // 4
        d.ellipse((w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r), fill=_colour(rng, 60, 200))
        d.text(
            (w // 2, h // 2),
            _pick(rng, ("A", "B", "C", "D", "E")),
            font=_font(r, True),
            fill=(255, 255, 255),
            anchor="mm",
        )
        return tile
    return _tile_colours(rng, w, h).filter(ImageFilter.GaussianBlur(4))


def ss_video_call(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A video call: either a grid of 4, 6 or 9 tiles with the picture (fitted on black) as one
    participant's video, or the picture as a shared screen beside a strip of participants;
    name labels, a control bar with a red hang-up button."""
    sw, sh = _screen(rng)
    shot = Image.new("RGB", (sw, sh), (32, 33, 36))
    d = ImageDraw.Draw(shot)
    controls, gap = 72, 8
    boxes: list[tuple[int, int, int, int]] = []
    if rng.random() < 0.5:
        cols, rows = ((2, 2), (3, 2), (3, 3))[int(rng.integers(0, 3))]
        tw, th = (sw - gap * (cols + 1)) // cols, (sh - controls - gap * (rows + 1)) // rows
        boxes = [
            (gap + c * (tw + gap), gap + r * (th + gap), tw, th)
            for r in range(rows)
            for c in range(cols)
        ]
        mine = int(rng.integers(0, len(boxes)))
    else:  # a shared screen, participants in a strip at the right
        strip = round(sw * rng.uniform(0.16, 0.22))
        boxes = [(gap, gap, sw - strip - 3 * gap, sh - controls - 2 * gap)]
        n = int(rng.integers(3, 6))
        ph = (sh - controls - gap * (n + 1)) // n
        boxes += [
            (sw - strip - gap, gap + k * (ph + gap), strip, min(ph, round(strip * 0.6)))
            for k in range(n)
        ]
        mine = 0
    for k, (x, y, w, h) in enumerate(boxes):
        if k == mine:
            tile = Image.new("RGB", (w, h), (0, 0, 0))
            pic = _fit(img, w, h)
            tile.paste(pic, ((w - pic.width) // 2, (h - pic.height) // 2))
        else:
            tile = _participant((w, h), rng)
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=10, fill=255)
        shot.paste(tile, (x, y), mask)
        name = _pick(rng, ("Alex", "Sam (guest)", "R. Lopez", "Priya", "Tom K."))
        label_font = _font(max(10, min(16, h // 12)))
        tw = round(d.textlength(name, font=label_font)) + 16
        d.rounded_rectangle((x + 8, y + h - 30, x + 8 + tw, y + h - 8), radius=4, fill=(0, 0, 0))
        d.text((x + 16, y + h - 19), name, font=label_font, fill=(255, 255, 255), anchor="lm")
    cy = sh - controls // 2
    for k in range(5):
        bx = sw // 2 + (k - 2) * 64
        fill = (234, 67, 53) if k == 4 else (60, 64, 67)
        d.ellipse((bx - 22, cy - 22, bx + 22, cy + 22), fill=fill)
    d.text(
        (20, cy),
        f"{int(rng.integers(9, 18))}:{int(rng.integers(0, 60)):02d} | weekly sync",
        font=_font(15),
        fill=(232, 234, 237),
        anchor="lm",
    )
    return shot


# ---------------------------------------------------------------------------------------------
# Crops


def _cuts(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Left, top, right, bottom shares, each 3-8 %."""
    left, top, right, bottom = (float(rng.uniform(0.03, 0.08)) for _ in range(4))
    return left, top, right, bottom


def _crop(img: Image.Image, cuts: tuple[float, float, float, float]) -> Image.Image:
    w, h = img.size
    left, top, right, bottom = cuts
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def crop_resize(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3-8 % cut from each edge, then resized to a standard width (640, 800, 1024, 1080 or
    1280 pixels), the aspect ratio kept, as upload forms and messengers do."""
    out = _crop(img, _cuts(rng))
    width = (640, 800, 1024, 1080, 1280)[int(rng.integers(0, 5))]
    size = (width, max(1, round(out.height * width / out.width)))
    return out.resize(
        size, Image.Resampling.LANCZOS if rng.random() < 0.5 else Image.Resampling.BICUBIC
    )


def _split(total: float, rng: np.random.Generator) -> tuple[float, float]:
    """``total`` (6-16 %) split between two opposite edges, each getting 3-8 %."""
    first = float(rng.uniform(max(0.03, total - 0.08), min(0.08, total - 0.03)))
    return first, total - first


def crop_aspect(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A crop to a standard aspect ratio (4:3, 3:2, 16:9, or their portrait forms) that cuts
    3-8 % from every edge; where no such ratio can be reached within those cuts, the picture's
    own ratio is kept."""
    w, h = img.size
    feasible = []
    for r in (4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16):
        lo, hi = max(0.84 * w, 0.84 * h * r), min(0.94 * w, 0.94 * h * r)
        if lo <= hi:
            feasible.append((r, lo, hi))
    if feasible:
        r, lo, hi = feasible[int(rng.integers(0, len(feasible)))]
        new_w = float(rng.uniform(lo, hi))
        new_h = new_w / r
    else:
        keep = float(rng.uniform(0.84, 0.94))
        new_w, new_h = w * keep, h * keep
    left, right = _split(1 - new_w / w, rng)
    top, bottom = _split(1 - new_h / h, rng)
    return _crop(img, (left, top, right, bottom))


def crop_jpeg(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3-8 % cut from each edge and the result saved as a JPEG of quality 60-80 (an editor's
    "export for web"), decoded again; the benchmark then encodes it once more."""
    out = _crop(img, _cuts(rng))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=int(rng.integers(60, 81)), subsampling=int(rng.integers(0, 3)))
    buf.seek(0)
    with Image.open(buf) as saved:
        return saved.convert("RGB")


#: Per hard transform, the third round's styles by name (distinct from every name in
#: ``styles.STYLES``, so results by style never mix the rounds).
STYLES: dict[str, dict[str, Style]] = {
    "watermark": {"banner": wm_banner, "signature": wm_signature, "date-stamp": wm_datestamp},
    "letterbox": {
        "pattern-square": lb_pattern_square,
        "photo-frame": lb_frame_shadow,
        "polaroid": lb_polaroid,
    },
    "screenshot": {"post": ss_post, "file-manager": ss_file_manager, "video-call": ss_video_call},
    "crop": {"crop-resize": crop_resize, "crop-aspect": crop_aspect, "crop-jpeg": crop_jpeg},
}
