"""The one matching rule: what a hashed file matches, and whether that makes it known-bad.

Every matcher asks this module: the scan and the stream monitor through the store's indexes
(:class:`~hashsieve.matching.Matcher`), the agent and the ICAP service through their copy of the
console's list (:class:`~hashsieve.sensors.listcopy.ListCopy`), a benchmark through an in-memory
list (``ListCopy.from_records``). They differ only in where the hashes live, behind
:class:`KnownHashes`; routing, thresholds, ranking and the verdict are here:

- digests (MD5, SHA-1, SHA-256) match exactly;
- the whole picture (its 8 dihedral variants, at the settings' threshold) and each candidate
  region (at its own measured threshold) go to plain PDQ and, at most at PART_THRESHOLD, to the
  crop parts of known originals; the upper parts (``top``, ``<region>/top``) go to the upper
  parts (:func:`regions_by_table`); a video's frames go to plain PDQ (:mod:`.video`);
- per listed entry the whole picture's best distance is kept when it matched at all, else the
  best candidate region's;
- one original, told once: a file that matched an original's plain PDQ is not told about its
  parts, and of the parts of one original only the best is told (a listed digest does not hide
  parts: they may be of another original, of a more serious category);
- category 0 (non-pertinent) is not known-bad, and known wins over known-good.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hashsieve.hashing.candidates import THRESHOLDS
from hashsieve.hashing.pdq import DIHEDRAL_NAMES, PDQ_BYTES
from hashsieve.hashing.reference import PART_THRESHOLD
from hashsieve.hashsets.categories import NON_PERTINENT, is_pertinent
from hashsieve.matching.hits import (
    CRYPTO_ALGORITHMS,
    KNOWN,
    KNOWN_GOOD,
    PDQ_TABLES,
    Entry,
    KnownHashes,
    MatchHit,
)

if TYPE_CHECKING:
    from hashsieve.hashing.content import FileResult

# --- the verdict ---------------------------------------------------------------------------


def is_known_bad(hit: MatchHit) -> bool:
    """A match to a known set, unless categorised non-pertinent (uncategorised still counts)."""
    return hit.kind == KNOWN and is_pertinent(hit.category)


def category_rank(category: int | None) -> int:
    """Most serious first: 1, 2, 3, 4, ... then uncategorised."""
    return 1000 if category is None else category


def known_bad(hits: Iterable[MatchHit]) -> list[MatchHit]:
    """The hits a sensor alerts (and blocks) on, most serious first, then the closest."""
    bad = [h for h in hits if is_known_bad(h)]
    return sorted(bad, key=lambda h: (category_rank(h.category), h.distance))


def verdict_of(matches: Sequence[MatchHit]) -> tuple[str | None, int | None]:
    """(``"known"``, the most serious category), (``"known-good"``, 0 or None), or (None, None)
    for no match. Known wins over known-good: one known-bad match sets a file aside as known,
    whatever else it matches."""
    bad = known_bad(matches)
    if bad:
        return KNOWN, bad[0].category
    if matches:
        return KNOWN_GOOD, NON_PERTINENT if any(m.kind == KNOWN for m in matches) else None
    return None, None


# --- matching --------------------------------------------------------------------------------

#: A query region: (candidate name or None for the whole image, threshold, 8 x 32 dihedral bytes).
Query = tuple[str | None, int, bytes]


def regions_by_table(
    dihedral: bytes | None,
    quality: int | None,
    candidates: list[tuple[str, int, bytes]],
    *,
    min_quality: int,
    threshold: int,
) -> dict[str, list[Query]]:
    """Which regions of a hashed picture are matched against which PDQ table, at what distance.

    The whole image (at ``threshold``) and each candidate region (at its own measured threshold)
    go to plain PDQ and, at most at PART_THRESHOLD, to the crop parts; the upper parts (``top``,
    ``<region>/top``) go to the upper parts. Regions under ``min_quality`` go nowhere.
    """
    out: dict[str, list[Query]] = {table: [] for table in PDQ_TABLES}
    regions: list[tuple[str | None, int | None, bytes | None]] = [
        (None, quality, dihedral),
        *candidates,
    ]
    for name, q, codes in regions:
        if not codes or (q or 0) < min_quality:
            continue
        if name is not None and (name == "top" or name.endswith("/top")):
            out["pdq-top"].append((name, PART_THRESHOLD, codes))
            continue
        limit = threshold if name is None else THRESHOLDS.get(name)
        if limit is None:
            continue  # a region this version does not match (an older result)
        out["pdq"].append((name, limit, codes))
        out["pdq-crop"].append((name, min(limit, PART_THRESHOLD), codes))
    return out


def match(known: KnownHashes, results: Sequence[FileResult]) -> list[list[MatchHit]]:
    """Every hit of every result, per result: digests, pictures, then videos."""
    from hashsieve.matching.video import match_videos

    hits: list[list[MatchHit]] = [[] for _ in results]
    _match_digests(known, results, hits)
    _match_pictures(known, results, hits)
    match_videos(known, results, hits)
    return hits


def _match_digests(
    known: KnownHashes, results: Sequence[FileResult], hits: list[list[MatchHit]]
) -> None:
    found: list[tuple[int, int, int]] = []  # (result, algorithm's place, entry id)
    for place, algo in enumerate(CRYPTO_ALGORITHMS):
        present = [i for i, r in enumerate(results) if getattr(r, algo) is not None]
        if not present:
            continue
        digests = [bytes.fromhex(getattr(results[i], algo)) for i in present]
        found.extend((present[row], place, eid) for row, eid in known.lookup(algo, digests))
    entries = known.entries(sorted({eid for _, _, eid in found}))
    for i, _place, entry_id in sorted(found):
        if entry_id in entries:
            hits[i].append(entries[entry_id].hit(entry_id, 0))


def _rank(entry: Entry, region: str | None, distance: int) -> tuple[bool, bool, int]:
    """Which of two hits on one original to tell: plain PDQ before a part, the whole image
    before a candidate region, then the closer."""
    return (entry.algorithm != "pdq", region is not None, distance)


def _match_pictures(
    known: KnownHashes, results: Sequence[FileResult], hits: list[list[MatchHit]]
) -> None:
    # One block of 8 query rows per (file, region, moment) and table. A video's or an
    # animation's frames bring their candidate regions too (hashing/video.py), with the time
    # they are on screen; a frame's own hash goes by the vPDQ rules (matching/video.py).
    queries: dict[str, list[tuple[int, str | None, int, bytes, float | None]]] = {}
    for i, r in enumerate(results):
        pictures: list[tuple[bytes | None, int | None, list[tuple[str, int, bytes]], float | None]]
        pictures = [(r.dihedral, r.quality, r.candidates, None)]
        pictures += [(None, None, list(f.candidates), f.seconds) for f in r.frames or ()]
        for dihedral, quality, candidates, seconds in pictures:
            by_table = regions_by_table(
                dihedral,
                quality,
                candidates,
                min_quality=known.pdq_min_quality,
                threshold=known.pdq_threshold,
            )
            for table, regions in by_table.items():
                queries.setdefault(table, []).extend((i, *q, seconds) for q in regions)
    # Per (file, entry): the whole image's best (distance, variant) when it matched at all,
    # else the best candidate region's (of frames: the closest, then the earliest).
    best: dict[tuple[int, int], tuple[int, int, str | None, float | None]] = {}
    n_variants = len(DIHEDRAL_NAMES)
    for table, rows_of in queries.items():
        if not rows_of:
            continue
        codes = np.frombuffer(b"".join(q[3] for q in rows_of), np.uint8).reshape(-1, PDQ_BYTES)
        rows, ids, dists = known.query(table, codes, max(q[2] for q in rows_of))
        for row, entry_id, dist in zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True):
            file_i, region, limit, _, seconds = rows_of[row // n_variants]
            if dist > limit:
                continue
            key = (file_i, entry_id)
            held = best.get(key)
            if held is None or (region is not None, dist, seconds or 0.0) < (
                held[2] is not None,
                held[0],
                held[3] or 0.0,
            ):
                best[key] = (dist, row % n_variants, region, seconds)
    entries = known.entries(sorted({entry_id for _, entry_id in best}))
    # One original, told once: per (file, original) the best-ranked hit.
    chosen: dict[tuple[int, Hashable], tuple[int, int, int, str | None, float | None]] = {}
    for (file_i, entry_id), (dist, variant, region, seconds) in sorted(best.items()):
        entry = entries.get(entry_id)
        if entry is None:
            continue
        key = (file_i, entry.original)
        told = chosen.get(key)
        if told is None or _rank(entry, region, dist) < _rank(entries[told[0]], told[3], told[1]):
            chosen[key] = (entry_id, dist, variant, region, seconds)
    for (file_i, _original), (entry_id, dist, variant, region, seconds) in sorted(
        chosen.items(), key=lambda item: (item[0][0], item[1][0])
    ):
        hit = entries[entry_id].hit(
            entry_id, dist, variant=DIHEDRAL_NAMES[variant], candidate=region, seconds=seconds
        )
        hits[file_i].append(hit)
