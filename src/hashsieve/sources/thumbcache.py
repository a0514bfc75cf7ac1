"""Windows thumbnail caches: the thumbnails Explorer kept of pictures it showed. A known
thumbnail proves the picture was viewed on the machine even when the picture itself is gone.

- ``thumbcache_*.db`` (Vista and later): a "CMMM" file header, then cache entries one after the
  other, each "CMMM", its size, the entry hash, the sizes of the identifier (UTF-16), padding
  and data, then the identifier and the data (a JPEG, PNG or BMP). Layout after J. Metz's
  "Windows Explorer Thumbnail Cache database format" (libwtcdb): the entry header is 56 bytes
  on Vista (format 20: a file extension after the hash), 48 on Windows 7 (21), and 56 from
  Windows 8 on (width and height after the data size). Members are named by the entry's
  identifier (``thumbcache_256.db!/6a1d4e5f0b2c3d4e.jpg``).
- ``Thumbs.db`` (Windows XP): an OLE compound file (read by
  :class:`hashsieve.sources.documents.OleReader`) whose numbered streams each hold a small header
  (its first 4 bytes: the header's length, usually 12) and a JPEG; its ``Catalog`` stream names
  the file each thumbnail was made from.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from hashsieve.sources.readers import ArchiveError, Entry, Reader

SIGNATURE = b"CMMM"
#: Entries read per cache at most (a real cache holds some thousands).
MAX_ENTRIES = 1_000_000
#: One thumbnail's data at most.
MAX_DATA = 64 * 1024 * 1024

_PICTURES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"BM", "bmp"))


def _ext(head: bytes) -> str | None:
    return next((ext for sig, ext in _PICTURES if head.startswith(sig)), None)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    name: str  # the member name: identifier (or entry hash) and the data's kind
    offset: int  # the data's offset in the cache file
    size: int


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "little")


def cache_entries(stream: IO[bytes]) -> Iterator[CacheEntry]:
    """The thumbnails of a ``thumbcache_*.db``, in file order; stops where the chain of
    entries breaks (a damaged or partly overwritten cache keeps what came before)."""
    end = stream.seek(0, 2)
    stream.seek(0)
    header = stream.read(24)
    if len(header) < 24 or header[:4] != SIGNATURE:
        raise ArchiveError("corrupt-archive", "not a thumbnail cache (no CMMM header)")
    version = _u32(header, 4)
    pos = _u32(header, 12) if version in (20, 21) else _u32(header, 16)
    if not 24 <= pos <= end:
        pos = 24  # a header that says nothing sane: entries follow it
    sizes_at, header_size = (24, 56) if version == 20 else (16, 48 if version == 21 else 56)
    names: set[str] = set()
    for _ in range(MAX_ENTRIES):
        stream.seek(pos)
        head = stream.read(header_size)
        if len(head) < header_size or head[:4] != SIGNATURE:
            return
        size = _u32(head, 4)
        id_size, pad_size, data_size = (_u32(head, sizes_at + i) for i in (0, 4, 8))
        data_at = pos + header_size + id_size + pad_size
        if size < header_size or pos + size > end or data_at + data_size > pos + size:
            return
        if 0 < data_size <= MAX_DATA:
            identifier = stream.read(id_size).decode("utf-16-le", "replace").rstrip("\x00")
            stream.seek(data_at)
            ext = _ext(stream.read(8))
            if ext is not None:
                own = identifier if identifier.isalnum() else head[8:16][::-1].hex()
                if own in names:
                    own = f"{own}@0x{pos:x}"
                names.add(own)
                yield CacheEntry(f"{own}.{ext}", data_at, data_size)
        pos += size


class ThumbcacheReader(Reader):
    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.stream = stream
        self._found: dict[str, CacheEntry] | None = None

    def _entries(self) -> dict[str, CacheEntry]:
        if self._found is None:
            self._found = {e.name: e for e in cache_entries(self.stream)}
        return self._found

    def entries(self) -> Iterator[Entry]:
        for entry in self._entries().values():
            yield Entry(entry.name, entry.size, 0, recovered="thumbnail", offset=entry.offset)

    def open(self, name: str) -> IO[bytes]:
        entry = self._entries().get(name)
        if entry is None:
            raise ArchiveError("unreadable", f"{self._what(name)}: no such entry")
        self.stream.seek(entry.offset)
        return io.BytesIO(self.stream.read(entry.size))


def thumbs_db_picture(data: bytes) -> tuple[int, str] | None:
    """(offset, extension) of the picture in a ``Thumbs.db`` thumbnail stream, or None."""
    header = _u32(data, 0) if len(data) >= 4 else 0
    if 8 <= header <= 64 and (ext := _ext(data[header : header + 8])) is not None:
        return header, ext
    return None


def thumbs_db_catalog(data: bytes) -> dict[str, str]:
    """The ``Catalog`` stream of a ``Thumbs.db``: thumbnail stream name -> the original file's
    name. Header: 2 bytes (its length, 16), version, entry count, width, height; each entry:
    its length, its index, a FILETIME, the name in UTF-16 ended by two NULs. The stream of
    index 12 is named ``21`` (the digits reversed)."""
    names: dict[str, str] = {}
    if len(data) < 16:
        return names
    pos, count = int.from_bytes(data[0:2], "little"), _u32(data, 4)
    for _ in range(min(count, MAX_ENTRIES)):
        size = _u32(data, pos)
        if size < 18 or pos + size > len(data):
            break
        index = _u32(data, pos + 4)
        raw = data[pos + 16 : pos + size]
        text = raw.decode("utf-16-le", "replace").split("\x00", 1)[0]
        names[str(index)[::-1]] = text
        pos += size
    return names
