"""Matching videos: frames against known images, and against known videos by vPDQ's rule.

Known video frames are ordinary ``pdq`` hash entries whose columns name the video (``item``)
and the moment (``seconds``, ``frame``, ``quality``; see
:func:`hashsieve.hashsets.entries.frame_record`), so the one PDQ index serves both directions: a
still image matches a known video's frame through the image path (the match's entry says which
video and when), and a scanned video's frames are looked up here.

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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hashsieve.hashing.video import FrameHash
from hashsieve.matching.hits import PDQ_TABLES

if TYPE_CHECKING:
    from hashsieve.hashing.content import FileResult
    from hashsieve.matching.hits import Entry, KnownHashes, MatchHit
    from hashsieve.store import Store

#: Share (%) of a scanned video's unique frames that one known video must cover (vPDQ, HMA).
VIDEO_MATCH_PERCENT = 80.0
#: Seconds of a known video either side of one of its frames that a scanned frame matched: half
#: the scan's sampling interval (one frame a second, hashing/video.py).
CONTAINED_REACH = 0.5


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
    known: KnownHashes, results: Sequence[FileResult], hits: list[list[MatchHit]]
) -> None:
    """The video part of :func:`~hashsieve.matching.rules.match`, after the digest and picture
    hits are in."""
    videos = _videos_of(known, hits)
    for file_hits in hits:
        # Frames' candidate regions are for known pictures only: a known video is matched by
        # the vPDQ rules below, from frame hashes alone.
        file_hits[:] = [h for h in file_hits if not _region_on_video_frame(h, videos)]
        if len(file_hits) > 1:
            file_hits[:] = best_frame_per_video(file_hits, videos)
    if any(r.frames for r in results):
        match_video_frames(known, results, hits)


def _videos_of(known: KnownHashes, hits: list[list[MatchHit]]) -> dict[int, str]:
    """Entry id -> known video, for the plain PDQ hits that are a known video's frames (only
    those that :func:`best_frame_per_video` or the region filter will ask about)."""
    ids = {
        h.entry_id
        for file_hits in hits
        for h in file_hits
        if h.entry_id is not None
        and h.algorithm == "pdq"
        and (len(file_hits) > 1 or h.candidate is not None)
    }
    if not ids:
        return {}
    entries = known.entries(sorted(ids))
    return {i: e.video for i, e in entries.items() if e.video is not None}


def best_frame_per_video(file_hits: list[MatchHit], videos: Mapping[int, str]) -> list[MatchHit]:
    """One hit per known video for an image that matched several of its frames: the closest.
    ``videos`` maps a frame's entry id to its known video."""
    out: list[MatchHit] = []
    best: dict[tuple[int, str], int] = {}
    for hit in file_hits:
        video = videos.get(hit.entry_id) if hit.entry_id is not None else None
        if video is None or hit.algorithm != "pdq":
            out.append(hit)
            continue
        key = (hit.hashset_id, video)
        if key not in best:
            best[key] = len(out)
            out.append(hit)
        elif hit.distance < out[best[key]].distance:
            out[best[key]] = hit
    return out


def match_video_frames(
    known: KnownHashes,
    results: Sequence[FileResult],
    hits: list[list[MatchHit]],
    *,
    percent: float = VIDEO_MATCH_PERCENT,
) -> None:
    """Add the image and video hits of every result that carries frames to ``hits``.

    Known videos are told by their frames' ``video`` (the store's ``item`` column); where that
    is not at hand (a sensor's list copy) every listed frame counts as a picture.
    """
    owners: list[tuple[int, FrameHash]] = []  # query row -> (result, frame)
    per_result: dict[int, int] = {}
    for i, r in enumerate(results):
        if r.frames:
            frames = unique_frames(r.frames, known.pdq_min_quality)
            per_result[i] = len(frames)
            owners.extend((i, f) for f in frames)
    if not owners:
        return
    codes = np.frombuffer(b"".join(f.code for _, f in owners), np.uint8).reshape(-1, 32)
    rows, ids, dists = known.query("pdq", codes, known.pdq_threshold)
    by_id = known.entries(sorted(set(ids.tolist())))
    # (result, entry id) -> (distance, seconds) for images; (result, hashset, video) -> frames.
    images: dict[tuple[int, int], tuple[int, float]] = {}
    videos: dict[tuple[int, int, str], dict[int, tuple[int, float]]] = {}
    video_entry: dict[tuple[int, int, str], tuple[int, Entry]] = {}
    # (result, hashset, video) -> times of the known video's frames that some frame came close to
    known_found: dict[tuple[int, int, str], set[float]] = {}
    for row, entry_id, dist in zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True):
        entry = by_id.get(entry_id)
        if entry is None:
            continue
        i, frame = owners[row]
        if entry.video is None or entry.seconds is None:
            key = (i, entry_id)
            best = images.get(key)
            if best is None or (dist, frame.seconds) < best:
                images[key] = (dist, frame.seconds)
            continue
        vkey = (i, entry.hashset_id, entry.video)
        # A frame stored without its quality counts: imports keep frames of quality >= 50 only.
        if entry.quality is None or entry.quality >= known.pdq_min_quality:
            known_found.setdefault(vkey, set()).add(entry.seconds)
        matched = videos.setdefault(vkey, {})
        video_entry.setdefault(vkey, (entry_id, entry))
        old = matched.get(row)
        if old is None or dist < old[0]:
            matched[row] = (dist, frame.seconds)
    for (i, entry_id), (dist, seconds) in sorted(images.items()):
        if _told_by_picture(known, hits[i], by_id[entry_id]):
            continue
        hits[i].append(by_id[entry_id].hit(entry_id, dist, seconds=seconds))
    for vkey, matched in sorted(videos.items()):
        i, hashset_id, video = vkey
        coverage = 100.0 * len(matched) / per_result[i]
        algorithm = "vpdq"
        if coverage < percent:
            length = known.video_length(hashset_id, video)
            coverage = _time_covered(known_found.get(vkey, set()), length)
            if coverage < percent:
                continue
            algorithm = "vpdq-contains"
        entry_id, entry = video_entry[vkey]
        first = min(s for _, s in matched.values())
        hits[i].append(
            entry.hit(
                entry_id,
                min(d for d, _ in matched.values()),
                entry=video,
                algorithm=algorithm,
                seconds=first,
                coverage=coverage,
            )
        )


def _region_on_video_frame(hit: MatchHit, videos: Mapping[int, str]) -> bool:
    """A frame's candidate region (it has a moment) that found a known video's frame."""
    return (
        hit.seconds is not None
        and hit.candidate is not None
        and hit.entry_id is not None
        and hit.entry_id in videos
    )


def _told_by_picture(known: KnownHashes, file_hits: list[MatchHit], entry: Entry) -> bool:
    """Whether ``entry``'s original is already told by a whole picture's plain PDQ (an
    animation's first frame is also its picture). Otherwise a frame's own hash ranks first
    (:func:`.rules._rank`): the hits of candidate regions or parts on that original give way."""
    pictures = [h for h in file_hits if h.entry_id is not None and h.algorithm in PDQ_TABLES]
    if not pictures:
        return False
    originals = known.entries(sorted({h.entry_id for h in pictures if h.entry_id is not None}))
    same = {
        id(h)
        for h in pictures
        if h.entry_id is not None
        and h.entry_id in originals
        and originals[h.entry_id].original == entry.original
    }
    if any(id(h) in same and h.candidate is None and h.algorithm == "pdq" for h in pictures):
        return True
    file_hits[:] = [h for h in file_hits if id(h) not in same]
    return False


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


def known_video_lengths(store: Store, hashset_id: int) -> dict[str, float]:
    """Every known video's running time in one hash set, as its frames tell it (the last
    frame's time plus the usual gap between frames)."""
    from sqlalchemy import select

    from hashsieve.store.models import HashEntry

    times: dict[str, list[float]] = {}
    with store.session() as s:
        frames = s.execute(
            select(HashEntry.item, HashEntry.seconds).where(
                (HashEntry.hashset_id == hashset_id)
                & (HashEntry.algorithm == "pdq")
                & HashEntry.item.is_not(None)
                & HashEntry.seconds.is_not(None)
            )
        )
        for video, seconds in frames:
            if video is not None and seconds is not None:  # as the query asks; for the types
                times.setdefault(video, []).append(seconds)
    lengths = {}
    for name, found in times.items():
        found.sort()
        gaps = np.diff(found)
        lengths[name] = found[-1] + (float(np.median(gaps)) if len(gaps) else 0.0)
    return lengths
