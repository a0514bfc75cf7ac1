"""The store's known hashes, for the matching rule (:mod:`hashsieve.matching.rules`).

Cryptographic digests are looked up in the store's sorted digest arrays and PDQ in its exact
multi-index (both persisted beside the database); only the hits are read from the database. PDQ
queries carry all 8 dihedral variants of every usable hash in one batch, so rotated, mirrored and
EXIF-rotated copies match too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select

from hashsieve.config import Settings
from hashsieve.hashing.algorithms import PART_ALGORITHMS
from hashsieve.hashing.content import FileResult
from hashsieve.index.store_index import StoreIndex
from hashsieve.matching import rules
from hashsieve.matching.hits import CRYPTO_ALGORITHMS, Entry, Found, MatchHit
from hashsieve.store import Store
from hashsieve.store.models import HashEntry, HashSet

_LOOKUP_CHUNK = 500  # values per IN (...) query; far below every backend's parameter limit
_EMPTY: Found = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

__all__ = ["MatchHit", "Matcher"]


class Matcher:
    """:class:`~hashsieve.matching.hits.KnownHashes` over every complete hash set in the store."""

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

    @property
    def pdq_threshold(self) -> int:
        return self.settings.pdq_threshold

    @property
    def pdq_min_quality(self) -> int:
        return self.settings.pdq_min_quality

    @property
    def wants_parts(self) -> bool:
        """Whether the store holds reference parts of the upper picture, which queries need
        hashed (``HashOptions.parts``); crop parts are matched with the hashes a scan has."""
        return len(self.parts["pdq-top"]) > 0

    def match(self, results: Sequence[FileResult]) -> list[list[MatchHit]]:
        if not self.hashsets:
            return [[] for _ in results]
        return rules.match(self, results)

    # --- KnownHashes ---------------------------------------------------------------------------

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        index = self.digests[algorithm]
        if not len(index) or not digests:
            return []
        rows, ids = index.lookup(
            np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), -1)
        )
        return list(zip(rows.tolist(), ids.tolist(), strict=True))

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        index = self.index if table == "pdq" else self.parts[table]
        if not len(index) or not len(codes):
            return _EMPTY
        return index.query(codes, radius)

    def entries(self, entry_ids: Sequence[int]) -> dict[int, Entry]:
        out = {}
        for start in range(0, len(entry_ids), _LOOKUP_CHUNK):
            chunk = list(entry_ids[start : start + _LOOKUP_CHUNK])
            for row in self._rows(chunk):
                entry_id, hs_id, algo, entry, category, series, item, seconds, quality, origin = row
                if hs_id not in self.hashsets:
                    continue  # an import still in progress
                name, kind = self.hashsets[hs_id]
                # A part's original is its item; a frame's is its video.
                original = (hs_id, item if item is not None else entry)
                video = item if algo == "pdq" and seconds is not None else None
                out[entry_id] = Entry(
                    hs_id,
                    name,
                    kind,
                    entry,
                    algo,
                    category,
                    series,
                    original,
                    video,
                    seconds if video is not None else None,
                    quality if video is not None else None,
                    origin,
                )
        return out

    def video_length(self, hashset_id: int, video: str) -> float:
        lengths = self.video_lengths.get(hashset_id)
        if lengths is None:
            from hashsieve.matching.video import known_video_lengths

            lengths = self.video_lengths[hashset_id] = known_video_lengths(self.store, hashset_id)
        return lengths.get(video, 0.0)

    def _rows(
        self, entry_ids: list[int]
    ) -> list[
        tuple[
            int,
            int,
            str,
            str,
            int | None,
            str | None,
            str | None,
            float | None,
            int | None,
            str | None,
        ]
    ]:
        with self.store.session() as s:
            return [
                tuple(row)
                for row in s.execute(
                    select(
                        HashEntry.id,
                        HashEntry.hashset_id,
                        HashEntry.algorithm,
                        HashEntry.entry,
                        HashEntry.category,
                        HashEntry.series,
                        HashEntry.item,
                        HashEntry.seconds,
                        HashEntry.quality,
                        HashEntry.origin,
                    ).where(HashEntry.id.in_(entry_ids))
                )
            ]
