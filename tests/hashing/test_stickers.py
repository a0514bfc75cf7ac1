"""An opaque sticker laid anywhere on a real photograph is found and filled (``sticker``); the
photograph without it gets no such region."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashsieve.hashing.candidates import THRESHOLDS, find_candidates
from hashsieve.hashing.pdq import distance, pdq_hash

PHOTO = Path("/work/shared/conformance/pdq/images/reg-test-input/pen-and-coaster.png")
pytestmark = pytest.mark.skipif(not PHOTO.exists(), reason="conformance images not present")


def _with_sticker(photo: Image.Image) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A yellow face with an outline, eyes and a smile (as chat apps put them), 25 % of the
    short side, away from the corners; JPEG at quality 90."""
    w, h = photo.size
    s = round(min(w, h) * 0.25)
    x0, y0 = round(w * 0.55), round(h * 0.3)
    img = photo.copy()
    d = ImageDraw.Draw(img)
    d.ellipse((x0, y0, x0 + s, y0 + s), fill=(255, 204, 51), outline=(120, 80, 0), width=s // 25)
    for ex in (x0 + s * 3 // 10, x0 + s * 7 // 10):
        d.ellipse((ex - s // 16, y0 + s // 5, ex + s // 16, y0 + s // 2), fill=(60, 40, 0))
    d.arc(
        (x0 + s // 4, y0 + s // 3, x0 + s * 3 // 4, y0 + s * 3 // 4), 20, 160, (60, 40, 0), s // 12
    )
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB"), (y0, y0 + s, x0, x0 + s)


def test_a_sticker_anywhere_is_filled_and_a_plain_photograph_gets_none() -> None:
    photo = Image.open(PHOTO).convert("RGB")
    code = pdq_hash(photo).code
    assert "sticker" not in {c.name for c in find_candidates(photo)}
    img, (t, b, l, r) = _with_sticker(photo)  # noqa: E741
    plain = distance(pdq_hash(img).code, code)
    stickers = [c for c in find_candidates(img) if c.name == "sticker"]
    assert len(stickers) == 1
    filled = np.asarray(Image.fromarray(np.ascontiguousarray(stickers[0].pixels)).convert("L"))
    # The face is gone: inside it the filled copy is far nearer the photograph than the copy.
    inside = np.s_[t + 8 : b - 8, l + 8 : r - 8]
    original = np.asarray(photo.convert("L"), dtype=np.float32)[inside]

    def error(pixels: np.ndarray) -> float:
        return float(np.abs(np.asarray(pixels, dtype=np.float32)[inside] - original).mean())

    assert error(np.asarray(img.convert("L"))) > 60
    assert error(filled) < error(np.asarray(img.convert("L"))) / 2
    found = distance(pdq_hash(Image.fromarray(filled)).code, code)
    assert found <= THRESHOLDS["sticker"]
    assert found < plain
