"""hashdeep (md5deep's multi-hash tool) files: a ``%%%% HASHDEEP-1.0`` header, a ``%%%% size,...,
filename`` line naming the columns, ``##`` comments, then ``size,<hash>...,filename`` lines.

Columns are whatever ``-c`` chose (md5, sha1, sha256, tiger, whirlpool; default md5,sha256); the
ones hashsieve holds become records, tiger and whirlpool are skipped. The file name is the last
column and may hold commas, so a line is split at most ``columns - 1`` times.

Written back (``hashset export --format hashdeep``) one algorithm a file, ``size,<algo>,filename``:
hashsieve keeps no file sizes, so the size column is 0 (hashdeep's audit mode would report a size
mismatch; matching by hash is unaffected). Not checked against hashdeep itself here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar, TextIO

from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord, ParseProblem
from hashsieve.hashsets.lists import parse_hex
from hashsieve.hashsets.text import open_text

HEADER = "%%%% HASHDEEP-1.0"
_PREFIX = "%%%% "
#: hashdeep's algorithm names that hashsieve holds (the others are skipped).
_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256"}
#: Algorithms a hashdeep file can carry that hashsieve writes.
WRITABLE = tuple(_ALGORITHMS)


class HashdeepFormat:
    name: ClassVar[str] = "hashdeep"
    description: ClassVar[str] = "hashdeep files (%%%% HASHDEEP-1.0, size,md5,sha256,filename)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip().startswith(HEADER.encode())

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        name = path.name
        columns: list[str] | None = None
        with open_text(path) as stream:
            for lineno, raw in enumerate(stream, 1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith("##"):
                    continue
                if line.startswith(_PREFIX):
                    if line.strip() != HEADER:  # the column line (a file may repeat both)
                        columns = [c.strip().lower() for c in line[len(_PREFIX) :].split(",")]
                    continue
                entry = f"{name}:{lineno}"
                if columns is None or "filename" not in columns:
                    yield ParseProblem(entry, "no '%%%% size,...,filename' line before the hashes")
                    return
                cells = line.split(",", len(columns) - 1)
                if len(cells) != len(columns):
                    yield ParseProblem(
                        entry, f"{len(cells)} columns, the header names {len(columns)}"
                    )
                    continue
                file_name = cells[columns.index("filename")]
                found = False
                for column, cell in zip(columns, cells, strict=True):
                    algorithm = _ALGORITHMS.get(column)
                    if algorithm is None:
                        continue
                    value = parse_hex(cell, HEX_LENGTHS[algorithm])
                    if value is None:
                        yield ParseProblem(entry, f"{column} {cell[:80]!r} is not a valid hash")
                    else:
                        found = True
                        yield HashRecord(algorithm, value, f"{entry} {file_name}"[:500])
                if not found and not any(c in _ALGORITHMS for c in columns):
                    yield ParseProblem(entry, "no md5, sha1 or sha256 column")
                    return


def write_hashdeep(records: Iterable[HashRecord], stream: TextIO, algorithm: str = "md5") -> int:
    """Write the ``algorithm`` records as a hashdeep file; returns the count."""
    if algorithm not in WRITABLE:
        raise ValueError(f"hashdeep files carry {', '.join(WRITABLE)}, not {algorithm!r}")
    stream.write(f"{HEADER}\n{_PREFIX}size,{algorithm},filename\n")
    stream.write("## Written by hashsieve (hashset export); sizes unknown, written as 0\n##\n")
    count = 0
    for record in records:
        if record.algorithm == algorithm:
            name = record.entry.replace("\n", " ")
            stream.write(f"0,{record.value},{name}\n")
            count += 1
    return count
