"""Sorted-array digest lookups are exact, keep duplicates and survive a save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest

from hashsieve.index.exact import SortedDigestIndex
from hashsieve.index.pdq_index import PdqIndexError


@pytest.mark.parametrize("width", [16, 20, 32])
def test_lookup_matches_a_dict(width, tmp_path):
    rng = np.random.default_rng(width)
    digests = rng.integers(0, 256, (5_000, width), dtype=np.uint8)
    digests[100:110] = digests[0]  # one digest under 11 ids
    digests[200, :8] = digests[1, :8]  # same 8-byte prefix, different digest
    ids = np.arange(5_000, dtype=np.uint32) + 10
    index = SortedDigestIndex.from_arrays(ids[:4_000], digests[:4_000])
    index.add(ids[4_000:], digests[4_000:])
    truth: dict[bytes, set[int]] = {}
    for d, i in zip(digests, ids, strict=True):
        truth.setdefault(d.tobytes(), set()).add(int(i))
    queries = np.concatenate([digests[:300], rng.integers(0, 256, (50, width), dtype=np.uint8)])
    for idx in (index, _reloaded(index, tmp_path)):
        rows, got = idx.lookup(queries)
        for r, q in enumerate(queries):
            assert set(got[rows == r].tolist()) == truth.get(q.tobytes(), set())
            assert set(idx.lookup_one(q.tobytes())) == truth.get(q.tobytes(), set())


def _reloaded(index: SortedDigestIndex, tmp_path) -> SortedDigestIndex:
    index.save(tmp_path / "d")
    return SortedDigestIndex.load(tmp_path / "d", mmap=True)


def test_remove_and_empty():
    index = SortedDigestIndex(16)
    assert index.lookup([b"\0" * 16])[0].size == 0
    index.add([1, 2], [b"a" * 16, b"b" * 16])
    index.remove([1])
    assert index.lookup([b"a" * 16, b"b" * 16])[1].tolist() == [2]
    with pytest.raises(PdqIndexError):
        index.add([1], [b"short"])
    with pytest.raises(PdqIndexError, match="32-bit"):
        index.add([2**33], [b"c" * 16])
