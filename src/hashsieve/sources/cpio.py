"""cpio archives (initramfs, RPM payloads, old Unix backups), read in memory: the portable ASCII
("odc", ``070707``), the SVR4 "newc" (``070701``, with CRC ``070702``) and the old binary
format in either byte order. The format is small and fixed, so it is read here rather than
through a package; every size comes from a header and is checked against the stream."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

from hashsieve.sources.readers import ArchiveError, Entry, Reader

TRAILER = "TRAILER!!!"
#: A name longer than this is not a header but damage.
MAX_NAME = 4096


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    mode: int
    mtime: int
    size: int
    data_at: int  # offset of the member's bytes
    next_at: int  # offset of the next header


class _Slice(io.RawIOBase):
    """``size`` bytes at ``offset`` of a seekable stream (a member, read in place)."""

    def __init__(self, stream: IO[bytes], offset: int, size: int) -> None:
        self.stream, self.offset, self.left = stream, offset, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            return 0
        self.stream.seek(self.offset)
        data = self.stream.read(min(len(buffer), self.left))
        if not data:
            raise ArchiveError("corrupt", "cpio member cut short")
        buffer[: len(data)] = data
        self.offset += len(data)
        self.left -= len(data)
        return len(data)


def _number(field: bytes, base: int) -> int:
    try:
        return int(field, base)
    except ValueError as exc:
        raise ArchiveError("corrupt-archive", f"bad cpio header field {field!r}") from exc


def _header(stream: IO[bytes], at: int, total: int) -> _Header:
    stream.seek(at)
    magic = stream.read(6)
    if magic in (b"070701", b"070702"):  # newc: 13 hex fields of 8, 4-byte alignment
        rest = stream.read(104)
        if len(rest) < 104:
            raise ArchiveError("corrupt-archive", "cpio header cut short")
        fields = [_number(rest[i : i + 8], 16) for i in range(0, 104, 8)]
        mode, mtime, size, namesize = fields[1], fields[5], fields[6], fields[11]
        name_at, align = at + 110, 4
    elif magic == b"070707":  # odc: octal fields, no alignment
        rest = stream.read(70)
        if len(rest) < 70:
            raise ArchiveError("corrupt-archive", "cpio header cut short")
        mode = _number(rest[12:18], 8)
        mtime, namesize, size = (
            _number(rest[42:53], 8),
            _number(rest[53:59], 8),
            _number(rest[59:70], 8),
        )
        name_at, align = at + 76, 1
    elif magic[:2] in (b"\xc7\x71", b"\x71\xc7"):  # old binary: 13 shorts, 2-byte alignment
        raw = magic + stream.read(20)
        if len(raw) < 26:
            raise ArchiveError("corrupt-archive", "cpio header cut short")
        order: Literal["little", "big"] = "little" if raw[:2] == b"\xc7\x71" else "big"
        shorts = [int.from_bytes(raw[i : i + 2], order) for i in range(0, 26, 2)]
        mode, namesize = shorts[3], shorts[10]
        mtime = shorts[8] << 16 | shorts[9]  # 4-byte values: most significant short first
        size = shorts[11] << 16 | shorts[12]
        name_at, align = at + 26, 2
    else:
        raise ArchiveError("corrupt-archive", f"no cpio header at offset {at}")
    if not 1 <= namesize <= MAX_NAME:
        raise ArchiveError("corrupt-archive", f"cpio name of {namesize} bytes at offset {at}")
    stream.seek(name_at)
    name = stream.read(namesize).rstrip(b"\x00").decode("utf-8", "surrogateescape")
    data_at = _aligned(name_at + namesize, align)
    next_at = _aligned(data_at + size, align)
    if data_at + size > total:
        raise ArchiveError("corrupt-archive", f"cpio member {name!r} runs past the end")
    return _Header(name, mode, mtime, size, data_at, next_at)


def _aligned(offset: int, align: int) -> int:
    return -(-offset // align) * align


class CpioReader(Reader):
    """Random access: the headers are walked (seeking over the data) and a member is read in
    place, so a large cpio splits into jobs like a ZIP."""

    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.stream = stream
        self.total = stream.seek(0, io.SEEK_END)

    def _headers(self) -> Iterator[_Header]:
        at = 0
        while at < self.total:
            header = _header(self.stream, at, self.total)
            if header.name == TRAILER:
                return
            yield header
            at = header.next_at

    def _entry(self, header: _Header) -> Entry:
        kind = stat.S_IFMT(header.mode)
        problem = None
        if kind == stat.S_IFLNK:
            problem = "symlink"
        elif kind not in (stat.S_IFREG, 0):  # devices, FIFOs, sockets
            problem = "special-file"
        return Entry(header.name, header.size, header.mtime * 1_000_000_000, problem)

    def entries(self) -> Iterator[Entry]:
        for header in self._headers():
            if stat.S_ISDIR(header.mode):
                continue
            yield self._entry(header)

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        for header in self._headers():
            if stat.S_ISDIR(header.mode):
                continue
            entry = self._entry(header)
            stream = None if entry.problem else _Slice(self.stream, header.data_at, header.size)
            yield entry, stream  # type: ignore[misc]
