"""vPDQ text files (facebook/ThreatExchange ``vpdq``): one known video per file, one line per
hashed frame, ``frame_number,quality,pdq_hex,timestamp_seconds``.

``hashset import`` takes one file or a folder of them (``*.txt``, searched recursively); each
file is one video, named by its file name (or its path inside the folder). Every frame becomes a
``pdq`` entry (:func:`hashsieve.hashsets.entries.frame_record`: the video and the moment in its
columns ``item``, ``seconds``, ``frame``, ``quality``), so known video frames live
in the one PDQ index: a still from a known video matches like any image, and a scanned video is
matched frame by frame and then per known video by vPDQ's rule.

Frames of quality under 50 are not imported (vPDQ never matches on them; as hashes of flat
frames they would match unrelated pictures), and a hash repeated within one video is kept once
(vPDQ matches on unique frames): both are counted as skipped, never as refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from hashsieve.config import PDQ_MIN_QUALITY
from hashsieve.hashing.video import FrameHash, parse_vpdq_line
from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.entries import as_frame, frame_record
from hashsieve.hashsets.lists import head_lines
from hashsieve.hashsets.text import open_text, utf8_head

if TYPE_CHECKING:
    from hashsieve.store import Store

_LINE = re.compile(r"^\d+,\d{1,3},[0-9a-fA-F]{64},\d+(\.\d+)?$")
_HEAD = 4096


def _looks_vpdq(head: bytes) -> bool:
    lines = head_lines(head)
    return bool(lines) and all(_LINE.match(line) for line in lines)


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.txt") if p.is_file())


class VpdqFormat:
    name: ClassVar[str] = "vpdq"
    description: ClassVar[str] = (
        "vPDQ video hashes (`frame,quality,pdq,seconds` lines; a file or a folder of them)"
    )
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        if head:
            return _looks_vpdq(head)
        if not path.is_dir():
            return False
        files = _video_files(path)
        if not files:
            return False
        with files[0].open("rb") as stream:
            return _looks_vpdq(utf8_head(stream.read(_HEAD)))

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        if path.is_dir():
            for file in _video_files(path):
                yield from _read_video(file, file.relative_to(path).as_posix())
        else:
            yield from _read_video(path, path.name)


def _read_video(path: Path, video: str) -> Iterator[HashRecord | ParseProblem]:
    seen: set[bytes] = set()
    with open_text(path) as stream:
        for lineno, raw in enumerate(stream, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                frame = parse_vpdq_line(line)
            except ValueError as exc:
                yield ParseProblem(f"{video}:{lineno}", f"{exc}: {line[:100]!r}")
                continue
            if frame.quality < PDQ_MIN_QUALITY or frame.code in seen:
                continue
            seen.add(frame.code)
            yield frame_record(video, frame)


def write_vpdq_folder(records: Iterable[HashRecord], folder: Path) -> dict[str, int]:
    """Write the video frames among ``records`` as vPDQ files, one per video, into ``folder``.

    Returns {file name: frames}. Frames are grouped per video in memory (a video set holds a few
    thousand frames per video), and written in frame order.
    """
    videos: dict[str, list[FrameHash]] = {}
    for record in records:
        if (found := as_frame(record)) is not None:
            videos.setdefault(found[0], []).append(found[1])
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for video, frames in videos.items():
        name = video if video.endswith(".txt") else f"{video}.txt"
        target = folder / _safe_relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        frames.sort(key=lambda f: (f.frame, f.seconds))
        with target.open("w", encoding="utf-8") as out:
            for frame in frames:
                out.write(frame.line() + "\n")
        written[target.relative_to(folder).as_posix()] = len(frames)
    return written


def _safe_relative(name: str) -> Path:
    """A video name as a path that stays inside the export folder."""
    parts = [p for p in re.split(r"[\\/]+", name) if p not in ("", ".", "..")]
    return Path(*(parts or ["video.txt"]))


def export_vpdq(store: Store, name: str, folder: Path) -> dict[str, int]:
    """Write a stored hash set's known videos as vPDQ files into ``folder``."""
    from hashsieve.hashsets.catalogue import iter_records

    return write_vpdq_folder(iter_records(store, name), folder)


#: VICS ``AlternativeHashes[].HashName`` of a video's frame hash; ``HashValue`` is a vPDQ line.
VICS_HASH_NAME = "vPDQ"


def vics_frame_records(
    media: str, value: object, category: int | None, series: str | None
) -> Iterator[HashRecord | ParseProblem]:
    """The record of one vPDQ frame carried in a VICS media's ``AlternativeHashes``."""
    try:
        frame = parse_vpdq_line(str(value))
    except ValueError as exc:
        yield ParseProblem(media, f"{VICS_HASH_NAME} {str(value)[:100]!r}: {exc}")
        return
    if frame.quality >= PDQ_MIN_QUALITY:
        yield frame_record(media, frame, category, series)
