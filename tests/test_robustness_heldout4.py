"""The robustness benchmark's fourth held-out round (bench/robustness/heldout4.py) draws pictures
that still hold the picture (padding keeps it whole and unscaled), reproducibly, and only under
its own pool.

Checks the rendering only: how the robust stage does on these styles is measured by the
benchmark (``run.py --styles heldout4``), never here."""

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

CASES = [(t, n) for t, group in heldout4.STYLES.items() for n in group]


def _picture() -> Image.Image:
    """Noise, so that any pixel of it found in an output is the picture's own."""
    pixels = np.random.default_rng(4).integers(0, 256, (90, 120, 3), dtype=np.uint8)
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


@pytest.mark.parametrize(("transform", "name"), CASES)
def test_style_keeps_the_picture_at_a_plausible_size(transform: str, name: str) -> None:
    img = _picture()
    out = heldout4.STYLES[transform][name](img, np.random.default_rng(12))
    again = heldout4.STYLES[transform][name](img, np.random.default_rng(12))
    assert out.mode == "RGB"
    assert out.tobytes() == again.tobytes()  # drawn from the run's generator alone
    w, h = img.size
    if transform == "watermark":  # visible, yet most of the picture untouched
        assert out.size == img.size
        changed = (np.asarray(out) != np.asarray(img)).any(axis=2).mean()
        assert 0.002 < changed < 0.4
    elif transform == "letterbox":  # the picture itself, whole, inside a surround
        assert w < out.width <= 2.5 * w and h < out.height <= 3 * h
        assert _found_unscaled(out, img)
        if name == "story":
            assert abs(out.width / out.height - 9 / 16) < 0.01
    elif transform == "screenshot":  # a desktop screen in a browser
        assert 1280 <= out.width <= 1920 and out.height >= 768
    else:  # 3-8 % off each edge, then sharpened or warmed/cooled
        assert 0.83 * w <= out.width <= 0.95 * w and 0.83 * h <= out.height <= 0.95 * h
        assert not _found_unscaled(out, img.crop((10, 8, 10 + out.width // 2, 8 + out.height // 2)))


@pytest.mark.parametrize("transform", list(heldout4.STYLES))
def test_only_the_heldout4_pool_draws_the_fourth_round(transform: str) -> None:
    img = _picture().resize((40, 30))
    fourth = set(heldout4.STYLES[transform])
    assert not fourth & set(styles.STYLES[transform]) and not fourth & set(
        heldout3.STYLES[transform]
    )
    _, name = styles.apply(img, transform, np.random.default_rng(1), pool="heldout4")
    assert name in fourth
    for pool in ("all", "seen", "unseen", "heldout3"):
        _, name = styles.apply(img, transform, np.random.default_rng(1), pool=pool)
        assert name not in fourth


def test_the_heldout4_pool_draws_each_of_its_letterboxes() -> None:
    drawn = {
        styles.apply(_picture(), "letterbox", np.random.default_rng(k), pool="heldout4")[1]
        for k in range(40)
    }
    assert drawn == set(heldout4.STYLES["letterbox"])
