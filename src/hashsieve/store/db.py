"""Engine and schema: SQLite in WAL mode with foreign keys on; schema by Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

#: The migrations' heads as the scripts in ``migrations/versions`` define them, so that a store
#: already at them opens without loading Alembic and every script (a quarter second of each
#: process's start: a scan's main process and its workers'). tests/store holds it to the scripts.
HEADS = frozenset({"0012"})


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash
    # can lose the last transactions, and a rerun redoes those files.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migrations (no-op when it is already there).

    Upgrades to every head, so that independent feature migrations (branches off the same
    parent) apply side by side until a merge revision joins them.
    """
    if _current_heads(engine) == HEADS:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        command.upgrade(config, "heads")


def _current_heads(engine: Engine) -> frozenset[str] | None:
    """The revisions the store says it is at; None for a new store (no version table)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return None
    return frozenset(row[0] for row in rows)
