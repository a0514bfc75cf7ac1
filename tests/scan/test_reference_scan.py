"""End to end: copies of known originals that plain PDQ misses match their reference parts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashsieve import import_hashset
from hashsieve.config import Settings
from hashsieve.hashing.reference import centred_crop
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from tests.conftest import scan_rows

ORIGINAL = photo_like(7, (800, 600))


def _cropped(share: float) -> bytes:
    return jpeg_bytes(Image.fromarray(centred_crop(np.asarray(ORIGINAL), share)), quality=88)


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "original.jpg").write_bytes(jpeg_bytes(ORIGINAL, quality=92))
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "crop5.jpg").write_bytes(_cropped(0.05))
    (evidence / "crop8.jpg").write_bytes(_cropped(0.08))
    (evidence / "same.jpg").write_bytes(jpeg_bytes(ORIGINAL, quality=80))
    (evidence / "unrelated.jpg").write_bytes(jpeg_bytes(photo_like(8, (800, 600))))
    return reference, evidence


def _scan(store: Store, case: tuple[Path, Path], tmp_path: Path) -> dict[str, dict]:
    reference, evidence = case
    import_hashset(store, reference, "reference", category=1)
    return scan_rows(store, "parts", evidence, tmp_path / "results.jsonl")


@pytest.mark.parametrize("name", ["crop5.jpg", "crop8.jpg"])
def test_a_cropped_copy_is_known_through_a_crop_part(
    store: Store, case: tuple[Path, Path], tmp_path: Path, name: str
) -> None:
    row = _scan(store, case, tmp_path)[name]
    assert row["verdict"] == "known" and row["category"] == 1
    [match] = row["matches"]
    assert match["algorithm"] == "pdq-crop"
    assert match["entry"].startswith("original.jpg (crop ")
    assert match["distance"] <= 31


def test_a_plain_copy_is_told_once_by_plain_pdq_and_unrelated_stays_new(
    store: Store, case: tuple[Path, Path], tmp_path: Path
) -> None:
    results = _scan(store, case, tmp_path)
    [match] = results["same.jpg"]["matches"]  # not again through its parts
    assert (match["algorithm"], match["entry"]) == ("pdq", "original.jpg")
    assert results["unrelated.jpg"]["verdict"] == "new"
    assert results["unrelated.jpg"]["matches"] == []


def test_a_box_on_the_lower_part_is_matched_through_the_upper_part(
    store: Store, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "original.jpg").write_bytes(jpeg_bytes(ORIGINAL, quality=92))
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    boxed = ORIGINAL.copy()
    draw = ImageDraw.Draw(boxed)
    # A light, low-contrast box the overlay detector does not take for a stamped box.
    draw.rounded_rectangle((90, 430, 700, 560), radius=30, fill=(150, 150, 150))
    (evidence / "boxed.jpg").write_bytes(jpeg_bytes(boxed, quality=88))
    results = _scan(store, (reference, evidence), tmp_path)
    matches = results["boxed.jpg"]["matches"]
    assert [m["algorithm"] for m in matches] == ["pdq-top"]
    assert matches[0]["candidate"] == "top"
    assert matches[0]["entry"] == "original.jpg (top 60%)"


def test_without_the_robust_stage_crop_parts_still_match(
    settings: Settings, case: tuple[Path, Path], tmp_path: Path
) -> None:
    store = Store(dataclasses.replace(settings, robust=False))
    try:
        results = _scan(store, case, tmp_path)
    finally:
        store.close()
    # Crop parts need no extra hashing of the query, so they still match; the upper parts would
    # need it and are not hashed.
    assert results["crop5.jpg"]["matches"][0]["algorithm"] == "pdq-crop"
