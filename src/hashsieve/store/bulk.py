"""Bulk writes of hash entries, one writer per database, each telling the ids it gave.

An import of tens of millions of rows must not read its rows back to learn their ids (the
indexes need them), nor pay a Python call per row more than once. So each batch is written in
one transaction and its ids are known at once:

- **SQLite**: one writer at a time holds the database from its first insert to its commit, and a
  row without an explicit id gets ``max(id) + 1``; the ``n`` rows of one transaction therefore
  have ids ``max - n + 1 .. max``, read with one ``SELECT max(id)`` before the commit. A run of
  list lines is inserted by one ``INSERT ... SELECT`` over a counter table (values cut from one
  blob with ``substr``): no Python per row.
- **PostgreSQL**: the batch first takes ``n`` consecutive ids from the table's sequence in a
  short transaction of its own, under an advisory lock that every writer of ``hash_entries``
  takes before drawing ids (:func:`lock_entry_ids`), then writes its rows through ``COPY`` with
  those ids (psycopg 3 ``cursor.copy``; a run of list lines in COPY's binary format, built by
  numpy: :func:`copy_binary_run`). No table lock is held while the rows go in, so an import's
  batches are copied on several connections at once (:data:`COPY_STREAMS`): the server's COPY
  is the slowest step of an import, and one backend uses one core.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
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

    def close(self) -> None:
        """Give the connection back as it was found."""


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
    """Foreign keys are off on this connection while it writes (PRAGMA foreign_keys is per
    connection; everyone else's stay on): their check is a probe of ``hashsets`` per row, a
    fifth of an insert's CPU, and the catalogue writes a set before its rows (as on
    PostgreSQL, migration 0009_lists)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._counter = 0
        self._foreign_keys(False)

    def _foreign_keys(self, on: bool) -> None:
        # No SQLite transaction is open here (pysqlite begins one at the first write), where
        # the pragma would be ignored.
        with self.conn.begin():
            self.conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")

    def close(self) -> None:
        try:
            self._foreign_keys(True)
        except BaseException:
            # A connection that could not turn its checks back on must not go back to the
            # pool (the pragmas are set when a connection is made, not when it is lent).
            self.conn.invalidate()
            raise

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


#: Connections an import copies its batches on, side by side (PostgreSQL; SQLite has one
#: writer): each is one server backend, one core of the database machine.
COPY_STREAMS = 2
#: The advisory lock (a bigint key) taken by every writer of ``hash_entries`` on PostgreSQL
#: before it draws ids from the table's sequence.
ENTRY_ID_LOCK = 0x6873_6964  # "hsid"


def lock_entry_ids(conn: Connection) -> None:
    """Hold, until the open transaction ends, the lock under which ids of ``hash_entries`` are
    drawn (PostgreSQL; a no-op on SQLite, whose writer holds the whole database). A bulk batch
    draws its ids as ``nextval`` then ``setval``: a ``nextval`` of another writer between the
    two would take an id inside the batch's range."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (ENTRY_ID_LOCK,))


class PostgresEntryWriter(EntryWriter):
    """Each batch reserves its ids, then copies its rows in a transaction of its own.

    Both transactions commit without waiting for their WAL to reach the disk (``SET LOCAL
    synchronous_commit``): a crash may lose the last batches, never corrupt anything, and the
    set stays incomplete until the catalogue marks it complete in a transaction of its own,
    whose synchronous commit flushes every batch's WAL (and every reservation's) before it."""

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.conn.begin():
            self.conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield

    def _reserve(self, n: int) -> int:
        """``n`` consecutive ids from the table's sequence, in a short transaction (sequences
        are not transactional: the ids stay taken whatever the batch's own transaction does)."""
        conn = self.conn
        with self._transaction():
            lock_entry_ids(conn)
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
        first = self._reserve(len(rows))
        with self._transaction():
            columns = ", ".join(("id", *ENTRY_COLUMNS))
            with (
                self._cursor() as cur,
                cur.copy(f"COPY hash_entries ({columns}) FROM STDIN") as copy,
            ):
                for offset, row in enumerate(rows):
                    copy.write_row((first + offset, *row))
            return first

    def run(self, run: EntryRun) -> int:
        first = self._reserve(run.count)
        with self._transaction():
            with (
                self._cursor() as cur,
                cur.copy(
                    "COPY hash_entries (id, hashset_id, algorithm, value, entry, category)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                for part in copy_binary_run(run, first):
                    copy.write(part)
            return first


#: The head of a binary COPY stream (signature, flags, no header extension) and its end.
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PG_TRAILER = struct.pack(">h", -1)


def copy_binary_run(run: EntryRun, first_id: int) -> Iterator[bytes | memoryview]:
    """``run`` as PostgreSQL binary COPY data of (id, hashset_id, algorithm, value, entry,
    category), ids from ``first_id``: built by numpy, no Python per row. A row is fixed-size
    once the entry's line number has a fixed number of digits, so the run is cut where that
    number gains a digit and each piece is one structured array."""
    yield _PG_SIGNATURE
    n, width = run.count, run.width
    algorithm, prefix = run.algorithm.encode(), run.prefix.encode()
    values = np.frombuffer(run.values, np.uint8).reshape(n, width)
    start = 0
    while start < n:
        line = run.first + start
        digits = len(str(line))
        stop = min(n, 10**digits - run.first)  # the first line with one digit more
        fields: list[tuple[Any, ...]] = [
            ("columns", ">i2"),
            ("id_size", ">i4"),
            ("id", ">i4"),
            ("hashset_size", ">i4"),
            ("hashset", ">i4"),
            ("algorithm_size", ">i4"),
            ("algorithm", f"S{len(algorithm)}"),
            ("value_size", ">i4"),
            ("value", "u1", (width,)),
            ("entry_size", ">i4"),
            ("prefix", f"S{len(prefix)}") if prefix else ("prefix", "u1", (0,)),
            ("number", "u1", (digits,)),
            ("category_size", ">i4"),
        ]
        if run.category is not None:
            fields.append(("category", ">i4"))
        rows = np.empty(stop - start, np.dtype(fields))
        rows["columns"] = 6
        rows["id_size"] = rows["hashset_size"] = 4
        rows["id"] = np.arange(first_id + start, first_id + stop, dtype=np.int64)
        rows["hashset"] = run.hashset_id
        rows["algorithm_size"] = len(algorithm)
        rows["algorithm"] = algorithm
        rows["value_size"] = width
        rows["value"] = values[start:stop]
        rows["entry_size"] = len(prefix) + digits
        if prefix:
            rows["prefix"] = prefix
        numbers = np.arange(line, run.first + stop, dtype=np.int64)
        powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
        rows["number"] = (numbers[:, None] // powers) % 10 + ord("0")
        if run.category is None:
            rows["category_size"] = -1  # NULL
        else:
            rows["category_size"] = 4
            rows["category"] = run.category
        yield rows.view(np.uint8).data
        start = stop
    yield _PG_TRAILER


def entry_writer(conn: Connection) -> EntryWriter:
    """The bulk writer for ``conn``'s database."""
    name = conn.dialect.name
    if name == "sqlite":
        return SqliteEntryWriter(conn)
    if name == "postgresql":
        return PostgresEntryWriter(conn)
    raise NotImplementedError(f"no bulk writer for {name}")


def writer_streams(dialect: str) -> int:
    """Connections an import writes its batches on at once: SQLite has one writer."""
    return COPY_STREAMS if dialect == "postgresql" else 1
