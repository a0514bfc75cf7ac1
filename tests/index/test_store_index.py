"""The store's persisted indexes follow imports and deletions, and heal from a crash."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hashsieve.hashsets.catalogue import delete_hashset, import_hashset
from hashsieve.index.store_index import StoreIndex
from hashsieve.store import Store


def _write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def two_sets(store: Store, tmp_path: Path) -> tuple[list[str], list[str]]:
    a = [os.urandom(16).hex() for _ in range(50)]
    b = [os.urandom(16).hex() for _ in range(30)]
    import_hashset(store, _write_list(tmp_path / "a.txt", a), "a")
    import_hashset(store, _write_list(tmp_path / "b.txt", b), "b")
    return a, b


def _found(store: Store, digests: list[str]) -> int:
    index = StoreIndex(store, "md5").open()
    rows, _ = index.lookup(np.frombuffer(bytes.fromhex("".join(digests)), np.uint8).reshape(-1, 16))
    return len(set(rows.tolist()))


def test_imports_add_and_deletions_remove(store: Store, two_sets: tuple) -> None:
    a, b = two_sets
    assert (_found(store, a), _found(store, b)) == (50, 30)
    delete_hashset(store, "a")
    assert (_found(store, a), _found(store, b)) == (0, 30)


def test_a_lost_or_stale_index_is_rebuilt_from_the_database(store: Store, two_sets: tuple) -> None:
    a, b = two_sets
    index = StoreIndex(store, "md5")
    index.state_path.unlink()  # as if the process died between the commit and the index save
    assert (_found(store, a), _found(store, b)) == (50, 30)
    index.state_path.write_text('{"hashsets": {"999": 1}}')  # disagrees with the database
    assert (_found(store, a), _found(store, b)) == (50, 30)
