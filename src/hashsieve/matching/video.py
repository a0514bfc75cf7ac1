"""Matching videos: frames against known images, and against known videos by vPDQ's rule.

Known video frames are ordinary ``pdq`` hash entries whose ``entry`` names the video and the
frame (:func:`frame_entry`: ``"clip.txt @12.400s frame 372 q87"``), so the one PDQ index serves
both directions: a still image matches a known video's frame through the image path (the match's
entry says which video and when), and a scanned video's frames are looked up here.

For each scanned video (its unique frame hashes of quality >= 50):

- a frame within the PDQ threshold of a known **image** makes the video known; the hit says the
  time in the video of the first such frame (``seconds``) and the best distance;
- a known **video** matches when the share of the scanned video's unique frames within the
  threshold of any of its frames is at least ``VIDEO_MATCH_PERCENT`` (HMA's default rule:
  query-side 80 %, distance <= 31, quality >= 50); the hit's ``entry`` is the known video's name,
  ``coverage`` the share, ``seconds`` the first matching time;
- failing that, a scanned video that **contains** a known video (a compilation, a longer
  recording around it) matches with algorithm ``vpdq-contains`` when at least the same share of
  the *known* video's running time is found in it: each known frame (quality >= 50) within the
  threshold of a scanned frame covers the known video for ``CONTAINED_REACH`` seconds either
  side, since a scan samples about one frame a second and a known set holds every frame.
  ``coverage`` is then that share of the known video, ``seconds`` where it starts in the scanned
  one. vPDQ's own rule (HMA's defaults) asks only the query side, so a known clip inside longer
  footage would pass as new.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hashsieve.hashing.video import FrameHash

if TYPE_CHECKING:
    from hashsieve.hashing.content import FileResult
    from hashsieve.matching import Matcher, MatchHit

#: Share (%) of a scanned video's unique frames that one known video must cover (vPDQ, HMA).
VIDEO_MATCH_PERCENT = 80.0
#: Seconds of a known video either side of one of its frames that a scanned frame matched: half
#: the scan's sampling interval (one frame a second, hashing/video.py).
CONTAINED_REACH = 0.5
_CHUNK = 500

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


def unique_frames(frames: Sequence[FrameHash], min_quality: int) -> list[FrameHash]:
    """vPDQ's query frames: quality >= ``min_quality``, one per distinct hash (its first)."""
    seen: set[bytes] = set()
    out = []
    for frame in frames:
        if frame.quality >= min_quality and frame.code not in seen:
            seen.add(frame.code)
            out.append(frame)
    return out


def match_videos(
    matcher: Matcher, results: Sequence[FileResult], hits: list[list[MatchHit]]
) -> None:
    """The video part of :meth:`Matcher.match`, after the crypto and image PDQ hits are in."""
    for file_hits in hits:
        if len(file_hits) > 1:
            file_hits[:] = best_frame_per_video(file_hits)
    if any(r.frames for r in results):
        match_video_frames(matcher, results, hits)


def best_frame_per_video(file_hits: list[MatchHit]) -> list[MatchHit]:
    """One hit per known video for an image that matched several of its frames: the closest."""
    out: list[MatchHit] = []
    best: dict[tuple[int, str], int] = {}
    for hit in file_hits:
        parsed = parse_frame_entry(hit.entry) if hit.algorithm == "pdq" else None
        if parsed is None:
            out.append(hit)
            continue
        key = (hit.hashset_id, parsed.video)
        if key not in best:
            best[key] = len(out)
            out.append(hit)
        elif hit.distance < out[best[key]].distance:
            out[best[key]] = hit
    return out


def match_video_frames(
    matcher: Matcher,
    results: Sequence[FileResult],
    hits: list[list[MatchHit]],
    *,
    percent: float = VIDEO_MATCH_PERCENT,
) -> None:
    """Add the image and video hits of every result that carries frames to ``hits``."""
    if not len(matcher.index):
        return
    settings = matcher.settings
    owners: list[tuple[int, FrameHash]] = []  # query row -> (result, frame)
    per_result: dict[int, int] = {}
    for i, r in enumerate(results):
        if r.frames:
            frames = unique_frames(r.frames, settings.pdq_min_quality)
            per_result[i] = len(frames)
            owners.extend((i, f) for f in frames)
    if not owners:
        return
    codes = np.frombuffer(b"".join(f.code for _, f in owners), np.uint8).reshape(-1, 32)
    rows, ids, dists = matcher.index.query(codes, settings.pdq_threshold)
    by_id = _entries_by_id(matcher, sorted(set(ids.tolist())))
    # (result, entry id) -> (distance, seconds) for images; (result, hashset, video) -> frames.
    images: dict[tuple[int, int], tuple[int, float]] = {}
    videos: dict[tuple[int, int, str], dict[int, tuple[int, float]]] = {}
    video_row: dict[tuple[int, int, str], tuple] = {}
    # (result, hashset, video) -> times of the known video's frames that some frame came close to
    known_found: dict[tuple[int, int, str], set[float]] = {}
    for row, entry_id, dist in zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True):
        entry_row = by_id.get(entry_id)
        if entry_row is None:
            continue
        i, frame = owners[row]
        parsed = parse_frame_entry(entry_row[4])
        if parsed is None:
            key = (i, entry_id)
            best = images.get(key)
            if best is None or (dist, frame.seconds) < best:
                images[key] = (dist, frame.seconds)
            continue
        vkey = (i, entry_row[1], parsed.video)
        if parsed.quality >= settings.pdq_min_quality:
            known_found.setdefault(vkey, set()).add(parsed.seconds)
        matched = videos.setdefault(vkey, {})
        video_row.setdefault(vkey, entry_row)
        old = matched.get(row)
        if old is None or dist < old[0]:
            matched[row] = (dist, frame.seconds)
    for (i, entry_id), (dist, seconds) in sorted(images.items()):
        hit = matcher._hit(by_id[entry_id], dist)
        if hit is not None:
            hits[i].append(_with(hit, seconds=seconds))
    for vkey, matched in sorted(videos.items()):
        i, hashset_id, video = vkey
        coverage = 100.0 * len(matched) / per_result[i]
        algorithm = "vpdq"
        if coverage < percent:
            length = _known_video_length(matcher, hashset_id, video)
            coverage = _time_covered(known_found.get(vkey, set()), length)
            if coverage < percent:
                continue
            algorithm = "vpdq-contains"
        hit = matcher._hit(video_row[vkey], min(d for d, _ in matched.values()))
        if hit is not None:
            first = min(s for _, s in matched.values())
            hits[i].append(
                _with(hit, entry=video, algorithm=algorithm, seconds=first, coverage=coverage)
            )


def _time_covered(times: set[float], length: float) -> float:
    """Share (%) of ``[0, length]`` within ``CONTAINED_REACH`` of one of ``times``."""
    if length <= 0 or not times:
        return 0.0
    covered, end = 0.0, 0.0
    for t in sorted(times):
        start, stop = max(end, t - CONTAINED_REACH, 0.0), min(t + CONTAINED_REACH, length)
        if stop > start:
            covered += stop - start
        end = max(end, stop)
    return 100.0 * covered / length


def _known_video_length(matcher: Matcher, hashset_id: int, video: str) -> float:
    """A known video's running time as its frames tell it (the last frame's time plus the usual
    gap between frames); every video of the hash set is read in one pass, once per matcher."""
    lengths = matcher.video_lengths.get(hashset_id)
    if lengths is None:
        from sqlalchemy import select

        from hashsieve.store.models import HashEntry

        times: dict[str, list[float]] = {}
        with matcher.store.session() as s:
            entries = s.scalars(
                select(HashEntry.entry).where(
                    (HashEntry.hashset_id == hashset_id)
                    & (HashEntry.algorithm == "pdq")
                    & HashEntry.entry.like("% @%s frame %")
                )
            )
            for entry in entries:
                parsed = parse_frame_entry(entry)
                if parsed is not None:
                    times.setdefault(parsed.video, []).append(parsed.seconds)
        lengths = {}
        for name, found in times.items():
            found.sort()
            gaps = np.diff(found)
            lengths[name] = found[-1] + (float(np.median(gaps)) if len(gaps) else 0.0)
        matcher.video_lengths[hashset_id] = lengths
    return lengths.get(video, 0.0)


def _with(hit: MatchHit, **changes: object) -> MatchHit:
    from dataclasses import replace

    return replace(hit, **changes)  # type: ignore[arg-type]


def _entries_by_id(matcher: Matcher, entry_ids: list[int]) -> dict[int, tuple]:
    from hashsieve.store.models import HashEntry

    by_id: dict[int, tuple] = {}
    for start in range(0, len(entry_ids), _CHUNK):
        for row in matcher._entries(HashEntry.id.in_(entry_ids[start : start + _CHUNK])):
            by_id[row[0]] = row
    return by_id
