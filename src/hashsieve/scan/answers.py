"""Matching split between cluster workers and the client, one rule on both sides.

The costly half of matching is asking the indexes: the digest arrays and the PDQ multi-indexes
(8 dihedral variants of the whole picture and of every candidate region, a video's frames). On a
cluster each worker does that half right after hashing, against the indexes it memory-maps from
the store's index folder on shared storage (:func:`answer_files`, :func:`answer_job`): it runs
the matching rule (:func:`hashsieve.matching.rules.match`) over a :class:`KnownHashes` that asks
its indexes and records what they answered, and sends back, with each file's result, only the
answers that found something (:class:`IndexHits`, nearly always empty). The workers need no
database.

The client then runs the same rule over those answers (:class:`AnsweredHashes`): the index
questions are answered from the records, and what needs the database (the hash sets' entries,
a known video's length) from the store, as the local scan does; a file whose worker found
nothing in any index has no hits and costs the client nothing. Which questions the rule asks
depends only on the file's hashes and the thresholds, never on the answers, so both sides ask
the same ones: a cluster scan stores the same matches as a local one (tested).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashsieve.hashing.algorithms import CRYPTO_ALGORITHMS
from hashsieve.hashing.pdq import PDQ_BYTES
from hashsieve.index.exact import SortedDigestIndex
from hashsieve.index.pdq_index import MultiIndexPdqIndex
from hashsieve.index.store_index import PDQ_ALGORITHMS, WIDTHS
from hashsieve.matching import rules
from hashsieve.matching.hits import Entry, Found, MatchHit
from hashsieve.scan.worker import FileResult, HashOptions, hash_archive_job, hash_evidence_file

if TYPE_CHECKING:
    from hashsieve.matching import Matcher
    from hashsieve.sources.archive import ArchiveJob

_EMPTY: Found = (np.zeros(0, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.int32))


@dataclass(slots=True)
class IndexHits:
    """What the indexes answered that found something: a digest's entry ids, and a PDQ code's
    (radius asked, entry ids, distances) per table. Empty for nearly every file."""

    digests: dict[tuple[str, bytes], list[int]] = field(default_factory=dict)
    codes: dict[tuple[str, bytes], tuple[int, list[int], list[int]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.digests or self.codes)

    def update(self, other: IndexHits) -> None:
        """Add another file's answers; of one code asked twice, the answer of the wider radius
        (it holds the other's)."""
        self.digests.update(other.digests)
        for key, answer in other.codes.items():
            held = self.codes.get(key)
            if held is None or held[0] < answer[0]:
                self.codes[key] = answer

    def of(self, result: FileResult) -> IndexHits:
        """The answers that concern one file: its digests and its codes (whole picture,
        candidate regions, video frames and their regions)."""
        out = IndexHits()
        for algo in CRYPTO_ALGORITHMS:
            value = getattr(result, algo)
            if value is not None and (key := (algo, bytes.fromhex(value))) in self.digests:
                out.digests[key] = self.digests[key]
        if self.codes:
            mine = set(_codes_of(result))
            out.codes = {key: v for key, v in self.codes.items() if key[1] in mine}
        return out


def _codes_of(result: FileResult) -> Iterable[bytes]:
    blocks: list[bytes] = [result.dihedral or b""]
    blocks += [codes for _, _, codes in result.candidates]
    for frame in result.frames or ():
        blocks.append(frame.code)
        blocks += [codes for _, _, codes in frame.candidates]
    for block in blocks:
        for at in range(0, len(block), PDQ_BYTES):
            yield block[at : at + PDQ_BYTES]


#: One result as the client receives it: with the workers' index answers, or None where the
#: client matches it itself (the local pool).
Hashed = tuple[FileResult, IndexHits | None]


@dataclass(frozen=True, slots=True)
class MatchPlan:
    """What a worker needs to answer like the client's matcher: where the indexes are, which
    version of them (a change makes the workers load them again) and the thresholds."""

    index_dir: str
    generation: str
    pdq_threshold: int
    pdq_min_quality: int
    #: False when the store holds no complete hash set: nothing to ask.
    enabled: bool = True

    @classmethod
    def of(cls, matcher: Matcher) -> MatchPlan:
        index_dir = matcher.store.settings.index_dir
        return cls(
            str(index_dir),
            index_generation(index_dir),
            matcher.pdq_threshold,
            matcher.pdq_min_quality,
            bool(matcher.hashsets),
        )


def index_generation(index_dir: Path) -> str:
    """A token that changes whenever an index is saved anew (its state file and folder)."""
    digest = hashlib.sha256()
    for algo in sorted(WIDTHS):
        state = index_dir / f"{algo}-state.json"
        try:
            digest.update(state.read_bytes())
            digest.update(str((index_dir / algo).stat().st_mtime_ns).encode())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()


class _WorkerIndexes:
    """The indexes of one index folder, memory-mapped on first use (per worker process)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._open: dict[str, Any] = {}

    def get(self, algorithm: str) -> Any | None:
        if algorithm not in self._open:
            directory = self.index_dir / algorithm
            index: Any = None
            if directory.exists():
                if algorithm in PDQ_ALGORITHMS:
                    # One query thread: a worker process is one of several on its machine.
                    index = MultiIndexPdqIndex.load(directory, mmap=True, threads=1)
                else:
                    index = SortedDigestIndex.load(directory, mmap=True)
            self._open[algorithm] = index
        return self._open[algorithm]


_CACHE: dict[str, tuple[str, _WorkerIndexes]] = {}
_CACHE_LOCK = threading.Lock()


def _indexes(plan: MatchPlan) -> _WorkerIndexes:
    with _CACHE_LOCK:
        held = _CACHE.get(plan.index_dir)
        if held is None or held[0] != plan.generation:
            held = _CACHE[plan.index_dir] = (plan.generation, _WorkerIndexes(Path(plan.index_dir)))
        return held[1]


class _Recorder:
    """:class:`~hashsieve.matching.hits.KnownHashes` on a worker: asks the memory-mapped
    indexes and records the answers that found something; knows no entries (the database is the
    client's), so the rule it serves tells nothing, only asks."""

    def __init__(self, plan: MatchPlan) -> None:
        self.plan = plan
        self.indexes = _indexes(plan)
        self.hits = IndexHits()

    @property
    def pdq_threshold(self) -> int:
        return self.plan.pdq_threshold

    @property
    def pdq_min_quality(self) -> int:
        return self.plan.pdq_min_quality

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        index = self.indexes.get(algorithm)
        if index is None or not len(index) or not digests:
            return []
        rows, ids = index.lookup(
            np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), -1)
        )
        found = list(zip(rows.tolist(), ids.tolist(), strict=True))
        per_row: dict[int, list[int]] = {}
        for row, entry_id in found:
            per_row.setdefault(row, []).append(entry_id)
        for row, ids_of_row in per_row.items():
            self.hits.digests[(algorithm, bytes(digests[row]))] = ids_of_row
        return found

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        index = self.indexes.get(table)
        if index is None or not len(index) or not len(codes):
            return _EMPTY
        rows, ids, dists = index.query(codes, radius)
        per_row: dict[int, tuple[list[int], list[int]]] = {}
        for row, entry_id, dist in zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True):
            held = per_row.setdefault(row, ([], []))
            held[0].append(entry_id)
            held[1].append(dist)
        for row, (row_ids, row_dists) in per_row.items():
            key = (table, codes[row].tobytes())
            known = self.hits.codes.get(key)
            if known is None or known[0] < radius:
                self.hits.codes[key] = (radius, row_ids, row_dists)
        return rows, ids, dists

    def entries(self, entry_ids: Sequence[int]) -> dict[int, Entry]:
        return {}

    def video_length(self, hashset_id: int, video: str) -> float:
        return 0.0


def answer(results: list[FileResult], plan: MatchPlan) -> list[Hashed]:
    """Each result with the index answers that concern it (asked for all of them at once)."""
    if not plan.enabled:
        return [(r, IndexHits()) for r in results]
    recorder = _Recorder(plan)
    rules.match(recorder, results)
    if not recorder.hits:
        return [(r, IndexHits()) for r in results]
    return [(r, recorder.hits.of(r)) for r in results]


def answer_files(paths: list[str], options: HashOptions, plan: MatchPlan) -> list[Hashed]:
    """A cluster task: hash evidence files (read by path on this worker) and ask the indexes."""
    return answer([hash_evidence_file(p, options) for p in paths], plan)


def answer_job(job: ArchiveJob, options: HashOptions, plan: MatchPlan) -> list[Hashed]:
    """A cluster task: the members of one archive job (the archive opened on this worker by
    its path), hashed and asked."""
    return answer(hash_archive_job(job, options), plan)


class AnsweredHashes:
    """:class:`~hashsieve.matching.hits.KnownHashes` on the client: index questions answered
    from the workers' records, entries and video lengths from the store's matcher."""

    def __init__(self, matcher: Matcher, hits: IndexHits) -> None:
        self.matcher = matcher
        self.hits = hits

    @property
    def pdq_threshold(self) -> int:
        return self.matcher.pdq_threshold

    @property
    def pdq_min_quality(self) -> int:
        return self.matcher.pdq_min_quality

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        return [
            (row, entry_id)
            for row, digest in enumerate(digests)
            for entry_id in self.hits.digests.get((algorithm, bytes(digest)), ())
        ]

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        rows: list[int] = []
        ids: list[int] = []
        dists: list[int] = []
        flat = np.ascontiguousarray(codes).tobytes()
        for row in range(len(codes)):
            held = self.hits.codes.get((table, flat[row * PDQ_BYTES : (row + 1) * PDQ_BYTES]))
            if held is None:
                continue
            for entry_id, dist in zip(held[1], held[2], strict=True):
                if dist <= radius:
                    rows.append(row)
                    ids.append(entry_id)
                    dists.append(dist)
        if not rows:
            return _EMPTY
        return (
            np.asarray(rows, np.int64),
            np.asarray(ids, np.uint32),
            np.asarray(dists, np.int32),
        )

    def entries(self, entry_ids: Sequence[int]) -> dict[int, Entry]:
        return self.matcher.entries(entry_ids)

    def video_length(self, hashset_id: int, video: str) -> float:
        return self.matcher.video_length(hashset_id, video)


def match_answered(matcher: Matcher, hashed: Sequence[Hashed]) -> list[list[MatchHit]]:
    """The hits of results the workers answered: the rule over their answers; a result whose
    answers are empty has none (without asking anything)."""
    out: list[list[MatchHit]] = [[] for _ in hashed]
    asked = [i for i, (_, hits) in enumerate(hashed) if hits]
    if not asked or not matcher.hashsets:
        return out
    merged = IndexHits()
    for i in asked:
        hits = hashed[i][1]
        if hits is not None:
            merged.update(hits)
    for i, found in zip(
        asked,
        rules.match(AnsweredHashes(matcher, merged), [hashed[i][0] for i in asked]),
        strict=True,
    ):
        out[i] = found
    return out
