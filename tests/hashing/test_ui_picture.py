"""A photograph shown among an app's UI (a forum post: a card with an avatar, a name, text lines
and buttons on a grey page) is found as ``ui-picture``; the photograph alone gets no such region.
The layout is drawn here, unlike the benchmark's browser and chat styles."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from hashsieve.hashing.candidates import THRESHOLDS, find_candidates
from hashsieve.hashing.pdq import distance, pdq_hash

PHOTO = Path("/work/shared/conformance/pdq/images/reg-test-input/pen-and-coaster.png")
pytestmark = pytest.mark.skipif(not PHOTO.exists(), reason="conformance images not present")


def _forum_post(photo: Image.Image, dark: bool) -> Image.Image:
    """A 1200x1000 page: a header bar, a card with an avatar, a name, two text lines, the photo
    (600 px wide, off centre), a row of buttons and more text; PNG."""
    page, card, ink, grey = (
        ((24, 25, 27), (36, 37, 40), (220, 220, 220), (90, 90, 96))
        if dark
        else ((240, 242, 245), (255, 255, 255), (30, 30, 30), (200, 200, 205))
    )
    shot = Image.new("RGB", (1200, 1000), page)
    d = ImageDraw.Draw(shot)
    font = ImageFont.load_default(18)
    d.rectangle((0, 0, 1200, 56), fill=(59, 89, 152))
    d.text((24, 16), "example-board", fill=(255, 255, 255), font=font)
    d.rounded_rectangle((160, 80, 1000, 990), radius=12, fill=card, outline=grey)
    d.ellipse((184, 104, 232, 152), fill=(200, 120, 80))
    d.text((248, 112), "someone posted", fill=ink, font=font)
    for k, width in enumerate((640, 480)):
        d.rectangle((184, 176 + 24 * k, 184 + width, 188 + 24 * k), fill=grey)
    w = 600
    h = round(w * photo.height / photo.width)
    shot.paste(photo.resize((w, h), Image.Resampling.BILINEAR), (200, 240))
    y = 240 + h + 20
    for k in range(3):
        d.rounded_rectangle((184 + 130 * k, y, 300 + 130 * k, y + 32), radius=16, fill=grey)
    d.text((600, y + 6), "12 comments", fill=ink, font=font)
    y += 56
    while y < 960:
        d.rectangle((184, y, 900, y + 12), fill=grey)
        y += 26
    out = io.BytesIO()
    shot.save(out, "PNG")
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


@pytest.mark.parametrize("dark", [False, True])
def test_a_photograph_among_ui_is_found(dark: bool) -> None:
    photo = Image.open(PHOTO).convert("RGB")
    code = pdq_hash(photo).code
    shot = _forum_post(photo, dark)
    assert distance(pdq_hash(shot).code, code) > 31
    found = [c for c in find_candidates(shot) if c.name == "ui-picture"]
    assert found
    best = min(distance(pdq_hash(Image.fromarray(c.pixels)).code, code) for c in found)
    assert best <= THRESHOLDS["ui-picture"]


def test_a_photograph_alone_gets_no_ui_region() -> None:
    photo = Image.open(PHOTO).convert("RGB")
    assert "ui-picture" not in {c.name for c in find_candidates(photo)}
