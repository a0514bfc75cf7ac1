"""Evidence-source plugins, registered in one place."""

from hashsieve.registry import Registry
from hashsieve.sources.base import EvidenceSource, SourceFile, SourceProblem
from hashsieve.sources.folder import FolderSource

SOURCES: Registry[type[EvidenceSource]] = Registry("evidence source")
SOURCES.register("folder", FolderSource)


def open_source(location: str) -> EvidenceSource:
    """The source for a path given by the user: a folder or a single file (the archives among
    its files are listed later, by the scan: :mod:`hashsieve.sources.archive`)."""
    return FolderSource(location)


__all__ = [
    "SOURCES",
    "EvidenceSource",
    "FolderSource",
    "SourceFile",
    "SourceProblem",
    "open_source",
]
