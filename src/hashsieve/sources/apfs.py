"""APFS containers read with libfsapfs (``pyfsapfs``), for :mod:`hashsieve.sources.disk`: the
installed pytsk3 has no pool API, so The Sleuth Kit cannot open APFS from Python.

A container (a partition, or a whole image without a table) holds volumes; each volume's files
are members under the volume's name: ``disk.raw!/p2/Macintosh HD - Data/Users/x/a.jpg``. A
resource fork, and an extended attribute large enough to be kept in a data stream, is a member
of its own (``a.jpg:com.apple.ResourceFork``), as NTFS streams are. An encrypted volume is one
recorded ``encrypted-volume`` (no key is asked for). APFS keeps no deleted names, so nothing is
``recovered="deleted"`` here; carving covers the space no file's extents claim.
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from hashsieve.sources.mediaview import Media, iso_time
from hashsieve.sources.mediaview import MediaView as _View
from hashsieve.sources.mediaview import first_line as _first_line
from hashsieve.sources.readers import ArchiveError, Entry

__all__ = ["Container", "is_container"]

#: Directory levels walked at most (a corrupt B-tree can describe endless nesting).
MAX_DIR_DEPTH = 256
#: libfsapfs's extent flag for a hole (no blocks behind it).
_SPARSE = 0x1
_RESOURCE_FORK = "com.apple.ResourceFork"
#: The header of a transparently compressed file: its resource fork then holds the file's own
#: compressed data, read through the file, not a fork of its own.
_DECMPFS = "com.apple.decmpfs"


def is_container(block: bytes) -> bool:
    """An APFS container superblock: ``NXSB`` at byte 32 and the object type NX_SUPERBLOCK."""
    return (
        len(block) >= 36
        and block[32:36] == b"NXSB"
        and int.from_bytes(block[24:28], "little") & 0xFFFF == 0x1
    )


def _iso(nanos: int | None) -> str | None:
    return iso_time(nanos / 1e9) if nanos else None


def _times(entry: Any) -> tuple[tuple[str, str], ...]:
    found = []
    for key, getter in (
        ("created", "get_creation_time_as_integer"),
        ("modified", "get_modification_time_as_integer"),
        ("accessed", "get_access_time_as_integer"),
        ("changed", "get_inode_change_time_as_integer"),
    ):
        try:
            text = _iso(getattr(entry, getter)())
        except (OSError, ValueError):
            text = None
        if text is not None:
            found.append((key, text))
    return tuple(found)


def _streams(entry: Any) -> list[tuple[str, int]]:
    """(name, size) of the extended attributes that are members of their own: the resource
    fork (unless it holds a compressed file's data) and any kept in a data stream (inline ones
    are at most 3,804 bytes of metadata: quarantine marks, Finder info, dates)."""
    try:
        attributes = list(entry.extended_attributes)
    except (OSError, ValueError):
        return []
    names = {a.name for a in attributes}
    found = []
    for attribute in attributes:
        name = attribute.name
        if name == _RESOURCE_FORK and _DECMPFS in names:
            continue
        if name == _RESOURCE_FORK or (name != _DECMPFS and attribute.number_of_extents > 0):
            found.append((name, int(attribute.size)))
    return found


class _Stream:
    """A file's or an attribute's bytes through libfsapfs, read in order by ``read(size)``."""

    def __init__(self, source: Any, size: int, what: str, media: Media) -> None:
        self.source, self.size, self.what, self.media = source, size, what, media
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.position
        size = left if size < 0 else min(size, left)
        if size <= 0:
            return b""
        failures = self.media.failures
        try:
            data = self.source.read_buffer_at_offset(size, self.position)
        except (OSError, ValueError) as exc:
            raise ArchiveError("unreadable", f"{self.what}: {_first_line(exc)}") from exc
        if self.media.failures != failures:
            raise ArchiveError(
                "corrupt-image",
                f"{self.what}: its data lies where the image cannot be read "
                f"({self.media.last_failure})",
            )
        if not data:
            raise ArchiveError("unreadable", f"{self.what}: ends at {self.position:,}")
        self.position += len(data)
        return cast(bytes, data)

    def close(self) -> None:
        self.source = None


@dataclass
class Volume:
    """One volume of a container: its member name (unique among its siblings) and handle."""

    name: str
    handle: Any
    problem: str | None = None  # "encrypted-volume", or why it could not be read


class Container:
    """The APFS container at ``offset`` in the media (read-only). Raises :class:`ArchiveError`
    (``unreadable-filesystem``) when libfsapfs cannot open it."""

    def __init__(self, media: Media, offset: int, length: int, what: str) -> None:
        import pyfsapfs

        self.media, self.offset, self.length, self.what = media, offset, length, what
        self.handle = pyfsapfs.container()
        try:
            self.handle.open_file_object(_View(media, offset, length))
            count = int(self.handle.number_of_volumes)
        except (OSError, ValueError, TypeError) as exc:
            raise ArchiveError(
                "unreadable-filesystem", f"{what}: APFS: {_first_line(exc)}"
            ) from exc
        self.volumes: list[Volume] = []
        taken: set[str] = set()
        for index in range(count):
            try:
                handle = self.handle.get_volume(index)
                name, problem = str(handle.name or ""), None
                if handle.is_locked():
                    problem = "encrypted-volume"
            except (OSError, ValueError) as exc:
                handle, name, problem = None, "", f"unreadable-filesystem: {_first_line(exc)}"
            # A member name's component: no "/" and never empty; a clash gets the volume's
            # position in the container, which does not change between openings.
            name = name.replace("/", "_").strip() or f"volume{index + 1}"
            if name in taken:
                name = f"{name}~{index + 1}"
            taken.add(name)
            self.volumes.append(Volume(name, handle, problem))

    def files(self, volume: Volume, prefix: str) -> Iterator[Entry]:
        """Every name of a volume, as :class:`Entry` (files, their streams, and what is not
        read: links, devices, loops, unreadable folders), ``prefix`` before each path."""
        try:
            root = volume.handle.get_root_directory()
        except (OSError, ValueError):
            yield Entry(prefix, 0, 0, problem="unreadable-directory")
            return
        visited = {int(root.identifier)}
        stack: list[tuple[Any, str, int]] = [(root, "", 0)]
        while stack:
            directory, folder, depth = stack.pop()
            try:
                children = sorted(directory.sub_file_entries, key=lambda e: str(e.name))
            except (OSError, ValueError):  # one folder's B-tree records unreadable
                yield Entry(f"{prefix}{folder}", 0, 0, problem="unreadable-directory")
                continue
            subdirs = []
            for child in children:
                path = f"{prefix}{folder}{child.name}"
                try:
                    mode, inode = int(child.file_mode), int(child.identifier)
                    mtime = int(child.get_modification_time_as_integer() or 0)
                except (OSError, ValueError):
                    yield Entry(path, 0, 0, problem="unreadable")
                    continue
                if stat.S_ISDIR(mode):
                    if inode in visited or depth >= MAX_DIR_DEPTH:
                        yield Entry(path + "/", 0, 0, problem="loop")
                        continue
                    visited.add(inode)
                    subdirs.append((child, f"{folder}{child.name}/", depth + 1))
                    continue
                if not stat.S_ISREG(mode):
                    kind = "symlink" if stat.S_ISLNK(mode) else "special-file"
                    yield Entry(path, 0, mtime, problem=kind)
                    continue
                details = (("inode", str(inode)), *_times(child))
                yield Entry(path, int(child.size), mtime, None, None, details)
                for name, size in _streams(child):
                    yield Entry(f"{path}:{name}", size, mtime, None, None, details)
            stack.extend(reversed(subdirs))

    def open(self, volume: Volume, parts: list[str], what: str) -> IO[bytes]:
        """A file (or a ``file:attribute`` stream) of ``volume`` by its path components."""
        if volume.handle is None or volume.problem is not None:
            raise ArchiveError("unreadable", f"{what}: {volume.problem}")
        try:
            folder = "/" + "/".join(parts[:-1]) if parts[:-1] else ""
            last = parts[-1]
            entry = volume.handle.get_file_entry_by_path(f"{folder}/{last}")
            if entry is not None:
                if not stat.S_ISREG(int(entry.file_mode)):
                    raise ArchiveError("unreadable", f"{what}: not a regular file")
                return cast(IO[bytes], _Stream(entry, int(entry.size), what, self.media))
            # ``name:attribute`` (a name may hold ":" itself: the first split that names a
            # file with that attribute is the one listed).
            at = last.find(":")
            while at > 0:
                base, attribute = last[:at], last[at + 1 :]
                entry = volume.handle.get_file_entry_by_path(f"{folder}/{base}")
                if entry is not None and attribute in dict(_streams(entry)):
                    found = entry.get_extended_attribute_by_name(attribute)
                    return cast(IO[bytes], _Stream(found, int(found.size), what, self.media))
                at = last.find(":", at + 1)
        except (OSError, ValueError) as exc:
            raise ArchiveError("unreadable", f"{what}: {_first_line(exc)}") from exc
        raise ArchiveError("unreadable", f"{what}: no such member")

    def used(self) -> Iterator[tuple[int, int]]:
        """(offset, length) in the media of every extent a file or a streamed attribute of an
        unlocked volume claims (a locked volume's are unknown: its blocks are ciphertext)."""
        for volume in self.volumes:
            if volume.handle is None or volume.problem is not None:
                continue
            try:
                stack = [volume.handle.get_root_directory()]
            except (OSError, ValueError):
                continue
            seen: set[int] = set()
            while stack:
                entry = stack.pop()
                try:
                    identifier = int(entry.identifier)
                    if identifier in seen:
                        continue
                    seen.add(identifier)
                    sources = [entry, *entry.extended_attributes]
                    for source in sources:
                        for index in range(int(source.number_of_extents)):
                            start, size, flags = source.get_extent(index)
                            if size > 0 and not flags & _SPARSE:
                                yield self.offset + int(start), int(size)
                    if stat.S_ISDIR(int(entry.file_mode)):
                        stack.extend(entry.sub_file_entries)
                except (OSError, ValueError):
                    continue

    def close(self) -> None:
        self.volumes = []
        with contextlib.suppress(OSError, ValueError):
            self.handle.close()
