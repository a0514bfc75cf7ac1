"""What every hash-set format yields: records, or problems with a line number; never an abort.

A format reads a file (or folder) as a stream so that a list of tens of millions of rows is
imported in bounded memory. A malformed row becomes a :class:`ParseProblem` and reading goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from hashsieve.hashing.algorithms import (
    ALGORITHMS,
    LISTED_ALGORITHMS,
    PART_ALGORITHMS,
    STORED_ALGORITHMS,
)

#: The algorithms a hash-set file may carry, with their lengths in hex digits.
HEX_LENGTHS: dict[str, int] = {n: ALGORITHMS.get(n).hex_length for n in LISTED_ALGORITHMS}
#: Reference parts of known originals (hashsieve.hashing.reference): PDQ codes of a crop or of the
#: upper part, only ever computed by hashsieve from an original, never read from a list.
PART_HEX_LENGTHS: dict[str, int] = {n: ALGORITHMS.get(n).hex_length for n in PART_ALGORITHMS}
#: Every algorithm the store holds.
STORED_HEX_LENGTHS: dict[str, int] = {n: ALGORITHMS.get(n).hex_length for n in STORED_ALGORITHMS}


@dataclass(slots=True)
class HashRecord:
    """One known hash and what the set says about it."""

    algorithm: str  # a key of STORED_HEX_LENGTHS
    value: str  # lower-case hex
    #: Where the record sits inside its set, so a match can be traced to its origin:
    #: "MediaID 17" for VICS, "<file name>:<line>" for line-oriented lists.
    entry: str
    category: int | None = None
    series: str | None = None
    victim_identified: bool | None = None
    #: Provenance, for a hash that is one part of a known item (``entry`` is then display text
    #: only): the item (a video's name for its frame, the original's entry for a reference
    #: part), a frame's time (s), number and PDQ quality, a part's label ("crop 4%").
    item: str | None = None
    seconds: float | None = None
    frame: int | None = None
    quality: int | None = None
    part: str | None = None


@dataclass(slots=True)
class HashBlock:
    """Consecutive lines of a list that are each one bare hash of one algorithm: the columnar
    form of ``len(values)`` records, which the catalogue writes in bulk (``COPY`` on PostgreSQL).

    Record ``i`` is ``HashRecord(algorithm, values[i], f"{prefix}{first + i}")``: exactly what
    :meth:`records` yields, which is the reference the bulk path is tested against.
    """

    algorithm: str
    values: list[str]  # lower-case hex, in line order
    prefix: str  # entry text before the line number ("list.txt:")
    first: int  # line number of values[0]

    def records(self) -> Iterator[HashRecord]:
        algorithm, prefix = self.algorithm, self.prefix
        for number, value in enumerate(self.values, self.first):
            yield HashRecord(algorithm, value, f"{prefix}{number}")

    def __len__(self) -> int:
        return len(self.values)


@dataclass(slots=True)
class ParseProblem:
    """A row that could not be read: where, and why."""

    entry: str
    message: str


class HashSetFormat(Protocol):
    """A hash-set file format. Registered once, by its stable name, in ``hashsets.FORMATS``."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: Formats whose every entry is known-good whatever the user says (NSRL).
    always_known_good: ClassVar[bool]
    #: Each record has a category field of its own (VICS): a record that leaves it out, or gives
    #: a code outside the profile, is decided by the import's ``uncategorised`` policy. Lists
    #: without one take ``--category`` (or none).
    categorised: ClassVar[bool]

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the content (first bytes ``head``; ``b""`` for a folder) is in this format."""
        ...

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        """Stream the set's records and problems, in file order."""
        ...
