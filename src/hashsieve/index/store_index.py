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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    def _db_state(self) -> dict[str, int]:
        from hashsieve.store.models import HashEntry, HashSet

        with self.store.session() as s:
            rows = s.execute(
                select(HashEntry.hashset_id, func.count())
                .join(HashSet, HashSet.id == HashEntry.hashset_id)
                .where(HashSet.complete.is_(True) & (HashEntry.algorithm == self.algorithm))
                .group_by(HashEntry.hashset_id)
            )
            return {str(hs_id): int(n) for hs_id, n in rows}

    def _saved_state(self) -> dict[str, int] | None:
        try:
            return json.loads(self.state_path.read_text())["hashsets"]
        except (OSError, ValueError, KeyError):
            return None

    def _save(self, index: Any, state: dict[str, int]) -> None:
        tmp = self.directory.with_name(self.algorithm + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        index.save(tmp)
        old = self.directory.with_name(self.algorithm + ".old")
        if self.directory.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        if old.exists():
            shutil.rmtree(old)
        state_tmp = self.state_path.with_suffix(".tmp")
        state_tmp.write_text(json.dumps({"hashsets": state}))
        os.replace(state_tmp, self.state_path)

    def _rebuild(self, state: dict[str, int]) -> Any:
        index = _empty(self.algorithm)
        ids, values = entry_arrays(self.store, self.algorithm)
        if len(ids):
            index.add(ids, values)
        self._save(index, state)
        return index

    def _current(self) -> Any | None:
        """The saved index (writable copy) when it exists, else None."""
        if self._saved_state() is None or not self.directory.exists():
            return None
        return _load(self.algorithm, self.directory, mmap=False)

    def open(self) -> Any:
        """The index for queries (memory-mapped), rebuilt first if it is stale."""
        with self._locked():
            state = self._db_state()
            if self._saved_state() != state or not self.directory.exists():
                return self._rebuild(state)
        return _load(self.algorithm, self.directory, mmap=True)

    def add_hashset(self, hashset_id: int) -> None:
        with self._locked():
            saved, state = self._saved_state(), self._db_state()
            expected = {k: v for k, v in (saved or {}).items() if k in state}
            if str(hashset_id) in state:
                expected[str(hashset_id)] = state[str(hashset_id)]
            if saved is None or expected != state or (index := self._current()) is None:
                self._rebuild(state)
                return
            ids, values = entry_arrays(self.store, self.algorithm, hashset_id)
            if len(ids):
                index.add(ids, values)
            self._save(index, state)

    def remove_hashset(self, hashset_id: int) -> None:
        with self._locked():
            saved = self._saved_state()
            if saved is None or (index := self._current()) is None:
                return  # rebuilt from the database on next open
            if str(hashset_id) in saved:
                ids, _ = entry_arrays(self.store, self.algorithm, hashset_id)
                index.remove(ids)
            self._save(index, {k: v for k, v in saved.items() if k != str(hashset_id)})
