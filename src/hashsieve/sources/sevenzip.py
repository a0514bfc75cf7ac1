"""7z archives, read with py7zr, in memory: never extracted to disk.

py7zr decompresses by pushing each member's bytes into a writer it asks a factory for. Solid 7z
archives decompress whole blocks at a time, so the members are read in one pass: py7zr runs in
a helper thread and hands the bytes over a small queue, and the scan pulls each member as a
stream (under the same caps as any member's), so a member larger than memory is digested as it
streams and never held whole.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import IO, Any

import py7zr
import py7zr.io

from hashsieve.sources.readers import ArchiveError, Entry, Reader, nanoseconds

#: Blocks in flight between py7zr's thread and the reader (bounds the memory in between).
_QUEUE_BLOCKS = 8
#: Seconds without a block from the decompressor before the read is given up.
WAIT_SECONDS = 900.0

_OPEN, _DATA, _END, _DONE, _FAILED = range(5)


class _Cancelled(Exception):
    """The reader stopped early: py7zr's thread unwinds."""


class _Writer(py7zr.io.Py7zIO):
    def __init__(self, hand: _Handover) -> None:
        self.hand, self.length = hand, 0

    def write(self, s: bytes | bytearray) -> int:
        self.hand.put((_DATA, bytes(s)))
        self.length += len(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.length

    def close(self) -> None:
        self.hand.put((_END, None))


class _Handover(py7zr.io.WriterFactory):
    def __init__(self) -> None:
        self.blocks: queue.Queue[tuple[int, Any]] = queue.Queue(_QUEUE_BLOCKS)
        self.cancelled = threading.Event()
        self.pushed: tuple[int, Any] | None = None  # a block read ahead, given back

    def put(self, item: tuple[int, Any]) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                self.blocks.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.put((_OPEN, filename))
        return _Writer(self)

    def get(self) -> tuple[int, Any]:
        if self.pushed is not None:
            item, self.pushed = self.pushed, None
            return item
        try:
            return self.blocks.get(timeout=WAIT_SECONDS)
        except queue.Empty as exc:
            raise ArchiveError(
                "timeout", f"no data from the 7z decompressor in {WAIT_SECONDS:.0f} s"
            ) from exc


class _MemberStream:
    """One member's bytes as py7zr's thread delivers them."""

    def __init__(self, hand: _Handover) -> None:
        self.hand, self.pending, self.ended = hand, b"", False

    def read(self, size: int = -1) -> bytes:
        while not self.ended and (size < 0 or len(self.pending) < size):
            kind, value = self.hand.get()
            if kind == _DATA:
                self.pending += value
            elif kind == _END:
                self.ended = True
            elif kind == _FAILED:
                self.ended = True
                # Given back for the listing too: py7zr's thread has ended, and without it the
                # reader would wait WAIT_SECONDS for a block (found by fuzz/archive.py).
                self.hand.pushed = (kind, value)
                raise ArchiveError("corrupt", str(value))
            else:  # the next member (or the end) came: py7zr did not close this one
                self.hand.pushed = (kind, value)
                self.ended = True
        size = len(self.pending) if size < 0 else size
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def close(self) -> None:
        pass


class SevenZipReader(Reader):
    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        try:
            self.archive = py7zr.SevenZipFile(stream, mode="r")
        except py7zr.exceptions.PasswordRequired as exc:
            raise ArchiveError("encrypted", f"{label}: encrypted 7z headers") from exc
        self.encrypted = self.archive.needs_password()

    def entries(self) -> Iterator[Entry]:
        for info in self.archive.list():
            if info.is_directory:
                continue
            problem = "encrypted" if self.encrypted else None
            if info.is_symlink:
                problem = "symlink"
            when = info.creationtime.timestamp() if info.creationtime else 0.0
            yield Entry(info.filename, info.uncompressed or 0, nanoseconds(when), problem)

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        if self.encrypted:
            raise ArchiveError("encrypted", f"{self.label}: encrypted 7z members")
        listed = {entry.name: entry for entry in self.entries()}
        hand = _Handover()

        def run() -> None:
            try:
                self.archive.extract(factory=hand)
                hand.put((_DONE, None))
            except _Cancelled:
                pass
            except Exception as exc:  # py7zr's errors (bad CRC, unsupported method) are data
                with contextlib.suppress(_Cancelled):
                    hand.put((_FAILED, exc))

        thread = threading.Thread(target=run, name="7z-reader", daemon=True)
        thread.start()
        try:
            while True:
                kind, value = hand.get()
                if kind == _DONE:
                    return
                if kind == _FAILED:
                    raise ArchiveError("corrupt-archive", f"{self.label}: {value}")
                if kind != _OPEN:
                    continue  # a stray block of a member already given up
                entry = listed.get(value) or Entry(value, -1, 0)
                member = _MemberStream(hand)
                yield entry, (member if entry.problem is None else None)  # type: ignore[misc]
                member.drain()
        finally:
            hand.cancelled.set()
            thread.join(timeout=5)

    def close(self) -> None:
        super().close()
        self.archive.close()
