"""The indexes that belong to a store: persisted beside the database, updated incrementally.

One index per algorithm: the exact PDQ multi-index for ``pdq`` and sorted digest arrays for
``md5``, ``sha1`` and ``sha256`` (about 1-2 µs per lookup at 50M rows, batched; the database's
B-tree takes 7-8). A hash-set import adds its rows; a deletion removes them; nothing rebuilds the
whole index. ``state.json`` records which hash sets each index holds: when it disagrees with the
database (a crash between the database commit and the index save), that index is rebuilt from the
database, which stays the single source of truth.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from sqlalchemy import func, select

from hashsieve.hashing.algorithms import ALGORITHMS, PDQ_TABLES, STORED_ALGORITHMS
from hashsieve.index.exact import SortedDigestIndex
from hashsieve.index.pdq_index import MultiIndexPdqIndex

if TYPE_CHECKING:
    from hashsieve.store import Store

#: Bytes per value of each indexed algorithm: every algorithm the store holds.
WIDTHS = {name: ALGORITHMS.get(name).width for name in STORED_ALGORITHMS}
#: Algorithms held in a PDQ multi-index (the whole image's and the reference parts').
PDQ_ALGORITHMS = PDQ_TABLES
_FETCH = 200_000


def _empty(algorithm: str) -> Any:
    if algorithm in PDQ_ALGORITHMS:
        return MultiIndexPdqIndex()
    return SortedDigestIndex(WIDTHS[algorithm])


class EntrySpill:
    """The (id, value) pairs of an import, per algorithm, appended to files beside the index as
    they are written (bounded memory at any size), then handed to :meth:`StoreIndex.add_entries`
    memory-mapped: the index learns a set's rows without reading them back from the database.
    Several writer threads may add at once (an import's COPY streams)."""

    def __init__(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix=".spill-", dir=index_dir))
        self._files: dict[str, tuple[BinaryIO, BinaryIO]] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, algorithm: str, first_id: int, values: bytes) -> None:
        """Rows ``first_id, first_id + 1, ...`` with these concatenated values."""
        n = len(values) // WIDTHS[algorithm]
        self.add_ids(algorithm, np.arange(first_id, first_id + n, dtype=np.uint32), values)

    def add_ids(self, algorithm: str, ids: np.ndarray, values: bytes) -> None:
        id_bytes = np.ascontiguousarray(ids, np.uint32).tobytes()
        with self._lock:  # a row's id and value at the same place in their two files
            if algorithm not in self._files:
                self._files[algorithm] = (
                    open(self.directory / f"{algorithm}.ids", "wb"),  # noqa: SIM115
                    open(self.directory / f"{algorithm}.values", "wb"),  # noqa: SIM115
                )
            ids_file, values_file = self._files[algorithm]
            ids_file.write(id_bytes)
            values_file.write(values)
            self.counts[algorithm] = self.counts.get(algorithm, 0) + int(ids.shape[0])

    def arrays(self, algorithm: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, values) of ``algorithm`` as read-only memory maps (empty when none)."""
        width = WIDTHS[algorithm]
        n = self.counts.get(algorithm, 0)
        if n == 0:
            return np.empty(0, np.uint32), np.empty((0, width), np.uint8)
        for fh in self._files[algorithm]:
            fh.flush()
        ids = np.memmap(self.directory / f"{algorithm}.ids", np.uint32, "r", shape=(n,))
        values = np.memmap(self.directory / f"{algorithm}.values", np.uint8, "r", shape=(n, width))
        return np.asarray(ids), np.asarray(values)

    def close(self) -> None:
        for files in self._files.values():
            for fh in files:
                fh.close()
        self._files.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> EntrySpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load(algorithm: str, directory: Path, mmap: bool) -> Any:
    cls = MultiIndexPdqIndex if algorithm in PDQ_ALGORITHMS else SortedDigestIndex
    return cls.load(directory, mmap=mmap)


def entry_arrays(
    store: Store, algorithm: str, hashset_id: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ids uint32, values (n, width) uint8) of stored entries, of one hash set or of all."""
    from hashsieve.store.models import HashEntry

    query = select(HashEntry.id, HashEntry.value).where(HashEntry.algorithm == algorithm)
    if hashset_id is not None:
        query = query.where(HashEntry.hashset_id == hashset_id)
    id_parts, value_parts = [], []
    with store.engine.connect() as conn:
        result = conn.execute(query.execution_options(stream_results=True))
        while rows := result.fetchmany(_FETCH):
            ids, values = zip(*rows, strict=True)
            id_parts.append(np.asarray(ids, dtype=np.uint32))
            value_parts.append(np.frombuffer(b"".join(values), np.uint8))
    width = WIDTHS[algorithm]
    if not id_parts:
        return np.empty(0, np.uint32), np.empty((0, width), np.uint8)
    return np.concatenate(id_parts), np.concatenate(value_parts).reshape(-1, width)


class StoreIndex:
    def __init__(self, store: Store, algorithm: str = "pdq") -> None:
        if algorithm not in WIDTHS:
            raise ValueError(f"no index for {algorithm!r}")
        self.store = store
        self.algorithm = algorithm
        self.directory = store.settings.index_dir / algorithm
        self.state_path = store.settings.index_dir / f"{algorithm}-state.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with open(self.directory.parent / f"{self.algorithm}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _db_sets(self) -> set[str]:
        """Ids of the complete hash sets: what the index must hold (one small query on the
        ``hashsets`` table, never a count over the entries, so opening stays cheap at 100 M)."""
        from hashsieve.store.models import HashSet

        with self.store.session() as s:
            return {str(i) for i in s.scalars(select(HashSet.id).where(HashSet.complete))}

    def _db_counts(self, sets: set[str]) -> dict[str, int]:
        """Rows of this algorithm per set in ``sets`` (for a rebuild's state)."""
        from hashsieve.store.models import HashEntry

        with self.store.session() as s:
            rows = s.execute(
                select(HashEntry.hashset_id, func.count())
                .where(HashEntry.algorithm == self.algorithm)
                .group_by(HashEntry.hashset_id)
            )
            counts = {str(hs_id): int(n) for hs_id, n in rows}
        return {k: counts.get(k, 0) for k in sets}

    def _saved_state(self) -> dict[str, int] | None:
        try:
            return json.loads(self.state_path.read_text())["hashsets"]
        except (OSError, ValueError, KeyError):
            return None

    def _save(self, index: Any, state: dict[str, int]) -> None:
        self._install(index.save, state)

    def _install(self, write: Callable[[Path], object], state: dict[str, int]) -> None:
        """``write(folder)`` the new index, swap it in, then record ``state``."""
        tmp = self.directory.with_name(self.algorithm + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        write(tmp)
        old = self.directory.with_name(self.algorithm + ".old")
        if self.directory.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        if old.exists():
            shutil.rmtree(old)
        self._write_state(state)

    def _write_state(self, state: dict[str, int]) -> None:
        state_tmp = self.state_path.with_suffix(".tmp")
        state_tmp.write_text(json.dumps({"hashsets": state}))
        os.replace(state_tmp, self.state_path)

    def _rebuild(self, sets: set[str]) -> Any:
        ids, values = entry_arrays(self.store, self.algorithm)
        return self._add_and_save(_empty(self.algorithm), ids, values, self._db_counts(sets))

    def _add_and_save(
        self, index: Any, ids: np.ndarray, values: np.ndarray, state: dict[str, int]
    ) -> Any:
        """``index`` plus these rows, saved with ``state``; a PDQ add that merges everything into
        one segment is built straight into its files (bounded memory at 100 M codes)."""
        if isinstance(index, MultiIndexPdqIndex) and len(ids) and index.merges_on_add(len(ids)):
            self._install(lambda folder: index.save_merged(folder, ids, values), state)
            return _load(self.algorithm, self.directory, mmap=True)
        if len(ids):
            index.add(ids, values)
        self._save(index, state)
        return index

    def _current(self) -> Any | None:
        """The saved index when it exists, else None. Memory-mapped: every update builds new
        arrays (a delta segment, a merged copy), never writes into the mapped ones."""
        if self._saved_state() is None or not self.directory.exists():
            return None
        return _load(self.algorithm, self.directory, mmap=True)

    def open(self) -> Any:
        """The index for queries (memory-mapped), rebuilt first if it is stale: when the sets
        it holds are not the database's complete sets (a crash between the two)."""
        with self._locked():
            sets, saved = self._db_sets(), self._saved_state()
            if saved is None or set(saved) != sets or not self.directory.exists():
                return self._rebuild(sets)
        return _load(self.algorithm, self.directory, mmap=True)

    def add_hashset(self, hashset_id: int) -> None:
        """Add a stored hash set's rows, read back from the database."""
        ids, values = entry_arrays(self.store, self.algorithm, hashset_id)
        self.add_entries(hashset_id, ids, values)

    def add_entries(self, hashset_id: int, ids: np.ndarray, values: np.ndarray) -> None:
        """Add the rows ``ids``/``values`` of hash set ``hashset_id`` (just written, not yet
        marked complete; maybe none of this algorithm) and record the set in the saved state.
        When the saved index does not hold exactly the other complete sets, it is rebuilt from
        the database instead."""
        key = str(hashset_id)
        with self._locked():
            saved, others = self._saved_state(), self._db_sets() - {key}
            if saved is None and not others:
                saved, index = {}, _empty(self.algorithm)
            elif saved is None or set(saved) - {key} != others:
                self._rebuild(others | {key})
                return
            elif (index := self._current()) is None:
                index = _empty(self.algorithm)
            state = {**{k: v for k, v in saved.items() if k != key}, key: len(ids)}
            if len(ids) or not self.directory.exists():
                self._add_and_save(index, ids, values, state)
            else:  # nothing of this algorithm: the index stays, the state learns the set
                self._write_state(state)

    def remove_hashset(self, hashset_id: int) -> None:
        key = str(hashset_id)
        with self._locked():
            saved = self._saved_state()
            if saved is None or (index := self._current()) is None:
                return  # rebuilt from the database on next open
            state = {k: v for k, v in saved.items() if k != key}
            if not saved.get(key):
                self._write_state(state)  # it had no rows here
            elif not any(state.values()):
                self._save(_empty(self.algorithm), state)  # it was the only one
            else:
                ids, _ = entry_arrays(self.store, self.algorithm, hashset_id)
                index.remove(ids)
                self._save(index, state)
