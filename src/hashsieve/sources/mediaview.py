"""A stretch of a disk image's media as the file object the libyal readers take (libfsapfs,
libvshadow), and the helpers the image readers share: kept apart from ``disk``, which imports
those readers."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Protocol


class Media(Protocol):
    """What :class:`hashsieve.sources.disk._Media` offers."""

    size: int
    failures: int
    last_failure: str

    def read_or_zeros(self, offset: int, size: int) -> bytes: ...


class MediaView:
    """Bytes ``offset .. offset + length`` of the media as a read-only file object."""

    def __init__(self, media: Media, offset: int, length: int) -> None:
        self.media, self.offset, self.length = media, offset, length
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        left = self.length - self.position
        size = left if size < 0 else min(size, left)
        if size <= 0:
            return b""
        data = self.media.read_or_zeros(self.offset + self.position, size)
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def get_size(self) -> int:
        return self.length


def first_line(exc: BaseException) -> str:
    """An exception's first line (libyal errors run to a dozen), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def iso_time(seconds: float) -> str | None:
    """A file system's time (seconds since 1970, UTC) as ISO 8601; None when unset or absurd."""
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None
