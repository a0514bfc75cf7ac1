"""The multi-index's counting sort (two passes, high then low bits) gives a stable sort's order."""

from __future__ import annotations

import numpy as np
import pytest

from hashsieve.index import _kernels as K


@pytest.mark.parametrize(("n", "bits"), [(0, 4), (1, 4), (5, 5), (3000, 9), (50_000, 15)])
def test_counting_sort_is_a_stable_sort_with_bucket_starts(n: int, bits: int) -> None:
    nkeys = 1 << bits
    rng = np.random.default_rng(n + bits)
    # skewed keys, so that buckets hold runs of equal keys and many stay empty
    keys = (rng.integers(0, nkeys, n) // rng.integers(1, 4, n)).astype(np.uint32)
    positions = np.empty(n, np.uint32)
    offsets = np.empty(nkeys + 1, np.uint32)
    K.counting_sort(keys, nkeys, positions, offsets)
    assert np.array_equal(positions, np.argsort(keys, kind="stable"))
    assert np.array_equal(offsets, np.searchsorted(np.sort(keys), np.arange(nkeys + 1)))
