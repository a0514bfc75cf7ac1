"""Checksum files: GNU ``md5sum``/``sha1sum``/``sha256sum`` and the BSD-style (``--tag``) form.

GNU: ``<hex>  <name>`` (text mode) or ``<hex> *<name>`` (binary mode); a line starting with ``\\``
has a name with ``\\\\`` and ``\\n`` escaped. BSD and ``--tag``: ``MD5 (<name>) = <hex>``, also
``SHA1``, ``SHA256`` (and OpenSSL's ``MD5(<name>)= <hex>``). X-Ways, RECON LAB and many scripts
write one of these. The BSD form names its algorithm; the GNU form only by length, and 64 digits
(``sha256sum``, or PDQ codes laid out the same way) are decided by the bits of the first ones
(:mod:`hashsieve.hashsets.hex64`) or by ``--algorithm``: never guessed.

Written back with :func:`write_sums`: GNU form for MD5 and SHA-1 (what every tool reads), the
``--tag`` form for SHA-256 so that it reads back as SHA-256, never as PDQ; GNU ``sha256sum -c``
accepts both forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar, TextIO

from hashsieve.hashsets import hex64
from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord, ParseProblem
from hashsieve.hashsets.lists import _BY_LENGTH, check_algorithm, decide_64, head_lines, parse_hex
from hashsieve.hashsets.text import open_text

_GNU = re.compile(r"^\\?([0-9A-Fa-f]{32,64}) [ *](.+)$")
_BSD = re.compile(r"^\\?(MD5|SHA1|SHA-1|SHA256|SHA-256|SHA2-256) ?\((.*)\) ?= ?([0-9A-Fa-f]+)$")
_BSD_NAMES = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA-1": "sha1",
    "SHA256": "sha256",
    "SHA-256": "sha256",
    "SHA2-256": "sha256",
}
#: The tool's name for each algorithm it writes (``export --format md5sum|sha1sum|sha256sum``).
SUM_TOOLS: dict[str, str] = {"md5sum": "md5", "sha1sum": "sha1", "sha256sum": "sha256"}


def _unescape(name: str) -> str:
    return name.replace("\\n", "\n").replace("\\\\", "\\")


def _parse(line: str) -> tuple[str | None, str, str] | None:
    """(algorithm or None when told by length only, hex, name) of a checksum line, or None."""
    if match := _BSD.match(line):
        name = _unescape(match.group(2)) if line[0] == "\\" else match.group(2)
        return _BSD_NAMES[match.group(1)], match.group(3), name
    if match := _GNU.match(line):
        name = _unescape(match.group(2)) if line[0] == "\\" else match.group(2)
        return None, match.group(1), name
    return None


class ChecksumFormat:
    """``md5sum``/``sha1sum``/``sha256sum`` output, GNU or BSD-style; one hash and name a line."""

    name: ClassVar[str] = "md5sum"
    description: ClassVar[str] = "md5sum/sha1sum/sha256sum checksum files (GNU and BSD-style)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def __init__(self, algorithm: str | None = None) -> None:
        self.algorithm = check_algorithm(algorithm)

    def with_algorithm(self, algorithm: str) -> ChecksumFormat:
        """This format reading every GNU-form line as ``algorithm``."""
        return ChecksumFormat(algorithm)

    def sniff(self, path: Path, head: bytes) -> bool:
        lines = head_lines(head)
        good = sum(1 for line in lines if _parse(line) is not None)
        return good > 0 and good * 2 > len(lines)

    def _sample_64(self, path: Path) -> list[str]:
        values: list[str] = []
        with open_text(path) as stream:
            for line in stream:
                parsed = _parse(line.rstrip("\r\n"))
                if parsed is not None and parsed[0] is None and len(parsed[1]) == 64:
                    values.append(parsed[1])
                    if len(values) >= hex64.SAMPLE:
                        break
        return values

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        default_64 = self.algorithm or decide_64(path, self._sample_64(path))
        name = path.name
        with open_text(path) as stream:
            for lineno, raw in enumerate(stream, 1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                entry = f"{name}:{lineno}"
                parsed = _parse(line)
                if parsed is None:
                    yield ParseProblem(entry, f"not a checksum line: {line[:80]!r}")
                    continue
                algorithm, digits, file_name = parsed
                if algorithm is None:
                    n = len(digits)
                    algorithm = self.algorithm or (default_64 if n == 64 else _BY_LENGTH.get(n))
                value = parse_hex(digits, HEX_LENGTHS[algorithm]) if algorithm else None
                if algorithm is None or value is None:
                    yield ParseProblem(entry, f"{len(digits)} hex digits are not a known hash")
                else:
                    yield HashRecord(algorithm, value, f"{entry} {file_name}"[:500])


def _escaped(name: str) -> tuple[str, str]:
    """(line prefix, name) the GNU way: a name with a backslash or newline is escaped."""
    if "\\" in name or "\n" in name:
        return "\\", name.replace("\\", "\\\\").replace("\n", "\\n")
    return "", name


def write_sums(records: Iterable[HashRecord], stream: TextIO, tool: str) -> int:
    """Write the records of ``tool``'s algorithm (``md5sum``, ``sha1sum``, ``sha256sum``), named
    by their entries; returns the count. SHA-256 is written in the ``--tag`` form (see above)."""
    algorithm = SUM_TOOLS[tool]
    count = 0
    for record in records:
        if record.algorithm != algorithm:
            continue
        prefix, name = _escaped(record.entry)
        if algorithm == "sha256":
            stream.write(f"{prefix}SHA256 ({name}) = {record.value}\n")
        else:
            stream.write(f"{prefix}{record.value}  {name}\n")
        count += 1
    return count
