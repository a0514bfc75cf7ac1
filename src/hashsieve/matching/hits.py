"""What matching answers and what it asks: a hit (:class:`MatchHit`), a listed entry
(:class:`Entry`) and where known hashes live (:class:`KnownHashes`, the protocol the store's
indexes and the sensors' list copy implement). The rule over them is :mod:`.rules`."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hashsieve.hashing.algorithms import CRYPTO_ALGORITHMS, PDQ_TABLES

#: The tables the rule queries: digests, and PDQ of known pictures and of reference parts.
__all__ = [
    "CRYPTO_ALGORITHMS",
    "KNOWN",
    "KNOWN_GOOD",
    "PDQ_TABLES",
    "Entry",
    "Found",
    "KnownHashes",
    "MatchHit",
]

KNOWN = "known"  # a hash set's kind (hashsets.catalogue.KNOWN); the other is "known-good"
KNOWN_GOOD = "known-good"


@dataclass(frozen=True, slots=True)
class MatchHit:
    hashset_id: int
    hashset: str
    kind: str  # "known" or "known-good"
    entry: str  # "" on a sensor: the names stay on the console, which resolves entry_id
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
    #: The listed entry's id (the store's, which the console's list carries too).
    entry_id: int | None = None
    #: Who else holds the entry (an exchange feed's deconfliction provenance), as JSON
    #: ``{"agency", "case_ref", "contact"}``; None for the store's own sets.
    origin: str | None = None

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
        if self.origin:
            out["seen_by"] = json.loads(self.origin)
        return out


@dataclass(frozen=True, slots=True)
class Entry:
    """What the rule needs to know of one listed hash."""

    hashset_id: int
    hashset: str
    kind: str
    entry: str  # "" where the names are not at hand (a sensor)
    algorithm: str
    category: int | None
    series: str | None
    #: The known original the entry belongs to: a part and its original's plain PDQ share it.
    original: Hashable
    #: For a known video's frame (where the names are at hand): the video, the frame's time (s)
    #: and PDQ quality; None for anything else.
    video: str | None = None
    seconds: float | None = None
    quality: int | None = None
    #: Who else holds it (MatchHit.origin).
    origin: str | None = None

    def hit(self, entry_id: int, distance: int, **extra: object) -> MatchHit:
        fields: dict[str, object] = {
            "entry": self.entry,
            "algorithm": self.algorithm,
            "series": self.series,
            "origin": self.origin,
            **extra,
        }
        return MatchHit(
            hashset_id=self.hashset_id,
            hashset=self.hashset,
            kind=self.kind,
            distance=distance,
            category=self.category,
            entry_id=entry_id,
            **fields,  # type: ignore[arg-type]
        )


#: (query rows, entry ids, distances): what a PDQ table answers, one row per match.
Found = tuple[np.ndarray, np.ndarray, np.ndarray]


class KnownHashes(Protocol):
    """Where known hashes live; the rule asks only these questions."""

    @property
    def pdq_threshold(self) -> int: ...

    @property
    def pdq_min_quality(self) -> int: ...

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> Iterable[tuple[int, int]]:
        """(index into ``digests``, entry id) for every listed digest of ``algorithm``."""
        ...

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        """Entries of PDQ table ``table`` (one of PDQ_TABLES) within ``radius`` of ``codes``
        (n x 32 bytes)."""
        ...

    def entries(self, entry_ids: Sequence[int]) -> Mapping[int, Entry]:
        """The entries of these ids; an id left out is not matched (e.g. its import is still
        in progress)."""
        ...

    def video_length(self, hashset_id: int, video: str) -> float:
        """A known video's running time in seconds (0 where not known)."""
        ...
