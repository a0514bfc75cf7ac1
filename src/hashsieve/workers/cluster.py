"""The hashing stage on a Dask cluster (package ``distributed``): the :class:`Executor` interface
over a scheduler and its workers, and how a scan reaches them.

Items are small descriptors (paths, archive members by container and offset); each worker reads
the evidence itself from shared storage, so the client never ships file contents. A bounded
number of futures is in flight (the client's memory stays flat whatever the case size), and
results come back as they complete.

A worker that dies is Dask's business: the scheduler gives its tasks to another worker, and the
client receives one result per task, whichever worker computed it. A task that was on
``distributed.scheduler.allowed-failures`` + 1 workers that died (3 + 1 by default) ends in
:class:`distributed.KilledWorker`, whether it killed them or only waited in their queue: its
item is split (``split``: a chunk of paths into single paths) and the parts tried again; an item
that cannot be split is tried once more alone, after everything else (nothing else of this
scan in flight, as the local pool isolates a crash), and reported through ``on_crash`` only if
it still ends in KilledWorker.

``distributed`` is imported only here and only when a cluster is asked for (it takes about a
second to import).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from hashsieve.errors import HashsieveError
from hashsieve.workers.executor import CRASH_MESSAGE

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

T = TypeVar("T")
R = TypeVar("R")

#: ``--cluster local`` or ``local:N``: a LocalCluster of N single-threaded worker processes.
_LOCAL = re.compile(r"^local(?::(\d+))?$")
#: Tasks in flight per worker thread: enough to keep every worker busy while the client
#: writes a batch into the store, few enough that memory stays flat.
IN_FLIGHT_PER_THREAD = 3


class ClusterError(HashsieveError):
    """The cluster named could not be reached or started."""


def _warm_up_plugin() -> Any:
    from distributed import WorkerPlugin

    class WarmUp(WorkerPlugin):
        """Prepares every worker, present and future, once: hashing code loaded, PDQ kernels
        warm, the allocator tuned (:func:`hashsieve.workers.process.prepare_worker`)."""

        name = "hashsieve-warm-up"

        def setup(self, worker: Any) -> None:
            from hashsieve.workers.process import prepare_worker

            prepare_worker()

    return WarmUp()


@dataclass
class Cluster:
    """A client connected to a scheduler, and the LocalCluster behind it when this process
    started one (``local:N``)."""

    client: Client
    local: LocalCluster | None = None

    @property
    def threads(self) -> int:
        """Worker threads in the cluster now (0 while no worker has joined)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in workers.values())

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


def connect(spec: str) -> Cluster:
    """``tcp://HOST:PORT`` (or ``tls://...`` with distributed's security settings): the
    scheduler there. ``local:N`` (``local``: 2): a LocalCluster of N single-threaded worker
    processes on this machine, for trials and tests. The hashsieve plugin is registered on it."""
    from distributed import Client, LocalCluster

    local = None
    match = _LOCAL.match(spec.strip())
    try:
        if match:
            workers = int(match.group(1) or 2)
            if workers < 1:
                raise ClusterError(f"{spec}: a local cluster needs at least one worker")
            local = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port (8787 may be taken)
                silence_logs=logging.ERROR,  # not the nannies' notes on closing
            )
            client = Client(local, set_as_default=False)
        else:
            client = Client(spec, set_as_default=False, timeout="30s")
    except (OSError, TimeoutError) as exc:
        if local is not None:
            local.close()
        raise ClusterError(f"cannot reach the Dask scheduler at {spec}: {exc}") from exc
    cluster = Cluster(client, local)
    prepare(client)
    return cluster


def prepare(client: Client) -> None:
    """Register the hashsieve worker plugin (idempotent: registered by name)."""
    client.register_plugin(_warm_up_plugin(), name="hashsieve-warm-up")


class DaskExecutor(Generic[T, R]):
    """:class:`~hashsieve.workers.executor.Executor` over a Dask client: one task per item,
    at most ``in_flight`` tasks submitted at a time (default: 3 per worker thread, at least 4)."""

    def __init__(
        self,
        client: Client,
        on_crash: Callable[[T, str], R],
        *,
        split: Callable[[T], list[T]] | None = None,
        in_flight: int | None = None,
    ) -> None:
        self.client = client
        self.on_crash = on_crash
        self.split = split
        self.in_flight = in_flight
        #: Items whose task ended in KilledWorker and were split or reported (for tests/logs).
        self.killed = 0

    def _limit(self) -> int:
        if self.in_flight:
            return self.in_flight
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        return max(4, IN_FLIGHT_PER_THREAD * threads)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        from distributed import KilledWorker, as_completed

        source = iter(items)
        again: deque[T] = deque()  # the parts of split items go first
        suspects: deque[T] = deque()  # unsplittable items that ended in KilledWorker
        pending: dict[Future, T] = {}
        completed = as_completed(loop=self.client.loop)
        limit, seen = self._limit(), 0
        alone: Future | None = None  # a suspect's task, with nothing else in flight

        def top_up() -> None:
            while len(pending) < limit:
                if again:
                    item = again.popleft()
                else:
                    try:
                        item = next(source)
                    except StopIteration:
                        return
                future = self.client.submit(fn, item, pure=False)
                pending[future] = item
                completed.add(future)

        try:
            while True:
                if alone is None:
                    top_up()
                if not pending and suspects:
                    suspect = suspects.popleft()
                    alone = self.client.submit(fn, suspect, pure=False)
                    pending[alone] = suspect
                    completed.add(alone)
                if not pending:
                    return
                future = next(completed)
                item = pending.pop(future)
                was_alone = future is alone
                if was_alone:
                    alone = None
                try:
                    # (A result lost with its worker after the task finished is computed again:
                    # result() waits for it. Other errors - a bug in a task, a lost scheduler -
                    # stop the scan, and a rerun resumes.)
                    result = future.result()
                except KilledWorker:
                    self.killed += 1
                    parts = self.split(item) if self.split is not None else []
                    if len(parts) > 1:
                        again.extend(parts)
                    elif was_alone:
                        yield self.on_crash(item, CRASH_MESSAGE)
                    else:
                        suspects.append(item)
                else:
                    yield result
                finally:
                    future.release()
                seen += 1
                if seen % 256 == 0 and not self.in_flight:
                    limit = self._limit()  # workers come and go
        finally:
            if pending:  # the consumer stopped early (an error, a closed generator)
                self.client.cancel(list(pending))

    def close(self) -> None:
        """Nothing to release: the caller owns the client (and closes the :class:`Cluster`)."""
