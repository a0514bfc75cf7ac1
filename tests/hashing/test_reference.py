"""Reference parts of a known original: crops and the upper part, matched where plain PDQ fails."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashsieve.hashing.candidates import candidate_hashes
from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.hashing.reference import (
    CROP_LEVELS,
    CROP_SHARES,
    PART_MIN_QUALITY,
    PART_THRESHOLD,
    centred_crop,
    reference_parts,
    top_part,
    uneven_crop,
)
from hashsieve.samples.images import photo_like


def _codes(blob: bytes) -> list[bytes]:
    return [blob[k : k + 32] for k in range(0, len(blob), 32)]


def _boxed(image: Image.Image) -> Image.Image:
    """A dark caption box stamped on the lower part, as sites stamp watermarks."""
    out = image.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.rectangle((w // 4, int(h * 0.74), int(w * 0.7), int(h * 0.86)), fill=(12, 12, 12))
    draw.text((w // 4 + 10, int(h * 0.78)), "example.net", fill=(250, 250, 250))
    return out


def test_an_original_has_a_part_per_crop_level_and_its_upper_part() -> None:
    parts = reference_parts(photo_like(3, (800, 600)))
    labels = [p.label for p in parts]
    assert labels[: len(CROP_LEVELS)] == [f"crop {round(c * 100)}%" for c in CROP_LEVELS]
    assert labels[-1] == "top 60%" and "crop 4.5/6.5/4.5/6.5%" in labels
    assert "crop 0/0/1.5/6%" in labels and "crop 3/3/0/0%" in labels
    assert len(labels) == len(set(labels)) == len(CROP_SHARES) + 1
    assert {p.algorithm for p in parts} == {"pdq-crop", "pdq-top"}
    assert all(len(p.code) == 32 and p.quality >= PART_MIN_QUALITY for p in parts)


@pytest.mark.parametrize("seed", [3, 7, 11])
def test_a_centred_crop_misses_plain_pdq_and_matches_a_crop_part(seed: int) -> None:
    original = photo_like(seed, (800, 600))
    cropped = Image.fromarray(centred_crop(np.asarray(original), 0.05))
    query = pdq_hash(cropped).code
    assert distance(query, pdq_hash(original).code) > 31
    crops = [p for p in reference_parts(original) if p.algorithm == "pdq-crop"]
    assert min(distance(query, p.code) for p in crops) <= PART_THRESHOLD


@pytest.mark.parametrize(
    ("seed", "shares"),
    [
        (3, (0.0, 0.065, 0.065, 0.0)),  # a window dragged to a corner: two edges untouched
        (7, (0.02, 0.05, 0.0, 0.04)),  # off-centre: one edge untouched
        (11, (0.05, 0.05, 0.0, 0.0)),  # one axis only: another aspect ratio
        (5, (0.0, 0.0, 0.07, 0.07)),
    ],
)
def test_a_crop_that_leaves_an_edge_untouched_matches_a_crop_part(
    seed: int, shares: tuple[float, float, float, float]
) -> None:
    original = photo_like(seed, (800, 600))
    query = pdq_hash(Image.fromarray(uneven_crop(np.asarray(original), shares))).code
    assert distance(query, pdq_hash(original).code) > 31
    crops = [p for p in reference_parts(original) if p.algorithm == "pdq-crop"]
    assert min(distance(query, p.code) for p in crops) <= PART_THRESHOLD


@pytest.mark.parametrize("seed", [3, 11])
def test_the_upper_part_of_a_boxed_copy_matches_the_originals_upper_part(seed: int) -> None:
    original = photo_like(seed, (800, 600))
    [top] = [p for p in reference_parts(original) if p.algorithm == "pdq-top"]
    regions = {c.name: c for c in candidate_hashes(_boxed(original), parts=True)}
    assert min(distance(code, top.code) for code in _codes(regions["top"].codes)) <= 4


def test_upper_parts_are_hashed_only_when_asked_for() -> None:
    boxed = _boxed(photo_like(5, (640, 480)))
    assert not any(c.name.endswith("top") for c in candidate_hashes(boxed))
    assert "top" in {c.name for c in candidate_hashes(boxed, parts=True)}


def test_top_part_is_the_upper_share_of_the_picture() -> None:
    pixels = np.zeros((100, 40, 3), np.uint8)
    assert top_part(pixels).shape == (60, 40, 3)


def test_flat_or_tiny_originals_give_no_parts() -> None:
    assert reference_parts(Image.new("RGB", (400, 300), (90, 120, 60))) == []
    assert reference_parts(photo_like(1, (20, 20))) == []
