"""RAR archives (RAR 4 and RAR 5), read in memory through libarchive (the system library that
bsdtar uses, free software; python package ``libarchive-c``): the archive's bytes are handed to
libarchive from the stream, its members come back block by block, nothing touches the disk.
No ``unrar`` is needed; what libarchive cannot decode (an encrypted member, a multi-volume
set) is a recorded error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from hashsieve.sources.readers import ArchiveError, Entry, Reader, nanoseconds

#: Bytes libarchive asks of the stream at a time.
_BLOCK = 1024 * 1024


class _Blocks:
    """One member's bytes as libarchive decodes them (a stream for :class:`Bounded`)."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks, self.pending = blocks, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.pending) < size:
            block = next(self.blocks, None)
            if block is None:
                break
            self.pending += bytes(block)
        size = len(self.pending) if size < 0 else size
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def close(self) -> None:
        pass


def _libarchive() -> Any:
    try:
        import libarchive
    except (ImportError, OSError) as exc:  # the package, or the system's libarchive.so
        raise ArchiveError("unsupported", f"RAR needs libarchive: {exc}") from exc
    return libarchive


class RarReader(Reader):
    """In one pass, in archive order (RAR is a stream of headers and data)."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        super().__init__(label)
        self.stream = stream
        self.libarchive = _libarchive()

    def items(self) -> Iterator[tuple[Entry, IO[bytes] | None]]:
        self.stream.seek(0)
        try:
            with self.libarchive.stream_reader(
                self.stream, format_name="all", filter_name="none", block_size=_BLOCK
            ) as archive:
                for item in archive:
                    if item.isdir:
                        continue
                    problem = None
                    if item.issym:
                        problem = "symlink"
                    elif not item.isreg:
                        problem = "special-file"
                    entry = Entry(
                        str(item.pathname), int(item.size or 0), nanoseconds(item.mtime or 0),
                        problem,
                    )  # fmt: skip
                    if problem is not None:
                        yield entry, None
                        continue
                    yield entry, _Blocks(iter(item.get_blocks()))  # type: ignore[misc]
        except self.libarchive.ArchiveError as exc:
            text = str(exc)
            reason = "encrypted" if "encrypt" in text.lower() else "corrupt-archive"
            raise ArchiveError(reason, f"{self.label}: {text}") from exc

    def entries(self) -> Iterator[Entry]:
        for entry, _ in self.items():
            yield entry
