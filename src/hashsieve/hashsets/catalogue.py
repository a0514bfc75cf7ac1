"""Hash sets in the store: import (streamed, bounded memory), list, delete, export.

Rows go in through the store's bulk writers (:mod:`hashsieve.store.bulk`: one ``INSERT ...
SELECT`` per run of list lines on SQLite, ``COPY`` on PostgreSQL), which tell each batch's ids;
the (id, value) pairs are spilled to files and added to the persisted indexes at the end, so an
import neither reads its rows back nor rebuilds an index, and holds one batch in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from sqlalchemy import delete, func, select

from hashsieve.errors import DuplicateNameError, HashSetFormatError, UnknownHashSetError
from hashsieve.hashsets import FORMATS, detect_format
from hashsieve.hashsets.base import (
    HEX_LENGTHS,
    PART_HEX_LENGTHS,
    STORED_HEX_LENGTHS,
    HashBlock,
    HashRecord,
    HashSetFormat,
    ParseProblem,
)
from hashsieve.hashsets.categories import (
    DEFAULT_PROFILE,
    DEFAULT_UNCATEGORISED,
    NON_PERTINENT,
    PROFILES,
    UNCATEGORISED_POLICIES,
)
from hashsieve.index.store_index import WIDTHS, EntrySpill, StoreIndex
from hashsieve.store import Store
from hashsieve.store.bulk import EntryRun, EntryWriter, entry_writer, writer_streams
from hashsieve.store.models import HashEntry, HashSet

KNOWN = "known"
KNOWN_GOOD = "known-good"
BATCH_ROWS = 100_000
#: Problems kept in memory for the summary; the count covers all of them.
PROBLEMS_KEPT = 1000


class NothingImportedError(HashSetFormatError):
    """An import that took no record at all: the set is not kept; ``summary`` says why."""

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class ImportSummary:
    name: str
    format: str
    kind: str
    taken: int = 0
    refused: int = 0
    by_algorithm: dict[str, int] = field(default_factory=dict)
    problems: list[ParseProblem] = field(default_factory=list)
    seconds: float = 0.0
    #: Records (VICS media, list lines) that gave no category, and what they became.
    no_category: int = 0
    #: Records with a category code outside the profile, by code.
    outside_profile: dict[int, int] = field(default_factory=dict)
    uncategorised: str = DEFAULT_UNCATEGORISED
    profile: str = "us"
    categorised_format: bool = False
    default_category: int | None = None

    def notes(self) -> list[str]:
        """What the import did with records that did not say what they are, in words."""
        notes: list[str] = []
        if self.kind == KNOWN_GOOD:
            return notes  # every entry is known-good whatever its category
        became = {
            "refuse": "refused (--uncategorised refuse; choose non-pertinent or known)",
            "non-pertinent": "imported as category 0, non-pertinent (--uncategorised)",
            "known": "imported as known material that needs review (--uncategorised known)",
        }[self.uncategorised]
        if self.no_category and self.categorised_format:
            if self.default_category is not None:
                became = f"given category {self.default_category} (--category)"
            notes.append(f"{self.no_category:,} records had no Category: {became}")
        elif self.no_category:
            notes.append(
                f"{self.no_category:,} entries carry no category (the list gives none): "
                "imported as known, uncategorised; a match is reported as known material "
                "(--category N gives them one)"
            )
        if self.outside_profile:
            codes = ", ".join(f"{c}: {n:,}" for c, n in sorted(self.outside_profile.items()))
            total = sum(self.outside_profile.values())
            kept = (
                "kept with their code, as known material that needs review (--uncategorised known)"
            )
            what = became if self.uncategorised != "known" else kept
            notes.append(
                f"{total:,} records had a category outside the {self.profile} profile "
                f"({codes}): {what}"
            )
        return notes


def import_hashset(
    store: Store,
    path: Path,
    name: str,
    *,
    known_good: bool = False,
    category: int | None = None,
    profile: str = "us",
    format_name: str | None = None,
    algorithm: str | None = None,
    uncategorised: str = DEFAULT_UNCATEGORISED,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a hash-set file (or folder) under ``name``; malformed rows are counted, not fatal.

    ``algorithm`` names what a list's hashes are when the list does not (64 hex digits are
    SHA-256 or PDQ). ``uncategorised`` (one of UNCATEGORISED_POLICIES) decides records of a
    categorised format (VICS) with no category or one outside ``profile``; ``category``, when
    given, is taken for those with none instead. An import that takes nothing raises
    NothingImportedError and keeps no set.
    """
    import time

    started = time.perf_counter()
    if not path.exists():
        raise HashSetFormatError(f"{path}: no such file or folder")
    if uncategorised not in UNCATEGORISED_POLICIES:
        known = ", ".join(UNCATEGORISED_POLICIES)
        raise HashSetFormatError(f"uncategorised must be one of {known}, not {uncategorised!r}")
    fmt: HashSetFormat = FORMATS.get(format_name) if format_name else detect_format(path)
    if algorithm is not None:
        fmt = _with_algorithm(fmt, algorithm)
    kind = KNOWN_GOOD if (known_good or fmt.always_known_good) else KNOWN
    with store.session() as s:
        if s.scalar(select(HashSet.id).where(HashSet.name == name)) is not None:
            raise DuplicateNameError(f"a hash set named {name!r} exists; delete it first")
        hashset = HashSet(
            name=name,
            kind=kind,
            format=fmt.name,
            source=str(path),
            profile=profile,
            default_category=category,
            entries=0,
            refused=0,
            complete=False,
        )
        s.add(hashset)
        s.flush()
        hashset_id = hashset.id
    default_category = None if kind == KNOWN_GOOD else category
    summary = ImportSummary(
        name=name,
        format=fmt.name,
        kind=kind,
        uncategorised=uncategorised,
        profile=profile,
        categorised_format=fmt.categorised,
        default_category=default_category,
    )
    policy = _CategoryPolicy(summary, profile) if kind == KNOWN and fmt.categorised else None
    reader = getattr(fmt, "read_blocks", None)
    items: Iterator[HashBlock | HashRecord | ParseProblem] = (
        reader(path) if reader is not None and policy is None else fmt.read(path)
    )
    try:
        # One transaction per batch keeps the WAL small on a 10M-row import; the set stays
        # "incomplete" (and unused by matching) until its last row is in. The writer tells each
        # batch's ids, which go to the spill files and from there into the indexes.
        with EntrySpill(store.settings.index_dir) as spill:
            with _Writers(store) as writer:
                for batch in _batches(items, summary):
                    if isinstance(batch, HashBlock):
                        _write_block(writer, spill, batch, hashset_id, default_category, summary)
                    else:
                        _write_records(
                            writer, spill, batch, hashset_id, default_category, policy, summary
                        )
                    if progress:
                        progress(summary.taken + summary.refused)
            if summary.taken == 0:
                raise NothingImportedError(_nothing_message(path, summary), summary)
            for algorithm in WIDTHS:  # each index learns the set, and its rows if it has any
                StoreIndex(store, algorithm).add_entries(hashset_id, *spill.arrays(algorithm))
    except BaseException:
        with store.session() as s:  # leave nothing half-imported behind
            s.execute(delete(HashEntry).where(HashEntry.hashset_id == hashset_id))
            s.execute(delete(HashSet).where(HashSet.id == hashset_id))
        raise
    with store.session() as s:
        hs = s.get_one(HashSet, hashset_id)
        hs.entries, hs.refused, hs.complete = summary.taken, summary.refused, True
    summary.seconds = time.perf_counter() - started
    return summary


def _write_block(
    writer: _Writers,
    spill: EntrySpill,
    block: HashBlock,
    hashset_id: int,
    category: int | None,
    summary: ImportSummary,
) -> None:
    """A run of list lines in one statement (COPY on PostgreSQL): the same rows as its records
    through :func:`_write_records` (tests/hashsets/test_bulk.py holds the two equal)."""
    width = STORED_HEX_LENGTHS[block.algorithm] // 2
    values = bytes.fromhex("".join(block.values))
    if len(values) != width * len(block.values):  # the reader checked; never trust it blindly
        _write_records(writer, spill, list(block.records()), hashset_id, category, None, summary)
        return
    n = len(block.values)
    run = EntryRun(hashset_id, block.algorithm, values, width, block.prefix, block.first, category)
    writer.submit(lambda w: spill.add(run.algorithm, w.run(run), run.values))
    if category is None:
        summary.no_category += n
    summary.by_algorithm[block.algorithm] = summary.by_algorithm.get(block.algorithm, 0) + n
    summary.taken += n


def _write_records(
    writer: _Writers,
    spill: EntrySpill,
    batch: list[HashRecord],
    hashset_id: int,
    default_category: int | None,
    policy: _CategoryPolicy | None,
    summary: ImportSummary,
) -> None:
    rows: list[tuple[object, ...]] = []
    append = rows.append
    counts = summary.by_algorithm
    for rec in batch:  # the hot loop of an import of records: kept lean on purpose
        algo, value = rec.algorithm, rec.value
        try:
            if len(value) != STORED_HEX_LENGTHS[algo]:
                raise ValueError(
                    f"{algo} needs {STORED_HEX_LENGTHS[algo]} hex digits, got {len(value)}"
                )
            raw = bytes.fromhex(value)
        except (KeyError, ValueError) as exc:
            _refuse(summary, ParseProblem(rec.entry, f"bad {algo} value: {exc}"))
            continue
        cat = rec.category
        if policy is not None:
            cat = policy.category(rec)
            if cat is _REFUSED:
                continue
        elif cat is None:
            cat = default_category
            if cat is None:
                summary.no_category += 1
        append(
            (
                hashset_id,
                algo,
                raw,
                rec.entry,
                cat,
                rec.series,
                rec.victim_identified,
                rec.item,
                rec.seconds,
                rec.frame,
                rec.quality,
                rec.part,
            )
        )
        counts[algo] = counts.get(algo, 0) + 1
    if not rows:  # a batch may be all refused
        return
    writer.submit(lambda w: _spill_rows(spill, rows, w.rows(rows)))
    summary.taken += len(rows)


def _spill_rows(spill: EntrySpill, rows: list[tuple[object, ...]], first: int) -> None:
    """The (id, value) pairs of ``rows``, given ids ``first, first + 1, ...``, to the spill."""
    by_algorithm: dict[str, tuple[list[int], list[bytes]]] = {}
    for offset, row in enumerate(rows):
        ids, values = by_algorithm.setdefault(row[1], ([], []))  # type: ignore[arg-type]
        ids.append(first + offset)
        values.append(row[2])  # type: ignore[arg-type]
    for algo, (ids, values) in by_algorithm.items():
        spill.add_ids(algo, np.asarray(ids, np.uint32), b"".join(values))


class _Writers:
    """The database writes of an import, on threads of their own, each with its connection.

    The database's work (SQLite's inserts, which release the GIL; on PostgreSQL the wait for
    the server's COPY) then runs while the importing thread reads and parses the next block.
    SQLite has one writer thread; PostgreSQL has :func:`writer_streams` of them, so that the
    server copies several batches at once, one backend (one core) each. Batches may finish
    out of order: each knows its own ids. At most two batches per thread wait (bounded
    memory). A write that fails stops the writes after it, and its error is raised here, at
    the next submit or at the end.
    """

    def __init__(self, store: Store) -> None:
        streams = writer_streams(store.engine.dialect.name)
        self._jobs: queue.Queue[Callable[[EntryWriter], object] | None] = queue.Queue(2 * streams)
        self._error: BaseException | None = None
        self._threads = [
            threading.Thread(
                target=self._work, args=(store,), name=f"hashsieve-import-writer-{i}", daemon=True
            )
            for i in range(streams)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, store: Store) -> None:
        ended = False  # this thread read its end of the jobs
        try:
            with store.engine.connect() as conn:
                writer = entry_writer(conn)
                try:
                    while (job := self._jobs.get()) is not None:
                        if self._error is None:
                            job(writer)
                    ended = True
                finally:
                    writer.close()
        except BaseException as exc:  # raised again in the importing thread
            if self._error is None:  # one of the errors is raised (the first, but for a race)
                self._error = exc
            while not ended and self._jobs.get() is not None:  # let submit(), close() return
                pass

    def submit(self, job: Callable[[EntryWriter], object]) -> None:
        """Run ``job(writer)`` on the next free writer."""
        self._raise()
        self._jobs.put(job)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self, cancel: bool = False) -> None:
        """Wait for the writes (the rest skipped with ``cancel``); raise a write's error."""
        if cancel and self._error is None:
            self._error = _Cancelled()
        for _ in self._threads:  # one end for each thread: each stops at the first it reads
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        if not cancel:
            self._raise()

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(cancel=kind is not None)


class _Cancelled(Exception):
    """The import stopped: the writes still queued are skipped."""


def _with_algorithm(fmt: HashSetFormat, algorithm: str) -> HashSetFormat:
    """``fmt`` reading its hashes as ``algorithm``, for the formats that leave it unsaid."""
    if algorithm not in HEX_LENGTHS:
        known = ", ".join(HEX_LENGTHS)
        raise HashSetFormatError(f"unknown algorithm {algorithm!r} (known: {known})")
    configure: Callable[[str], HashSetFormat] | None = getattr(fmt, "with_algorithm", None)
    if configure is None:
        takers = ", ".join(n for n, f in FORMATS if hasattr(f, "with_algorithm"))
        raise HashSetFormatError(
            f"a {fmt.name} set names the algorithm of each hash itself; --algorithm is for "
            f"lists that do not ({takers})"
        )
    return configure(algorithm)


def _nothing_message(path: Path, summary: ImportSummary) -> str:
    why = f"{path}: nothing imported ({summary.format})"
    if summary.problems:
        first = summary.problems[0]
        return f"{why}: {summary.refused:,} refused, the first {first.entry}: {first.message}"
    return f"{why}: no hash records in it; is it an empty set, or another layout?"


#: A record the category policy refused.
_REFUSED: object = object()


class _CategoryPolicy:
    """The ``uncategorised`` policy applied to a categorised format's records, counted per
    record (a VICS media is one record, whatever number of hashes it has)."""

    def __init__(self, summary: ImportSummary, profile: str) -> None:
        self.summary = summary
        self.labels = PROFILES.get(profile.lower(), PROFILES[DEFAULT_PROFILE])
        self.default = summary.default_category
        self.mode = summary.uncategorised
        self._entry: str | None = None
        self._verdict: object = None

    def category(self, rec: HashRecord) -> Any:
        """The category to store for ``rec``, or _REFUSED."""
        if rec.entry == self._entry:
            return self._verdict  # another hash of the same record: decided already
        self._entry = rec.entry
        self._verdict = verdict = self._decide(rec)
        return verdict

    def _decide(self, rec: HashRecord) -> object:
        summary, code = self.summary, rec.category
        if code is None:
            summary.no_category += 1
            if self.default is not None:
                return self.default  # --category: the examiner said what they are
            why = "no Category (VICS: uncategorised; C4All omits category 0)"
        elif code in self.labels:
            return code
        else:
            summary.outside_profile[code] = summary.outside_profile.get(code, 0) + 1
            why = f"Category {code} is not in the {summary.profile} profile"
        if self.mode == "non-pertinent":
            return NON_PERTINENT
        if self.mode == "known":
            return code
        _refuse(
            summary,
            ParseProblem(
                rec.entry, f"{why}; refused (--uncategorised non-pertinent or known to take it)"
            ),
        )
        return _REFUSED


def _refuse(summary: ImportSummary, problem: ParseProblem) -> None:
    summary.refused += 1
    if len(summary.problems) < PROBLEMS_KEPT:
        summary.problems.append(problem)


def _batches(
    items: Iterator[HashBlock | HashRecord | ParseProblem], summary: ImportSummary
) -> Iterator[list[HashRecord] | HashBlock]:
    """Records in batches of BATCH_ROWS, blocks as they come, in file order."""
    batch: list[HashRecord] = []
    for item in items:
        if isinstance(item, ParseProblem):
            _refuse(summary, item)
            continue
        if isinstance(item, HashBlock):
            if batch:
                yield batch
                batch = []
            yield item
            continue
        batch.append(item)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class HashSetInfo:
    name: str
    kind: str
    format: str
    profile: str
    entries: int
    refused: int
    complete: bool
    source: str
    imported_at: str
    by_algorithm: dict[str, int]


def list_hashsets(store: Store) -> list[HashSetInfo]:
    with store.session() as s:
        counts: dict[int, dict[str, int]] = {}
        for hs_id, algo, n in s.execute(
            select(HashEntry.hashset_id, HashEntry.algorithm, func.count()).group_by(
                HashEntry.hashset_id, HashEntry.algorithm
            )
        ):
            counts.setdefault(hs_id, {})[algo] = n
        return [
            HashSetInfo(
                hs.name,
                hs.kind,
                hs.format,
                hs.profile,
                hs.entries,
                hs.refused,
                hs.complete,
                hs.source,
                hs.imported_at.isoformat(timespec="seconds"),
                counts.get(hs.id, {}),
            )
            for hs in s.scalars(select(HashSet).order_by(HashSet.name))
        ]


def delete_hashset(store: Store, name: str) -> int:
    """Delete a hash set and its entries (and take them out of the index); returns rows removed."""
    with store.session() as s:
        hs = s.scalar(select(HashSet).where(HashSet.name == name))
        if hs is None:
            raise UnknownHashSetError(f"no hash set named {name!r}")
        hashset_id = hs.id
    for algorithm in WIDTHS:
        StoreIndex(store, algorithm).remove_hashset(hashset_id)
    with store.session() as s:
        result = s.execute(delete(HashEntry).where(HashEntry.hashset_id == hashset_id))
        removed = getattr(result, "rowcount", 0)
        s.execute(delete(HashSet).where(HashSet.id == hashset_id))
    return int(removed or 0)


def iter_records(store: Store, name: str, *, parts: bool = False) -> Iterator[HashRecord]:
    """Every record of a stored hash set, streamed; reference parts only with ``parts``.

    Exports leave the parts out: no other tool reads them, and whoever holds the originals
    derives them again.
    """
    with store.session() as s:
        hashset_id = s.scalar(select(HashSet.id).where(HashSet.name == name))
        if hashset_id is None:
            raise UnknownHashSetError(f"no hash set named {name!r}")
        query = select(
            HashEntry.algorithm,
            HashEntry.value,
            HashEntry.entry,
            HashEntry.category,
            HashEntry.series,
            HashEntry.victim_identified,
            HashEntry.item,
            HashEntry.seconds,
            HashEntry.frame,
            HashEntry.quality,
            HashEntry.part,
        ).where(HashEntry.hashset_id == hashset_id)
        if not parts:
            query = query.where(HashEntry.algorithm.not_in(tuple(PART_HEX_LENGTHS)))
        rows = s.execute(
            # A record's hashes together, and a known item's with it (a video's frames beside
            # its digests): imports insert in index order, not record order.
            query.order_by(
                func.coalesce(HashEntry.item, HashEntry.entry), HashEntry.entry, HashEntry.id
            ).execution_options(yield_per=10_000)
        )
        for algo, value, entry, cat, series, victim, item, seconds, frame, quality, part in rows:
            yield HashRecord(
                algo, value.hex(), entry, cat, series, victim, item, seconds, frame, quality, part
            )


#: What ``export_hashset`` writes besides VICS and plain lists of one algorithm.
EXPORT_FORMATS = ("md5sum", "sha1sum", "sha256sum", "hashdeep")


def export_hashset(
    store: Store, name: str, format_name: str, stream: TextIO, *, algorithm: str = "md5"
) -> int:
    """Write a stored hash set as VICS 2.0 JSON ("vics"), a plain list ("md5", "sha1", ...),
    a checksum file ("md5sum", "sha1sum", "sha256sum") or a hashdeep file of ``algorithm``."""
    from hashsieve.hashsets import export
    from hashsieve.hashsets.hashdeep import write_hashdeep
    from hashsieve.hashsets.sums import SUM_TOOLS, write_sums

    known = ", ".join(("vics", *HEX_LENGTHS, *EXPORT_FORMATS))
    if format_name not in ("vics", *HEX_LENGTHS, *EXPORT_FORMATS):
        raise HashSetFormatError(f"cannot export as {format_name!r}: use one of {known}")
    records = iter_records(store, name)
    if format_name == "vics":
        return export.write_vics_media(records, stream, name)
    if format_name in SUM_TOOLS:
        return write_sums(records, stream, format_name)
    if format_name == "hashdeep":
        try:
            return write_hashdeep(records, stream, algorithm)
        except ValueError as exc:
            raise HashSetFormatError(str(exc)) from exc
    return export.write_plain(records, stream, format_name)


__all__ = [
    "FORMATS",
    "KNOWN",
    "KNOWN_GOOD",
    "UNCATEGORISED_POLICIES",
    "HashSetInfo",
    "ImportSummary",
    "NothingImportedError",
    "delete_hashset",
    "export_hashset",
    "import_hashset",
    "iter_records",
    "list_hashsets",
]
