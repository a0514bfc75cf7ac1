"""The local process executor: all results come back, and a crashing file costs only itself."""

from __future__ import annotations

import os

from hashsieve.workers.executor import LocalProcessExecutor


def square_or_die(n: int) -> int:
    if n == 13:
        os._exit(1)  # what a decoder segfault looks like to the pool
    return n * n


def crashed(n: int, message: str) -> int:
    return -n


def test_every_item_comes_back_once() -> None:
    ex = LocalProcessExecutor(2, on_crash=crashed, chunk_size=3)
    try:
        assert sorted(ex.map_unordered(square_or_die, range(12))) == [n * n for n in range(12)]
    finally:
        ex.close()


def test_a_crash_is_isolated_to_the_item_that_caused_it() -> None:
    ex = LocalProcessExecutor(2, on_crash=crashed, chunk_size=4)
    try:
        results = sorted(ex.map_unordered(square_or_die, range(30)))
    finally:
        ex.close()
    assert results == sorted([-13] + [n * n for n in range(30) if n != 13])
