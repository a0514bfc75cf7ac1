"""Matching a batch of hashed files against every complete hash set in the store.

Cryptographic digests are looked up in the store's sorted digest arrays and PDQ in its exact
multi-index (both persisted beside the database); only the hits are read from the database. PDQ
queries carry all 8 dihedral variants of every usable hash in one batch, so rotated, mirrored and
EXIF-rotated copies match too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from hashsieve.config import Settings
from hashsieve.hashing.content import FileResult
from hashsieve.hashing.pdq import DIHEDRAL_NAMES, PDQ_BYTES
from hashsieve.hashing.reference import PART_ALGORITHMS, original_entry, regions_by_table
from hashsieve.index.pdq_index import MultiIndexPdqIndex
from hashsieve.index.store_index import StoreIndex
from hashsieve.store import Store
from hashsieve.store.models import HashEntry, HashSet

CRYPTO_ALGORITHMS = ("md5", "sha1", "sha256")
_LOOKUP_CHUNK = 500  # values per IN (...) query; far below every backend's parameter limit


@dataclass(frozen=True, slots=True)
class MatchHit:
    hashset_id: int
    hashset: str
    kind: str  # "known" or "known-good"
    entry: str
    algorithm: str
    distance: int
    category: int | None
    series: str | None
    variant: str | None = None  # dihedral variant that matched, for PDQ
    #: For a video: the time (s) in the scanned video of the first matching frame.
    seconds: float | None = None
    #: For a video matched by vPDQ: the share (%) of its frames the known video covers.
    coverage: float | None = None
    #: The candidate region that matched (robust matching); None for the whole image.
    candidate: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "hashset": self.hashset,
            "entry": self.entry,
            "algorithm": self.algorithm,
            "distance": self.distance,
            "category": self.category,
        }
        if self.series:
            out["series"] = self.series
        if self.variant and self.variant != "r0":
            out["variant"] = self.variant
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 3)
        if self.coverage is not None:
            out["coverage"] = round(self.coverage, 1)
        if self.candidate:
            out["candidate"] = self.candidate
        return out


def _rank(row: tuple, region: str | None, dist: int) -> tuple[bool, bool, int]:
    """Which of two hits on one original to report: plain PDQ before a part, the whole image
    before a candidate region, then the closer."""
    return (row[2] != "pdq", region is not None, dist)


class Matcher:
    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or store.settings
        self.index = StoreIndex(store, "pdq").open()
        #: Reference parts of known originals (hashsieve.hashing.reference), one index each.
        self.parts = {algo: StoreIndex(store, algo).open() for algo in PART_ALGORITHMS}
        self.digests = {algo: StoreIndex(store, algo).open() for algo in CRYPTO_ALGORITHMS}
        with store.session() as s:
            self.hashsets = {
                hs.id: (hs.name, hs.kind)
                for hs in s.scalars(select(HashSet).where(HashSet.complete.is_(True)))
            }
        #: hash set id -> known video -> its running time in seconds (read once, when needed).
        self.video_lengths: dict[int, dict[str, float]] = {}

    def match(self, results: Sequence[FileResult]) -> list[list[MatchHit]]:
        hits: list[list[MatchHit]] = [[] for _ in results]
        if not self.hashsets:
            return hits
        self._match_crypto(results, hits)
        self._match_pdq(results, hits)
        from hashsieve.matching.video import match_videos

        match_videos(self, results, hits)
        return hits

    def _entries(
        self, where: object
    ) -> list[tuple[int, int, str, bytes, str, int | None, str | None]]:
        with self.store.session() as s:
            return [
                tuple(row)  # type: ignore[misc]
                for row in s.execute(
                    select(
                        HashEntry.id,
                        HashEntry.hashset_id,
                        HashEntry.algorithm,
                        HashEntry.value,
                        HashEntry.entry,
                        HashEntry.category,
                        HashEntry.series,
                    ).where(where)  # type: ignore[arg-type]
                )
            ]

    def _hit(
        self, row: tuple, distance: int, variant: str | None = None, candidate: str | None = None
    ) -> MatchHit | None:
        _id, hs_id, algo, _value, entry, category, series = row
        if hs_id not in self.hashsets:
            return None  # an import still in progress
        name, kind = self.hashsets[hs_id]
        return MatchHit(
            hs_id, name, kind, entry, algo, distance, category, series, variant, candidate=candidate
        )

    def _match_crypto(self, results: Sequence[FileResult], hits: list[list[MatchHit]]) -> None:
        for algo in CRYPTO_ALGORITHMS:
            index = self.digests[algo]
            present = [i for i, r in enumerate(results) if getattr(r, algo) is not None]
            if not len(index) or not present:
                continue
            digests = np.frombuffer(
                b"".join(bytes.fromhex(getattr(results[i], algo)) for i in present), np.uint8
            ).reshape(len(present), -1)
            rows, ids = index.lookup(digests)
            by_id = self._entries_by_id(sorted(set(ids.tolist())))
            for row, entry_id in zip(rows.tolist(), ids.tolist(), strict=True):
                if entry_id in by_id and (hit := self._hit(by_id[entry_id], 0)) is not None:
                    hits[present[row]].append(hit)

    def _entries_by_id(self, entry_ids: list[int]) -> dict[int, tuple]:
        by_id = {}
        for start in range(0, len(entry_ids), _LOOKUP_CHUNK):
            for row in self._entries(HashEntry.id.in_(entry_ids[start : start + _LOOKUP_CHUNK])):
                by_id[row[0]] = row
        return by_id

    @property
    def wants_parts(self) -> bool:
        """Whether the store holds reference parts of the upper picture, which queries need
        hashed (``HashOptions.parts``); crop parts are matched with the hashes a scan has."""
        return len(self.parts["pdq-top"]) > 0

    def _match_pdq(self, results: Sequence[FileResult], hits: list[list[MatchHit]]) -> None:
        # One query row block per (file, region): the whole image (candidate None, the settings'
        # threshold) and each candidate region (robust matching, its own measured threshold),
        # against plain PDQ of known images and the crop parts of known originals; the upper
        # parts ("top", "<region>/top") against the upper parts of known originals.
        queries: dict[str, list[tuple[int, str | None, int, bytes]]] = {}
        for i, r in enumerate(results):
            by_table = regions_by_table(
                r.dihedral,
                r.quality,
                r.candidates,
                min_quality=self.settings.pdq_min_quality,
                threshold=self.settings.pdq_threshold,
            )
            for table, regions in by_table.items():
                queries.setdefault(table, []).extend((i, *region) for region in regions)
        # Per (file, entry): the whole image's best distance over its 8 variants when it matched
        # at all (plain PDQ's answer is kept), else the best candidate region's.
        best: dict[tuple[int, int], tuple[int, int, str | None]] = {}
        for table, index in (("pdq", self.index), *self.parts.items()):
            self._query(index, queries.get(table, []), best)
        by_id = self._entries_by_id(sorted({entry_id for _, entry_id in best}))
        # A file that matched an original's plain PDQ is not told again about its parts; of the
        # parts of one original, the closest is reported.
        chosen: dict[tuple[int, int, str], tuple[int, int, str | None, tuple]] = {}
        for (file_i, entry_id), (dist, variant, region) in sorted(best.items()):
            if entry_id not in by_id:
                continue
            row = by_id[entry_id]
            key = (file_i, row[1], original_entry(row[4]))
            held = chosen.get(key)
            if held is None or _rank(row, region, dist) < _rank(held[3], held[2], held[0]):
                chosen[key] = (dist, variant, region, row)
        for (file_i, _hs, _entry), (dist, variant, region, row) in sorted(
            chosen.items(), key=lambda item: (item[0][0], item[1][3][0])
        ):
            hit = self._hit(row, dist, DIHEDRAL_NAMES[variant], region)
            if hit is not None:
                hits[file_i].append(hit)

    @staticmethod
    def _query(
        index: MultiIndexPdqIndex,
        queries: list[tuple[int, str | None, int, bytes]],
        best: dict[tuple[int, int], tuple[int, int, str | None]],
    ) -> None:
        if not queries or not len(index):
            return
        codes = np.frombuffer(b"".join(q[3] for q in queries), dtype=np.uint8).reshape(
            -1, PDQ_BYTES
        )
        rows, ids, dists = index.query(codes, max(q[2] for q in queries))
        n_variants = len(DIHEDRAL_NAMES)
        for row, entry_id, dist in zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True):
            file_i, name, threshold, _ = queries[row // n_variants]
            if dist > threshold:
                continue
            key = (file_i, entry_id)
            rank = (name is not None, dist)
            if key not in best or rank < (best[key][2] is not None, best[key][0]):
                best[key] = (dist, row % n_variants, name)
