"""Where a scan's files are hashed: the local process pool (the default) or a Dask cluster,
chosen in one place (:func:`hashing_stage`). Both take small descriptors (paths, archive jobs)
and give back :data:`~hashsieve.scan.answers.Hashed` results as they complete; on a cluster
the results come with the workers' index answers (:mod:`hashsieve.scan.answers`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from hashsieve.scan.answers import Hashed, IndexHits, MatchPlan, answer_files, answer_job
from hashsieve.scan.listing import Listed, ListingJob, answer_listing, crashed_listing, list_job
from hashsieve.scan.worker import FileResult, HashOptions, hash_archive_job, hash_evidence_file
from hashsieve.workers.executor import WORKER_PRELOAD, LocalProcessExecutor

if TYPE_CHECKING:
    from distributed import Client

    from hashsieve.matching import Matcher
    from hashsieve.sources.archive import ArchiveJob
    from hashsieve.workers.cluster import Cluster

#: Evidence files per cluster task: a task's overhead (scheduling, a round trip) is paid once
#: per chunk, and a chunk's index questions are asked at once.
CLUSTER_CHUNK = 8


def crash_result(path: str, message: str) -> FileResult:
    return FileResult(path=path, error=f"crash: {message}")


def crashed_job(job: ArchiveJob, message: str) -> list[FileResult]:
    return [crash_result(m.path, message) for m in job.members]


class HashingStage(Protocol):
    def files(self, paths: Iterable[str]) -> Iterator[Hashed]: ...

    def jobs(self, jobs: Iterable[ArchiveJob]) -> Iterator[Hashed]: ...

    def listings(self, jobs: Iterable[ListingJob]) -> Iterator[Listed]: ...

    def close(self) -> None: ...


class LocalStage:
    """The local process pool; the client matches (no index answers)."""

    def __init__(self, workers: int, options: HashOptions) -> None:
        self.options = options
        self._files: LocalProcessExecutor[str, FileResult] = LocalProcessExecutor(
            workers, on_crash=crash_result, preload=WORKER_PRELOAD
        )
        self._jobs: LocalProcessExecutor[ArchiveJob, list[FileResult]] = LocalProcessExecutor(
            workers, on_crash=crashed_job, chunk_size=1, preload=WORKER_PRELOAD
        )
        # Its pool starts only when a document or a disk's free space is met.
        self._listings: LocalProcessExecutor[ListingJob, Listed] = LocalProcessExecutor(
            workers, on_crash=crashed_listing, chunk_size=1, preload=WORKER_PRELOAD
        )

    def files(self, paths: Iterable[str]) -> Iterator[Hashed]:
        fn = functools.partial(hash_evidence_file, options=self.options)
        for result in self._files.map_unordered(fn, paths):
            yield result, None

    def jobs(self, jobs: Iterable[ArchiveJob]) -> Iterator[Hashed]:
        fn = functools.partial(hash_archive_job, options=self.options)
        for batch in self._jobs.map_unordered(fn, jobs):
            for result in batch:
                yield result, None

    def listings(self, jobs: Iterable[ListingJob]) -> Iterator[Listed]:
        fn = functools.partial(list_job, options=self.options)
        yield from self._listings.map_unordered(fn, jobs)

    def close(self) -> None:
        self._files.close()
        self._jobs.close()
        self._listings.close()


def _chunks(paths: Iterable[str], size: int) -> Iterator[list[str]]:
    source = iter(paths)
    while chunk := list(islice(source, size)):
        yield chunk


def _singles(chunk: list[str]) -> list[list[str]]:
    return [[p] for p in chunk] if len(chunk) > 1 else []


def _crashed_paths(chunk: list[str], message: str) -> list[Hashed]:
    return [(crash_result(p, message), IndexHits()) for p in chunk]


def _crashed_hashed_job(job: ArchiveJob, message: str) -> list[Hashed]:
    return [(r, IndexHits()) for r in crashed_job(job, message)]


class ClusterStage:
    """Tasks on a Dask cluster: chunks of paths and archive jobs, hashed and asked against the
    index on the workers. A task that keeps killing workers: a chunk is tried again file by
    file, and the file (or archive job) that still does is recorded as crashed."""

    def __init__(self, client: Client, options: HashOptions, plan: MatchPlan) -> None:
        from hashsieve.workers.cluster import DaskExecutor

        self.options, self.plan = options, plan
        self._files: DaskExecutor[list[str], list[Hashed]] = DaskExecutor(
            client, on_crash=_crashed_paths, split=_singles
        )
        self._jobs: DaskExecutor[ArchiveJob, list[Hashed]] = DaskExecutor(
            client, on_crash=_crashed_hashed_job
        )
        self._listings: DaskExecutor[ListingJob, Listed] = DaskExecutor(
            client, on_crash=functools.partial(crashed_listing, answered=True)
        )

    def files(self, paths: Iterable[str]) -> Iterator[Hashed]:
        fn = functools.partial(answer_files, options=self.options, plan=self.plan)
        for batch in self._files.map_unordered(fn, _chunks(paths, CLUSTER_CHUNK)):
            yield from batch

    def jobs(self, jobs: Iterable[ArchiveJob]) -> Iterator[Hashed]:
        fn = functools.partial(answer_job, options=self.options, plan=self.plan)
        for batch in self._jobs.map_unordered(fn, jobs):
            yield from batch

    def listings(self, jobs: Iterable[ListingJob]) -> Iterator[Listed]:
        fn = functools.partial(answer_listing, options=self.options, plan=self.plan)
        yield from self._listings.map_unordered(fn, jobs)

    def close(self) -> None:
        self._files.close()
        self._jobs.close()
        self._listings.close()


def hashing_stage(
    workers: int,
    options: HashOptions,
    matcher: Matcher,
    cluster: Cluster | Client | None = None,
) -> HashingStage:
    """The local pool of ``workers`` processes, or ``cluster``'s workers when one is given."""
    if cluster is None:
        return LocalStage(workers, options)
    from hashsieve.workers.cluster import Cluster, prepare

    if isinstance(cluster, Cluster):
        client = cluster.client
    else:
        client = cluster
        prepare(client)
    return ClusterStage(client, options, MatchPlan.of(matcher))
