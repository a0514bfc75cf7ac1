"""Candidate regions on generated pictures: each alteration is undone by the right candidate.

The pictures are generated (``hashsieve.samples.images.photo_like``): letterboxed in several flat
colours or with bars of the blurred picture, shown in a drawn viewer window or a phone
screenshot, stamped with a dark caption box or a small dark or light corner stamp, or left plain.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from hashsieve.hashing.candidates import (
    CANDIDATE_NAMES,
    THRESHOLDS,
    candidate_hashes,
    find_candidates,
)
from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.samples.images import photo_like

ORIGINAL = photo_like(7, (640, 480))
CODE = pdq_hash(ORIGINAL).code


def _jpeg(img: Image.Image, quality: int = 85) -> Image.Image:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def letterbox(colour: tuple[int, int, int], noise: float = 0.0) -> tuple[Image.Image, tuple]:
    w, h = ORIGINAL.size
    bar = round(0.15 * h)
    canvas = np.zeros((h + 2 * bar, w, 3), np.float32) + np.array(colour, np.float32)
    if noise:
        canvas += np.random.default_rng(0).normal(0, noise, canvas.shape)
    canvas[bar : bar + h] = np.asarray(ORIGINAL)
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    return _jpeg(img), (bar, bar + h, 0, w)


def pillarbox(colour: tuple[int, int, int]) -> tuple[Image.Image, tuple]:
    w, h = ORIGINAL.size
    bar = round(0.2 * w)
    img = Image.new("RGB", (w + 2 * bar, h), colour)
    img.paste(ORIGINAL, (bar, 0))
    return _jpeg(img), (0, h, bar, bar + w)


def in_window() -> tuple[Image.Image, tuple]:
    """The picture inside a viewer window (title bar, frame, black bars) on a flat desktop."""
    shot = Image.new("RGB", (1280, 800), (36, 52, 71))
    d = ImageDraw.Draw(shot)
    wx, wy, ww, wh, title = 140, 60, 1000, 700, 28
    d.rectangle((wx - 1, wy - 1, wx + ww, wy + wh), outline=(120, 120, 120))
    d.rectangle((wx, wy, wx + ww - 1, wy + title - 1), fill=(225, 225, 225))
    for k, c in enumerate(((255, 95, 87), (255, 189, 46), (40, 200, 64))):
        d.ellipse((wx + 10 + 20 * k, wy + 8, wx + 22 + 20 * k, wy + 20), fill=c)
    d.text((wx + 420, wy + 7), "IMG_0042.jpg", fill=(20, 20, 20))
    d.rectangle((wx, wy + title, wx + ww - 1, wy + wh - 1), fill=(0, 0, 0))
    scale = min(ww / ORIGINAL.width, (wh - title) / ORIGINAL.height)
    pw, ph = round(ORIGINAL.width * scale), round(ORIGINAL.height * scale)
    px, py = wx + (ww - pw) // 2, wy + title + (wh - title - ph) // 2
    shot.paste(ORIGINAL.resize((pw, ph), Image.Resampling.BILINEAR), (px, py))
    return shot, (py, py + ph, px, px + pw)


def watermarked() -> tuple[Image.Image, tuple]:
    w, h = ORIGINAL.size
    box = (round(0.35 * w), round(0.78 * h), round(0.9 * w), round(0.88 * h))
    base = ORIGINAL.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rectangle(box, fill=(0, 0, 0, 200))
    d.text((box[0] + 12, box[1] + 14), "(c) photos.example.net", fill=(255, 255, 255, 240))
    img = Image.alpha_composite(base, layer).convert("RGB")
    return _jpeg(img, 90), (box[1], box[3], box[0], box[2])


def _best(img: Image.Image, name: str) -> int:
    """The closest any ``name`` candidate of ``img`` (any of its 8 variants) comes to CODE."""
    return min(
        distance(c.codes[i : i + 32], CODE)
        for c in candidate_hashes(img)
        if c.name == name
        for i in range(0, 256, 32)
    )


def _close(a: tuple, b: tuple, shape: tuple[int, ...], share: float = 0.02) -> bool:
    tol = share * max(shape[:2])
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


CASES = {
    "letterbox-black": lambda: letterbox((0, 0, 0)),
    "letterbox-white": lambda: letterbox((255, 255, 255)),
    "letterbox-grey": lambda: letterbox((128, 128, 128)),
    "letterbox-noisy-near-black": lambda: letterbox((12, 12, 12), noise=4.0),
    "pillarbox-blue": lambda: pillarbox((20, 40, 160)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_flat_borders_are_trimmed_to_the_picture(case: str) -> None:
    img, expected = CASES[case]()
    trims = [c for c in find_candidates(img) if c.name == "trim"]
    assert len(trims) == 1
    assert _close(trims[0].box, expected, np.asarray(img).shape)
    assert pdq_hash(img).code != CODE and distance(pdq_hash(img).code, CODE) > 31
    hashes = {c.name: c for c in candidate_hashes(img)}
    codes = hashes["trim"].codes
    best = min(distance(codes[i : i + 32], CODE) for i in range(0, 256, 32))
    assert best <= THRESHOLDS["trim"]


def test_the_picture_inside_a_viewer_window_is_found() -> None:
    img, expected = in_window()
    assert distance(pdq_hash(img).code, CODE) > 31  # plain PDQ misses it
    pictures = [c for c in find_candidates(img) if c.name == "picture"]
    # Several readings of the window may be hashed (centred, as peeled, an app's bars); one is
    # the picture.
    assert 1 <= len(pictures) <= 3
    assert any(_close(p.box, expected, np.asarray(img).shape) for p in pictures)
    best = min(
        distance(c.codes[i : i + 32], CODE)
        for c in candidate_hashes(img)
        if c.name == "picture"
        for i in range(0, 256, 32)
    )
    assert best <= 31


def test_a_dark_caption_box_is_filled_from_around_it() -> None:
    img, box = watermarked()
    overlays = [c for c in find_candidates(img) if c.name == "overlay"]
    # The caption box, and perhaps a small dark patch of the picture read as a corner stamp.
    assert 1 <= len(overlays) <= 2
    t, b, l, r = box  # noqa: E741
    # The dark box is gone: its inside is about as bright as the picture around it.
    inside = np.s_[t + 5 : b - 5, l + 5 : r - 5]
    assert any(c.pixels[inside].mean() > np.asarray(img)[inside].mean() + 30 for c in overlays)
    assert _best(img, "overlay") <= THRESHOLDS["overlay"]


def blurred_bars(sides: bool) -> tuple[Image.Image, tuple]:
    """Bars of the picture itself, stretched and blurred behind it (as phone videos do)."""
    w, h = ORIGINAL.size
    cw, ch = (w + 2 * round(0.15 * w), h) if sides else (w, h + 2 * round(0.15 * h))
    back = ORIGINAL.resize((cw, ch), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(24))
    x, y = (cw - w) // 2, (ch - h) // 2
    back.paste(ORIGINAL, (x, y))
    return _jpeg(back, 90), (y, y + h, x, x + w)


def phone(light: bool) -> tuple[Image.Image, tuple]:
    """A phone screenshot: status bar (a clock, icons), the picture on the app's backdrop, a
    navigation bar; no line at the screen's top or bottom is one flat colour."""
    sw, sh = 540, 1140
    back, ink = ((245, 245, 245), (20, 20, 20)) if light else ((0, 0, 0), (235, 235, 235))
    shot = Image.new("RGB", (sw, sh), back)
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, sw, 34), fill=(225, 225, 225) if light else (30, 30, 30))
    d.text((14, 8), "12:47", fill=ink, font_size=20)
    for k in range(3):
        d.rectangle((sw - 34 * (k + 1), 12, sw - 34 * (k + 1) + 18, 24), fill=ink)
    d.rectangle((0, sh - 56, sw, sh), fill=(225, 225, 225) if light else (30, 30, 30))
    for k in range(3):
        cx = sw * (k + 1) // 4
        d.ellipse((cx - 10, sh - 38, cx + 10, sh - 18), outline=ink, width=2)
    pw, ph = sw, round(sw * ORIGINAL.height / ORIGINAL.width)
    py = (sh - ph) // 2
    shot.paste(ORIGINAL.resize((pw, ph), Image.Resampling.BILINEAR), (0, py))
    return shot, (py, py + ph, 0, pw)


def corner_box(light: bool) -> tuple[Image.Image, tuple]:
    """A small stamp (a fifth of the width) with text: a light one in the lower right corner,
    a dark one in the upper right (where the picture is lighter)."""
    w, h = ORIGINAL.size
    box = (w - 150, h - 50, w - 10, h - 14) if light else (w - 150, 14, w - 10, 50)
    img = ORIGINAL.copy()
    d = ImageDraw.Draw(img)
    d.rectangle(box, fill=(250, 250, 250) if light else (8, 8, 8))
    d.text((box[0] + 8, box[1] + 10), "@example", fill=(20, 20, 20) if light else (250, 250, 250))
    return _jpeg(img, 90), (box[1], box[3], box[0], box[2])


@pytest.mark.parametrize("sides", [False, True], ids=["top-bottom", "left-right"])
def test_bars_of_the_blurred_picture_are_trimmed(sides: bool) -> None:
    img, expected = blurred_bars(sides)
    assert distance(pdq_hash(img).code, CODE) > 31  # plain PDQ misses it
    bars = [c for c in find_candidates(img) if c.name == "blur-trim"]
    assert len(bars) == 1
    assert _close(bars[0].box, expected, np.asarray(img).shape, 0.01)
    assert _best(img, "blur-trim") <= THRESHOLDS["blur-trim"]


def test_a_blurred_picture_is_not_read_as_bars_of_itself() -> None:
    img = _jpeg(ORIGINAL.filter(ImageFilter.GaussianBlur(24)), 90)
    assert not [c for c in find_candidates(img) if c.name == "blur-trim"]


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
def test_the_picture_inside_a_phone_screenshot_is_found(light: bool) -> None:
    img, expected = phone(light)
    assert distance(pdq_hash(img).code, CODE) > 31
    pictures = [c for c in find_candidates(img) if c.name == "picture"]
    assert any(_close(p.box, expected, np.asarray(img).shape) for p in pictures)
    assert _best(img, "picture") <= THRESHOLDS["picture"]


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
def test_a_small_stamp_in_a_corner_is_filled(light: bool) -> None:
    img, (t, b, l, r) = corner_box(light)  # noqa: E741
    overlays = [c for c in find_candidates(img) if c.name == "overlay"]
    inside = np.s_[t + 4 : b - 4, l + 4 : r - 4]
    # The stamp is gone: its inside is within 40 levels of the original there, where the
    # copy's was further.
    original = np.asarray(ORIGINAL, dtype=np.float32)[inside].mean()
    stamped = float(np.asarray(img, dtype=np.float32)[inside].mean())
    assert abs(stamped - original) > 60
    assert any(abs(float(c.pixels[inside].mean()) - original) < 40 for c in overlays)
    assert _best(img, "overlay") <= THRESHOLDS["overlay"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_plain_picture_gets_no_border_or_window_candidates(seed: int) -> None:
    """The gate: no flat edge, no chrome edge -> no trim, chrome or picture (about one PDQ)."""
    img = _jpeg(photo_like(seed, (800, 600)))
    names = {c.name for c in find_candidates(img, CANDIDATE_NAMES)}
    assert not names & {"trim", "blur-trim", "chrome", "picture", "picture-overlay"}
    assert "uncrop" in names  # when asked for: it is off by default (one more PDQ per image)
    assert "uncrop" not in {c.name for c in find_candidates(img)}


def test_only_the_requested_candidates_are_computed() -> None:
    img, _ = letterbox((0, 0, 0))
    assert [c.name for c in find_candidates(img, ("trim",))] == ["trim"]
    assert find_candidates(img, ()) == []


@pytest.mark.parametrize("size", [(1, 1), (4, 300), (20, 20)])
def test_tiny_images_do_not_fail(size: tuple[int, int]) -> None:
    img = Image.new("RGB", size, (10, 20, 30))
    for c in candidate_hashes(img):
        assert len(c.codes) == 256


def framed_phone(light: bool) -> tuple[Image.Image, tuple]:
    """A phone screenshot inside a device's dark bezel with rounded corners, on a coloured
    backdrop (a mock-up): the bezel's corners keep every line of it from being flat."""
    screen, (pt, pb, pl, pr) = phone(light)
    bezel, margin = 28, 60
    fw, fh = screen.width + 2 * (bezel + margin), screen.height + 2 * (bezel + margin)
    out = Image.new("RGB", (fw, fh), (170, 40, 120))
    d = ImageDraw.Draw(out)
    d.rounded_rectangle(
        (margin, margin, fw - margin, fh - margin), radius=3 * bezel, fill=(25, 25, 28)
    )
    mask = Image.new("L", screen.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, *screen.size), radius=2 * bezel, fill=255)
    out.paste(screen, (margin + bezel, margin + bezel), mask)
    k = margin + bezel
    return out, (pt + k, pb + k, pl + k, pr + k)


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
def test_the_picture_inside_a_framed_phone_is_found(light: bool) -> None:
    img, expected = framed_phone(light)
    assert distance(pdq_hash(img).code, CODE) > 31
    pictures = [c for c in find_candidates(img) if c.name == "picture"]
    assert any(_close(p.box, expected, np.asarray(img).shape) for p in pictures)
    assert _best(img, "picture") <= THRESHOLDS["picture"]


@pytest.mark.parametrize("light", [True, False], ids=["light-text", "dark-text"])
def test_a_line_of_text_without_a_box_is_filled(light: bool) -> None:
    """Large text near the bottom, no box: its band of strokes is filled from around it."""
    w, h = ORIGINAL.size
    img = ORIGINAL.copy()
    ImageDraw.Draw(img).text(
        (40, h - 70), "@example_user 2041", fill=(255,) * 3 if light else (0,) * 3, font_size=44
    )
    img = _jpeg(img, 90)
    band = np.s_[h - 66 : h - 30, 44:420]

    def ink(pixels: Image.Image | np.ndarray) -> int:  # the strokes' pixels in the band
        lum = np.asarray(pixels, dtype=np.float32)[band] @ np.array([0.299, 0.587, 0.114])
        return int((lum >= 245).sum() if light else (lum <= 10).sum())

    strokes = ink(img) - ink(ORIGINAL)
    assert strokes > 1000
    # The strokes are gone: what stays of them in a filled copy is under a tenth.
    filled = [
        ink(c.pixels) - ink(ORIGINAL)
        for c in find_candidates(img)
        if c.name == "overlay" and c.box == (0, h, 0, w)
    ]
    assert any(n < strokes / 10 for n in filled)
