"""The PDQ index that belongs to a store: persisted beside the database, updated incrementally.

``state.json`` records which hash sets the index holds. When it disagrees with the database
(a crash between the database commit and the index save) the index is rebuilt from the
database, so the database stays the single source of truth.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from hashsieve.index.pdq_index import MultiIndexPdqIndex

if TYPE_CHECKING:
    from hashsieve.store import Store


class StoreIndex:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.directory = store.settings.index_dir / "pdq"
        self.state_path = store.settings.index_dir / "pdq-state.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with open(self.directory.parent / "pdq.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _db_state(self) -> dict[str, int]:
        from hashsieve.store.models import HashEntry, HashSet

        with self.store.session() as s:
            rows = s.execute(
                select(HashSet.id, func.count(HashEntry.id))
                .join(
                    HashEntry,
                    (HashEntry.hashset_id == HashSet.id) & (HashEntry.algorithm == "pdq"),
                    isouter=True,
                )
                .where(HashSet.complete.is_(True))
                .group_by(HashSet.id)
            )
            return {str(hs_id): int(n) for hs_id, n in rows if n}

    def _saved_state(self) -> dict[str, int] | None:
        try:
            return json.loads(self.state_path.read_text())["hashsets"]
        except (OSError, ValueError, KeyError):
            return None

    def _save(self, index: MultiIndexPdqIndex, state: dict[str, int]) -> None:
        tmp = self.directory.with_name("pdq.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        index.save(tmp)
        old = self.directory.with_name("pdq.old")
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

    def _rebuild(self, state: dict[str, int]) -> MultiIndexPdqIndex:
        from hashsieve.catalogue import pdq_rows

        index = MultiIndexPdqIndex()
        ids, codes = pdq_rows(self.store)
        if len(ids):
            index.add(ids, codes)
        self._save(index, state)
        return index

    def _load_for_update(self) -> MultiIndexPdqIndex | None:
        """The saved index when it matches the database, else None (the caller rebuilds)."""
        if self._saved_state() is None or not self.directory.exists():
            return None
        return MultiIndexPdqIndex.load(self.directory, mmap=False)

    def open(self) -> MultiIndexPdqIndex:
        """The index for queries (memory-mapped), rebuilt first if it is stale."""
        with self._locked():
            state = self._db_state()
            if self._saved_state() != state or not self.directory.exists():
                return self._rebuild(state)
        return MultiIndexPdqIndex.load(self.directory, mmap=True)

    def add_hashset(self, hashset_id: int) -> None:
        from hashsieve.catalogue import pdq_rows

        with self._locked():
            saved = self._saved_state()
            state = self._db_state()
            ids, codes = pdq_rows(self.store, hashset_id)
            expected = dict(saved or {})
            if len(ids):
                expected[str(hashset_id)] = len(ids)
            if saved is None or expected != state:
                self._rebuild(state)
                return
            if not len(ids):
                return
            index = self._load_for_update() or MultiIndexPdqIndex()
            index.add(ids, codes)
            self._save(index, state)

    def remove_hashset(self, hashset_id: int) -> None:
        from hashsieve.catalogue import pdq_rows

        with self._locked():
            saved = self._saved_state()
            ids, _ = pdq_rows(self.store, hashset_id)
            if saved is None or not self.directory.exists():
                return  # rebuilt from the database on next open
            index = self._load_for_update()
            if index is not None and len(ids):
                index.remove(np.asarray(ids, dtype=np.uint32))
                state = {k: v for k, v in saved.items() if k != str(hashset_id)}
                self._save(index, state)
            elif str(hashset_id) in saved:
                self._save(
                    index or MultiIndexPdqIndex(),
                    {k: v for k, v in saved.items() if k != str(hashset_id)},
                )
