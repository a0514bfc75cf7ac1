"""Volume Shadow Copies of an NTFS volume, read with libvshadow (``pyvshadow``), for
:mod:`hashsieve.sources.disk` (``scan --shadow-copies``; off by default).

Windows keeps, inside the volume, the old content of every block changed since each snapshot;
libvshadow puts the blocks back together, so each store reads as the whole volume as it was, and
The Sleuth Kit reads its NTFS like the live one. A store's files are members under ``vss1``,
``vss2``, ... (``vss1`` the oldest) beside the live volume's root: ``disk.E01!/p1/vss1/Users/
x/a.jpg``; a live root entry of that very name pushes the store's to ``vss1~shadow``.

Nothing is ever written: libvshadow reads the volume through :class:`_View` (the media's
``read_or_zeros``), and stores are opened only for volumes whose header at 0x1e00 carries the
VSS identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hashsieve.sources.mediaview import Media
from hashsieve.sources.mediaview import MediaView as _View

__all__ = ["Store", "has_shadow_copies", "open_stores", "store_prefix"]

#: Where the VSS volume header lies in an NTFS volume, and the identifier it starts with.
HEADER_OFFSET = 0x1E00
VSS_IDENTIFIER = bytes.fromhex("6b87083876c1484eb7ae04046e6cc752")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def has_shadow_copies(media: Media, offset: int) -> bool:
    """The volume at ``offset`` has a VSS volume header (stores may still be none)."""
    return media.read_or_zeros(offset + HEADER_OFFSET, 16) == VSS_IDENTIFIER


def store_prefix(number: int, live_names: set[str]) -> str:
    """The member folder of store ``number`` (1 = the oldest): ``vss1``, or ``vss1~shadow``
    when the live volume's root has an entry of that name."""
    name = f"vss{number}"
    return name if name.lower() not in {n.lower() for n in live_names} else f"{name}~shadow"


@dataclass
class Store:
    """One shadow copy: ``number`` (1 = the oldest), its creation time, and what reads it
    (``read_or_zeros(offset, size)``, ``size``), or ``problem`` when libvshadow refused it."""

    number: int
    size: int = 0
    created: str | None = None
    handle: Any = None
    problem: str | None = None
    #: Reads libvshadow failed (a damaged block list): zeros were given instead, as the disk
    #: media does for an unreadable range, and a file read over them is a recorded error.
    failures: int = 0
    last_failure: str = ""
    failed: tuple[tuple[int, int], ...] = ()  # the ranges given as zeros (see disk._Media)

    def read_or_zeros(self, offset: int, size: int) -> bytes:
        size = min(size, self.size - offset)
        if size <= 0:
            return b""
        try:
            data: bytes = self.handle.read_buffer_at_offset(size, offset)
        except (OSError, RuntimeError, AttributeError) as exc:
            self.failures += 1
            self.last_failure = f"shadow copy {self.number} at {offset:,}: {_last_reason(exc)}"
            self.failed += ((offset, offset + size),)
            return bytes(size)
        return data + bytes(size - len(data))


def _last_reason(exc: BaseException) -> str:
    """libvshadow's innermost reason: the first sentence of its error chain."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    parts = [p.strip() for p in text.split(". ") if p.strip()]
    return parts[1] if len(parts) > 1 else parts[0]


class Stores:
    """The stores of one volume, opened together (``close()`` releases libvshadow's handle)."""

    def __init__(self, volume: Any, stores: list[Store]) -> None:
        self.volume, self.stores = volume, stores

    def close(self) -> None:
        for store in self.stores:
            store.handle = None
        if self.volume is not None:
            self.volume.close()
            self.volume = None


def _created(store: Any) -> str | None:
    try:
        ticks = int(store.get_creation_time_as_integer())
    except (OSError, AttributeError, ValueError):
        return None
    if ticks <= 0:
        return None
    return (_FILETIME_EPOCH + timedelta(microseconds=ticks // 10)).isoformat()


def open_stores(media: Media, offset: int, length: int) -> Stores:
    """The shadow copies of the NTFS volume at ``offset``, oldest first. Raises OSError when
    libvshadow cannot read the volume's catalog (a store it cannot read is a :class:`Store`
    with its problem)."""
    import pyvshadow

    volume = pyvshadow.volume()
    volume.open_file_object(_View(media, offset, length))
    stores: list[Store] = []
    try:
        for index in range(int(volume.number_of_stores)):
            store = Store(index + 1)
            try:
                handle = volume.get_store(index)
                store.size = int(handle.volume_size)
                store.created = _created(handle)
                store.handle = handle
            except OSError as exc:
                store.problem = _last_reason(exc)
            stores.append(store)
    except BaseException:
        volume.close()
        raise
    return Stores(volume, stores)
