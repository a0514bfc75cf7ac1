"""Evidence-source plugins, registered in one place."""

from collections.abc import Callable

from hashsieve.registry import Registry
from hashsieve.sources.base import EvidenceSource, SourceFile, SourceProblem
from hashsieve.sources.folder import FolderSource

#: Evidence sources by name, each a factory taking the location the user gave.
SOURCES: Registry[Callable[[str], EvidenceSource]] = Registry("evidence source")
SOURCES.register("folder", FolderSource)


def open_source(location: str, kind: str = "folder") -> EvidenceSource:
    """The source for a location given by the user: by default a folder or a single file (the
    archives among its files are listed later, by the scan: :mod:`hashsieve.sources.archive`)."""
    return SOURCES.get(kind)(location)


__all__ = [
    "SOURCES",
    "EvidenceSource",
    "FolderSource",
    "SourceFile",
    "SourceProblem",
    "open_source",
]
