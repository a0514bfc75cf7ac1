"""Opening the store and the few operations every layer shares."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hashsieve.config import Settings
from hashsieve.errors import UnknownCaseError
from hashsieve.store import db
from hashsieve.store.models import Case

T = TypeVar("T")

#: PostgreSQL SQLSTATEs of a transaction that lost a race with a concurrent one and may simply be
#: run again: serialisation failure, deadlock detected, and a unique key that the other one
#: inserted first (redone, the work finds the row and updates it).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23505"})
RETRY_ATTEMPTS = 6


def is_retryable(exc: BaseException) -> bool:
    """True for a database error that rerunning the whole transaction resolves."""
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)  # SQLite past its busy timeout


class Store:
    """A hashsieve home: the database (migrated on open) and the index files beside it."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.home: Path = self.settings.home
        self.home.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = db.make_engine(self.settings.database_url)
        db.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def retrying(self, work: Callable[[], T], attempts: int = RETRY_ATTEMPTS) -> T:
        """``work()`` (which opens its own transaction), run again from the start when it loses a
        race with a concurrent transaction (:func:`is_retryable`), after a short random pause;
        the last failure is raised. Several examiners on one PostgreSQL never see a deadlock or
        a duplicate key that only concurrency caused."""
        for attempt in range(1, attempts + 1):
            try:
                return work()
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def ensure_case(self, name: str) -> Case:
        def work() -> Case:
            with self.session() as s:
                case = s.scalar(select(Case).where(Case.name == name))
                if case is None:
                    case = Case(name=name)
                    s.add(case)
                    s.flush()
                return case

        return self.retrying(work)  # two scans may create the same case at once

    def get_case(self, name: str) -> Case:
        with self.session() as s:
            case = s.scalar(select(Case).where(Case.name == name))
        if case is None:
            raise UnknownCaseError(f"no case named {name!r} (see 'hashsieve case list')")
        return case

    def list_cases(self) -> list[Case]:
        with self.session() as s:
            return list(s.scalars(select(Case).order_by(Case.name)))

    def close(self) -> None:
        self.engine.dispose()
