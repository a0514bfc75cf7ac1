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


def hash_stream(stream: BinaryIO, block_size: int = BLOCK_SIZE) -> tuple[CryptoHashes, int]:
    """Digests and byte count of a stream read to its end in large blocks."""
    hasher = CryptoHasher()
    size = 0
    while block := stream.read(block_size):
        hasher.update(block)
        size += len(block)
    return hasher.result(), size
