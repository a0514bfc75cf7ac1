"""Indexes built straight into memory-mapped files answer exactly as those built in memory.

``build_saved`` and ``MultiIndexPdqIndex.save_merged`` are how a 100 M-code index is built in
bounded memory; the brute-force index is the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashsieve.index.pdq_index import (
    BruteForcePdqIndex,
    MultiIndexPdqIndex,
    build_saved,
    load,
)


def _answers(index: object, queries: np.ndarray, threshold: int = 31) -> set[tuple[int, int, int]]:
    rows, ids, dists = index.query(queries, threshold)  # type: ignore[attr-defined]
    return set(zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True))


def _queries(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half near-duplicates of indexed codes (a few to 31 bits flipped), half random codes."""
    near = codes[rng.integers(0, codes.shape[0], 150)].copy()
    for row in near:
        bits = rng.choice(256, rng.integers(0, 32), replace=False)
        np.bitwise_xor.at(row, bits // 8, (1 << (bits % 8)).astype(np.uint8))
    return np.concatenate([near, rng.integers(0, 256, (150, 32), dtype=np.uint8)])


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (40_000, 32), dtype=np.uint8)
    codes[100:200] = codes[:100]  # exact duplicates under other ids
    ids = rng.permutation(10**6)[:40_000].astype(np.uint32)
    return ids, codes, _queries(codes, rng)


def test_build_saved_equals_the_in_memory_build(data: tuple, tmp_path: Path) -> None:
    ids, codes, queries = data
    built = build_saved(tmp_path / "files", ids, codes, threads=2)
    reference = BruteForcePdqIndex()
    reference.add(ids, codes)
    in_memory = MultiIndexPdqIndex.from_arrays(ids, codes, threads=2)
    expected = _answers(reference, queries)
    assert {r for r, _, _ in expected} >= set(range(150))  # every near-duplicate: its source
    assert _answers(built, queries) == expected == _answers(in_memory, queries)
    reopened = load(tmp_path / "files", mmap=True)
    assert isinstance(reopened, MultiIndexPdqIndex) and len(reopened) == 40_000
    assert _answers(reopened, queries) == expected
    assert not any(p.name.startswith(".") for p in (tmp_path / "files").iterdir())


def test_save_merged_equals_add_then_save(data: tuple, tmp_path: Path) -> None:
    ids, codes, queries = data
    index = MultiIndexPdqIndex(threads=1, merge_min=0)
    index.add(ids[:30_000], codes[:30_000])
    index.add(ids[30_000:31_000], codes[30_000:31_000])  # a delta segment
    index.remove(ids[:50])  # tombstones
    assert index.merges_on_add(9_000)
    index.save_merged(tmp_path / "merged", ids[31_000:], codes[31_000:])
    merged = load(tmp_path / "merged")
    index.add(ids[31_000:], codes[31_000:])
    keep = ~np.isin(ids, ids[:50])
    reference = BruteForcePdqIndex()
    reference.add(ids[keep], codes[keep])
    assert _answers(merged, queries) == _answers(reference, queries) == _answers(index, queries)
    assert merged.stats()["delta_rows"] == 0 and len(merged) == 40_000 - 50
