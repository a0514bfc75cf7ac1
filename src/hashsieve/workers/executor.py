"""Where the hashing stage runs: local worker processes (here), or a Dask cluster
(:mod:`hashsieve.workers.cluster`, behind the same interface).

An executor maps a picklable function over items and yields results as they complete, with a
bounded number of items in flight (memory stays flat whatever the case size). A worker that
dies (a decoder crash, the OOM killer) costs only the file that killed it: its batch is retried
file by file in a fresh pool and the culprit is reported through ``on_crash``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


#: The error a file gets when the worker hashing it died (locally or on a cluster).
CRASH_MESSAGE = "worker process crashed while reading this file"

#: What the workers' forkserver imports once (hashing code, warm numba kernels, memory limit).
WORKER_PRELOAD = ["hashsieve.workers.preload"]


def start_forkserver(preload: list[str] | None = None) -> None:
    """Start the workers' forkserver now rather than at the first task: its preload (about 1 s of
    imports and numba kernels) then runs while the caller is still importing the scan (about
    1.3 s more), on another core. Environment read by the preload must be set before."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(preload or WORKER_PRELOAD)
    forkserver.ensure_running()


def _apply_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


class LocalProcessExecutor(Generic[T, R]):
    """Chunks of items on a pool of local processes (forkserver: no inherited threads or locks)."""

    def __init__(
        self,
        workers: int,
        on_crash: Callable[[T, str], R],
        chunk_size: int = 8,
        preload: list[str] | None = None,
    ) -> None:
        self.workers = max(1, workers)
        self.on_crash = on_crash
        self.chunk_size = chunk_size
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(preload)
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._context)
        return self._pool

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pool = self._pool or self._new_pool()
        source = iter(items)
        pending: dict[Future[list[R]], list[T]] = {}
        in_flight = self.workers * 4
        while True:
            while len(pending) < in_flight:
                chunk = list(islice(source, self.chunk_size))
                if not chunk:
                    break
                pending[pool.submit(_apply_chunk, fn, chunk)] = chunk
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            crashed: list[list[T]] = []
            for future in done:
                chunk = pending.pop(future)
                try:
                    yield from future.result()
                except BrokenProcessPool:
                    crashed.append(chunk)
            if crashed:
                # Every other chunk in flight died with the pool: redo them all, one by one.
                crashed.extend(pending.values())
                pending.clear()
                for chunk in crashed:
                    for item in chunk:
                        yield self._isolated(fn, item)
                pool = self._pool or self._new_pool()

    def _isolated(self, fn: Callable[[T], R], item: T) -> R:
        pool = self._new_pool()
        try:
            return pool.submit(fn, item).result()
        except BrokenProcessPool:
            self._new_pool()
            return self.on_crash(item, CRASH_MESSAGE)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
