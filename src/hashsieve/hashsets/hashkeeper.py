"""HashKeeper (NDIC) hash sets, ``.hsh``/``.hke``: a CSV whose header names ``file_id,
hashset_id,file_name,directory,hash,file_size,date_modified,...``; ``hash`` is an MD5.

Detected by that header (The Sleuth Kit's ``hk_test`` looks for the same names), before the
generic CSV reader, which would also take its ``hash`` column but not know it is MD5.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord, ParseProblem
from hashsieve.hashsets.lists import head_lines, parse_hex
from hashsieve.hashsets.text import open_text

#: Header names every HashKeeper file has (lower case).
REQUIRED = frozenset({"file_id", "hashset_id", "file_name", "directory", "hash"})


def _header(cells: list[str]) -> dict[str, int] | None:
    names = [c.strip().strip('"').lower() for c in cells]
    return {n: i for i, n in enumerate(names)} if set(names) >= REQUIRED else None


class HashKeeperFormat:
    name: ClassVar[str] = "hashkeeper"
    description: ClassVar[str] = "HashKeeper .hsh/.hke (file_id,hashset_id,...,hash,... CSV)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        lines = head_lines(head, limit=1)
        return bool(lines) and _header(next(csv.reader(lines))) is not None

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        name = path.name
        with open_text(path, newline="") as stream:
            reader = csv.reader(stream)
            columns = _header(next(reader, []))
            if columns is None:
                yield ParseProblem(f"{name}:1", "not a HashKeeper header")
                return
            index, length = columns["hash"], HEX_LENGTHS["md5"]
            where = (columns["directory"], columns["file_name"])
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                entry = f"{name}:{reader.line_num}"
                raw = row[index] if index < len(row) else ""
                value = parse_hex(raw, length)
                if value is None:
                    yield ParseProblem(entry, f"hash {raw[:80]!r} is not an MD5")
                    continue
                file_name = "".join(row[i] for i in where if i < len(row))
                yield HashRecord("md5", value, f"{entry} {file_name}"[:500])
