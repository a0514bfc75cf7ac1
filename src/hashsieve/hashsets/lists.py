"""Line-oriented hash sets: plain hex lists, python-threatexchange local files, CSV with a header.

Also the small parsing helpers the other formats share (hex and flag normalisation, sniffing the
first lines of a text file). Parsing is kept cheap because a list can hold tens of millions of
lines: no regex per line, hex checked with ``bytes.fromhex``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar, TextIO

from hashsieve.errors import HashSetFormatError
from hashsieve.hashsets import hex64
from hashsieve.hashsets.base import HEX_LENGTHS, HashBlock, HashRecord, ParseProblem
from hashsieve.hashsets.text import UTF8_BOM, open_text

#: How many data lines a text sniffer looks at; a majority of them must parse.
SNIFF_LINES = 20
#: Algorithm of a bare hex string by its length, where only one has that length; 64 is ambiguous
#: (SHA-256 or PDQ), decided per set.
_BY_LENGTH = {
    length: name
    for name, length in HEX_LENGTHS.items()
    if list(HEX_LENGTHS.values()).count(length) == 1
}
#: Characters a plain list is read by at a time (a few MB: bounded memory, cheap per-line cost).
_BLOCK_CHARS = 1 << 22
#: python-threatexchange signal types that carry a hash we can use. Video MD5 is a plain MD5 of the
#: file's bytes, so it matches like any other MD5.
TX_SIGNAL_TYPES: dict[str, str] = {
    "pdq": "pdq",
    "md5": "md5",
    "video_md5": "md5",
    "photo_md5": "md5",
}
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
#: A comment line that declares the algorithm of every line of a plain list (written by export).
ALGORITHM_DIRECTIVE = "# algorithm:"


def parse_hex(value: object, length: int) -> str | None:
    """Lower-case hex of exactly ``length`` digits, or None when ``value`` is not that."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) != length:
        return None
    try:
        # fromhex skips whitespace between bytes: the byte count proves every char was a digit.
        if len(bytes.fromhex(value)) * 2 != length:
            return None
    except ValueError:
        return None
    return value.lower()


def parse_bool(value: object) -> bool | None:
    """A VICS-style flag: JSON boolean or "true"/"false" (and yes/no, 1/0); None when unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def parse_category(value: object) -> int | None:
    """An integer category from an int or a digit string; raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):  # bool is an int subclass; True is no category
        raise ValueError(f"category {value!r} is not an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"category {value!r} is not a non-negative integer")


def head_lines(head: bytes, limit: int = SNIFF_LINES) -> list[str]:
    """The first data lines of a text head (no blanks, no ``#`` comments); [] for binary data."""
    if b"\0" in head:
        return []
    text = head.removeprefix(UTF8_BOM).decode("utf-8", "replace")
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines.pop()  # the head may have cut the last line short
    data = [s for line in lines if (s := line.strip()) and not s.startswith("#")]
    return data[:limit]


def _mostly(lines: list[str], ok: Callable[[str], bool]) -> bool:
    good = sum(1 for line in lines if ok(line))
    return good > 0 and good * 2 > len(lines)


def _open_text(path: Path) -> TextIO:
    return open_text(path, newline="")


def _algorithm_for(value: str, default_64: str | None) -> str | None:
    n = len(value)
    return default_64 if n == 64 else _BY_LENGTH.get(n)


def check_algorithm(algorithm: str | None) -> str | None:
    """``algorithm`` when it is one that lists carry (or None); ValueError otherwise."""
    if algorithm is not None and algorithm not in HEX_LENGTHS:
        raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(HEX_LENGTHS)})")
    return algorithm


def decide_64(path: Path, values: list[str]) -> str | None:
    """What the 64-digit ``values`` sampled from ``path`` are (see :mod:`hex64`); None when there
    are none. Raises HashSetFormatError when the bits do not tell: never a silent guess."""
    if not values:
        return None
    decided = hex64.classify(values)
    if decided is None:
        raise HashSetFormatError(hex64.undecided_message(str(path), len(values)))
    return decided


#: Lines a plain list's sampler reads at most looking for 64-digit values (bounded work).
_SAMPLE_LINES = 200_000


class PlainListFormat:
    """One MD5, SHA-1, SHA-256 or PDQ hex per line; the algorithm is told by the length.

    64 digits are SHA-256 or PDQ: a ``# algorithm: pdq`` line in the file says which (it applies
    to every following line, and is what :func:`hashsieve.hashsets.export.write_plain` writes),
    or ``algorithm`` (``hashset import --algorithm``) for every line, or ``default_64``.
    Otherwise the bits of the first 64-digit lines decide (:mod:`hashsieve.hashsets.hex64`),
    and a list they do not decide is refused (HashSetFormatError) asking for ``--algorithm``.
    """

    name: ClassVar[str] = "plain"
    description: ClassVar[str] = "plain list, one MD5/SHA-1/SHA-256/PDQ hex per line"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def __init__(self, default_64: str | None = None, algorithm: str | None = None) -> None:
        if default_64 not in (None, "sha256", "pdq"):
            raise ValueError(f"default_64 must be 'sha256' or 'pdq', not {default_64!r}")
        self.default_64 = default_64
        self.algorithm = check_algorithm(algorithm)

    def with_algorithm(self, algorithm: str) -> PlainListFormat:
        """This format reading every line as ``algorithm``."""
        return PlainListFormat(self.default_64, algorithm)

    def sniff(self, path: Path, head: bytes) -> bool:
        return _mostly(
            head_lines(head),
            lambda s: (
                (a := _algorithm_for(s, "sha256")) is not None
                and parse_hex(s, HEX_LENGTHS[a]) is not None
            ),
        )

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        return _PlainReader(path, self.default_64, self.algorithm).records()

    def read_blocks(self, path: Path) -> Iterator[HashBlock | HashRecord | ParseProblem]:
        """As :meth:`read`, with runs of bare hashes of one algorithm as :class:`HashBlock`
        (the bulk path of an import); expanded, the same records in the same order."""
        return _PlainReader(path, self.default_64, self.algorithm).blocks()


class _PlainReader:
    """The state of one read of a plain list (the ``# algorithm:`` directive in force)."""

    def __init__(self, path: Path, default_64: str | None, forced: str | None) -> None:
        self.path = path
        self.prefix = f"{path.name}:"
        self.default_64 = default_64
        self._forced = forced

    def _sample_64(self) -> list[str]:
        """The first 64-digit lines before any ``# algorithm:`` line (which would decide)."""
        values: list[str] = []
        number = 0
        with open_text(self.path) as stream:
            # Read in blocks, not line by line: an MD5 list has no 64-digit line, so all of its
            # first _SAMPLE_LINES lines are looked at.
            while block := stream.read(1 << 20):
                if block[-1] != "\n":
                    block += stream.readline()
                for raw in block.split("\n")[: -1 if block.endswith("\n") else None]:
                    line = raw.strip()
                    if number >= _SAMPLE_LINES or len(values) >= hex64.SAMPLE:
                        return values
                    if line.lower().startswith(ALGORITHM_DIRECTIVE):
                        return values
                    if len(line) == 64:
                        values.append(line)
                    number += 1
        return values

    def records(self) -> Iterator[HashRecord | ParseProblem]:
        for item in self.blocks():
            if isinstance(item, HashBlock):
                yield from item.records()
            else:
                yield item

    def blocks(self) -> Iterator[HashBlock | HashRecord | ParseProblem]:
        if self._forced is None and self.default_64 is None:
            self.default_64 = decide_64(self.path, self._sample_64())
        prefix = self.prefix
        lineno = 0
        # Universal newlines: CRLF arrives as "\n". Blocks end on a line boundary.
        with open_text(self.path) as stream:
            while block := stream.read(_BLOCK_CHARS):
                if block[-1] != "\n":
                    block += stream.readline()
                lines = block.split("\n")
                if not lines[-1]:
                    lines.pop()
                by_length = self._lengths(block, lines)
                if by_length is not None:
                    # Fast path, the usual case: every line is a bare hash. One lower() and one
                    # fromhex() per block; a block of one length is one HashBlock.
                    lowered = block.lower().split("\n")
                    if not lowered[-1]:
                        lowered.pop()
                    lengths = set(map(len, lowered))
                    if len(lengths) == 1:
                        yield HashBlock(by_length[lengths.pop()], lowered, prefix, lineno + 1)
                    else:
                        for number, line in enumerate(lowered, lineno + 1):
                            yield HashRecord(
                                by_length[len(line)], line, f"{prefix}{number}", None, None, None
                            )
                else:
                    yield from self._read_lines(lines, lineno)
                lineno += len(lines)

    def _lengths(self, block: str, lines: list[str]) -> dict[int, str] | None:
        """The length -> algorithm map when every line of the block is a valid bare hash."""
        by_length = (
            {HEX_LENGTHS[self._forced]: self._forced}
            if self._forced
            else {**_BY_LENGTH, 64: self.default_64}
            if self.default_64
            else dict(_BY_LENGTH)
        )
        if not set(map(len, lines)) <= by_length.keys():
            return None  # blank lines, comments, other lengths: the line-by-line path
        try:
            # fromhex skips whitespace: the byte count proves only the newlines were skipped.
            digits = len(bytes.fromhex(block)) * 2
        except ValueError:
            return None
        return by_length if digits == len(block) - block.count("\n") else None

    def _read_lines(self, lines: list[str], lineno: int) -> Iterator[HashRecord | ParseProblem]:
        prefix = self.prefix
        fromhex = bytes.fromhex
        for number, raw in enumerate(lines, lineno + 1):
            line = raw.strip()
            if not line:
                continue
            if line[0] == "#":
                if line.lower().startswith(ALGORITHM_DIRECTIVE):
                    forced = line[len(ALGORITHM_DIRECTIVE) :].strip().lower()
                    if forced in HEX_LENGTHS:
                        self._forced = forced
                    else:
                        yield ParseProblem(f"{prefix}{number}", f"unknown algorithm {forced!r}")
                continue
            n = len(line)
            algorithm = self._forced or (self.default_64 if n == 64 else _BY_LENGTH.get(n))
            if algorithm is not None and HEX_LENGTHS[algorithm] == n:
                try:
                    valid = len(fromhex(line)) * 2 == n
                except ValueError:
                    valid = False
                if valid:
                    yield HashRecord(algorithm, line.lower(), f"{prefix}{number}")
                    continue
            if algorithm is None and n == 64 and self._forced is None:
                yield ParseProblem(
                    f"{prefix}{number}",
                    "64 hex digits (SHA-256 or PDQ) after the sampled lines; "
                    "import with --algorithm sha256 or pdq",
                )
                continue
            expected = f"a {self._forced} hash" if self._forced else "32, 40 or 64 hex digits"
            yield ParseProblem(f"{prefix}{number}", f"not {expected}: {line[:80]!r}")


def _tx_line(line: str) -> tuple[str, str] | None:
    """(algorithm, hex) of a ``<signal_type> <hash>`` line, or None."""
    parts = line.split(None, 1)
    if len(parts) != 2:
        return None
    algorithm = TX_SIGNAL_TYPES.get(parts[0].lower())
    if algorithm is None:
        return None
    value = parse_hex(parts[1], HEX_LENGTHS[algorithm])
    return None if value is None else (algorithm, value)


class ThreatExchangeFormat:
    """python-threatexchange ``local_file`` lists: ``<signal_type> <hash>`` per line."""

    name: ClassVar[str] = "threatexchange"
    description: ClassVar[str] = "python-threatexchange local file (`pdq <hex>`, `video_md5 <hex>`)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return _mostly(head_lines(head), lambda s: _tx_line(s) is not None)

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        name = path.name
        with _open_text(path) as stream:
            for lineno, raw in enumerate(stream, 1):
                line = raw.strip()
                if not line or line[0] == "#":
                    continue
                parsed = _tx_line(line)
                if parsed is None:
                    kind = line.split(None, 1)[0].lower()
                    why = (
                        "bad hash"
                        if kind in TX_SIGNAL_TYPES
                        else f"unsupported signal type {kind!r}"
                    )
                    yield ParseProblem(f"{name}:{lineno}", f"{why}: {line[:80]!r}")
                else:
                    yield HashRecord(parsed[0], parsed[1], f"{name}:{lineno}")


def _column_key(header: str) -> str:
    return "".join(ch for ch in header.strip().lower() if ch.isalnum())


#: Normalised column names (lower case, letters and digits only) -> what the column holds.
#: "hash" and "signalstr" hold any algorithm, told by "signaltype" or by length.
CSV_COLUMNS: dict[str, str] = {
    "md5": "md5",
    "md5hash": "md5",
    "sha1": "sha1",
    "sha1hash": "sha1",
    "sha256": "sha256",
    "sha256hash": "sha256",
    "pdq": "pdq",
    "pdqhash": "pdq",
    "hash": "hash",
    "hashvalue": "hash",
    "signalstr": "hash",
    "signaltype": "signal_type",
    "category": "category",
    "series": "series",
    "seriesname": "series",
    "victimidentified": "victim_identified",
}
_HASH_ROLES = frozenset({*HEX_LENGTHS, "hash"})
_DELIMITERS = (",", ";", "\t")


def _csv_header(line: str) -> tuple[str, dict[str, int]] | None:
    """(delimiter, role -> column index) when ``line`` is a header naming a hash column."""
    for delimiter in _DELIMITERS:
        if delimiter not in line and delimiter != ",":
            continue
        cells = next(csv.reader([line], delimiter=delimiter))
        roles: dict[str, int] = {}
        for index, cell in enumerate(cells):
            role = CSV_COLUMNS.get(_column_key(cell))
            if role is not None:
                roles.setdefault(role, index)
        if _HASH_ROLES & roles.keys():
            return delimiter, roles
    return None


class CsvFormat:
    """A CSV (``,``, ``;`` or tab) whose header names its hash columns, case-insensitively.

    Columns: md5, sha1/sha-1, sha256, pdq, or a generic hash/signal_str told by a signal_type
    column (``tx dataset --csv``) or by length; optional category, series, victim identified.
    A category that is not an integer (ThreatExchange has its own words) is left out.
    """

    name: ClassVar[str] = "csv"
    description: ClassVar[str] = "CSV with a header naming md5/sha1/sha256/pdq/hash columns"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def __init__(self, default_64: str | None = None, algorithm: str | None = None) -> None:
        self.default_64 = default_64
        self.algorithm = check_algorithm(algorithm)

    def with_algorithm(self, algorithm: str) -> CsvFormat:
        """This format reading a generic ``hash`` column as ``algorithm``."""
        return CsvFormat(self.default_64, algorithm)

    def sniff(self, path: Path, head: bytes) -> bool:
        lines = head_lines(head, limit=1)
        return bool(lines) and _csv_header(lines[0]) is not None

    def _sample_64(self, path: Path) -> list[str]:
        """64-digit values of the generic hash column (no signal type) in the first rows."""
        values: list[str] = []
        with _open_text(path) as stream:
            header: tuple[str, dict[str, int]] | None = None
            for raw in stream:
                line = raw.strip()
                if line and not line.startswith("#"):
                    header = _csv_header(line)
                    break
            if header is None or "hash" not in header[1] or "signal_type" in header[1]:
                return values
            column = header[1]["hash"]
            for number, row in enumerate(csv.reader(stream, delimiter=header[0])):
                if number >= _SAMPLE_LINES or len(values) >= hex64.SAMPLE:
                    break
                if column < len(row) and len(cell := row[column].strip()) == 64:
                    values.append(cell)
        return values

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        if self.algorithm is None and self.default_64 is None:
            decided = decide_64(path, self._sample_64(path))
            if decided is not None:
                yield from CsvFormat(decided).read(path)
                return
        name = path.name
        with _open_text(path) as stream:
            header_line = 0
            header: tuple[str, dict[str, int]] | None = None
            for raw in stream:
                header_line += 1
                line = raw.strip()
                if line and not line.startswith("#"):
                    header = _csv_header(line)
                    break
            if header is None:
                yield ParseProblem(f"{name}:{header_line}", "no header naming a hash column")
                return
            delimiter, roles = header
            reader = csv.reader(stream, delimiter=delimiter)
            hash_columns = [r for r in (*HEX_LENGTHS, "hash") if r in roles]
            for row in reader:
                if any(row):
                    entry = f"{name}:{header_line + reader.line_num}"
                    yield from self._row(row, roles, hash_columns, entry)

    def _row(
        self, row: list[str], roles: dict[str, int], hash_columns: Sequence[str], entry: str
    ) -> Iterator[HashRecord | ParseProblem]:
        def cell(role: str) -> str:
            index = roles.get(role)
            return row[index].strip() if index is not None and index < len(row) else ""

        try:
            category = parse_category(cell("category"))
        except ValueError:
            category = None  # e.g. ThreatExchange's own category words
        series = cell("series") or None
        victim = parse_bool(cell("victim_identified"))
        found = False
        for role in hash_columns:
            raw = cell(role)
            if not raw:
                continue
            found = True
            algorithm: str | None = role
            if role == "hash":
                signal_type = cell("signal_type").lower()
                if signal_type:
                    algorithm = TX_SIGNAL_TYPES.get(signal_type)
                    if algorithm is None:
                        yield ParseProblem(entry, f"unsupported signal type {signal_type!r}")
                        continue
                elif self.algorithm is not None:
                    algorithm = self.algorithm
                else:
                    algorithm = _algorithm_for(raw, self.default_64)
            value = parse_hex(raw, HEX_LENGTHS[algorithm]) if algorithm else None
            if algorithm is None and len(raw) == 64:
                yield ParseProblem(entry, "64 hex digits (SHA-256 or PDQ): use --algorithm")
            elif algorithm is None or value is None:
                yield ParseProblem(entry, f"bad {algorithm or 'hash'} value {raw[:80]!r}")
            else:
                yield HashRecord(algorithm, value, entry, category, series, victim)
        if not found:
            yield ParseProblem(entry, "no hash in this row")
