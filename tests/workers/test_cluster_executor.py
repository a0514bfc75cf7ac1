"""The Dask executor on a real LocalCluster (2 single-threaded worker processes): every item
comes back once, and an item that kills its worker every time is reported through ``on_crash``
(after a last try alone) while the others of its chunk are redone one by one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import dask
import pytest
from distributed import Client, LocalCluster

from hashsieve.workers.cluster import DaskExecutor
from hashsieve.workers.executor import CRASH_MESSAGE

POISON = 13


def squares_or_die(chunk: list[int]) -> list[int]:
    if POISON in chunk:
        os._exit(1)  # what a decoder segfault looks like to the nanny
    return [n * n for n in chunk]


def crashed(chunk: list[int], message: str) -> list[int]:
    assert message == CRASH_MESSAGE
    return [-n for n in chunk]


def singles(chunk: list[int]) -> list[list[int]]:
    return [[n] for n in chunk] if len(chunk) > 1 else []


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # A task is given up after the first worker it kills (default: after 4): a quicker test.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


def test_a_worker_killer_is_reported_and_its_chunk_mates_are_redone(client: Client) -> None:
    ex: DaskExecutor[list[int], list[int]] = DaskExecutor(
        client, on_crash=crashed, split=singles, in_flight=4
    )
    chunks = [list(range(start, start + 5)) for start in range(0, 30, 5)]
    got = sorted(v for batch in ex.map_unordered(squares_or_die, chunks) for v in batch)
    # Every item once: the killer reported, every other one squared.
    assert got == sorted([-POISON] + [n * n for n in range(30) if n != POISON])
    # The chunk [10..14], the single [13], then [13] alone killed a worker each (an innocent
    # queued on a dying worker may have ended in KilledWorker too, and been redone alone).
    assert ex.killed >= 3


def test_at_most_in_flight_items_are_taken_from_the_source(client: Client) -> None:
    pulled = 0

    def source() -> Iterator[list[int]]:
        nonlocal pulled
        for n in range(100, 140):  # no killer among them
            pulled += 1
            yield [n]

    ex: DaskExecutor[list[int], list[int]] = DaskExecutor(client, on_crash=crashed, in_flight=4)
    done, ahead = 0, []
    for batch in ex.map_unordered(squares_or_die, source()):
        done += len(batch)
        ahead.append(pulled - done)
    assert done == 40
    assert max(ahead) <= 3  # the memory stays flat: the rest of the source waits
