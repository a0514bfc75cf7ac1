"""Across cases of one store: a new picture already met in another case says so.

One seized picture is often the breadcrumb to an earlier case. Every file a scan stores as
``new`` goes into one index over all cases (its SHA-256 in a sorted digest array, its
whole-picture PDQ in the exact multi-index, both beside the store in ``index/crosscase``); a scan
asks it about its own new files, one batch at a time, through the one matching rule
(:func:`hashsieve.matching.rules.match`, with the other cases as the :class:`KnownHashes`), so a
copy, a rotated or mirrored copy and a near-duplicate (resized, recompressed) are found the way a
listed picture is, at the store's PDQ threshold. What a link says — which case, who scanned the
copy there and when, that case's reviewers' category and series, how it matched — is read in one
query per batch of files (only for the hits), and kept in the file's row
(``files.crosscase_json``), so the report and the review show it without asking again.

The index is updated incrementally: when a scan completes, the files stored since the last update
(``files.id`` above the index's high-water mark) are added; opening it catches up the same way
after a crash. A file deleted later (a rescan replacing a changed file, a deleted case) stays in
the index until :meth:`CrossCaseIndex.rebuild` (``hashsieve case index``); a link is made only
when the database still holds the file with the same case and hash, so a stale entry is never
told.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from hashsieve.config import Settings
from hashsieve.hashing.content import FileResult
from hashsieve.hashing.pdq import PDQ_BYTES
from hashsieve.index.exact import SortedDigestIndex
from hashsieve.index.pdq_index import MultiIndexPdqIndex
from hashsieve.matching import rules
from hashsieve.matching.hits import KNOWN, Entry, Found, MatchHit
from hashsieve.matching.verdict import Verdict
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, Scan

#: PDQ entries carry this bit on top of the file id, so that one id says which table matched.
_PDQ_TAG = 1 << 31
_DIGEST = "sha256"
_SHA_BYTES = 32
_FETCH = 100_000
_CHUNK = 500  # ids per IN (...) of the link query
_EMPTY: Found = (np.zeros(0, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.int32))
_FORMAT = 1

#: The reviewers' decisions (hashsieve.review.models.Decision): read here by name, since the
#: review sits above matching.
_decisions = table(
    "review_decisions",
    column("case_id"),
    column("sha256"),
    column("category"),
    column("series"),
)


@dataclass(frozen=True, slots=True)
class Link:
    """A picture met before in another case of the store."""

    case: str
    file_id: int
    examiner: str | None
    #: When the copy there was scanned (its scan's start), ISO 8601.
    at: str | None
    #: That case's reviewers' category and series of the copy (None: not categorised yet).
    category: int | None
    series: str | None
    algorithm: str  # "sha256" (the same bytes) or "pdq" (the same picture, near-duplicate)
    distance: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case": self.case,
            "file_id": self.file_id,
            "examiner": self.examiner,
            "at": self.at,
            "category": self.category,
            "algorithm": self.algorithm,
            "distance": self.distance,
        }
        if self.series:
            out["series"] = self.series
        return out


def links_of(crosscase_json: str | None) -> list[dict[str, Any]]:
    """The links a stored row holds (``files.crosscase_json``), as the report writes them."""
    return list(json.loads(crosscase_json)) if crosscase_json else []


def current_links(session: Session, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored links with the category and series the other cases' reviewers give the copies
    now (they may have decided since the scan); one query, for a file's page."""
    ids = [int(link["file_id"]) for link in links if isinstance(link.get("file_id"), int)]
    if not ids:
        return links
    now = {
        file_id: (category, series)
        for file_id, category, series in session.execute(
            select(FileRecord.id, _decisions.c.category, _decisions.c.series)
            .join(
                _decisions,
                (_decisions.c.case_id == FileRecord.case_id)
                & (_decisions.c.sha256 == FileRecord.sha256),
            )
            .where(FileRecord.id.in_(ids[:_CHUNK]))
        )
    }
    out = []
    for link in links:
        decided = now.get(link.get("file_id"))
        if decided is not None:
            link = {**link, "category": decided[0], "series": decided[1]}
            if not link["series"]:
                link.pop("series")
        out.append(link)
    return out


class CrossCaseIndex:
    """SHA-256 and PDQ of every case's new files, by file id, with each file's case."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or store.settings
        self.directory = self.settings.index_dir / "crosscase"
        self.digests = SortedDigestIndex(_SHA_BYTES)
        self.pdq = MultiIndexPdqIndex(threads=1)
        #: Indexed file ids (ascending) and their cases.
        self.file_ids = np.zeros(0, np.uint32)
        self.case_ids = np.zeros(0, np.uint32)
        self.last_file_id = 0

    # --- opening, updating, rebuilding -------------------------------------------------------

    @classmethod
    def open(cls, store: Store, settings: Settings | None = None) -> CrossCaseIndex:
        """The saved index, brought up to date with the files stored since (or built)."""
        index = cls(store, settings)
        with index._locked():
            if not index._load():
                index._rebuild()
            elif index._add_new():
                index._save()
        return index

    def update(self) -> int:
        """Add the files stored since the last update (a scan that landed); returns how many."""
        with self._locked():
            self._load()  # another process may have added more meanwhile
            added = self._add_new()
            if added:
                self._save()
            return added

    def rebuild(self) -> int:
        """Build the index afresh from the database (drops what was deleted); returns its size."""
        with self._locked():
            self._rebuild()
        return len(self)

    def __len__(self) -> int:
        return int(self.file_ids.size)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with open(self.directory.parent / "crosscase.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _rebuild(self) -> None:
        self.digests = SortedDigestIndex(_SHA_BYTES)
        self.pdq = MultiIndexPdqIndex(threads=1)
        self.file_ids = np.zeros(0, np.uint32)
        self.case_ids = np.zeros(0, np.uint32)
        self.last_file_id = 0
        self._add_new()
        self._save()

    def _add_new(self) -> int:
        """Read the new files stored above the high-water mark (one streamed query)."""
        query = (
            select(
                FileRecord.id,
                FileRecord.case_id,
                FileRecord.sha256,
                FileRecord.pdq,
                FileRecord.quality,
            )
            .where((FileRecord.id > self.last_file_id) & (FileRecord.verdict == Verdict.NEW.value))
            .order_by(FileRecord.id)
        )
        min_quality = self.settings.pdq_min_quality
        ids: list[int] = []
        cases: list[int] = []
        sha_ids: list[int] = []
        shas: list[bytes] = []
        pdq_ids: list[int] = []
        codes: list[bytes] = []
        with self.store.engine.connect() as conn:
            result = conn.execute(query.execution_options(stream_results=True))
            while rows := result.fetchmany(_FETCH):
                for file_id, case_id, sha256, pdq, quality in rows:
                    if file_id >= _PDQ_TAG:
                        continue  # beyond what the tag leaves (2**31 files)
                    ids.append(file_id)
                    cases.append(case_id)
                    if sha256:
                        sha_ids.append(file_id)
                        shas.append(bytes.fromhex(sha256))
                    if pdq and (quality or 0) >= min_quality:
                        pdq_ids.append(file_id | _PDQ_TAG)
                        codes.append(bytes.fromhex(pdq))
            last = conn.execute(select(func.max(FileRecord.id))).scalar()
        if shas:
            self.digests.add(
                np.asarray(sha_ids, np.uint32),
                np.frombuffer(b"".join(shas), np.uint8).reshape(-1, _SHA_BYTES),
            )
        if codes:
            self.pdq.add(
                np.asarray(pdq_ids, np.uint32),
                np.frombuffer(b"".join(codes), np.uint8).reshape(-1, PDQ_BYTES),
            )
        if ids:
            self.file_ids = np.concatenate([self.file_ids, np.asarray(ids, np.uint32)])
            self.case_ids = np.concatenate([self.case_ids, np.asarray(cases, np.uint32)])
        self.last_file_id = max(self.last_file_id, int(last or 0))
        return len(ids)

    def _save(self) -> None:
        tmp = self.directory.with_name("crosscase.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.digests.save(tmp / "sha256")
        self.pdq.save(tmp / "pdq")
        np.save(tmp / "file_ids.npy", self.file_ids)
        np.save(tmp / "case_ids.npy", self.case_ids)
        (tmp / "state.json").write_text(
            json.dumps({"format": _FORMAT, "last_file_id": self.last_file_id})
        )
        old = self.directory.with_name("crosscase.old")
        if self.directory.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        if old.exists():
            shutil.rmtree(old)

    def _load(self) -> bool:
        try:
            state = json.loads((self.directory / "state.json").read_text())
            if state.get("format") != _FORMAT:
                return False
            if int(state["last_file_id"]) == self.last_file_id and self.last_file_id:
                return True  # what this object holds is what is saved
            self.digests = SortedDigestIndex.load(self.directory / "sha256", mmap=False)
            self.pdq = MultiIndexPdqIndex.load(self.directory / "pdq", mmap=False, threads=1)
            self.file_ids = np.load(self.directory / "file_ids.npy")
            self.case_ids = np.load(self.directory / "case_ids.npy")
            self.last_file_id = int(state["last_file_id"])
        except (OSError, ValueError, KeyError):
            return False
        return True

    # --- asking --------------------------------------------------------------------------------

    def case_of(self, file_ids: np.ndarray) -> np.ndarray:
        """The case of each indexed file id (0 for an id not indexed)."""
        if not self.file_ids.size:
            return np.zeros(len(file_ids), np.uint32)
        at = np.searchsorted(self.file_ids, file_ids)
        at = np.minimum(at, self.file_ids.size - 1)
        found = self.file_ids[at] == file_ids
        return np.where(found, self.case_ids[at], 0).astype(np.uint32)

    def others(self, case_id: int) -> OtherCases:
        """The other cases' files, as the matching rule asks known hashes."""
        return OtherCases(self, case_id)

    def links(self, case_id: int, results: Sequence[FileResult]) -> list[list[Link]]:
        """For each result, its links to other cases (best per case: the same bytes first, then
        the closest). Ask only about new files; one query per batch, only when something hit."""
        if not len(self) or not results:
            return [[] for _ in results]
        hits = rules.match(self.others(case_id), results)
        best: list[dict[int, MatchHit]] = []
        for file_hits in hits:
            per_case: dict[int, MatchHit] = {}
            for h in file_hits:
                held = per_case.get(h.hashset_id)
                if held is None or _order(h) < _order(held):
                    per_case[h.hashset_id] = h
            best.append(per_case)
        wanted = sorted({int(h.entry_id or 0) & ~_PDQ_TAG for b in best for h in b.values()})
        rows = self._details(wanted)
        out: list[list[Link]] = []
        for r, per_case in zip(results, best, strict=True):
            links = []
            for h in sorted(per_case.values(), key=_order):
                file_id = int(h.entry_id or 0) & ~_PDQ_TAG
                row = rows.get(file_id)
                if row is None or row["case_id"] != h.hashset_id or row["case_id"] == case_id:
                    continue  # deleted since it was indexed, or of another case now
                if h.algorithm == _DIGEST and row["sha256"] != (r.sha256 or "").lower():
                    continue
                if h.algorithm == "pdq" and row["pdq"] is None:
                    continue
                links.append(
                    Link(
                        case=row["case"],
                        file_id=file_id,
                        examiner=row["examiner"],
                        at=row["at"],
                        category=row["category"],
                        series=row["series"],
                        algorithm=h.algorithm,
                        distance=h.distance,
                    )
                )
            out.append(links)
        return out

    def row_links(
        self, case_id: int, rows: Sequence[tuple[FileResult, Verdict, Any, Any]]
    ) -> dict[int, str]:
        """A scan's batch of (result, verdict, ...) rows -> ``files.crosscase_json`` of the new
        ones that other cases hold, by row number."""
        new = [n for n, (_, verdict, *_) in enumerate(rows) if verdict is Verdict.NEW]
        found = self.links(case_id, [rows[n][0] for n in new])
        return {
            n: json.dumps([link.as_dict() for link in links])
            for n, links in zip(new, found, strict=True)
            if links
        }

    def _details(self, file_ids: list[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        if not file_ids:
            return out
        with self.store.session() as s:
            for start in range(0, len(file_ids), _CHUNK):
                chunk = file_ids[start : start + _CHUNK]
                query = (
                    select(
                        FileRecord.id,
                        FileRecord.case_id,
                        FileRecord.sha256,
                        FileRecord.pdq,
                        Case.name,
                        Scan.examiner,
                        Scan.started_at,
                        _decisions.c.category,
                        _decisions.c.series,
                    )
                    .join(Case, Case.id == FileRecord.case_id)
                    .join(Scan, Scan.id == FileRecord.scan_id)
                    .outerjoin(
                        _decisions,
                        (_decisions.c.case_id == FileRecord.case_id)
                        & (_decisions.c.sha256 == FileRecord.sha256),
                    )
                    .where(FileRecord.id.in_(chunk))
                )
                for row in s.execute(query):
                    out[row[0]] = {
                        "case_id": row[1],
                        "sha256": row[2],
                        "pdq": row[3],
                        "case": row[4],
                        "examiner": row[5],
                        "at": _iso(row[6]),
                        "category": row[7],
                        "series": row[8],
                    }
        return out


def _order(hit: MatchHit) -> tuple[bool, int]:
    return (hit.algorithm != _DIGEST, hit.distance)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


class OtherCases:
    """:class:`~hashsieve.matching.hits.KnownHashes` over the files of every case but one: the
    rule matches a scan's new files against what other cases hold as it matches hash sets."""

    def __init__(self, index: CrossCaseIndex, case_id: int) -> None:
        self.index = index
        self.case_id = case_id

    @property
    def pdq_threshold(self) -> int:
        return self.index.settings.pdq_threshold

    @property
    def pdq_min_quality(self) -> int:
        return self.index.settings.pdq_min_quality

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        if algorithm != _DIGEST or not digests or not len(self.index.digests):
            return []
        rows, ids = self.index.digests.lookup(
            np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), -1)
        )
        return list(zip(rows.tolist(), ids.tolist(), strict=True))

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        if table != "pdq" or not len(self.index.pdq) or not len(codes):
            return _EMPTY  # files have no reference parts
        return self.index.pdq.query(codes, radius)

    def entries(self, entry_ids: Sequence[int]) -> Mapping[int, Entry]:
        ids = np.asarray(entry_ids, np.uint32)
        cases = self.index.case_of(ids & np.uint32(~_PDQ_TAG & 0xFFFFFFFF))
        out = {}
        for entry_id, case_id in zip(ids.tolist(), cases.tolist(), strict=True):
            if case_id == 0 or case_id == self.case_id:
                continue  # not indexed, or this scan's own case
            algorithm = "pdq" if entry_id & _PDQ_TAG else _DIGEST
            # One original per other case: the rule tells one picture hit per case.
            out[entry_id] = Entry(case_id, "", KNOWN, "", algorithm, None, None, ("case", case_id))
        return out

    def video_length(self, hashset_id: int, video: str) -> float:
        return 0.0  # a case's files are not known videos
