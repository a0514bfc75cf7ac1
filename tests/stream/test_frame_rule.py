"""The stream monitor alerts on a frame by the matching rule: category 0 (non-pertinent) is not
known-bad, and a frame that also matches a known-bad entry still alerts, on that entry only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import photo_like
from hashsieve.store import Store
from hashsieve.stream.monitor import FrameMatcher

INNOCENT = photo_like(61, (480, 360))  # listed only as category 0
BOTH = photo_like(62, (480, 360))  # listed as category 0 and as category 3


@pytest.fixture
def frames(store: Store, tmp_path: Path) -> FrameMatcher:
    def listing(name: str, pictures: list) -> Path:
        path = tmp_path / f"{name}.txt"
        path.write_text("# algorithm: pdq\n" + "".join(f"{pdq_hash(p).hex}\n" for p in pictures))
        return path

    import_hashset(store, listing("np", [INNOCENT, BOTH]), "non-pertinent", category=0)
    import_hashset(store, listing("bad", [BOTH]), "known-images", category=3)
    return FrameMatcher(store)


def test_a_non_pertinent_frame_raises_nothing(frames: FrameMatcher) -> None:
    [everything] = frames.matcher.match([_hashed(frames, INNOCENT)])
    assert [h.category for h in everything] == [0]  # it does match ...
    quality, hits = frames.match_pixels(np.asarray(INNOCENT))
    assert quality >= 50 and hits == []  # ... and is no alert


def test_a_frame_also_known_bad_alerts_on_the_known_bad_entry(frames: FrameMatcher) -> None:
    _quality, hits = frames.match_pixels(np.asarray(BOTH))
    assert [(h.hashset, h.category) for h in hits] == [("known-images", 3)]


def _hashed(frames: FrameMatcher, picture) -> object:
    from hashsieve.hashing.content import FileResult, hash_picture

    result = FileResult(path="frame")
    hash_picture(result, np.asarray(picture), robust=True, parts=frames.matcher.wants_parts)
    return result
