"""Exact lookups of cryptographic digests (MD5, SHA-1, SHA-256 ...) in a sorted array.

Digests of one width are held as ``(n, width)`` uint8 rows sorted by their first 8 bytes, read as a
big-endian uint64 ``prefix`` column kept beside them (8 B per row). A batch of lookups is one
``np.searchsorted`` on that column; the (nearly always 0 or 1) rows sharing a query's prefix are
then compared in full, so the answer is exact whatever the data. Several ids may share a digest
(the same file in two hash sets): every one is returned.

Persistence: plain ``.npy`` files + a JSON manifest written last (see :mod:`.pdq_index`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hashsieve.index.pdq_index import PdqIndexError, _load_arrays, _save_arrays, as_ids

FORMAT_DIGEST = "hashsieve-sorted-digest"


def as_digests(digests: Any, width: int) -> np.ndarray:
    """``digests`` (bytes list or ``(n, width)`` uint8) as a C-contiguous uint8 array."""
    if isinstance(digests, list | tuple):
        if any(len(d) != width for d in digests):
            raise PdqIndexError(f"every digest must be {width} bytes")
        return np.frombuffer(b"".join(digests), np.uint8).reshape(-1, width)
    arr = np.asarray(digests)
    if arr.size == 0:
        return np.empty((0, width), np.uint8)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != width:
        raise PdqIndexError(f"digests must be (n, {width}) uint8, not {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def _prefix(digests: np.ndarray) -> np.ndarray:
    """First 8 bytes of each row as a big-endian uint64 (so numeric order = byte order)."""
    head = np.zeros((digests.shape[0], 8), np.uint8)
    k = min(8, digests.shape[1])
    head[:, :k] = digests[:, :k]
    return head.view(">u8").reshape(-1).astype(np.uint64)


class SortedDigestIndex:
    """Exact digest → ids lookups for one digest width (16 for MD5, 20 SHA-1, 32 SHA-256)."""

    def __init__(self, width: int) -> None:
        if not 1 <= width <= 64:
            raise PdqIndexError(f"digest width must be 1..64 bytes, not {width}")
        self.width = int(width)
        self._prefix = np.empty(0, np.uint64)
        self._digests = np.empty((0, width), np.uint8)
        self._ids = np.empty(0, np.uint32)

    @classmethod
    def from_arrays(cls, ids: Any, digests: Any, width: int | None = None) -> SortedDigestIndex:
        if width is None:
            width = int(np.asarray(digests).shape[1]) if not isinstance(digests, list) else 0
            width = width or len(digests[0])
        index = cls(width)
        index.add(ids, digests)
        return index

    def add(self, ids: Any, digests: Any) -> None:
        """Add rows (a merge of sorted arrays: O(n + k log k), no full re-sort)."""
        digests = as_digests(digests, self.width)
        ids = as_ids(ids, digests.shape[0])
        if ids.size == 0:
            return
        prefix = _prefix(digests)
        order = np.argsort(prefix)  # rows with equal prefixes need no particular order
        prefix, digests, ids = prefix[order], digests[order], ids[order]
        if self._ids.size == 0:
            self._prefix, self._digests, self._ids = prefix, digests, ids
            return
        at = np.searchsorted(self._prefix, prefix, side="right")
        self._prefix = np.insert(np.asarray(self._prefix), at, prefix)
        self._digests = np.insert(np.asarray(self._digests), at, digests, axis=0)
        self._ids = np.insert(np.asarray(self._ids), at, ids)

    def remove(self, ids: Any) -> None:
        keep = ~np.isin(np.asarray(self._ids), as_ids(ids))
        self._prefix, self._digests, self._ids = (
            np.asarray(self._prefix)[keep],
            np.asarray(self._digests)[keep],
            np.asarray(self._ids)[keep],
        )

    def lookup(self, digests: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(query rows, ids)`` of every indexed row equal to a queried digest, by query row."""
        digests = as_digests(digests, self.width)
        qp = _prefix(digests)
        # searching in sorted order walks the table's cache lines in order (4x faster at 50 M)
        qorder = np.argsort(qp) if qp.size > 64 else np.arange(qp.size)
        qs = qp[qorder]
        lo = np.searchsorted(self._prefix, qs, side="left")
        count = np.searchsorted(self._prefix, qs, side="right") - lo
        rows = np.repeat(qorder, count)
        if rows.size == 0:
            return rows.astype(np.int64), np.empty(0, np.uint32)
        # positions lo, lo+1, ... hi-1 for each query
        starts = np.repeat(lo - np.cumsum(count) + count, count)
        at = starts + np.arange(rows.size)
        if self.width > 8:
            same = (np.asarray(self._digests)[at, 8:] == digests[rows, 8:]).all(axis=1)
            rows, at = rows[same], at[same]
        ids = np.asarray(self._ids)[at]
        order = np.argsort(rows, kind="stable")
        return rows[order].astype(np.int64), ids[order]

    def lookup_one(self, digest: bytes) -> list[int]:
        """Ids of one digest: the low-overhead path for one-at-a-time callers."""
        if len(digest) != self.width:
            raise PdqIndexError(f"a digest here is {self.width} bytes, not {len(digest)}")
        key = np.uint64(int.from_bytes(digest[:8].ljust(8, b"\0"), "big"))
        lo = int(self._prefix.searchsorted(key, "left"))
        hi = int(self._prefix.searchsorted(key, "right"))
        return [int(self._ids[i]) for i in range(lo, hi) if self._digests[i].tobytes() == digest]

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    @property
    def nbytes(self) -> int:
        return self._prefix.nbytes + self._digests.nbytes + self._ids.nbytes

    def save(self, directory: Path) -> None:
        _save_arrays(
            Path(directory),
            {"format": FORMAT_DIGEST, "version": 1, "width": self.width},
            {"prefix": self._prefix, "digests": self._digests, "ids": self._ids},
        )

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> SortedDigestIndex:
        manifest, arrays = _load_arrays(Path(directory), FORMAT_DIGEST, mmap)
        index = cls(int(manifest["width"]))
        index._prefix, index._digests, index._ids = (
            arrays["prefix"],
            arrays["digests"],
            arrays["ids"],
        )
        return index
