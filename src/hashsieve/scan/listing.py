"""Containers listed in the worker that hashes their members: a document (PDF, OLE, thumbnail
cache, a file holding pictures found by their structure) or a run of a disk image's unallocated
space. Listing them means parsing or carving, the costly part, so the scan's main process never
does it: it only plans :class:`ListingJob` items, and a worker opens the container itself, lists
and hashes what it holds and sends back the results (:class:`Listed`).

A job is named by :attr:`ListingJob.key`, stable across runs; when all its results are stored
the scan marks the job done in its container's record (``metadata["worker_listed"]``, with how
many members it held), in the same transaction as its last rows, so a rerun after ``kill -9``
skips a finished job and redoes an unfinished one (its rows are replaced, never duplicated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hashsieve.scan.answers import Hashed, IndexHits, MatchPlan, answer
from hashsieve.scan.worker import FileResult, HashOptions, hash_read_member
from hashsieve.sources.archive import (
    SEPARATOR,
    ArchiveError,
    ArchiveJob,
    Member,
    bounded,
    list_members,
    read_job,
)
from hashsieve.sources.base import SourceProblem

#: The metadata key of a container's record that lists its finished jobs.
LISTED_KEY = "worker_listed"
#: Bytes of unallocated space per carve job: runs are grouped up to this; a larger run is one
#: job (a picture may lie anywhere in a run, so a run is never cut).
CARVE_JOB_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ListingJob:
    """One container to list and hash in a worker: the whole of it (``runs`` empty), or these
    runs (offset, length in the media) of a disk image's unallocated space."""

    container: str  # a real file of the evidence
    names: tuple[str, ...] = ()  # the chain inside it (``()``: the file itself)
    runs: tuple[tuple[int, int], ...] = ()

    @property
    def label(self) -> str:
        return SEPARATOR.join((self.container, *self.names))

    @property
    def key(self) -> str:
        """The job's name in its container's record (``*``: the whole container)."""
        if not self.runs:
            return "*"
        end = self.runs[-1][0] + self.runs[-1][1]
        return f"$Unallocated/@0x{self.runs[0][0]:x}-0x{end:x}"

    @property
    def path(self) -> str:
        """Where a crash of the job is recorded."""
        return f"{self.label}{SEPARATOR}{'' if self.key == '*' else self.key}"


@dataclass(slots=True)
class Listed:
    """What a job gave: its members' results (with index answers on a cluster), what could not
    be listed, and whether it ran to its end (a crashed job is not marked done)."""

    job: ListingJob
    hashed: list[Hashed] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    members: int = 0
    done: bool = True


def carve_jobs(container: str, runs: list[tuple[int, int]]) -> list[ListingJob]:
    """``runs`` (merged, in order) grouped into jobs of about :data:`CARVE_JOB_BYTES`."""
    jobs: list[ListingJob] = []
    group: list[tuple[int, int]] = []
    size = 0
    for run in runs:
        group.append(run)
        size += run[1]
        if size >= CARVE_JOB_BYTES:
            jobs.append(ListingJob(container, (), tuple(group)))
            group, size = [], 0
    if group:
        jobs.append(ListingJob(container, (), tuple(group)))
    return jobs


def list_job(job: ListingJob, options: HashOptions) -> Listed:
    """A worker's task: the job's container opened here, listed, and each member hashed."""
    return _carve(job, options) if job.runs else _whole(job, options)


def _whole(job: ListingJob, options: HashOptions) -> Listed:
    out = Listed(job)
    members: list[Member] = []
    for item in list_members(job.container, job.names):
        if isinstance(item, SourceProblem):
            out.problems.append(item)
        else:
            members.append(item)
    if members:
        whole = ArchiveJob(job.container, job.names, tuple(members))
        for member, stream in read_job(whole):
            out.hashed.append((hash_read_member(member, stream, options), None))
    out.members = len(members)
    return out


def _carve(job: ListingJob, options: HashOptions) -> Listed:
    from hashsieve.sources.documents import carve_runs

    out = Listed(job)
    try:
        for entry, raw in carve_runs(job.container, job.runs):
            path = f"{job.label}{SEPARATOR}{entry.name}"
            if raw is None:
                detail = f"{entry.problem} member in {job.label}"
                out.problems.append(SourceProblem(path, entry.problem or "unreadable", detail))
                continue
            member = Member(
                job.container,
                (*job.names, entry.name),
                entry.size,
                entry.mtime_ns,
                True,
                entry.recovered,
                entry.details,
                entry.offset,
            )
            stream = bounded(raw, member.path)
            try:
                out.hashed.append((hash_read_member(member, stream, options), None))
            finally:
                stream.close()
            out.members += 1
    except (ArchiveError, OSError) as exc:  # the image opened for the listing, not now
        reason = exc.reason if isinstance(exc, ArchiveError) else "unreadable"
        out.problems.append(SourceProblem(job.path, reason, str(exc)))
    return out


def answer_listing(job: ListingJob, options: HashOptions, plan: MatchPlan) -> Listed:
    """A cluster task: :func:`list_job`, its results asked against the indexes here."""
    out = list_job(job, options)
    out.hashed = answer([r for r, _ in out.hashed], plan)
    return out


def crashed_listing(job: ListingJob, message: str, answered: bool = False) -> Listed:
    """A job whose worker died: one recorded crash, the job left to be redone by a rerun."""
    result = FileResult(path=job.path, error=f"crash: {message}")
    return Listed(job, [(result, IndexHits() if answered else None)], done=False)
