"""The multi-index answers exactly what brute force answers, on random and hostile data."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from hashsieve.index import pdq_index as P
from hashsieve.index.base import PdqIndex
from hashsieve.index.pdq_index import (
    BruteForcePdqIndex,
    MultiIndexPdqIndex,
    PdqIndexError,
    load,
)


def flip(codes: np.ndarray, nbits: np.ndarray | int, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``codes`` with ``nbits`` (per row) distinct random bits flipped."""
    bits = np.unpackbits(codes, axis=1)
    nbits = np.broadcast_to(np.asarray(nbits), (codes.shape[0],))
    for i, k in enumerate(nbits):
        bits[i, rng.choice(256, int(k), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def random_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def clustered_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Near-duplicate families: few centres, members within 0..40 bits, plus exact duplicates."""
    centres = random_codes(max(1, n // 500), rng)
    members = centres[rng.integers(0, centres.shape[0], n)]
    out = flip(members, rng.integers(0, 41, n), rng)
    out[: n // 20] = out[n // 20 : 2 * (n // 20)]  # exact duplicates
    return out


def as_set(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    rows, ids, dists = result
    triples = list(zip(rows.tolist(), ids.tolist(), dists.tolist(), strict=True))
    assert len(triples) == len(set(triples)), "a hit was reported twice"
    return set(triples)


def same_as_brute(
    index: MultiIndexPdqIndex, ids: np.ndarray, codes: np.ndarray, queries: np.ndarray, thr: int
) -> None:
    ref = BruteForcePdqIndex()
    ref.add(ids, codes)
    got = index.query(queries, thr)
    assert np.all(np.diff(got[0]) >= 0), "rows must be ascending"
    expected = as_set(ref.query(queries, thr))
    assert expected, "the reference found nothing: the comparison would prove nothing"
    assert as_set(got) == expected


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.mark.parametrize("threshold", [0, 5, 10, 11, 21, 22, 31, 32, 33, 45])
@pytest.mark.parametrize("threads", [1, 2])
def test_random_set_matches_brute_force(rng, threshold, threads):
    codes = random_codes(30_000, rng)
    ids = rng.choice(2**31, 30_000, replace=False).astype(np.uint64) * 2
    queries = flip(codes[rng.integers(0, 30_000, 150)], rng.integers(0, 40, 150), rng)
    index = MultiIndexPdqIndex.from_arrays(ids, codes, threads=threads)
    same_as_brute(index, ids, codes, queries, threshold)


@pytest.mark.parametrize("n", [2_000, 60_000])
def test_clustered_set_matches_brute_force(rng, n):
    codes = clustered_codes(n, rng)
    ids = np.arange(n, dtype=np.uint32)
    queries = np.concatenate(
        [flip(codes[rng.integers(0, n, 100)], rng.integers(0, 33, 100), rng), codes[:20]]
    )
    index = MultiIndexPdqIndex.from_arrays(ids, codes)
    for thr in (0, 31):
        same_as_brute(index, ids, codes, queries, thr)


def test_codes_at_exactly_31_and_32_bits(rng):
    base = random_codes(1, rng)
    at31 = flip(np.repeat(base, 200, axis=0), 31, rng)
    at32 = flip(np.repeat(base, 200, axis=0), 32, rng)
    noise = random_codes(20_000, rng)
    codes = np.concatenate([at31, at32, noise])
    ids = np.arange(codes.shape[0], dtype=np.uint32)
    index = MultiIndexPdqIndex.from_arrays(ids, codes)
    _rows, got, dists = index.query(base, 31)
    assert set(got.tolist()) == set(range(200))
    assert set(dists.tolist()) == {31}
    assert set(index.query(base, 32)[1].tolist()) == set(range(400))


def test_many_identical_codes(rng):
    code = random_codes(1, rng)
    codes = np.concatenate([np.repeat(code, 5_000, axis=0), random_codes(5_000, rng)])
    ids = np.arange(10_000, dtype=np.uint32)
    index = MultiIndexPdqIndex.from_arrays(ids, codes)
    _rows, got, dists = index.query(code, 31)
    assert sorted(got.tolist()) == list(range(5_000))
    assert not dists.any()


def test_empty_index_and_empty_query(rng):
    index = MultiIndexPdqIndex()
    assert len(index) == 0
    rows, ids, dists = index.query(random_codes(3, rng), 31)
    assert rows.size == ids.size == dists.size == 0
    index.add([1], random_codes(1, rng))
    assert index.query(np.empty((0, 32), np.uint8), 31)[0].size == 0


@pytest.mark.parametrize("force_mih", [False, True])
def test_single_hash_index_matches(rng, monkeypatch, force_mih):
    """HMA #1318: an index holding one hash must still match it."""
    if force_mih:
        monkeypatch.setattr(P._Segment, "use_scan", lambda self, radius: radius > P.MAX_RADIUS)
    code = random_codes(1, rng)
    index = MultiIndexPdqIndex.from_arrays([7], code)
    assert len(index) == 1
    for k in (0, 1, 17, 31):
        _rows, ids, dists = index.query(flip(code, k, rng), 31)
        assert ids.tolist() == [7] and dists.tolist() == [k]
    assert index.query(flip(code, 32, rng), 31)[1].size == 0


def test_small_sets_through_the_multi_index(rng, monkeypatch):
    """Tiny segments are scanned; force the tables to check them too."""
    monkeypatch.setattr(P._Segment, "use_scan", lambda self, radius: radius > P.MAX_RADIUS)
    for n in (2, 5, 64, 999):
        codes = clustered_codes(n, rng)
        ids = np.arange(n, dtype=np.uint32)
        queries = flip(codes[rng.integers(0, n, 30)], rng.integers(0, 32, 30), rng)
        same_as_brute(MultiIndexPdqIndex.from_arrays(ids, codes), ids, codes, queries, 31)


@pytest.mark.parametrize("threshold", [0, 10, 31, 32])
def test_radii_cover_the_threshold(threshold):
    """Generalised pigeonhole: a code more than ``r_t`` bits away in every slot is more than
    ``threshold`` away, so the tables' radii may sum to ``threshold + 1 - NTABLES``."""
    radii = P.table_radii(threshold)
    assert radii.shape == (P.NTABLES,) and int((radii + 1).sum()) == threshold + 1
    assert radii.max() - radii.min() <= 1


def test_batches_split_by_scratch_and_output(rng, monkeypatch):
    """A batch of queries stops where its candidates fill the scratch (and one query alone may
    need more), and where the results fill the output: the answers stay brute force's."""
    monkeypatch.setattr(P, "BATCH_CANDIDATES", 40_000)  # batches of 9 queries here
    # A fresh per-thread workspace: buffers grown by earlier tests would never fill here.
    monkeypatch.setattr(P, "_local", threading.local())
    kernel, needs = P.K.mih_query, []

    def recording(*args):
        result = kernel(*args)
        needs.append(result[2])
        return result

    monkeypatch.setattr(P.K, "mih_query", recording)
    same = np.repeat(random_codes(1, rng), 5_000, axis=0)  # ~55,000 candidates, 5,000 hits
    codes = np.concatenate([same, random_codes(20_000, rng)])
    ids = np.arange(codes.shape[0], dtype=np.uint32)
    queries = np.concatenate([flip(codes[rng.integers(0, 25_000, 60)], 20, rng), codes[:5]])
    index = MultiIndexPdqIndex.from_arrays(ids, codes, threads=1)
    same_as_brute(index, ids, codes, rng.permutation(queries), 31)
    assert any(n > 0 for n in needs) and any(n < 0 for n in needs)


def test_ids_beyond_32_bits_are_rejected(rng):
    index = MultiIndexPdqIndex()
    with pytest.raises(PdqIndexError, match="32-bit"):
        index.add([2**32], random_codes(1, rng))
    with pytest.raises(PdqIndexError, match="32-bit"):
        index.add(np.array([-1]), random_codes(1, rng))
    with pytest.raises(PdqIndexError):
        index.add([2**70], random_codes(1, rng))
    with pytest.raises(PdqIndexError, match="ids for"):
        index.add([1, 2], random_codes(1, rng))
    index.add([2**32 - 1], random_codes(1, rng))
    assert len(index) == 1


def test_bad_codes_are_rejected():
    index = MultiIndexPdqIndex()
    with pytest.raises(PdqIndexError):
        index.add([1], np.zeros((1, 31), np.uint8))
    with pytest.raises(PdqIndexError):
        index.add([1], np.zeros((1, 32), np.int64))
    with pytest.raises(PdqIndexError):
        index.query(np.zeros((1, 32), np.uint8), -1)


def test_incremental_add_and_remove_equal_a_fresh_index(rng):
    n = 40_000
    codes = clustered_codes(n, rng)
    ids = np.arange(n, dtype=np.uint32) + 1000
    index = MultiIndexPdqIndex(merge_min=5_000)
    index.add(ids[:30_000], codes[:30_000])  # one main segment
    index.add(ids[30_000:31_000], codes[30_000:31_000])  # delta only
    assert index.stats()["delta_rows"] == 1_000
    index.add(ids[31_000:], codes[31_000:])  # outgrows the delta: merged
    assert index.stats()["delta_rows"] == 0
    index.add(ids[:10] + 10**6, codes[:10])  # delta again, duplicates of codes
    gone = rng.choice(ids, 3_000, replace=False)
    index.remove(gone)
    index.remove([4_000_000_000])  # unknown: ignored
    keep = ~np.isin(ids, gone)
    all_ids = np.concatenate([ids[keep], ids[:10] + 10**6])
    all_codes = np.concatenate([codes[keep], codes[:10]])
    assert len(index) == all_ids.size
    queries = flip(codes[rng.integers(0, n, 120)], rng.integers(0, 32, 120), rng)
    fresh = MultiIndexPdqIndex.from_arrays(all_ids, all_codes)
    assert as_set(index.query(queries, 31)) == as_set(fresh.query(queries, 31))
    same_as_brute(index, all_ids, all_codes, queries, 31)
    # a removed id can come back
    index.add(gone[:1], codes[:1])
    assert gone[0] in index.query(codes[:1], 0)[1]
    index.merge()
    assert index.stats()["tombstoned_ids"] == 0
    assert len(index) == all_ids.size + 1


def test_remove_then_compact_drops_rows(rng):
    codes = random_codes(10_000, rng)
    ids = np.arange(10_000, dtype=np.uint32)
    index = MultiIndexPdqIndex.from_arrays(ids, codes)
    index.merge_min = 100
    index.remove(ids[:5_000])  # past merge_fraction: compacted
    assert index.stats()["main_rows"] == 5_000 and index.stats()["tombstoned_ids"] == 0
    assert index.query(codes[:10], 0)[1].size == 0


@pytest.mark.parametrize("mmap", [True, False])
def test_save_and_load_round_trip(rng, tmp_path, mmap):
    codes = clustered_codes(20_000, rng)
    ids = np.arange(20_000, dtype=np.uint32) * 7
    index = MultiIndexPdqIndex.from_arrays(ids[:19_000], codes[:19_000])
    index.add(ids[19_000:], codes[19_000:])
    index.remove(ids[:100])
    queries = flip(codes[rng.integers(0, 20_000, 80)], rng.integers(0, 32, 80), rng)
    expected = as_set(index.query(queries, 31))
    assert expected
    index.save(tmp_path / "idx")
    index.save(tmp_path / "idx")  # overwrite: the old generation is removed
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == sorted(
        [*manifest["files"].values(), "manifest.json"]
    )
    loaded = load(tmp_path / "idx", mmap=mmap)
    assert isinstance(loaded, MultiIndexPdqIndex)
    assert len(loaded) == len(index)
    assert as_set(loaded.query(queries, 31)) == expected
    loaded.add([123_456_789], codes[:1])  # a mapped index still takes updates
    assert 123_456_789 in loaded.query(codes[:1], 0)[1]


def test_brute_force_round_trip(rng, tmp_path):
    codes = random_codes(500, rng)
    ref = BruteForcePdqIndex()
    ref.add(np.arange(500), codes)
    ref.save(tmp_path / "b")
    loaded = load(tmp_path / "b")
    expected = as_set(ref.query(codes[:5], 31))
    assert len(expected) >= 5  # each code finds itself at least
    assert as_set(loaded.query(codes[:5], 31)) == expected


def test_load_rejects_a_non_index(tmp_path):
    with pytest.raises(PdqIndexError, match="manifest"):
        load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(PdqIndexError, match="unknown"):
        load(tmp_path)


@pytest.mark.parametrize("cls", [MultiIndexPdqIndex, BruteForcePdqIndex])
def test_every_implementation_keeps_the_interface(rng, tmp_path, cls):
    codes = random_codes(50, rng)
    index = cls()
    assert isinstance(index, PdqIndex)
    index.add(np.arange(50), codes)
    index.save(tmp_path / "i")
    loaded = load(tmp_path / "i")
    assert isinstance(loaded, cls) and isinstance(loaded, PdqIndex) and len(loaded) == 50
    assert 7 in loaded.query(codes[7:8], 0)[1]
