"""Opening evidence: read-only, never following a link, without touching the access time."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

_O_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str) -> int:
    """A read-only descriptor of ``path``; O_NOATIME where the OS lets us (it needs ownership or
    CAP_FOWNER), so even the access time of the evidence stays as it was."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    if _O_NOATIME:
        try:
            return os.open(path, flags | _O_NOATIME)
        except PermissionError:
            pass  # fall back to a plain read-only open
    return os.open(path, flags)


def opener(path: str) -> Callable[[], BinaryIO]:
    """A function that opens ``path`` read-only as an unbuffered binary stream each time."""

    def open_stream() -> BinaryIO:
        return os.fdopen(open_readonly(path), "rb", buffering=0)

    return open_stream
