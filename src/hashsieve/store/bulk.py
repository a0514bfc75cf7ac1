"""Bulk writes of hash entries, one writer per database, each telling the ids it gave.

An import of tens of millions of rows must not read its rows back to learn their ids (the
indexes need them), nor pay a Python call per row more than once. So each batch is written in
one transaction and its ids are known at once:

- **SQLite**: one writer at a time holds the database from its first insert to its commit, and a
  row without an explicit id gets ``max(id) + 1``; the ``n`` rows of one transaction therefore
  have ids ``max - n + 1 .. max``, read with one ``SELECT max(id)`` before the commit. A run of
  list lines is inserted by one ``INSERT ... SELECT`` over a counter table (values cut from one
  blob with ``substr``): no Python per row.
- **PostgreSQL**: the batch takes ``n`` ids from the table's sequence under a ``SHARE ROW
  EXCLUSIVE`` lock (other writers of ``hash_entries`` wait for the commit, readers do not), so
  they are consecutive, and the rows go in through ``COPY`` with those ids (psycopg 3
  ``cursor.copy``; a run of list lines as COPY text built in one join).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

#: The columns of a row handed to :meth:`EntryWriter.rows`, in order (``id`` is given here).
ENTRY_COLUMNS = (
    "hashset_id",
    "algorithm",
    "value",
    "entry",
    "category",
    "series",
    "victim_identified",
    "item",
    "seconds",
    "frame",
    "quality",
    "part",
)


@dataclass(frozen=True, slots=True)
class EntryRun:
    """``count`` list lines of one algorithm: value ``i`` is ``values[i*width:(i+1)*width]``,
    its entry text ``f"{prefix}{first + i}"``; every row has ``category`` and nothing else."""

    hashset_id: int
    algorithm: str
    values: bytes
    width: int
    prefix: str
    first: int
    category: int | None

    @property
    def count(self) -> int:
        return len(self.values) // self.width


class EntryWriter:
    """Writes batches of hash entries on one connection; each call is one transaction and
    returns the first of the consecutive ids its rows got, in the order given."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        raise NotImplementedError

    def run(self, run: EntryRun) -> int:
        raise NotImplementedError


_SQLITE_INSERT = (
    f"INSERT INTO hash_entries ({', '.join(ENTRY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ENTRY_COLUMNS))})"
)
_SQLITE_COUNTER = "hashsieve_counter"
_SQLITE_RUN = (
    "INSERT INTO hash_entries (hashset_id, algorithm, value, entry, category)"
    f" SELECT ?, ?, substr(?, i * ? + 1, ?), ? || (? + i), ? FROM temp.{_SQLITE_COUNTER}"
    " WHERE i < ? ORDER BY i"
)


class SqliteEntryWriter(EntryWriter):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._counter = 0

    def _last_id(self, n: int) -> int:
        last = self.conn.exec_driver_sql("SELECT max(id) FROM hash_entries").scalar_one()
        return int(last) - n + 1

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        with self.conn.begin():
            self.conn.exec_driver_sql(_SQLITE_INSERT, list(rows))
            return self._last_id(len(rows))

    def _ensure_counter(self, n: int) -> None:
        """A temporary table of the integers 0 .. n-1 (this connection's own)."""
        if self._counter >= n:
            return
        conn = self.conn
        with conn.begin():
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE IF NOT EXISTS {_SQLITE_COUNTER} (i INTEGER PRIMARY KEY)"
            )
            have = conn.exec_driver_sql(f"SELECT count(*) FROM temp.{_SQLITE_COUNTER}").scalar()
            if int(have or 0) < n:
                conn.exec_driver_sql(
                    f"WITH RECURSIVE r(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM r"
                    f" WHERE i + 1 < ?) INSERT INTO temp.{_SQLITE_COUNTER} SELECT i FROM r",
                    (int(have or 0), n),
                )
        self._counter = n

    def run(self, run: EntryRun) -> int:
        n = run.count
        self._ensure_counter(n)
        with self.conn.begin():
            self.conn.exec_driver_sql(
                _SQLITE_RUN,
                (
                    run.hashset_id,
                    run.algorithm,
                    run.values,
                    run.width,
                    run.width,
                    run.prefix,
                    run.first,
                    run.category,
                    n,
                ),
            )
            return self._last_id(n)


def _copy_text(value: str) -> str:
    """``value`` escaped for PostgreSQL's COPY text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class PostgresEntryWriter(EntryWriter):
    def _reserve(self, n: int) -> int:
        """``n`` consecutive ids from the table's sequence (inside the open transaction)."""
        conn = self.conn
        conn.exec_driver_sql("LOCK TABLE hash_entries IN SHARE ROW EXCLUSIVE MODE")
        first = int(
            conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('hash_entries', 'id'))"
            ).scalar_one()
        )
        if n > 1:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('hash_entries', 'id'), %s)",
                (first + n - 1,),
            )
        return first

    def _cursor(self) -> Any:
        return self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        with self.conn.begin():
            first = self._reserve(len(rows))
            columns = ", ".join(("id", *ENTRY_COLUMNS))
            with (
                self._cursor() as cur,
                cur.copy(f"COPY hash_entries ({columns}) FROM STDIN") as copy,
            ):
                for offset, row in enumerate(rows):
                    copy.write_row((first + offset, *row))
            return first

    def run(self, run: EntryRun) -> int:
        n = run.count
        with self.conn.begin():
            first = self._reserve(n)
            digits = run.values.hex()
            w = 2 * run.width
            category = "\\N" if run.category is None else str(int(run.category))
            head = f"\t{run.hashset_id}\t{_copy_text(run.algorithm)}\t\\\\x"
            tail = f"\t{_copy_text(run.prefix)}"
            base = run.first - first
            text = "".join(
                [
                    f"{i}{head}{digits[(i - first) * w : (i - first + 1) * w]}{tail}"
                    f"{i + base}\t{category}\n"
                    for i in range(first, first + n)
                ]
            )
            with (
                self._cursor() as cur,
                cur.copy(
                    "COPY hash_entries (id, hashset_id, algorithm, value, entry, category)"
                    " FROM STDIN"
                ) as copy,
            ):
                copy.write(text)
            return first


def entry_writer(conn: Connection) -> EntryWriter:
    """The bulk writer for ``conn``'s database."""
    name = conn.dialect.name
    if name == "sqlite":
        return SqliteEntryWriter(conn)
    if name == "postgresql":
        return PostgresEntryWriter(conn)
    raise NotImplementedError(f"no bulk writer for {name}")
