"""The chunks of an Apple UDIF disk image (``.dmg``) read with Python's zlib and bz2.

libmodi's own inflate reads about 30 MB/s of one core, Python's zlib ten times that, and
libmodi refuses bzip2 chunks of 1 MiB (two bzip2 blocks) and tables that mix compressions. A
UDIF image is its data fork of chunks, an XML property list whose ``blkx`` tables (``mish``)
place each chunk on the disk, and the 512-byte ``koly`` trailer (all big-endian). Chunks are
stored, zero-filled, zlib or bzip2 here; an image holding another kind (ADC, LZFSE, LZMA) is
refused with ``ValueError`` and read by libmodi (:mod:`hashsieve.sources.disk`).
"""

from __future__ import annotations

import bisect
import bz2
import os
import plistlib
import struct
import zlib
from collections import OrderedDict
from typing import IO

__all__ = ["UdifChunks"]

SECTOR = 512
_ZERO, _RAW, _IGNORE = 0x0, 0x1, 0x2
_ZLIB, _BZIP2 = 0x80000005, 0x80000006
_COMMENT, _END = 0x7FFFFFFE, 0xFFFFFFFF
#: A chunk decodes to at most this (hdiutil writes 1 MiB): more is a hostile table.
MAX_CHUNK = 64 * 1024 * 1024
#: Decoded chunks kept (a file's reads walk a chunk in pieces).
CACHED = 8


class UdifChunks:
    """The disk inside a UDIF image as ``read(offset, size)``. Raises ``ValueError`` when the
    image is not one this reads (then libmodi does)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        end = stream.seek(0, os.SEEK_END)
        if end < SECTOR:
            raise ValueError("no UDIF trailer")
        stream.seek(end - SECTOR)
        koly = stream.read(SECTOR)
        if koly[:4] != b"koly" or struct.unpack(">II", koly[4:12]) != (4, SECTOR):
            raise ValueError("no UDIF trailer")
        fork_offset = struct.unpack(">Q", koly[24:32])[0]
        xml_offset, xml_length = struct.unpack(">QQ", koly[216:232])
        sectors = struct.unpack(">Q", koly[492:500])[0]
        if not 0 < xml_length <= 64 * 1024 * 1024 or xml_offset + xml_length > end:
            raise ValueError("no property list")
        stream.seek(xml_offset)
        try:
            tables = plistlib.loads(stream.read(xml_length))["resource-fork"]["blkx"]
        except (plistlib.InvalidFileException, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"property list: {exc}") from exc
        # (first byte on the disk, bytes, chunk type, offset in the file, stored bytes)
        chunks: list[tuple[int, int, int, int, int]] = []
        for table in tables:
            chunks.extend(_table(table.get("Data", b""), fork_offset))
        chunks.sort()
        self.size = sectors * SECTOR
        cursor = 0
        for start, length, _kind, at, stored in chunks:  # they tile the disk, nothing missing
            if start != cursor or at + stored > end:
                raise ValueError(f"chunk table leaves a gap or runs past the file at {start:,}")
            cursor = start + length
        if cursor != self.size:
            raise ValueError("chunk tables do not cover the disk")
        self.chunks = chunks
        self.starts = [c[0] for c in chunks]
        self.cache: OrderedDict[int, bytes] = OrderedDict()

    def _chunk(self, index: int) -> bytes:
        found = self.cache.get(index)
        if found is not None:
            self.cache.move_to_end(index)
            return found
        start, length, kind, at, stored = self.chunks[index]
        self.stream.seek(at)
        body = self.stream.read(stored)
        try:
            if kind == _RAW:
                data = body
            elif kind == _ZLIB:  # bounded: a hostile chunk stops one byte past its size
                data = zlib.decompressobj().decompress(body, length + 1)
            else:
                data = bz2.BZ2Decompressor().decompress(body, max_length=length + 1)
        except (zlib.error, OSError, ValueError, EOFError) as exc:
            raise OSError(f"chunk at {start:,}: {exc}") from exc
        if len(data) != length:
            raise OSError(f"chunk at {start:,} holds {len(data):,} bytes, not {length:,}")
        self.cache[index] = data
        if len(self.cache) > CACHED:
            self.cache.popitem(last=False)
        return data

    def read(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self.size)
        parts: list[bytes] = []
        index = bisect.bisect_right(self.starts, offset) - 1
        while offset < end and 0 <= index < len(self.chunks):
            start, length, kind, _at, _stored = self.chunks[index]
            stop = min(end, start + length)
            if kind in (_ZERO, _IGNORE):
                parts.append(bytes(stop - offset))
            else:
                parts.append(self._chunk(index)[offset - start : stop - start])
            offset = stop
            index += 1
        return b"".join(parts)


def _table(mish: bytes, fork_offset: int) -> list[tuple[int, int, int, int, int]]:
    """The chunks of one ``blkx`` table, placed on the disk and in the file."""
    if len(mish) < 204 or mish[:4] != b"mish":
        raise ValueError("a blkx table without its mish header")
    first, _count, data_offset = struct.unpack(">QQQ", mish[8:32])
    number = struct.unpack(">I", mish[200:204])[0]
    if len(mish) < 204 + 40 * number:
        raise ValueError("a blkx table cut short")
    found = []
    for at in range(204, 204 + 40 * number, 40):
        kind, _comment, sector, count, offset, stored = struct.unpack(">IIQQQQ", mish[at : at + 40])
        if kind in (_COMMENT, _END):
            continue
        if kind not in (_ZERO, _RAW, _IGNORE, _ZLIB, _BZIP2):
            raise ValueError(f"chunk type {kind:#x} is libmodi's to read")
        length = count * SECTOR
        if kind not in (_ZERO, _IGNORE) and length > MAX_CHUNK:
            raise ValueError(f"a chunk of {length:,} bytes")
        place = fork_offset + data_offset + offset
        found.append(((first + sector) * SECTOR, length, kind, place, stored))
    return found
