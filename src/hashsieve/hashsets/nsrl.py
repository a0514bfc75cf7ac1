"""NIST NSRL: the RDSv3 SQLite publications and the legacy RDSv2 ``NSRLFile.txt``.

NSRL lists software files; NIST states it holds no illicit material. A hit means "known and not
pertinent", so every record carries category 0 and the formats are ``always_known_good``.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import ClassVar

from hashsieve.errors import HashSetFormatError
from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord, ParseProblem
from hashsieve.hashsets.categories import NON_PERTINENT
from hashsieve.hashsets.lists import head_lines, parse_hex
from hashsieve.hashsets.text import open_text

SQLITE_MAGIC = b"SQLite format 3\x00"
_HASH_COLUMNS = ("sha256", "sha1", "md5")


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only URI: a reference database is never modified, even by accident.
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _objects(conn: sqlite3.Connection) -> set[str]:
    return {name.upper() for (name,) in conn.execute("SELECT name FROM sqlite_master")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1].lower() for row in conn.execute(f'PRAGMA table_info("{table}")')}


def _hash_records(row: tuple[str | None, ...], entry: str) -> Iterator[HashRecord | ParseProblem]:
    """Records of one (sha256, sha1, md5) row; NULL columns are absent hashes."""
    for algorithm, raw in zip(_HASH_COLUMNS, row, strict=True):
        if raw is None or raw == "":
            continue
        value = parse_hex(raw, HEX_LENGTHS[algorithm])
        if value is None:
            yield ParseProblem(entry, f"{algorithm} {str(raw)[:80]!r} is not a valid hash")
        else:
            yield HashRecord(algorithm, value, entry, NON_PERTINENT, None, None)


class NsrlRds3Format:
    """RDSv3 SQLite. Minimal layout: the ``DISTINCT_HASH`` view (6x fewer rows than ``FILE``);
    full layout: the ``METADATA`` table, one row per file object (``FILE`` repeats it per package).
    """

    name: ClassVar[str] = "nsrl-rds3"
    description: ClassVar[str] = "NIST NSRL RDSv3 SQLite database (full or minimal)"
    always_known_good: ClassVar[bool] = True
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        try:
            with closing(_connect(path)) as conn:
                objects = _objects(conn)
                if "DISTINCT_HASH" in objects or ("METADATA" in objects and "FILE" in objects):
                    return True
                return "FILE" in objects and {"md5", "sha1", "file_name"} <= _columns(conn, "FILE")
        except sqlite3.Error:
            return False

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        # A file named as this format that is no RDSv3 database (or a damaged one): one clear
        # error, never sqlite3's own (found by fuzz/hashsets.py).
        try:
            yield from self._read(path)
        except sqlite3.Error as exc:
            raise HashSetFormatError(
                f"{path.name} is not a readable NSRL RDSv3 database: {exc}"
            ) from exc

    def _read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        db = path.name
        with closing(_connect(path)) as conn:
            objects = _objects(conn)
            if "DISTINCT_HASH" in objects:
                rows = conn.execute("SELECT sha256, sha1, md5 FROM DISTINCT_HASH")
                for number, row in enumerate(rows, 1):
                    yield from _hash_records(row, f"{db}:{number}")
            elif "METADATA" in objects:
                rows = conn.execute(
                    "SELECT metadata_id, file_name, extension, sha256, sha1, md5 FROM METADATA"
                )
                for metadata_id, file_name, extension, *hashes in rows:
                    name = f"{file_name}.{extension}" if extension else file_name
                    yield from _hash_records(tuple(hashes), f"{db}:{metadata_id} {name}")
            else:
                rows = conn.execute("SELECT file_name, sha256, sha1, md5 FROM FILE")
                for number, (file_name, *hashes) in enumerate(rows, 1):
                    yield from _hash_records(tuple(hashes), f"{db}:{number} {file_name}")


#: RDSv2 header names (upper-cased) we use; MD4, CRC32 and product columns are ignored.
_TXT_HASHES = {"SHA-1": "sha1", "MD5": "md5"}


def _txt_columns(header: list[str]) -> dict[str, int] | None:
    cells = [cell.strip().upper() for cell in header]
    if not {"SHA-1", "MD5", "FILENAME"} <= set(cells):
        return None
    return {name: cells.index(name) for name in (*_TXT_HASHES, "FILENAME")}


class NsrlTextFormat:
    """Legacy ``NSRLFile.txt``: quoted CSV, columns found by header name (two header orders exist).

    The same hash recurs once per product; duplicates are left to the store to merge.
    """

    name: ClassVar[str] = "nsrl-txt"
    description: ClassVar[str] = "NIST NSRL RDSv2 NSRLFile.txt"
    always_known_good: ClassVar[bool] = True
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        lines = head_lines(head, limit=1)
        return bool(lines) and _txt_columns(next(csv.reader(lines))) is not None

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        name = path.name
        # RDSv2 file names are not all UTF-8; they are only shown, so replace what cannot decode.
        with open_text(path, newline="") as stream:
            reader = csv.reader(stream)
            columns = _txt_columns(next(reader, []))
            if columns is None:
                yield ParseProblem(f"{name}:1", "not an NSRLFile.txt header")
                return
            width = max(columns.values()) + 1
            for row in reader:
                line = f"{name}:{reader.line_num}"
                if len(row) < width:
                    if any(row):
                        yield ParseProblem(line, f"{len(row)} columns, expected {width} or more")
                    continue
                entry = f"{line} {row[columns['FILENAME']]}"
                for column, algorithm in _TXT_HASHES.items():
                    raw = row[columns[column]]
                    value = parse_hex(raw, HEX_LENGTHS[algorithm])
                    if value is None:
                        yield ParseProblem(entry, f"{column} {raw[:80]!r} is not a valid hash")
                    else:
                        yield HashRecord(algorithm, value, entry, NON_PERTINENT, None, None)
