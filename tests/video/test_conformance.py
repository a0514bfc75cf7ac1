"""vPDQ conformance: our frame hashes against the reference vpdq's, on the upstream clips.

Upstream's rule (``vpdq/python/tests/test_vpdq_hash.py``): the same frame numbers, and a
distance under 31 wherever both qualities are at least 50. Every frame is hashed at native
size (``seconds_per_hash=0``), as the expected files were made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hashsieve.hashing.pdq import distance
from hashsieve.hashing.video import VideoOptions, hash_video, read_vpdq

from ..conftest import CONFORMANCE, needs_conformance

VPDQ = CONFORMANCE / "vpdq"
VIDEOS = sorted((VPDQ / "videos").glob("*.mp4")) if VPDQ.is_dir() else []
needs_videos = needs_conformance(VPDQ / "videos")


@needs_videos
@pytest.mark.parametrize(
    "video", VIDEOS or [pytest.param(None, id="no-data")], ids=lambda p: getattr(p, "stem", None)
)
def test_frame_hashes_match_reference(video: Path) -> None:
    expected = read_vpdq(VPDQ / "expected" / f"{video.stem}.txt")
    ours = hash_video(video, VideoOptions.conformance())
    assert ours.error is None
    assert expected and [f.frame for f in ours.frames] == [f.frame for f in expected]
    far = [
        (a.frame, distance(a.code, b.code))
        for a, b in zip(ours.frames, expected, strict=True)
        if a.quality >= 50 and b.quality >= 50 and distance(a.code, b.code) >= 31
    ]
    assert not far, f"frames over distance 30 from the reference: {far[:10]}"
    for a, b in zip(ours.frames, expected, strict=True):
        assert a.seconds == pytest.approx(b.seconds, abs=0.002)


@needs_videos
def test_conformance_data_present_or_skipped_clearly() -> None:
    assert len(VIDEOS) == 14
