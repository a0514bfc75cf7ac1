"""A photograph padded to a square on a checkerboard (as square-fit apps do) is found as
``framed``; the photograph alone gets no such region. The fill is drawn here, unlike the
benchmark's pattern styles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashsieve.hashing.candidates import THRESHOLDS, find_candidates
from hashsieve.hashing.pdq import distance, pdq_hash

PHOTO = Path("/work/shared/conformance/pdq/images/reg-test-input/pen-and-coaster.png")
pytestmark = pytest.mark.skipif(not PHOTO.exists(), reason="conformance images not present")


def _on_checkerboard(photo: Image.Image) -> Image.Image:
    """The photo centred on a square checkerboard of two greys (cells of 4 % of the side), with
    a margin of 6 % on its long side; JPEG at quality 90."""
    w, h = photo.size
    side = max(w, h) + 2 * round(0.06 * max(w, h))
    cell = round(0.04 * side)
    y, x = np.mgrid[0:side, 0:side]
    board = np.where((x // cell + y // cell) % 2 == 1, 90, 170).astype(np.uint8)
    img = Image.fromarray(np.stack([board, board + 20, board], axis=-1), "RGB")
    img.paste(photo, ((side - w) // 2, (side - h) // 2))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def test_a_picture_on_a_pattern_is_found_and_a_plain_photograph_gets_none() -> None:
    photo = Image.open(PHOTO).convert("RGB")
    code = pdq_hash(photo).code
    assert "framed" not in {c.name for c in find_candidates(photo)}
    img = _on_checkerboard(photo)
    plain = distance(pdq_hash(img).code, code)
    framed = [c for c in find_candidates(img) if c.name == "framed"]
    assert len(framed) == 1
    t, b, l, r = framed[0].box  # noqa: E741
    w, h = photo.size
    side = max(w, h) * 0.01  # to a pattern's line a few pixels out, at worst
    assert abs((b - t) - h) <= side and abs((r - l) - w) <= side
    found = distance(pdq_hash(Image.fromarray(np.ascontiguousarray(framed[0].pixels))).code, code)
    assert found <= THRESHOLDS["framed"] < plain
