"""Sensors match through the scan's robust stage: candidate regions and reference parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashsieve.hashing.content import hash_content
from hashsieve.hashing.reference import CROP_SHARES, centred_crop
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sensors.console import hashlist
from hashsieve.sensors.hashing import sensor_options
from hashsieve.sensors.listcopy import ListCopy
from hashsieve.store import Store

ORIGINAL = photo_like(17, (800, 600))


def _letterboxed() -> bytes:
    canvas = Image.new("RGB", (800, 780), (0, 0, 0))
    canvas.paste(ORIGINAL, (0, 90))
    return jpeg_bytes(canvas, quality=88)


@pytest.fixture
def lists(store: Store, tmp_path: Path) -> ListCopy:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "original.jpg").write_bytes(jpeg_bytes(ORIGINAL, quality=92))
    import_hashset(store, reference, "reference", category=1)
    copy = ListCopy()
    copy.apply(hashlist(store))
    return copy


def test_the_console_list_carries_the_reference_parts(lists: ListCopy) -> None:
    assert len(lists.parts["pdq-crop"]) == len(CROP_SHARES)
    assert len(lists.parts["pdq-top"]) == 1
    assert lists.wants_parts


def test_a_letterboxed_body_matches_through_its_trimmed_region(lists: ListCopy) -> None:
    [hit] = lists.match(hash_content(_letterboxed(), sensor_options(parts=lists.wants_parts)))
    assert (hit.algorithm, hit.candidate, hit.category) == ("pdq", "trim", 1)
    assert lists.match(hash_content(_letterboxed(), sensor_options(robust=False))) == []


def test_a_cropped_body_matches_a_crop_part(lists: ListCopy) -> None:
    cropped = jpeg_bytes(Image.fromarray(centred_crop(np.asarray(ORIGINAL), 0.05)))
    [hit] = lists.match(hash_content(cropped, sensor_options(parts=True)))
    assert hit.algorithm == "pdq-crop" and hit.distance <= 31
    assert hit.candidate is None  # the whole body matched the part


def test_the_original_is_told_by_its_plain_hashes_only(lists: ListCopy) -> None:
    same = lists.match(hash_content(jpeg_bytes(ORIGINAL, quality=92), sensor_options(parts=True)))
    assert {h.algorithm for h in same} == {"md5", "sha1", "sha256", "pdq"}
    [copy] = lists.match(hash_content(jpeg_bytes(ORIGINAL, quality=75), sensor_options(parts=True)))
    assert copy.algorithm == "pdq" and copy.candidate is None


def test_a_saved_copy_keeps_its_parts(lists: ListCopy, tmp_path: Path) -> None:
    lists.save(tmp_path / "list.db")
    again = ListCopy.load(tmp_path / "list.db")
    assert again.parts == lists.parts and again.wants_parts
    assert (
        again.match(hash_content(_letterboxed(), sensor_options(parts=True)))[0].candidate == "trim"
    )


def test_parts_of_one_original_are_told_once(lists: ListCopy) -> None:
    """Crop parts at 4 % and 6 % both match a 5 % crop: one hit, the closer, is reported."""
    cropped = jpeg_bytes(Image.fromarray(centred_crop(np.asarray(ORIGINAL), 0.05)))
    result = hash_content(cropped, sensor_options(parts=True))
    assert len(lists.match(result)) == 1
