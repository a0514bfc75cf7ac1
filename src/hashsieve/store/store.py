"""Opening the store and the few operations every layer shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hashsieve.config import Settings
from hashsieve.errors import UnknownCaseError
from hashsieve.store import db
from hashsieve.store.models import Case


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

    def ensure_case(self, name: str) -> Case:
        with self.session() as s:
            case = s.scalar(select(Case).where(Case.name == name))
            if case is None:
                case = Case(name=name)
                s.add(case)
                s.flush()
            return case

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
