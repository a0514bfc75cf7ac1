"""Readers of the container kinds, one class each, behind one small interface: what entries a
container holds (:meth:`Reader.entries`) and their raw bytes as streams, by name
(:meth:`Reader.open`, random access) or in container order (:meth:`Reader.items`).

Streams are raw here; :mod:`hashsieve.sources.archive` bounds what is read from them (bytes and
time). Every reader works on a seekable stream (the evidence file, or an inner archive in memory)
and writes nothing anywhere.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import itertools
import lzma
import os
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Literal, cast, get_args

from hashsieve.sources import magic

SEPARATOR = "!/"
#: Raw bytes asked of a decompressor at a time, so the caps are checked often.
CHUNK = 1024 * 1024


class ArchiveError(Exception):
    """An archive or member that cannot be read: ``reason`` is the recorded error's kind."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


#: How content was found when not as a live file (the store's ``recovered`` column):
#: a file system's deleted entry, carved from free space, a thumbnail cache's entry, a
#: picture inside another file, a file of a volume shadow copy.
RecoveredKind = Literal["deleted", "carved", "thumbnail", "embedded", "shadow"]
RECOVERED_KINDS: tuple[RecoveredKind, ...] = get_args(RecoveredKind)


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    size: int
    mtime_ns: int
    problem: str | None = None  # None for a regular file; else why it is not read
    recovered: str | None = None  # a RecoveredKind, or None for a live file
    details: tuple[tuple[str, str], ...] = ()  # a file system's times and inode
    offset: int | None = None  # bytes from its container's start, for content found there


def nanoseconds(seconds: float) -> int:
    """A member's time for the store; a hostile one (a pax header can say anything) is 0."""
    try:
        value = int(float(seconds) * 1e9)
    except (ValueError, OverflowError):
        return 0
    return value if 0 <= value < 2**63 else 0


class Bounded:
    """A member's bytes as they decompress, with hard caps: past ``cap`` bytes of output it is a
    decompression bomb by its effect, past ``seconds`` it took too long; a decompressor's own
    error (bad CRC, truncated stream) is ``corrupt``. Always an :class:`ArchiveError`."""

    def __init__(self, raw: IO[bytes], what: str, cap: int, seconds: float) -> None:
        self.raw, self.what, self.cap = raw, what, cap
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.count = 0

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            try:
                block = self.raw.read(min(wanted, CHUNK))
            except ArchiveError:
                raise
            except MemoryError:
                raise
            # Decompressors raise many kinds (zlib.error, lzma.LZMAError, EOFError, BadZipFile,
            # py7zr's own): every one means the same here, the member cannot be read.
            except Exception as exc:
                raise ArchiveError("corrupt", f"{self.what}: {exc}") from exc
            if not block:
                break
            self.count += len(block)
            if self.count > self.cap:
                raise ArchiveError(
                    "decompression-bomb",
                    f"{self.what}: more than {self.cap:,} bytes decompressed; not read further",
                )
            if time.monotonic() > self.deadline:
                raise ArchiveError(
                    "timeout", f"{self.what}: not decompressed in {self.seconds:.0f} s"
                )
            parts.append(block)
            wanted -= len(block)
        return b"".join(parts)

    def close(self) -> None:
        # A decompressor that failed may fail again closing; the error is already recorded.
        with contextlib.suppress(Exception):
            self.raw.close()


class Reader:
    """One open container. ``random_access``: members can be opened by name in any order (jobs
    of a large archive spread over the workers); else they are read in one pass, in order."""

    random_access = False

    def __init__(self, label: str) -> None:
        self.label = label
        self._walk: Iterator[tuple[Entry, IO[bytes] | None]] | None = None

    def entries(self) -> Iterator[Entry]:
        raise NotImplementedError

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        """Each entry with its raw stream (None: not a regular file), valid until the next."""
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        self._walk = self.items()  # kept open: the member's stream lives as long as the walk
        for entry, stream in self._walk:
            if entry.name == name:
                if stream is None:
                    raise ArchiveError("special-file", f"{self._what(name)}: not a regular file")
                return stream
        raise ArchiveError("unreadable", f"{self._what(name)}: no such member")

    def close(self) -> None:
        if self._walk is not None:
            self._walk.close()  # type: ignore[attr-defined]

    def _what(self, name: str) -> str:
        return f"{self.label}{SEPARATOR}{name}"


class ZipReader(Reader):
    random_access = True

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.zip = zipfile.ZipFile(stream)

    def entries(self) -> Iterator[Entry]:
        infos = self.zip.infolist()
        _refuse_overlaps(infos, self.label)
        for info in infos:
            if info.is_dir():
                continue
            problem = "encrypted" if info.flag_bits & 0x1 else None
            try:  # a ZIP's time has no zone: read as UTC, the same on every machine
                when = datetime(*info.date_time, tzinfo=UTC).timestamp()
            except (ValueError, OverflowError):
                when = 0.0
            yield Entry(info.filename, info.file_size, nanoseconds(when), problem)

    def open(self, name: str) -> IO[bytes]:
        try:
            return self.zip.open(name)
        except KeyError as exc:
            raise ArchiveError("unreadable", f"{self._what(name)}: no such member") from exc
        except RuntimeError as exc:  # an encrypted member without a password
            raise ArchiveError("encrypted", f"{self._what(name)}: {exc}") from exc

    def close(self) -> None:
        super().close()
        self.zip.close()


def _refuse_overlaps(infos: list[zipfile.ZipInfo], label: str) -> None:
    """Members whose compressed data overlap (one kernel shared by thousands of entries, the
    "zip bomb without recursion") expand without bound while the file stays small: refused by
    their structure, since no archiver writes them."""
    ordered = sorted((i for i in infos if i.compress_size), key=lambda i: i.header_offset)
    for first, second in itertools.pairwise(ordered):
        if first.header_offset + 30 + first.compress_size > second.header_offset:
            raise ArchiveError(
                "decompression-bomb", f"{label}: members share compressed data (overlapping)"
            )


class TarReader(Reader):
    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.tar = tarfile.open(fileobj=stream, mode="r:*")  # noqa: SIM115 (closed in close())

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        for tinfo in self.tar:
            if tinfo.isdir():
                continue
            problem = None
            if tinfo.issym():
                problem = "symlink"
            elif not tinfo.isfile():  # hard links, devices, FIFOs
                problem = "special-file"
            entry = Entry(tinfo.name, tinfo.size, nanoseconds(tinfo.mtime), problem)
            yield entry, (self.tar.extractfile(tinfo) if problem is None else None)

    def entries(self) -> Iterator[Entry]:
        for entry, _ in self.items():
            yield entry

    def close(self) -> None:
        super().close()
        self.tar.close()


def _decompressor(mime: str, stream: IO[bytes]) -> IO[bytes]:
    if mime == magic.GZIP:
        return cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
    if mime == magic.BZIP2:
        return cast(IO[bytes], bz2.BZ2File(stream))
    return cast(IO[bytes], lzma.LZMAFile(stream))


_SUFFIXES = {
    magic.GZIP: (".gz", ".gzip", ".z"),
    magic.BZIP2: (".bz2", ".bzip2", ".bz"),
    magic.XZ: (".xz", ".lzma"),
}


def _gzip_name(header: bytes) -> str | None:
    """The original file name a gzip header may carry (FNAME, ISO 8859-1)."""
    if len(header) < 10 or not header[3] & 0x08:
        return None
    at = 10
    if header[3] & 0x04:  # FEXTRA
        at += 2 + int.from_bytes(header[10:12], "little")
    end = header.find(b"\x00", at)
    if end <= at:
        return None
    name = os.path.basename(header[at:end].decode("latin-1").replace("\\", "/"))
    return name or None


class CompressedReader(Reader):
    """A gzip, bzip2 or xz stream that is not a tar: a container of one member, named by the
    gzip header's FNAME or else the container's name less its suffix (``a.jpg.gz!/a.jpg``)."""

    def __init__(self, stream: IO[bytes], label: str, mime: str, cap: int, seconds: float) -> None:
        super().__init__(label)
        self.stream, self.mime, self.cap, self.seconds = stream, mime, cap, seconds
        stream.seek(0)
        header = stream.read(4096)
        stream.seek(0)
        own = label.rsplit(SEPARATOR, 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
        base = own
        for suffix in _SUFFIXES[mime]:
            if own.lower().endswith(suffix) and len(own) > len(suffix):
                base = own[: -len(suffix)]
                break
        if own.lower().endswith((".tgz", ".tbz", ".tbz2", ".txz")):
            base = own.rsplit(".", 1)[0] + ".tar"
        fname = _gzip_name(header) if mime == magic.GZIP else None
        self.name = fname or base or "content"
        mtime = int.from_bytes(header[4:8], "little") if mime == magic.GZIP else 0
        self.mtime_ns = mtime * 1_000_000_000

    def _raw(self) -> IO[bytes]:
        self.stream.seek(0)
        return _decompressor(self.mime, self.stream)

    def entries(self) -> Iterator[Entry]:
        # The size is only known by decompressing (bounded like any member's read).
        counter = Bounded(self._raw(), self._what(self.name), self.cap, self.seconds)
        try:
            while counter.read(CHUNK * 8):
                pass
        except ArchiveError as exc:
            reason = "corrupt-archive" if exc.reason == "corrupt" else exc.reason
            raise ArchiveError(reason, exc.detail) from exc
        finally:
            counter.close()
        yield Entry(self.name, counter.count, self.mtime_ns)

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        yield Entry(self.name, -1, self.mtime_ns), self._raw()


def is_tar_start(head: bytes) -> bool:
    return head[257:262] == b"ustar" or magic.is_tar_header(head)
