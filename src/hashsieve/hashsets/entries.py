"""Records of hashes that are one part of a known item: a known video's frames.

A frame is an ordinary ``pdq`` record whose provenance is in its columns (``item`` the video,
``seconds``, ``frame``, ``quality``); its ``entry`` text (``"clip.txt @12.400s frame 372 q87"``)
is for display only and is never parsed back.
"""

from __future__ import annotations

from hashsieve.hashing.video import FrameHash
from hashsieve.hashsets.base import HashRecord


def frame_entry(video: str, frame: FrameHash) -> str:
    """The display text of a known video's frame: video name, time, frame number, quality."""
    return f"{video} @{frame.seconds:.3f}s frame {frame.frame} q{frame.quality}"


def frame_record(
    video: str, frame: FrameHash, category: int | None = None, series: str | None = None
) -> HashRecord:
    """The ``pdq`` record of one frame of the known video ``video``."""
    return HashRecord(
        "pdq",
        frame.code.hex(),
        frame_entry(video, frame),
        category,
        series,
        item=video,
        seconds=frame.seconds,
        frame=frame.frame,
        quality=frame.quality,
    )


def as_frame(record: HashRecord) -> tuple[str, FrameHash] | None:
    """(video, frame) for a known video's frame, from its columns; None for any other record."""
    if (
        record.algorithm != "pdq"
        or record.item is None
        or record.seconds is None
        or record.frame is None
        or record.quality is None
    ):
        return None
    code = bytes.fromhex(record.value)
    return record.item, FrameHash(record.frame, record.quality, code, record.seconds)
