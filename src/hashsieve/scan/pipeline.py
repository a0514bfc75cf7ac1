"""The scan: walk -> hash (worker processes) -> match -> verdict -> store, resumable.

Results are committed in batches; a file is skipped on a rerun when the case already holds it
with the same size and modification time, so after ``kill -9`` the same command picks up where
the last commit left off, without re-hashing and without duplicates.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar, cast

from sqlalchemy import Table, delete, insert, select, update

from hashsieve.config import Settings
from hashsieve.matching import Matcher, MatchHit
from hashsieve.matching.crosscase import CrossCaseIndex
from hashsieve.matching.verdict import Verdict, decide
from hashsieve.scan.answers import Hashed, match_answered
from hashsieve.scan.listing import LISTED_KEY, Listed, ListingJob, carve_jobs
from hashsieve.scan.stage import HashingStage, hashing_stage
from hashsieve.scan.worker import EMBEDDED_KEY, FileResult, HashOptions
from hashsieve.sources import SourceFile, SourceProblem, disk, magic, open_source
from hashsieve.sources.archive import (
    ARCHIVE_TYPES,
    MAX_DEPTH,
    SEPARATOR,
    ArchiveError,
    ArchiveJob,
    Member,
    list_members,
    member_from_metadata,
    plan_jobs,
)
from hashsieve.sources.documents import UNALLOCATED, merged_runs
from hashsieve.store import Store
from hashsieve.store.models import FileRecord, Match, Scan

if TYPE_CHECKING:
    from distributed import Client
    from sqlalchemy.orm import Session

    from hashsieve.workers.cluster import Cluster

#: Content the sniffer did not recognise: a raw disk image may still be one (looked at further).
_UNKNOWN = "application/octet-stream"
#: Bytes a raw file-system image has at least (ext's superblock ends at 2 KiB).
_MIN_RAW_IMAGE = 2048

#: Problems in the evidence that are recorded as "other" rather than "unreadable".
_NOT_CONTENT = {"symlink", "special-file", "loop"}


@dataclass
class ScanSummary:
    case: str
    scan_id: int
    files: int = 0  # hashed in this run
    skipped: int = 0  # already done by an earlier (interrupted) run
    bytes: int = 0
    seconds: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)
    categories: Counter[int | None] = field(default_factory=Counter)

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


class ScanProgress(Protocol):
    """Callbacks a front end implements to show progress (the CLI draws a Rich bar)."""

    def total(self, files: int, size: int, final: bool) -> None: ...

    def advance(self, files: int, size: int) -> None: ...

    def more(self, files: int, size: int) -> None:
        """Work found after the walk (the members of archives): the totals grow."""
        ...


def _count(roots: list[str], progress: ScanProgress, stop: threading.Event) -> None:
    """Count files and bytes in the background so the progress bar can show an ETA."""
    files = size = 0
    for root in roots:
        for item in open_source(root).files():
            if stop.is_set():
                return
            if isinstance(item, SourceFile):
                files += 1
                size += item.size
                if files % 2000 == 0:
                    progress.total(files, size, final=False)
    progress.total(files, size, final=True)


class _Writer:
    """Batches results into the store and the JSON Lines file, one transaction per batch."""

    def __init__(
        self,
        store: Store,
        case_id: int,
        scan_id: int,
        jsonl: TextIO | None,
        crosscase: CrossCaseIndex | None = None,
    ) -> None:
        self.store, self.case_id, self.scan_id, self.jsonl = store, case_id, scan_id, jsonl
        self.crosscase = crosscase  # other cases' new files (matching/crosscase.py)

    def write(
        self,
        rows: list[tuple[FileResult, Verdict, int | None, list[MatchHit]]],
        marks: list[tuple[ListingJob, int]] | None = None,
    ) -> None:
        if not rows:
            if marks:
                with self.store.session() as s:
                    self._mark(s, marks)
            return
        # New files already in other cases: one index lookup per batch (matching/crosscase.py).
        links = self.crosscase.row_links(self.case_id, rows) if self.crosscase else {}
        with self.store.session() as s:
            keys = [os.fsencode(r.path) for r, *_ in rows]
            # A file re-hashed because it changed replaces its old record (matches cascade).
            s.execute(
                delete(FileRecord).where(
                    (FileRecord.case_id == self.case_id) & FileRecord.path_key.in_(keys)
                )
            )
            # Plain executemany (no RETURNING: SQLite would insert row by row), then one
            # SELECT for the new ids of the files that have matches.
            s.execute(
                insert(cast(Table, FileRecord.__table__)),
                [
                    self._file_row(r, v, c, key, links.get(n))
                    for n, ((r, v, c, _), key) in enumerate(zip(rows, keys, strict=True))
                ],
            )
            matched_keys = [key for (_, _, _, hits), key in zip(rows, keys, strict=True) if hits]
            id_by_key = (
                dict(
                    s.execute(
                        select(FileRecord.path_key, FileRecord.id).where(
                            (FileRecord.case_id == self.case_id)
                            & FileRecord.path_key.in_(matched_keys)
                        )
                    ).all()
                )
                if matched_keys
                else {}
            )
            ids = [id_by_key.get(key) for key in keys]
            match_rows = [
                {
                    "file_id": file_id,
                    "hashset_id": m.hashset_id,
                    "hashset": m.hashset,
                    "kind": m.kind,
                    "entry": m.entry,
                    "algorithm": m.algorithm,
                    "distance": m.distance,
                    "category": m.category,
                    "series": m.series,
                    "variant": m.variant,
                    "seconds": m.seconds,
                    "coverage": m.coverage,
                    "candidate": m.candidate,
                    "origin": m.origin,
                }
                for file_id, (_, _, _, hits) in zip(ids, rows, strict=True)
                for m in hits
            ]
            if match_rows:
                s.execute(insert(Match), match_rows)
            if marks:
                self._mark(s, marks)
        if self.jsonl is not None:
            for r, verdict, category, hits in rows:
                self.jsonl.write(json.dumps(result_line(r, verdict, category, hits)) + "\n")
            self.jsonl.flush()

    def _mark(self, s: Session, marks: list[tuple[ListingJob, int]]) -> None:
        """Listing jobs done: noted in their container's record (with their member count), and
        a crash an earlier run recorded for the job is gone."""
        for job, members in marks:
            key = os.fsencode(job.label)
            where = (FileRecord.case_id == self.case_id) & (FileRecord.path_key == key)
            found = s.execute(select(FileRecord.id, FileRecord.metadata_json).where(where)).first()
            if found is None:
                continue
            metadata = json.loads(found.metadata_json) if found.metadata_json else {}
            metadata.setdefault(LISTED_KEY, {})[job.key] = members
            s.execute(
                update(FileRecord)
                .where(FileRecord.id == found.id)
                .values(metadata_json=json.dumps(metadata, default=str))
            )
            crash = os.fsencode(job.path)
            s.execute(
                delete(FileRecord).where(
                    (FileRecord.case_id == self.case_id)
                    & (FileRecord.path_key == crash)
                    & FileRecord.error.startswith("crash: ")
                )
            )

    def _file_row(
        self,
        r: FileResult,
        verdict: Verdict,
        category: int | None,
        key: bytes,
        crosscase: str | None = None,
    ) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "scan_id": self.scan_id,
            "path_key": key,
            "path_text": key.decode("utf-8", "backslashreplace"),
            "size": r.size,
            "mtime_ns": r.mtime_ns,
            "md5": r.md5,
            "sha1": r.sha1,
            "sha256": r.sha256,
            "media_kind": r.media_kind,
            "mime": r.mime,
            "width": r.width,
            "height": r.height,
            "pdq": r.pdq,
            "quality": r.quality,
            "decode_scale": r.decode_scale,
            "verdict": verdict.value,
            "category": category,
            "error": r.error,
            "metadata_json": json.dumps(r.metadata, default=str) if r.metadata else None,
            "recovered": r.recovered,
            "offset": r.offset,
            "crosscase_json": crosscase,
        }


def result_line(
    r: FileResult, verdict: str, category: int | None, hits: Iterable[MatchHit]
) -> dict[str, Any]:
    """One JSON Lines record, written as the scan goes (the report rewrites them in order)."""
    return {
        **r.identity(),
        "verdict": str(verdict),
        "category": category,
        "matches": [m.as_dict() for m in hits],
        "recovered": r.recovered,
        "offset": r.offset,
        "width": r.width,
        "height": r.height,
        "metadata": r.metadata or None,
    }


_Walked = TypeVar("_Walked", bound=SourceFile | Member | SourceProblem)


def _pending(
    store: Store,
    case_id: int,
    items: Iterable[_Walked],
    summary: ScanSummary,
    progress: ScanProgress | None,
) -> Iterator[_Walked]:
    """The walked items the case does not already hold unchanged (checked in batches)."""
    batch: list[_Walked] = []

    def flush() -> Iterator[_Walked]:
        keys = [os.fsencode(i.path) for i in batch]
        with store.session() as s:
            done = {
                key: (size, mtime)
                for key, size, mtime in s.execute(
                    select(FileRecord.path_key, FileRecord.size, FileRecord.mtime_ns).where(
                        (FileRecord.case_id == case_id) & FileRecord.path_key.in_(keys)
                    )
                )
            }
        for item, key in zip(batch, keys, strict=True):
            if not isinstance(item, SourceProblem) and done.get(key) == (item.size, item.mtime_ns):
                summary.skipped += 1
                if progress:
                    progress.advance(1, item.size)
                continue
            if isinstance(item, SourceProblem) and key in done:
                continue
            yield item
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) >= 500:
            yield from flush()
    if batch:
        yield from flush()


def run_scan(
    store: Store,
    case_name: str,
    roots: list[str],
    *,
    settings: Settings | None = None,
    jsonl_path: Path | None = None,
    progress: ScanProgress | None = None,
    fast_decode: bool = True,
    cluster: str | Cluster | Client | None = None,
) -> ScanSummary:
    """Scan ``roots`` into ``case_name``; resumes an interrupted scan of the same case.

    ``cluster``: hash and match on a Dask cluster instead of the local pool: a scheduler's
    address (``tcp://HOST:8786``), ``local:N`` (a LocalCluster of N processes, started and
    stopped here), or a connected :class:`distributed.Client` / :class:`Cluster` (the caller
    closes it). Its workers read the evidence by the same paths, made absolute here
    (docs/deploy.md)."""
    from hashsieve.report.ordering import assign_groups, write_review_jsonl

    if isinstance(cluster, str):  # connect first: an unreachable cluster leaves no scan behind
        from hashsieve.workers.cluster import connect

        connected = connect(cluster)
        try:
            return run_scan(
                store,
                case_name,
                roots,
                settings=settings,
                jsonl_path=jsonl_path,
                progress=progress,
                fast_decode=fast_decode,
                cluster=connected,
            )
        finally:
            connected.close()
    settings = settings or store.settings
    if cluster is not None:
        # Workers on other machines open the files by these names: no relative paths.
        roots = [os.path.abspath(root) for root in roots]
    started = time.perf_counter()
    case = store.ensure_case(case_name)
    with store.session() as s:
        s.execute(
            update(Scan)
            .where((Scan.case_id == case.id) & (Scan.status == "running"))
            .values(status="interrupted")
        )
        scan = Scan(
            case_id=case.id, root=json.dumps(roots), status="running", examiner=settings.examiner
        )
        s.add(scan)
        s.flush()
        scan_id = scan.id
    summary = ScanSummary(case=case_name, scan_id=scan_id)
    matcher = Matcher(store, settings)
    crosscase = CrossCaseIndex.open(store, settings)
    # Read by the workers' forkserver preload (workers/preload.py) when it starts.
    os.environ.setdefault("HASHSIEVE_WORKER_MEMORY_MB", str(settings.worker_memory_mb))
    stop = threading.Event()
    counter = None
    if progress is not None:
        counter = threading.Thread(target=_count, args=(roots, progress, stop), daemon=True)
        counter.start()
    jsonl = open(jsonl_path, "a", encoding="utf-8") if jsonl_path else None  # noqa: SIM115
    writer = _Writer(store, case.id, scan_id, jsonl, crosscase)
    options = HashOptions(
        max_image_pixels=settings.max_image_pixels,
        fast_decode=fast_decode,
        robust=settings.robust,
        parts=settings.robust and matcher.wants_parts,
    )
    stage = hashing_stage(settings.workers, options, matcher, cluster)
    try:
        walked = (item for root in roots for item in open_source(root).files())
        problems: list[SourceProblem] = []

        def files_only() -> Iterator[str]:
            for item in _pending(store, case.id, walked, summary, progress):
                if isinstance(item, SourceProblem):
                    problems.append(item)
                else:
                    yield item.path

        results = stage.files(files_only())
        _consume(results, problems, matcher, writer, summary, settings, progress)
        _scan_archives(store, case.id, stage, matcher, writer, summary, progress)
    finally:
        stop.set()
        stage.close()
        if jsonl is not None:
            jsonl.close()
    assign_groups(store, case.id, settings)
    summary.seconds = time.perf_counter() - started
    with store.session() as s:
        s.execute(
            update(Scan)
            .where(Scan.id == scan_id)
            .values(
                status="completed",
                finished_at=datetime.now(UTC),
                files=summary.files,
                bytes=summary.bytes,
                seconds=summary.seconds,
            )
        )
    crosscase.update()  # this scan's new files, for the next case's scans
    if jsonl_path is not None:
        write_review_jsonl(store, case.id, jsonl_path)
    return summary


@dataclass(frozen=True)
class _Container:
    """A container of the case to open: its record's key, where it is, its content type and
    the jobs already done inside it (:data:`~hashsieve.scan.listing.LISTED_KEY`)."""

    key: bytes
    container: str
    names: tuple[str, ...]
    mime: str | None
    done: dict[str, int]

    @property
    def label(self) -> str:
        return SEPARATOR.join((self.container, *self.names))


def _scan_archives(
    store: Store,
    case_id: int,
    stage: HashingStage,
    matcher: Matcher,
    writer: _Writer,
    summary: ScanSummary,
    progress: ScanProgress | None,
) -> None:
    """Hash what the case's archives hold, level by level (an archive found inside one is opened
    on the next level, down to ``MAX_DEPTH``). Archives come from the store, so a rerun after a
    crash lists them again and skips the members already done. An archive's or a disk image's
    entries are listed here and hashed in jobs; a document and a disk's unallocated space are
    listed by the workers themselves (:mod:`hashsieve.scan.listing`): parsing and carving never
    run in this process."""
    settings = matcher.settings
    listed: set[bytes] = set()
    for _level in range(MAX_DEPTH + 1):  # the last round only records what is too deep
        todo = _archives_in_case(store, case_id, listed, settings.disk_images)
        if not todo:
            return
        jobs: list[ArchiveJob] = []
        listings: list[tuple[_Container, ListingJob]] = []
        problems: list[SourceProblem] = []
        for found in todo:
            listed.add(found.key)
            if len(found.names) >= MAX_DEPTH:
                problems.append(
                    SourceProblem(
                        os.fsdecode(found.key) + SEPARATOR,
                        "archive-depth",
                        f"nested deeper than {MAX_DEPTH}",
                    )
                )
                continue
            if not _is_disk(found) and _listed_by_workers(found):
                listings.append((found, ListingJob(found.container, found.names)))
                continue
            members: list[Member] = []
            listed_items = list(
                list_members(
                    found.container,
                    found.names,
                    unallocated=False,
                    shadow_copies=settings.shadow_copies,
                )
            )
            if progress is not None:
                new = [m for m in listed_items if isinstance(m, Member)]
                progress.more(len(new), sum(m.size for m in new))
            for item in _pending(store, case_id, listed_items, summary, progress):
                if isinstance(item, SourceProblem):
                    problems.append(item)
                else:
                    members.append(item)
            jobs += plan_jobs(members)
            opened = not any(
                isinstance(i, SourceProblem) and i.path == found.label + SEPARATOR
                for i in listed_items
            )
            if opened and not found.names and _is_disk(found):
                listings += _carve_jobs(found, problems)
        _consume(stage.jobs(jobs), problems, matcher, writer, summary, settings, progress)
        left = [job for found, job in listings if not _finished(found, job, summary, progress)]
        _consume_listings(stage.listings(left), matcher, writer, summary, settings, progress)


def _is_disk(found: _Container) -> bool:
    """A disk image (its files listed here, its free space carved in jobs)."""
    if found.mime in magic.DISK_IMAGES:
        return True
    if found.mime != _UNKNOWN or found.names:
        return False
    return disk.image_kind(found.container) is not None


def _listed_by_workers(found: _Container) -> bool:
    """A document, or a file holding pictures found by their structure (a raw disk image inside
    an archive too: the worker's reader tells it by content)."""
    return found.mime in magic.DOCUMENTS or found.mime == _UNKNOWN


def _carve_jobs(
    found: _Container, problems: list[SourceProblem]
) -> list[tuple[_Container, ListingJob]]:
    """The jobs that carve a disk image's unallocated space (its runs found from the file
    systems' metadata here: no data is read)."""
    try:
        runs = merged_runs(disk.unallocated_runs(found.container))
    except ArchiveError as exc:
        path = f"{found.label}{SEPARATOR}{UNALLOCATED}"
        problems.append(SourceProblem(path, exc.reason, exc.detail))
        return []
    return [(found, job) for job in carve_jobs(found.container, runs)]


def _finished(
    found: _Container, job: ListingJob, summary: ScanSummary, progress: ScanProgress | None
) -> bool:
    """Whether an earlier run stored all of ``job``'s results (its members count as skipped)."""
    if job.key not in found.done:
        return False
    members = found.done[job.key]
    summary.skipped += members
    if progress is not None:
        progress.more(members, 0)
        progress.advance(members, 0)
    return True


def _consume_listings(
    listings: Iterator[Listed],
    matcher: Matcher,
    writer: _Writer,
    summary: ScanSummary,
    settings: Settings,
    progress: ScanProgress | None,
) -> None:
    """Store what the workers' listing jobs found; a job is marked done in its container's
    record with its last rows, or after them (never before: see scan/listing.py)."""
    problems: list[SourceProblem] = []
    marks: list[tuple[ListingJob, int]] = []

    def results() -> Iterator[Hashed]:
        for listed in listings:
            problems.extend(listed.problems)
            if progress is not None and listed.hashed:
                size = sum(r.size or 0 for r, _ in listed.hashed)
                progress.more(len(listed.hashed), size)
            yield from listed.hashed
            if listed.done:
                marks.append((listed.job, listed.members))

    _consume(results(), problems, matcher, writer, summary, settings, progress, marks)


def _archives_in_case(
    store: Store, case_id: int, listed: set[bytes], disk_images: bool = True
) -> list[_Container]:
    """Every readable archive of the case not yet listed in this run: files of the evidence,
    and archives found inside archives; with ``disk_images``, disk images too
    (:mod:`hashsieve.sources.disk`)."""
    kinds = ARCHIVE_TYPES if disk_images else ARCHIVE_TYPES - magic.DISK_IMAGES
    with store.session() as s:
        rows = s.execute(
            select(
                FileRecord.path_key,
                FileRecord.size,
                FileRecord.mtime_ns,
                FileRecord.metadata_json,
                FileRecord.mime,
            ).where(
                (FileRecord.case_id == case_id)
                & (
                    FileRecord.mime.in_(sorted(kinds | {_UNKNOWN} if disk_images else kinds))
                    # a file holding pictures found by their structure (scan/worker.py)
                    | FileRecord.metadata_json.contains(f'"{EMBEDDED_KEY}"')
                )
                & FileRecord.error.is_(None)
            )
        ).all()
    out: list[_Container] = []
    for key, size, mtime, metadata_json, mime in rows:
        if key in listed:
            continue
        if mime == _UNKNOWN and f'"{EMBEDDED_KEY}"' not in (metadata_json or ""):
            # A raw file system without a partition table is only told 1 KiB in or further, past
            # what the sniffer sees; files named like images get an error if they are not one.
            listed.add(key)
            path = os.fsdecode(key)
            if metadata_json and '"archive"' in metadata_json:
                continue  # inside an archive: read only by the magic the sniffer saw
            # A DMG is told by its trailer and has any size.
            aligned = (size or 0) % 512 == 0 or disk.has_dmg_trailer(path)
            sized = (size or 0) >= _MIN_RAW_IMAGE and aligned
            if not (sized and disk.image_kind(path)) and not disk.named_like_image(path):
                continue
            mime = magic.RAW_DISK  # or a file named like one, which its listing refuses
        metadata = json.loads(metadata_json) if metadata_json else None
        done = (metadata or {}).get(LISTED_KEY)
        done = done if isinstance(done, dict) else {}
        member = member_from_metadata(metadata, size or 0, mtime or 0)
        if member is None:
            out.append(_Container(key, os.fsdecode(key), (), mime, done))
        else:
            out.append(_Container(key, member.container, member.names, mime, done))
    return out


def _problem_result(p: SourceProblem) -> FileResult:
    return FileResult(path=p.path, error=f"{p.reason}: {p.detail}")


def _consume(
    results: Iterator[Hashed],
    problems: list[SourceProblem],
    matcher: Matcher,
    writer: _Writer,
    summary: ScanSummary,
    settings: Settings,
    progress: ScanProgress | None,
    marks: list[tuple[ListingJob, int]] | None = None,
) -> None:
    """Match, decide and store ``results`` and ``problems`` in batches; ``marks``: listing jobs
    whose results have all been taken from ``results`` (filled as it is read), marked done
    with the batch that holds their last rows."""
    batch: list[Hashed] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal last_commit
        rows = []
        for (r, _), hits in zip(batch, _match(matcher, batch), strict=True):
            verdict, category = decide(r.media_kind, r.error, hits)
            rows.append((r, verdict, category, hits))
        for p in problems:
            verdict = Verdict.OTHER if p.reason in _NOT_CONTENT else Verdict.UNREADABLE
            rows.append((_problem_result(p), verdict, None, []))
        problems.clear()
        writer.write(rows, marks)
        if marks:
            marks.clear()
        for _, verdict, category, _ in rows:
            summary.verdicts[verdict.value] += 1
            if verdict is Verdict.KNOWN:
                summary.categories[category] += 1
        batch.clear()
        last_commit = time.monotonic()

    for hashed in results:
        batch.append(hashed)
        result = hashed[0]
        summary.files += 1
        summary.bytes += result.size or 0
        if progress:
            progress.advance(1, result.size or 0)
        if len(batch) >= settings.commit_every or time.monotonic() - last_commit > 2.0:
            commit()
    commit()


def _match(matcher: Matcher, batch: list[Hashed]) -> list[list[MatchHit]]:
    """Every result's hits: by the matcher here, or over the index answers that came with it
    from a cluster worker (:mod:`hashsieve.scan.answers`); the one rule either way."""
    if all(hits is not None for _, hits in batch):
        return match_answered(matcher, batch)
    if all(hits is None for _, hits in batch):
        return matcher.match([r for r, _ in batch])
    raise ValueError("a batch mixes locally and remotely matched results")
