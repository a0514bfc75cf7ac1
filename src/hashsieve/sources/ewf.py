"""The chunks of an EWF (``.E01``) set read with Python's zlib.

libewf-python's wheels are built without zlib and inflate with libewf's own code at about
6 MB/s (measured on this machine, whatever the read size); zlib inflates the same chunks tens of
times faster. libewf still opens and checks the set (segments, sizes, stored hashes); this module
only maps each chunk to its place in its segment file, from the ``table`` sections, and reads
it. Anything it does not expect (an older layout without ``sectors`` sections, a count that
disagrees with libewf's) raises :class:`ValueError` and the caller reads through libewf.
"""

from __future__ import annotations

import zlib
from typing import IO

#: A section descriptor: type (16), next section's offset (8), size (8), padding, checksum.
_DESCRIPTOR = 76
#: A table section's header before its entries: count (4), padding (4), base offset (8), ...
_TABLE_HEADER = 24
#: Decompressed chunks kept (TSK reads a 32 KiB chunk in 4 KiB blocks).
_CACHED = 8


class EwfChunks:
    """Where each chunk of the media lies: (segment index, offset, stored size, compressed)."""

    def __init__(self, files: list[IO[bytes]], chunk_size: int, media_size: int) -> None:
        self.files, self.chunk_size, self.media_size = files, chunk_size, media_size
        self.chunks: list[tuple[int, int, int, bool]] = []
        for index, stream in enumerate(files):
            self._read_segment(index, stream)
        wanted = -(-media_size // chunk_size)
        if len(self.chunks) < wanted:
            raise ValueError(f"{len(self.chunks)} chunks listed, {wanted} expected")
        self.cache: dict[int, bytes] = {}

    def _read_segment(self, index: int, stream: IO[bytes]) -> None:
        stream.seek(0, 2)
        end_of_file = stream.tell()
        position, sectors_end = 13, None
        while position + _DESCRIPTOR <= end_of_file:
            stream.seek(position)
            descriptor = stream.read(_DESCRIPTOR)
            kind = descriptor[:16].rstrip(b"\x00")
            following = int.from_bytes(descriptor[16:24], "little")
            size = int.from_bytes(descriptor[24:32], "little")
            if kind == b"sectors":
                sectors_end = position + size
            elif kind == b"table":
                if sectors_end is None:
                    raise ValueError("a table without a sectors section before it")
                self._read_table(index, stream, position, sectors_end)
            if kind in (b"done", b"next") or following <= position:
                return
            position = following

    def _read_table(self, index: int, stream: IO[bytes], position: int, sectors_end: int) -> None:
        stream.seek(position + _DESCRIPTOR)
        header = stream.read(_TABLE_HEADER)
        count = int.from_bytes(header[:4], "little")
        base = int.from_bytes(header[8:16], "little")
        raw = stream.read(4 * count)
        if len(raw) != 4 * count:
            raise ValueError("a table cut short")
        entries = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]
        offsets = [base + (e & 0x7FFFFFFF) for e in entries]
        ends = [*offsets[1:], min(sectors_end, position)]
        for entry, start, end in zip(entries, offsets, ends, strict=True):
            if end <= start:
                raise ValueError("chunks out of order")
            self.chunks.append((index, start, end - start, bool(entry >> 31)))

    def chunk(self, number: int) -> bytes:
        cached = self.cache.pop(number, None)
        if cached is None:
            index, start, size, compressed = self.chunks[number]
            stream = self.files[index]
            stream.seek(start)
            stored = stream.read(size)
            if compressed:
                try:
                    cached = zlib.decompressobj().decompress(stored, self.chunk_size)
                except zlib.error as exc:
                    raise OSError(f"chunk {number}: {exc}") from exc
            else:  # the data, then its Adler-32 (a mismatch is passed on, as libewf does)
                cached = stored[: self.chunk_size]
            if len(self.cache) >= _CACHED:
                del self.cache[next(iter(self.cache))]
        self.cache[number] = cached
        return cached

    def read(self, offset: int, size: int) -> bytes:
        parts = []
        end = min(offset + size, self.media_size)
        while offset < end:
            number, within = divmod(offset, self.chunk_size)
            piece = self.chunk(number)[within : within + end - offset]
            if not piece:
                raise OSError(f"chunk {number} is short")
            parts.append(piece)
            offset += len(piece)
        return b"".join(parts)
