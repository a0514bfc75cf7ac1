"""Evidence sources: where the files of a case come from (folders and files; forensic images
would register the same way). Archives found among the files are opened by the scan itself,
through :mod:`hashsieve.sources.archive`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A regular file found in the evidence, not yet read."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """Something in the evidence that is not hashed, and why (recorded, never fatal)."""

    path: str
    reason: str  # "symlink", "special-file", "permission", "loop", "unreadable"
    detail: str


class EvidenceSource(Protocol):
    name: str

    def files(self) -> Iterator[SourceFile | SourceProblem]:
        """Every file of the source, in a stable order."""
        ...
