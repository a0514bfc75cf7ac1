"""How an entry of a hash set names what it stands for, where a hash is one part of a known item.

A known video's frames are ordinary ``pdq`` entries whose text names the video and the moment
(``"clip.txt @12.400s frame 372 q87"``), written by :func:`frame_entry` on import and read back
by :func:`parse_frame_entry` when a match must say which video and when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hashsieve.hashing.video import FrameHash

_FRAME_ENTRY = re.compile(
    r"^(?P<video>.+) @(?P<seconds>\d+(?:\.\d+)?)s frame (?P<frame>\d+) q(?P<quality>\d+)$",
    re.DOTALL,
)


def frame_entry(video: str, frame: FrameHash) -> str:
    """The ``entry`` text of a known video's frame: video name, time, frame number, quality."""
    return f"{video} @{frame.seconds:.3f}s frame {frame.frame} q{frame.quality}"


@dataclass(frozen=True, slots=True)
class FrameEntry:
    video: str
    seconds: float
    frame: int
    quality: int


def parse_frame_entry(entry: str) -> FrameEntry | None:
    """The parts of a :func:`frame_entry` text; None for an entry that is not a video frame."""
    m = _FRAME_ENTRY.match(entry)
    if m is None:
        return None
    return FrameEntry(m["video"], float(m["seconds"]), int(m["frame"]), int(m["quality"]))
