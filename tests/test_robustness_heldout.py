"""The robustness benchmark's held-out rounds (bench/robustness/heldout3.py, heldout4.py) draw
pictures that still hold the picture (padding keeps it whole and unscaled), at plausible sizes,
reproducibly, and only under their own pool.

Checks the rendering only: how the robust stage does on these styles is measured by the
benchmark (``run.py --styles heldout3`` / ``heldout4``), never here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# The benchmark's modules import one another by name (run.py puts their folder on the path).
sys.path.append(str(Path(__file__).resolve().parents[1] / "bench" / "robustness"))
import heldout3
import heldout4
import styles

ROUNDS = {"heldout3": heldout3.STYLES, "heldout4": heldout4.STYLES}
CASES = [
    (pool, t, n) for pool, rounds in ROUNDS.items() for t, group in rounds.items() for n in group
]
#: Crops that change every pixel they keep (a re-rendering after the cut).
RERENDERED = {"crop-sharpen", "crop-warmth"}


def _picture() -> Image.Image:
    """Noise, so that any pixel of it found in an output is the picture's own."""
    pixels = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def _found_unscaled(out: Image.Image, img: Image.Image) -> bool:
    """Whether ``img`` lies in ``out`` pixel for pixel at some offset."""
    o, p = np.asarray(out), np.asarray(img)
    h, w = p.shape[:2]
    for y in range(o.shape[0] - h + 1):
        row = o[y]
        for x in np.flatnonzero((row[: o.shape[1] - w + 1] == p[0, 0]).all(axis=1)):
            if np.array_equal(o[y : y + h, x : x + w], p):
                return True
    return False


@pytest.mark.parametrize(("pool", "transform", "name"), CASES)
def test_style_keeps_the_picture_at_a_plausible_size(pool: str, transform: str, name: str) -> None:
    img = _picture()
    style = ROUNDS[pool][transform][name]
    out = style(img, np.random.default_rng(11))
    assert out.mode == "RGB"
    assert out.tobytes() == style(img, np.random.default_rng(11)).tobytes()  # seeded alone
    w, h = img.size
    if transform == "watermark":  # visible, yet most of the picture untouched
        assert out.size == img.size
        changed = (np.asarray(out) != np.asarray(img)).any(axis=2).mean()
        assert 0.002 < changed < 0.4
    elif transform == "letterbox":  # the picture itself, whole, inside a border or surround
        assert w < out.width <= 2.5 * w and h < out.height <= 3 * h
        assert _found_unscaled(out, img)
        if name == "story":
            assert abs(out.width / out.height - 9 / 16) < 0.01
    elif transform == "screenshot":  # a screen of a phone or a desktop
        assert 540 <= out.width <= 1920 and out.height >= 720
    elif name == "crop-resize":  # 3-8 % off each edge, then a standard width
        assert out.width in (640, 800, 1024, 1080, 1280)
        assert abs(out.width / out.height - w / h) < 0.2
    else:  # 3-8 % off each edge
        assert 0.83 * w <= out.width <= 0.95 * w and 0.83 * h <= out.height <= 0.95 * h
        if name in RERENDERED:
            part = img.crop((10, 8, 10 + out.width // 2, 8 + out.height // 2))
            assert not _found_unscaled(out, part)


@pytest.mark.parametrize("pool", list(ROUNDS))
@pytest.mark.parametrize("transform", list(heldout3.STYLES))
def test_only_its_own_pool_draws_a_round(pool: str, transform: str) -> None:
    img = _picture().resize((40, 30))
    mine = set(ROUNDS[pool][transform])
    assert not mine & set(styles.STYLES[transform])
    _, name = styles.apply(img, transform, np.random.default_rng(1), pool=pool)
    assert name in mine
    for other in ("all", "seen", "unseen", *(p for p in ROUNDS if p != pool)):
        _, name = styles.apply(img, transform, np.random.default_rng(1), pool=other)
        assert name not in mine


@pytest.mark.parametrize(("pool", "transform"), [("heldout3", "crop"), ("heldout4", "letterbox")])
def test_a_round_draws_each_of_its_styles(pool: str, transform: str) -> None:
    drawn = {
        styles.apply(_picture(), transform, np.random.default_rng(k), pool=pool)[1]
        for k in range(40)
    }
    assert drawn == set(ROUNDS[pool][transform])
