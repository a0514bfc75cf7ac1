"""MD5, SHA-1 and SHA-256 together, in one read of the bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

#: Large files stream in blocks this big (hashlib releases the GIL on big buffers).
BLOCK_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CryptoHashes:
    md5: str
    sha1: str
    sha256: str


class CryptoHasher:
    """Feed bytes once; read all three digests."""

    def __init__(self) -> None:
        self._hashes = (hashlib.md5(), hashlib.sha1(), hashlib.sha256())

    def update(self, data: bytes | memoryview) -> None:
        for h in self._hashes:
            h.update(data)

    def result(self) -> CryptoHashes:
        md5, sha1, sha256 = (h.hexdigest() for h in self._hashes)
        return CryptoHashes(md5, sha1, sha256)


def hash_bytes(data: bytes) -> CryptoHashes:
    hasher = CryptoHasher()
    hasher.update(data)
    return hasher.result()


def hash_stream(
    stream: BinaryIO, *, keep_up_to: int = 0, size_hint: int | None = None
) -> tuple[CryptoHashes, int, bytes, bytes]:
    """Digests and byte count of a stream read to its end, its first 512 bytes, and the content
    itself when it is no larger than ``keep_up_to`` (else ``b""``).

    Content of a known ``size_hint`` within the limit is read in one call (one buffer, no copy);
    anything else streams in :data:`BLOCK_SIZE` blocks, kept only while under the limit.
    """
    hasher = CryptoHasher()
    if size_hint is not None and size_hint <= keep_up_to:
        data = stream.read()
        hasher.update(data)
        return hasher.result(), len(data), data, data[:512]
    kept: list[bytes] | None = [] if keep_up_to else None
    head, size = b"", 0
    while block := stream.read(BLOCK_SIZE):
        hasher.update(block)
        size += len(block)
        if len(head) < 512:
            head += block[: 512 - len(head)]
        if kept is not None and size <= keep_up_to:
            kept.append(block)
        else:
            kept = None
    return hasher.result(), size, b"".join(kept or ()), head
