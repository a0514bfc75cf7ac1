"""The chunks of an EWF set (``.E01``, and EWF2's ``.Ex01``) read with Python's zlib.

libewf-python's wheels are built without zlib and inflate with libewf's own code at about
6 MB/s (measured on this machine, whatever the read size); zlib inflates the same chunks tens of
times faster. libewf still opens and checks the set (segments, sizes, stored hashes); this module
only maps each chunk to its place in its segment file, from the ``table`` sections, and reads
it. Anything it does not expect (an older layout without ``sectors`` sections, a count that
disagrees with libewf's, EWF2 that is encrypted or bzip2-compressed) raises
:class:`ValueError` and the caller reads through libewf.

EWF2 (EnCase 7's ``.Ex01``, libewf's "Expert Witness Compression Format 2" document) puts each
section's 64-byte descriptor after its data and links them backwards from the end of the file;
a ``sector table`` section lists its chunks by absolute offset, size and flags (compressed,
with a checksum, or a fill pattern held in the offset field).
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

#: How a chunk is stored.
_STORED, _DEFLATED, _PATTERN = 0, 1, 2
#: EWF2: a section descriptor's size; the section types read here; a chunk entry's flags.
_V2_DESCRIPTOR = 64
_V2_SECTOR_TABLE, _V2_NEXT, _V2_DONE = 0x04, 0x0D, 0x0F
_V2_COMPRESSED, _V2_PATTERN = 0x1, 0x4
#: EWF2's descriptor flag for encrypted data.
_V2_ENCRYPTED = 0x2


class EwfChunks:
    """Where each chunk of the media lies: (segment index, offset, stored size, how stored);
    a fill pattern's chunk has the pattern where the offset would be."""

    def __init__(self, files: list[IO[bytes]], chunk_size: int, media_size: int) -> None:
        self.files, self.chunk_size, self.media_size = files, chunk_size, media_size
        self.chunks: list[tuple[int, int, int, int]] = []
        for index, stream in enumerate(files):
            stream.seek(0)
            head = stream.read(16)
            if head[:4] in (b"EVF2", b"LEF2"):
                self._read_segment_v2(index, stream, head)
            else:
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
            self.chunks.append((index, start, end - start, _DEFLATED if entry >> 31 else _STORED))

    def _read_segment_v2(self, index: int, stream: IO[bytes], head: bytes) -> None:
        if int.from_bytes(head[10:12], "little") != 1:
            raise ValueError("EWF2 compressed other than by deflate")
        end_of_file = stream.seek(0, 2)
        position, tables = end_of_file - _V2_DESCRIPTOR, []
        stream.seek(position)
        if int.from_bytes(stream.read(4), "little") not in (_V2_NEXT, _V2_DONE):
            raise ValueError("EWF2 segment without its closing section (cut short?)")
        while position >= 32:  # from the last descriptor back to the first
            stream.seek(position)
            descriptor = stream.read(_V2_DESCRIPTOR)
            kind = int.from_bytes(descriptor[0:4], "little")
            if int.from_bytes(descriptor[4:8], "little") & _V2_ENCRYPTED:
                raise ValueError("EWF2 encrypted")
            previous = int.from_bytes(descriptor[8:16], "little")
            size = int.from_bytes(descriptor[16:24], "little")
            if kind == _V2_SECTOR_TABLE:
                tables.append((position - size, size))
            if previous >= position or previous == 0:
                break
            position = previous
        for start, size in reversed(tables):
            stream.seek(start)
            data = stream.read(size)
            count = int.from_bytes(data[8:12], "little")
            if len(data) < 32 + 16 * count:
                raise ValueError("an EWF2 table cut short")
            for at in range(32, 32 + 16 * count, 16):
                offset = int.from_bytes(data[at : at + 8], "little")
                stored = int.from_bytes(data[at + 8 : at + 12], "little")
                flags = int.from_bytes(data[at + 12 : at + 16], "little")
                how = _STORED
                if flags & _V2_PATTERN:
                    how = _PATTERN
                elif flags & _V2_COMPRESSED:
                    how = _DEFLATED
                self.chunks.append((index, offset, stored, how))

    def chunk(self, number: int) -> bytes:
        cached = self.cache.pop(number, None)
        if cached is None:
            index, start, size, how = self.chunks[number]
            if how == _PATTERN:  # EWF2: 8 bytes repeated over the chunk (zeros, mostly)
                cached = start.to_bytes(8, "little") * (self.chunk_size // 8)
                return self._keep(number, cached)
            stream = self.files[index]
            stream.seek(start)
            stored = stream.read(size)
            if how == _DEFLATED:
                try:
                    cached = zlib.decompressobj().decompress(stored, self.chunk_size)
                except zlib.error as exc:
                    raise OSError(f"chunk {number}: {exc}") from exc
            else:  # the data, then its Adler-32 (a mismatch is passed on, as libewf does)
                cached = stored[: self.chunk_size]
        return self._keep(number, cached)

    def _keep(self, number: int, data: bytes) -> bytes:
        if len(self.cache) >= _CACHED:
            del self.cache[next(iter(self.cache))]
        self.cache[number] = data
        return data

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
