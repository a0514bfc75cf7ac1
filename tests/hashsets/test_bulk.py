"""The bulk import path (HashBlock runs: INSERT ... SELECT on SQLite, COPY on PostgreSQL) stores
exactly what the record-by-record path stores, and its indexes hold exactly the database's rows.

The record path is the reference: the same import with ``PlainListFormat.read_blocks`` taken away
goes through it. Both are run on SQLite and on the private PostgreSQL server (tests/postgres.py).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from hashsieve import Settings, Store, import_hashset
from hashsieve.hashsets import lists
from hashsieve.hashsets.base import HashBlock, HashRecord
from hashsieve.hashsets.catalogue import delete_hashset
from hashsieve.index.store_index import WIDTHS, StoreIndex, entry_arrays
from hashsieve.store.models import HashEntry

from .samples import md5, pdq, sha1

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A factory of stores on the backend under test (each call: a home of its own; on
    PostgreSQL a database of its own)."""
    made: list[Store] = []

    def make(name: str) -> Store:
        if request.param == "postgresql":
            server = request.getfixturevalue("postgres_server")
            monkeypatch.setenv("HASHSIEVE_DATABASE_URL", server.new_database())
        else:
            monkeypatch.delenv("HASHSIEVE_DATABASE_URL", raising=False)
        store = Store(Settings(home=tmp_path / name, workers=1))
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _rows(store: Store) -> list[tuple[Any, ...]]:
    """Every stored entry in list order, without its id: ids differ between stores, and on
    PostgreSQL two batches copied side by side may take their ids in either order."""
    with store.session() as s:
        rows = s.execute(
            select(
                HashEntry.id,
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
            )
        ).all()
    assert len({r[0] for r in rows}) == len(rows)
    return sorted((r[1:] for r in rows), key=lambda r: (int(r[2].rpartition(":")[2]), r[0]))


def _list_file(path: Path, n: int = 1500) -> Path:
    """A list that takes every path: runs of MD5s, a mixed block, comments, blanks, bad lines."""
    lines = [md5(f"m{i}") for i in range(n)]
    lines[17] = md5("upper").upper()
    path.write_text("\n".join(lines) + "\n")
    with path.open("a") as fh:
        fh.write("# a comment\n\n" + sha1("s") + "\nnot-a-hash\n" + md5("after") + "\n")
    return path


def _without_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(lists.PlainListFormat, "read_blocks")


@pytest.mark.parametrize("category", [None, 2])
def test_bulk_rows_equal_record_rows(
    make_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, category: int | None
) -> None:
    # Small blocks, so that one list gives several runs, records between them and problems.
    monkeypatch.setattr(lists, "_BLOCK_CHARS", 33 * 300)
    path = _list_file(tmp_path / "list.txt")
    fast_store = make_store("fast")
    fast = import_hashset(fast_store, path, "l", category=category)
    _without_blocks(monkeypatch)
    slow_store = make_store("slow")
    slow = import_hashset(slow_store, path, "l", category=category)
    assert _rows(fast_store) == _rows(slow_store)
    assert (fast.taken, fast.refused, fast.by_algorithm, fast.no_category) == (
        slow.taken,
        slow.refused,
        slow.by_algorithm,
        slow.no_category,
    )
    assert [(p.entry, p.message) for p in fast.problems] == [
        (p.entry, p.message) for p in slow.problems
    ]
    assert fast.taken == 1502 and fast.refused == 1


def test_blocks_expand_to_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists, "_BLOCK_CHARS", 33 * 300)
    path = _list_file(tmp_path / "list.txt")
    fmt = lists.PlainListFormat()
    blocks = list(fmt.read_blocks(path))
    assert sum(isinstance(b, HashBlock) for b in blocks) >= 4
    expanded = [r for b in blocks for r in (b.records() if isinstance(b, HashBlock) else [b])]
    assert expanded == list(fmt.read(path))
    assert isinstance(expanded[0], HashRecord) and expanded[0].entry == "list.txt:1"


def _index_pairs(store: Store, algorithm: str) -> set[tuple[int, bytes]]:
    """(id, value) of every row the saved index of ``algorithm`` holds."""
    index = StoreIndex(store, algorithm).open()
    _, values = entry_arrays(store, algorithm)
    if algorithm == "pdq":
        rows, found, _ = index.query(values, 0)
        return {(int(i), values[r].tobytes()) for r, i in zip(rows, found, strict=True)}
    rows, found = index.lookup(values)
    return {(int(i), values[r].tobytes()) for r, i in zip(rows, found, strict=True)}


def test_indexes_hold_the_ids_the_database_gave(make_store: Any, tmp_path: Path) -> None:
    store = make_store("home")
    codes = [pdq(str(i)) for i in range(300)]
    (tmp_path / "p.txt").write_text("# algorithm: pdq\n" + "\n".join(codes) + "\n")
    (tmp_path / "m.txt").write_text("\n".join(md5(str(i)) for i in range(500)) + "\n")
    import_hashset(store, tmp_path / "m.txt", "m", category=1)
    import_hashset(store, tmp_path / "p.txt", "p")
    import_hashset(store, tmp_path / "m.txt", "m2")  # the same digests again, other ids
    for algorithm in ("md5", "pdq"):
        ids, values = entry_arrays(store, algorithm)
        assert _index_pairs(store, algorithm) == {
            (int(i), v.tobytes()) for i, v in zip(ids, values, strict=True)
        }
    state = StoreIndex(store, "sha256")._saved_state()
    assert state is not None and sorted(state.values()) == [0, 0, 0]  # every set, no rows
    delete_hashset(store, "m")
    ids, _ = entry_arrays(store, "md5")
    assert {i for i, _ in _index_pairs(store, "md5")} == set(ids.tolist())
    assert len(ids) == 500


def test_two_imports_at_once_get_disjoint_ids(make_store: Any, tmp_path: Path) -> None:
    first = make_store("home")
    second = Store(first.settings)  # another connection pool on the same database
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(os.urandom(16).hex() for _ in range(6_000)) + "\n")
        paths.append(path)
    errors: list[BaseException] = []

    def run(store: Store, path: Path) -> None:
        try:
            import_hashset(store, path, path.stem)
        except BaseException as exc:
            errors.append(exc)

    old = lists._BLOCK_CHARS
    lists._BLOCK_CHARS = 33 * 400  # many small transactions, interleaved
    try:
        threads = [
            threading.Thread(target=run, args=a) for a in zip((first, second), paths, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        lists._BLOCK_CHARS = old
        second.close()
    assert not errors
    ids, values = entry_arrays(first, "md5")
    assert len(ids) == 12_000 == len(set(ids.tolist()))
    assert _index_pairs(first, "md5") == {
        (int(i), v.tobytes()) for i, v in zip(ids, values, strict=True)
    }
    by_set = {}
    with first.session() as s:
        for hs, value in s.execute(select(HashEntry.hashset_id, HashEntry.value)):
            by_set.setdefault(hs, set()).add(value.hex())
    assert sorted(map(len, by_set.values())) == [6_000, 6_000]
    assert np.unique(values, axis=0).shape[0] == 12_000
    assert set(WIDTHS) >= {"md5", "pdq"}


#: An import in a child process, killed (SIGKILL) inside the transaction of its third block,
#: after the insert (SQLite) or the id reservation (PostgreSQL, before the block's COPY; the
#: second block may still be copying on the other stream).
_KILLED_IMPORT = """
import os, signal, sys
from pathlib import Path
from hashsieve import Settings, Store, import_hashset
from hashsieve.hashsets import lists
from hashsieve.store import bulk

lists._BLOCK_CHARS = 33 * 1000
calls = []

def killing(original):
    def wrapped(self, n):
        result = original(self, n)
        calls.append(n)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapped

bulk.SqliteEntryWriter._last_id = killing(bulk.SqliteEntryWriter._last_id)
bulk.PostgresEntryWriter._reserve = killing(bulk.PostgresEntryWriter._reserve)
import_hashset(Store(Settings(home=Path(sys.argv[1]))), Path(sys.argv[2]), "l")
"""


def test_import_killed_in_a_transaction_leaves_a_store_a_rerun_completes(
    make_store: Any, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from sqlalchemy import text

    from hashsieve.hashsets.catalogue import list_hashsets

    store = make_store("home")
    path = tmp_path / "list.txt"
    path.write_text("\n".join(md5(f"k{i}") for i in range(5_000)) + "\n")
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_IMPORT, str(store.settings.home), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        rows = conn.execute(text("SELECT count(*) FROM hash_entries")).scalar()
    # whole committed blocks only (on PostgreSQL the second may have been cut in its COPY), none
    # of the killed one's, in a set never matched
    assert rows == 2_000 if sqlite else rows in (1_000, 2_000)
    [left] = list_hashsets(store)
    assert (left.name, left.complete) == ("l", False)
    # the rerun (what `hashset import` does with an incomplete set of that name) takes it all
    delete_hashset(store, "l")
    assert import_hashset(store, path, "l").taken == 5_000
    ids, values = entry_arrays(store, "md5")
    assert sorted(v.tobytes().hex() for v in values) == sorted(md5(f"k{i}") for i in range(5_000))
    assert _index_pairs(store, "md5") == {
        (int(i), v.tobytes()) for i, v in zip(ids, values, strict=True)
    }


@pytest.mark.parametrize("failing", ["run", "close"])
def test_a_failed_write_is_raised_and_leaves_no_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """A write that fails on the writer thread (a batch, or giving the connection back after
    the last one) is raised by the import, which waits for the thread and deletes the set."""
    from hashsieve.hashsets.catalogue import list_hashsets
    from hashsieve.store import bulk

    monkeypatch.delenv("HASHSIEVE_DATABASE_URL", raising=False)
    monkeypatch.setattr(lists, "_BLOCK_CHARS", 33 * 1000)
    original = getattr(bulk.SqliteEntryWriter, failing)
    calls: list[int] = []

    def failing_write(self: Any, *args: Any) -> Any:
        calls.append(1)
        if failing == "close" or len(calls) == 2:
            raise RuntimeError(f"{failing} failed")
        return original(self, *args)

    monkeypatch.setattr(bulk.SqliteEntryWriter, failing, failing_write)
    path = tmp_path / "list.txt"
    path.write_text("\n".join(md5(f"f{i}") for i in range(5_000)) + "\n")
    store = Store(Settings(home=tmp_path / "home", workers=1))
    try:
        with pytest.raises(RuntimeError, match=f"{failing} failed"):
            import_hashset(store, path, "l")
        assert list_hashsets(store) == []
        assert len(entry_arrays(store, "md5")[0]) == 0
    finally:
        store.close()


def test_a_connection_whose_checks_cannot_be_turned_back_on_is_not_lent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import's SQLite connection writes without foreign-key checks; if they cannot be
    turned back on, the connection is dropped, so the next user gets one with them on."""
    from hashsieve.store import bulk

    monkeypatch.delenv("HASHSIEVE_DATABASE_URL", raising=False)
    store = Store(Settings(home=tmp_path / "home", workers=1))
    try:
        with store.engine.connect() as conn:
            writer = bulk.SqliteEntryWriter(conn)
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 0

            def fail(on: bool) -> None:
                raise RuntimeError("pragma failed")

            monkeypatch.setattr(writer, "_foreign_keys", fail)
            with pytest.raises(RuntimeError, match="pragma failed"):
                writer.close()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        store.close()
