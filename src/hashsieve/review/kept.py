"""What a case of a million files answers slowly, kept in the process until its files change.

Counts per verdict, the known sections, the map's points and the grid's positions (counts and
jump marks per filter) depend on the case's file rows only (a grid filter on the reviewers'
categories on decisions too: :mod:`hashsieve.review.grid` adds their version). The files'
version is read from primary keys and the case's few scan rows: the store's highest file id (a
scan adds rows with new ids, a rescan replaces rows with new ids), the number of the case's
scans and their last finish. While a scan of the case runs nothing is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hashsieve.store import Store
from hashsieve.store.models import FileRecord, Scan

T = TypeVar("T")


def files_version(s: Session, store: Store, case_id: int) -> tuple[Any, ...] | None:
    """The version of the case's file rows; None while a scan of the case runs."""
    scans, finished, running = s.execute(
        select(
            func.count(),
            func.max(Scan.finished_at),
            func.sum(case((Scan.status == "running", 1), else_=0)),
        ).where(Scan.case_id == case_id)
    ).one()
    if running:
        return None
    top = s.scalar(select(func.max(FileRecord.id)))
    return (str(store.engine.url), case_id, top, scans, str(finished))


class Kept:
    """A least-recently-used map of computed values; one computation per key at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable | None, make: Callable[[], T]) -> T:
        """The value kept under ``key``, else ``make()`` kept (``key`` None: never kept)."""
        if key is None:
            return make()
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:  # two requests for the same value at once (a page's count and a jump)
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = make()
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
                self._making.pop(key, None)
        return value

    def peek(self, key: Hashable | None) -> Any:
        """The value kept under ``key``, or None."""
        with self._lock:
            return None if key is None else self._values.get(key)

    def put(self, key: Hashable | None, value: Any) -> None:
        if key is None:
            return
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
