"""Exact range search over PDQ codes: a brute-force reference and a multi-index fast at 10 M.

:class:`MultiIndexPdqIndex` is multi-index hashing with 11 disjoint ``bits``-wide slots of the code
(``bits`` ≤ 23 grows with the number of codes; 22 at 10 M). If two codes are within ``threshold``
bits, some slot ``t`` is within ``r_t`` bits whenever ``sum(r_t + 1) > threshold`` (pigeonhole:
slots each ≥ r_t + 1 apart would make the codes that far apart; :func:`table_radii`), so for the
PDQ threshold 31 a query probes, in tables 0-9, its own slot key and every key 1 or 2 bits away
(254 buckets at 22 bits), in table 10 the keys up to 1 bit away, and verifies each candidate with
four POPCNTs (a batch of queries at a time, grouped by the block of codes they read). Compared
with 16 slots of 16 bits and one flip (HMA/faiss), this probes ~10× more, much smaller, buckets
and touches ~6× fewer random codes, which is what costs.

Memory: the codes (32 B), the ids (4 B), per table ≥ 1 a uint32 row list (4 B; table 0 needs none
because the codes themselves are kept sorted by slot 0) and per table a ``2**bits + 1`` uint32
bucket-offset array: 93.6 B per code at 10 M, ~80 B at 100 M. Building is a counting sort per table.

Updates go to a small delta segment (rebuilt on each ``add``, queried alongside the main one) that
is merged into the main segment when it grows past ``merge_fraction`` of it; ``remove`` records the
ids in a tombstone list filtered at query time and dropped at the next merge.

Persistence is plain ``.npy`` files plus a JSON manifest written last (atomic replace), loadable
with ``mmap``. No pickle.
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap as mmap_module
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashsieve.errors import HashsieveError
from hashsieve.index import _kernels as K

PDQ_BYTES = 32
#: Number of disjoint slots (tables). 11 × 3 > 32, so thresholds up to 32 need ≤ 2-bit probes.
NTABLES = 11
MAX_BITS = 23  # 11 × 23 = 253 ≤ 256
MIN_BITS = 4
#: Largest radius probed per slot; a threshold needing more (≥ 33 with 11 slots) scans linearly.
MAX_RADIUS = 2
#: Candidates verified together by one kernel call: a batch of queries (about 110 at 100 M codes),
#: grouped by the block of codes they read, so each block's address translation serves many.
#: 64 MB of scratch per query thread at most.
BATCH_CANDIDATES = 1 << 22
MAX_ID = 2**32 - 1
MANIFEST = "manifest.json"
FORMAT_MIH = "hashsieve-pdq-mih"
FORMAT_BRUTE = "hashsieve-pdq-brute"
FORMAT_VERSION = 1

ResultArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


class PdqIndexError(HashsieveError, ValueError):
    """Bad input to a PDQ index (bad code shape, an id that does not fit 32 bits, a bad file)."""


# --------------------------------------------------------------------------------------------------
# input checks


def as_codes(codes: Any) -> np.ndarray:
    """``codes`` as a C-contiguous ``(n, 32)`` uint8 array; raises :class:`PdqIndexError`."""
    if isinstance(codes, list | tuple) and codes and isinstance(codes[0], bytes | bytearray):
        if any(len(c) != PDQ_BYTES for c in codes):
            raise PdqIndexError(f"every PDQ code must be {PDQ_BYTES} bytes")
        codes = np.frombuffer(b"".join(codes), np.uint8).reshape(-1, PDQ_BYTES)
    arr = np.asarray(codes)
    if arr.size == 0:
        return np.empty((0, PDQ_BYTES), np.uint8)
    if arr.dtype != np.uint8:
        raise PdqIndexError(f"PDQ codes must be uint8, not {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == PDQ_BYTES:
        arr = arr.reshape(1, PDQ_BYTES)
    if arr.ndim != 2 or arr.shape[1] != PDQ_BYTES:
        raise PdqIndexError(f"PDQ codes must have shape (n, {PDQ_BYTES}), not {arr.shape}")
    return np.ascontiguousarray(arr)


def as_ids(ids: Any, n: int | None = None) -> np.ndarray:
    """``ids`` as uint32; raises :class:`PdqIndexError` for non-integers or values ≥ 2**32."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise PdqIndexError(f"ids must be one-dimensional, not shape {arr.shape}")
    if arr.size == 0:
        arr = np.empty(0, np.uint32)
    elif arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.int64)
        except OverflowError:
            raise PdqIndexError(f"ids must be integers in [0, {MAX_ID}]") from None
    if arr.dtype.kind not in "iu":
        raise PdqIndexError(f"ids must be integers, not {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > MAX_ID:
            bad = lo if lo < 0 else hi
            raise PdqIndexError(f"id {bad} does not fit the index's 32-bit ids [0, {MAX_ID}]")
    if n is not None and arr.shape[0] != n:
        raise PdqIndexError(f"{arr.shape[0]} ids for {n} codes")
    return arr.astype(np.uint32, copy=False)


def _as_words(codes_u8: np.ndarray) -> np.ndarray:
    """``(n, 32)`` uint8 → ``(n, 4)`` little-endian uint64 view (no copy)."""
    return codes_u8.view("<u8").reshape(-1, 4)


def _check_threshold(threshold: int) -> int:
    t = int(threshold)
    if t < 0:
        raise PdqIndexError(f"threshold must be ≥ 0, not {threshold}")
    return t


def _empty_result() -> ResultArrays:
    return np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.int32)


def _in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the sorted array ``sorted_set``."""
    if sorted_set.size == 0 or values.size == 0:
        return np.zeros(values.shape[0], bool)
    i = np.searchsorted(sorted_set, values)
    i[i == sorted_set.size] = 0
    return sorted_set[i] == values


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------------
# brute force (the reference)


class BruteForcePdqIndex:
    """Linear scan with ``np.bitwise_count``: obviously exact; the reference the tests trust."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.uint32)
        self._codes = np.empty((0, PDQ_BYTES), np.uint8)

    def add(self, ids: Any, codes: Any) -> None:
        codes = as_codes(codes)
        ids = as_ids(ids, codes.shape[0])
        self._ids = np.concatenate([self._ids, ids])
        self._codes = np.concatenate([self._codes, codes])

    def remove(self, ids: Any) -> None:
        keep = ~np.isin(self._ids, as_ids(ids))
        self._ids, self._codes = self._ids[keep], self._codes[keep]

    def query(self, codes: Any, threshold: int) -> ResultArrays:
        queries = _as_words(as_codes(codes))
        threshold = _check_threshold(threshold)
        words = _as_words(np.ascontiguousarray(self._codes))
        rows, ids, dists = [], [], []
        for r, q in enumerate(queries):
            d = np.bitwise_count(words ^ q).sum(axis=1, dtype=np.int32)
            hit = np.flatnonzero(d <= threshold)
            rows.append(np.full(hit.size, r, np.int64))
            ids.append(self._ids[hit])
            dists.append(d[hit])
        if not rows:
            return _empty_result()
        return np.concatenate(rows), np.concatenate(ids), np.concatenate(dists)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def save(self, directory: Path) -> None:
        _save_arrays(
            Path(directory),
            {"format": FORMAT_BRUTE, "version": FORMAT_VERSION},
            {"ids": self._ids, "codes": self._codes},
        )

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> BruteForcePdqIndex:
        _, arrays = _load_arrays(Path(directory), FORMAT_BRUTE, mmap)
        index = cls()
        index._ids, index._codes = arrays["ids"], arrays["codes"]
        return index


# --------------------------------------------------------------------------------------------------
# multi-index segments


def choose_bits(n: int) -> int:
    """Slot width for ``n`` codes: about 2 codes per bucket, at most 23 bits."""
    if n <= 4:
        return MIN_BITS
    return int(min(MAX_BITS, max(MIN_BITS, math.floor(math.log2(n / 2)))))


def n_probe_keys(bits: int, radius: int) -> int:
    return sum(math.comb(bits, k) for k in range(radius + 1))


def table_radii(threshold: int) -> np.ndarray:
    """Probe radius of each table for ``threshold``: radii ``r_t`` with ``sum(r_t + 1) =
    threshold + 1``, as even as possible (generalised pigeonhole: a code within ``threshold``
    cannot be ``> r_t`` bits away in every slot ``t``, that would make ``≥ threshold + 1``). For
    31: 2 in tables 0-9 and 1 in table 10, 8 % fewer candidates than 2 everywhere (the
    ``threshold // NTABLES`` of plain pigeonhole). The larger radii go to the first tables:
    table 0's candidates are runs of ``codes`` (cheap reads). -1: the table is not probed."""
    q, rem = divmod(int(threshold) + 1, NTABLES)
    return np.array([q if t < rem else q - 1 for t in range(NTABLES)], np.int64)


@dataclass
class _Segment:
    """One immutable multi-index over a block of codes (sorted by slot 0)."""

    codes: np.ndarray  # (n, 32) uint8, rows sorted by slot 0
    ids: np.ndarray  # (n,) uint32, same order
    offsets: np.ndarray  # (NTABLES, 2**bits + 1) uint32 bucket starts
    pos: np.ndarray  # (NTABLES - 1, n) uint32: rows of tables 1.. bucket by bucket
    bits: int

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def words(self) -> np.ndarray:
        return _as_words(self.codes)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.codes, self.ids, self.offsets, self.pos))

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        codes: np.ndarray,
        pool: ThreadPoolExecutor | None,
        alloc: Allocator | None = None,
    ) -> _Segment:
        """Build over ``ids``/``codes``; ``alloc(name, shape, dtype)`` gives the segment's arrays
        (default: memory; :func:`build_saved` passes memory-mapped files, so that a segment
        larger than memory is built straight into its files)."""
        alloc = alloc or _in_memory
        n = int(ids.shape[0])
        bits = choose_bits(n)
        nkeys = 1 << bits
        offsets = alloc("offsets", (NTABLES, nkeys + 1), np.uint32)
        order = np.empty(n, np.uint32)
        words = _as_words(np.ascontiguousarray(codes))
        K.counting_sort(K.slot_keys(words, 0, bits), nkeys, order, offsets[0])
        sorted_codes = alloc("codes", (n, PDQ_BYTES), np.uint8)
        K.gather_rows(words, order, _as_words(sorted_codes))
        sorted_ids = alloc("ids", (n,), np.uint32)
        np.take(np.asarray(ids, np.uint32), order, out=sorted_ids)
        del order
        pos = alloc("pos", (NTABLES - 1, n), np.uint32)
        sorted_words = _as_words(sorted_codes)

        def table(t: int) -> None:
            K.counting_sort(K.slot_keys(sorted_words, t, bits), nkeys, pos[t - 1], offsets[t])

        if pool is None:
            for t in range(1, NTABLES):
                table(t)
        else:
            list(pool.map(table, range(1, NTABLES)))
        return cls(sorted_codes, sorted_ids, offsets, pos, bits)

    def use_scan(self, radius: int) -> bool:
        """Scan linearly when the radius is beyond the tables or the segment is tiny."""
        if radius > MAX_RADIUS:
            return True
        return len(self) <= 4 * NTABLES * n_probe_keys(self.bits, radius)

    def query_chunk(self, queries: np.ndarray, row0: int, threshold: int) -> ResultArrays:
        """Query rows ``row0 ...`` (``queries`` as uint64 words): (rows, code rows, distances)."""
        radii = table_radii(threshold)
        ws = _workspace()
        scan = self.use_scan(int(radii.max()))
        parts = []
        done = 0
        nq = queries.shape[0]
        nprobe = sum(n_probe_keys(self.bits, int(r)) for r in radii)
        per_query = int(nprobe * len(self) / (1 << self.bits) * 1.25) + 1024
        batch = max(1, min(nq, BATCH_CANDIDATES // per_query, K.MAX_BATCH))
        while done < nq:
            out = ws.out(max(1024, 4 * (nq - done)))
            if scan:
                n_out, nxt, need = K.flat_query(
                    self.words, queries[done:], row0 + done, threshold, out
                )
            else:
                work = ws.scratch(3 * nprobe + 2 * per_query * min(batch, nq - done))
                n_out, nxt, need = K.mih_query(
                    self.words, self.offsets, self.pos, queries[done:], row0 + done,
                    threshold, radii, self.bits, NTABLES, batch, work, out,
                )  # fmt: skip
            parts.append(out[:, :n_out].copy())
            done += nxt
            if need > 0:  # one query with more candidates than the scratch holds
                ws.scratch(need)
                per_query = max(per_query, need // 2)
                batch = 1 if per_query > BATCH_CANDIDATES else batch
            elif need < 0:  # more results than the output buffer holds
                ws.grow_out()
        res = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return res[0], res[1], res[2].astype(np.int32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"codes": self.codes, "ids": self.ids, "offsets": self.offsets, "pos": self.pos}


Allocator = Callable[[str, tuple[int, ...], Any], np.ndarray]


def _in_memory(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.empty(shape, dtype)


class _Workspace:
    """Per-thread scratch and output buffers reused across kernel calls (no page faults)."""

    def __init__(self) -> None:
        self._out = np.empty((3, 0), np.int64)
        self._work = np.empty(0, np.int64)
        self._min_out = 0

    def out(self, size: int) -> np.ndarray:
        size = max(size, self._min_out)
        if self._out.shape[1] < size:
            self._out = np.empty((3, size), np.int64)
        return self._out

    def grow_out(self) -> None:
        self._min_out = max(1024, 2 * self._out.shape[1])

    def scratch(self, nwork: int) -> np.ndarray:
        if self._work.shape[0] < nwork:
            self._work = np.empty(nwork, np.int64)
        return self._work


_local = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = _Workspace()
    return ws


def _empty_segment() -> _Segment:
    # Built by hand: calling the kernels here would load them (~0.4 s) for an empty index.
    bits = choose_bits(0)
    return _Segment(
        np.empty((0, PDQ_BYTES), np.uint8),
        np.empty(0, np.uint32),
        np.zeros((NTABLES, (1 << bits) + 1), np.uint32),
        np.empty((NTABLES - 1, 0), np.uint32),
        bits,
    )


# --------------------------------------------------------------------------------------------------
# the fast index


class MultiIndexPdqIndex:
    """Exact PDQ range search, multi-index hashing with compiled, threaded kernels.

    ``threads``: worker threads for queries and builds (default: the CPUs this process may use).
    ``merge_fraction`` / ``merge_min``: the delta segment is merged into the main one (a rebuild)
    when it holds more than ``max(merge_min, merge_fraction * len(main))`` codes; tombstoned rows
    are compacted away at the same time, or when they pass ``merge_fraction`` of the main segment.
    """

    def __init__(
        self,
        threads: int | None = None,
        merge_fraction: float = 1 / 16,
        merge_min: int = 65_536,
    ) -> None:
        self._threads = int(threads) if threads else default_threads()
        self.merge_fraction = float(merge_fraction)
        self.merge_min = int(merge_min)
        self._main = _empty_segment()
        self._delta = _empty_segment()
        self._removed = np.empty(0, np.uint32)  # sorted tombstoned ids present in a segment
        self._n_removed_rows = 0
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, ids: Any, codes: Any, threads: int | None = None) -> MultiIndexPdqIndex:
        """Build directly (one main segment) from ids and codes."""
        index = cls(threads=threads)
        codes = as_codes(codes)
        ids = as_ids(ids, codes.shape[0])
        index._main = _Segment.build(ids, codes, index._executor())
        return index

    @property
    def threads(self) -> int:
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        value = max(1, int(value))
        if value != self._threads:
            self.close()
            self._threads = value

    def _executor(self) -> ThreadPoolExecutor | None:
        if self._threads <= 1:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="pdq-index")
        return self._pool

    def close(self) -> None:
        """Stop the worker threads (they are restarted on demand)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- updates -----------------------------------------------------------------------------------

    def add(self, ids: Any, codes: Any) -> None:
        """Index ``codes[i]`` under ``ids[i]``. Only the delta segment is rebuilt, unless it has
        outgrown its share (then everything is merged into one main segment)."""
        codes = as_codes(codes)
        ids = as_ids(ids, codes.shape[0])
        if ids.size == 0:
            return
        with self._lock:
            if _in_sorted(ids, self._removed).any():
                # An id that is tombstoned comes back: drop its old rows first, else the
                # tombstone would hide the new one too.
                self._compact()
            delta_ids = np.concatenate([self._delta.ids, ids])
            delta_codes = np.concatenate([self._delta.codes, codes])
            if self.merges_on_add(ids.size):
                self._rebuild(extra=(delta_ids, delta_codes))
            else:
                self._delta = _Segment.build(delta_ids, delta_codes, self._executor())

    def merges_on_add(self, count: int) -> bool:
        """Whether adding ``count`` codes merges everything into one main segment (a rebuild)
        rather than rebuilding the delta segment only."""
        total = len(self._delta) + int(count)
        return total > max(self.merge_min, self.merge_fraction * len(self._main))

    def save_merged(self, directory: Path, ids: Any, codes: Any) -> None:
        """Save this index plus ``codes``/``ids`` as one main segment into ``directory``, built
        straight into memory-mapped files: what :meth:`add` then :meth:`save` give when the add
        merges, in bounded memory at any size (the rows are gathered into a file first)."""
        codes = as_codes(codes) if not isinstance(codes, np.ndarray) else codes
        ids = as_ids(ids, codes.shape[0])
        with self._lock:
            main, delta, removed = self._main, self._delta, self._removed
        parts = [(main.ids, main.codes), (delta.ids, delta.codes), (ids, codes)]
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        gathered = directory / f".gather-{uuid.uuid4().hex[:12]}"
        gathered.mkdir()
        try:
            n = sum(int(p[0].shape[0]) for p in parts)
            all_ids = np.lib.format.open_memmap(gathered / "ids.npy", "w+", np.uint32, (n,))
            all_codes = np.lib.format.open_memmap(
                gathered / "codes.npy", "w+", np.uint8, (n, PDQ_BYTES)
            )
            at = 0
            for part_ids, part_codes in parts:
                step = 1 << 22
                for s in range(0, int(part_ids.shape[0]), step):
                    chunk_ids = np.asarray(part_ids[s : s + step])
                    chunk_codes = np.asarray(part_codes[s : s + step])
                    if removed.size:
                        keep = ~_in_sorted(chunk_ids, removed)
                        chunk_ids, chunk_codes = chunk_ids[keep], chunk_codes[keep]
                    k = int(chunk_ids.shape[0])
                    all_ids[at : at + k] = chunk_ids
                    all_codes[at : at + k] = chunk_codes
                    at += k
            build_saved(directory, np.asarray(all_ids)[:at], np.asarray(all_codes)[:at],
                        threads=self._threads)  # fmt: skip
            del all_ids, all_codes
        finally:
            for f in gathered.iterdir():
                f.unlink()
            gathered.rmdir()

    def remove(self, ids: Any) -> None:
        """Forget every row with one of these ids (unknown ids are ignored)."""
        ids = np.unique(as_ids(ids))
        if ids.size == 0:
            return
        with self._lock:
            ids = ids[~_in_sorted(ids, self._removed)]
            rows = 0
            present = np.zeros(ids.size, bool)
            for seg in (self._main, self._delta):
                hit = np.isin(np.asarray(seg.ids), ids)
                rows += int(hit.sum())
                present |= np.isin(ids, np.asarray(seg.ids)[hit])
            self._removed = np.union1d(self._removed, ids[present]).astype(np.uint32)
            self._n_removed_rows += rows
            if self._n_removed_rows > max(
                self.merge_min, self.merge_fraction * (len(self._main) + len(self._delta))
            ):
                self._compact()

    def merge(self) -> None:
        """Merge the delta segment and drop tombstoned rows now (one full rebuild)."""
        with self._lock:
            self._compact()

    def _compact(self) -> None:
        self._rebuild(extra=(self._delta.ids, self._delta.codes))

    def _rebuild(self, extra: tuple[np.ndarray, np.ndarray]) -> None:
        ids = np.concatenate([np.asarray(self._main.ids), extra[0]])
        codes = np.concatenate([np.asarray(self._main.codes), extra[1]])
        if self._removed.size:
            keep = ~_in_sorted(ids, self._removed)
            ids, codes = ids[keep], codes[keep]
        self._main = _Segment.build(ids, codes, self._executor())
        self._delta = _empty_segment()
        self._removed = np.empty(0, np.uint32)
        self._n_removed_rows = 0

    # -- queries -----------------------------------------------------------------------------------

    def query(self, codes: Any, threshold: int = 31) -> ResultArrays:
        """Every indexed (query row, id, distance) with distance ≤ ``threshold``.

        Returns ``rows`` (int64, ascending), ``ids`` (uint32) and ``distances`` (int32).
        """
        queries = _as_words(as_codes(codes))
        threshold = _check_threshold(threshold)
        with self._lock:  # a consistent snapshot; updates replace segments, never mutate them
            main, delta, removed = self._main, self._delta, self._removed
        segments = [s for s in (main, delta) if len(s)]
        if not segments or queries.shape[0] == 0:
            return _empty_result()
        parts = [self._query_segment(seg, queries, threshold) for seg in segments]
        if len(parts) == 1:
            rows, ids, dists = parts[0]
        else:
            rows = np.concatenate([p[0] for p in parts])
            ids = np.concatenate([p[1] for p in parts])
            dists = np.concatenate([p[2] for p in parts])
            order = np.argsort(rows, kind="stable")
            rows, ids, dists = rows[order], ids[order], dists[order]
        if removed.size:
            keep = ~_in_sorted(ids, removed)
            rows, ids, dists = rows[keep], ids[keep], dists[keep]
        return rows, ids, dists

    def _query_segment(self, seg: _Segment, queries: np.ndarray, threshold: int) -> ResultArrays:
        nq = queries.shape[0]
        pool = self._executor()
        if pool is None or nq == 1:
            rows, found, dists = seg.query_chunk(queries, 0, threshold)
        else:
            # large chunks: the kernel batches the queries of one call (see BATCH_CANDIDATES)
            chunk = int(min(1024, max(1, -(-nq // (self._threads * 2)))))
            starts = range(0, nq, chunk)
            results = list(
                pool.map(lambda s: seg.query_chunk(queries[s : s + chunk], s, threshold), starts)
            )
            rows = np.concatenate([r[0] for r in results])
            found = np.concatenate([r[1] for r in results])
            dists = np.concatenate([r[2] for r in results])
        return rows, np.asarray(seg.ids)[found], dists

    # -- size, memory, persistence -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._main) + len(self._delta) - self._n_removed_rows

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (mapped or in memory)."""
        return self._main.nbytes + self._delta.nbytes + self._removed.nbytes

    def stats(self) -> dict[str, Any]:
        return {
            "codes": len(self),
            "main_rows": len(self._main),
            "delta_rows": len(self._delta),
            "tombstoned_ids": int(self._removed.size),
            "bits": self._main.bits,
            "tables": NTABLES,
            "nbytes": self.nbytes,
            "threads": self._threads,
        }

    def save(self, directory: Path) -> None:
        """Write ``.npy`` files and ``manifest.json`` (replaced atomically, written last)."""
        arrays: dict[str, np.ndarray] = {"removed": self._removed}
        for name, seg in (("main", self._main), ("delta", self._delta)):
            for key, arr in seg.arrays().items():
                arrays[f"{name}-{key}"] = arr
        manifest = {
            "format": FORMAT_MIH,
            "version": FORMAT_VERSION,
            "ntables": NTABLES,
            "main_bits": self._main.bits,
            "delta_bits": self._delta.bits,
            "removed_rows": self._n_removed_rows,
        }
        _save_arrays(Path(directory), manifest, arrays)

    @classmethod
    def load(
        cls, directory: Path, mmap: bool = True, threads: int | None = None
    ) -> MultiIndexPdqIndex:
        """Open a saved index; with ``mmap`` the arrays are memory-mapped read-only."""
        manifest, arrays = _load_arrays(Path(directory), FORMAT_MIH, mmap)
        if manifest.get("ntables") != NTABLES:
            raise PdqIndexError(f"{directory}: index built with {manifest.get('ntables')} tables")
        index = cls(threads=threads)
        for name in ("main", "delta"):
            seg = _Segment(
                codes=arrays[f"{name}-codes"],
                ids=arrays[f"{name}-ids"],
                offsets=arrays[f"{name}-offsets"],
                pos=arrays[f"{name}-pos"],
                bits=int(manifest[f"{name}_bits"]),
            )
            if seg.offsets.shape != (NTABLES, (1 << seg.bits) + 1):
                raise PdqIndexError(f"{directory}: {name} offsets have the wrong shape")
            setattr(index, f"_{name}", seg)
        index._removed = arrays["removed"]
        index._n_removed_rows = int(manifest["removed_rows"])
        return index

    def __enter__(self) -> MultiIndexPdqIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# files


def _save_arrays(
    directory: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    generation: str | None = None,
    written: dict[str, str] | None = None,
) -> None:
    """Write each array as ``<generation>-<name>.npy``, then the manifest (temp + ``os.replace``),
    then delete the previous generation's files. A reader sees the old or the new index, whole.
    ``written``: arrays of this generation already in their files (name -> file name)."""
    directory.mkdir(parents=True, exist_ok=True)
    generation = generation or uuid.uuid4().hex[:12]
    files = dict(written or {})
    for name, arr in arrays.items():
        fname = f"{generation}-{name}.npy"
        with open(directory / fname, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        files[name] = fname
    manifest = {**manifest, "generation": generation, "files": files}
    tmp = directory / f".{MANIFEST}.{generation}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    old = _read_manifest(directory) if (directory / MANIFEST).exists() else None
    os.replace(tmp, directory / MANIFEST)
    if old is not None:
        for fname in old.get("files", {}).values():
            if fname not in files.values():
                with contextlib.suppress(FileNotFoundError):
                    (directory / fname).unlink()


def build_saved(
    directory: Path, ids: Any, codes: Any, threads: int | None = None
) -> MultiIndexPdqIndex:
    """Build a multi-index over ``ids``/``codes`` (arrays, may be memory-mapped) straight into
    ``.npy`` files in ``directory`` and write its manifest: the same files as
    ``MultiIndexPdqIndex.from_arrays(ids, codes).save(directory)``, without holding the index in
    memory (100 M codes: about 8 GB of files, a few hundred MB of scratch). Returns it mapped."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    codes = codes if isinstance(codes, np.ndarray) else as_codes(codes)
    if codes.ndim != 2 or codes.shape[1] != PDQ_BYTES or codes.dtype != np.uint8:
        raise PdqIndexError(f"PDQ codes must have shape (n, {PDQ_BYTES}) uint8")
    ids = np.asarray(ids)
    if ids.shape != (codes.shape[0],):
        raise PdqIndexError(f"{ids.shape[0]} ids for {codes.shape[0]} codes")
    if ids.dtype != np.uint32:
        ids = as_ids(ids, codes.shape[0])
    generation = uuid.uuid4().hex[:12]
    files: dict[str, str] = {}
    maps: list[tuple[np.memmap, Path]] = []

    def alloc(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        fname = f"{generation}-main-{name}.npy"
        files[f"main-{name}"] = fname
        arr = np.lib.format.open_memmap(directory / fname, mode="w+", dtype=dtype, shape=shape)
        maps.append((arr, directory / fname))
        return np.asarray(arr)

    index = MultiIndexPdqIndex(threads=threads)
    try:
        main = _Segment.build(ids, codes, index._executor(), alloc=alloc)
    finally:
        index.close()
    written = [_sync(mapped, path) for mapped, path in maps]
    bits = main.bits
    maps.clear()
    del main  # unmapped now: the kernel drops only pages that no one maps
    for path in written:
        _drop_cached(path)
    empty = _empty_segment()
    arrays: dict[str, np.ndarray] = {"removed": np.empty(0, np.uint32)}
    for key, arr in empty.arrays().items():
        arrays[f"delta-{key}"] = arr
    manifest = {
        "format": FORMAT_MIH,
        "version": FORMAT_VERSION,
        "ntables": NTABLES,
        "main_bits": bits,
        "delta_bits": empty.bits,
        "removed_rows": 0,
    }
    _save_arrays(directory, manifest, arrays, generation=generation, written=files)
    return MultiIndexPdqIndex.load(directory, mmap=True, threads=threads)


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise PdqIndexError(f"{directory}: no {MANIFEST}, not a saved index") from None
    except json.JSONDecodeError as exc:
        raise PdqIndexError(f"{directory}: unreadable {MANIFEST}: {exc}") from None


def _load_arrays(
    directory: Path, expected_format: str | None, mmap: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    manifest = _read_manifest(directory)
    if expected_format is not None and manifest.get("format") != expected_format:
        found = manifest.get("format")
        raise PdqIndexError(f"{directory}: format {found!r}, not {expected_format}")
    if manifest.get("version") != FORMAT_VERSION:
        raise PdqIndexError(f"{directory}: unsupported version {manifest.get('version')!r}")
    arrays = {}
    for name, fname in manifest["files"].items():
        arr = np.load(directory / fname, mmap_mode="r" if mmap else None, allow_pickle=False)
        if isinstance(arr, np.memmap):
            _advise_huge(arr)
        arrays[name] = np.asarray(arr)  # a plain ndarray view of the memmap
    return manifest, arrays


def _advise_huge(arr: np.memmap) -> None:
    """Ask for 2 MB pages on this mapping (a hint: ignored where the kernel cannot). Queries read
    codes at random across GBs: with 4 KB pages nearly every read also misses the TLB, which on
    a virtual machine costs as much as the read (100 M codes: 3.5 → 1.8 ms per query). Page
    faults on such a mapping read the file ahead in 2 MB folios that the kernel maps whole."""
    mm = getattr(arr, "_mmap", None)
    advice = getattr(mmap_module, "MADV_HUGEPAGE", None)
    if mm is not None and advice is not None:
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(advice)


def _sync(mapped: np.memmap, path: Path) -> Path:
    mapped.flush()
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    return path


def _drop_cached(path: Path) -> None:
    """Drop a written file's (clean) pages from the page cache. An array written through a
    memory map at scattered places (``pos`` by a counting sort) sits in the cache as 4 KB pages,
    which the queries' mapping then cannot use as 2 MB ones; read again, it comes in large."""
    advice = getattr(os, "POSIX_FADV_DONTNEED", None)
    if advice is None:  # pragma: no cover - not Linux
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, advice)
    finally:
        os.close(fd)


def load(directory: Path, mmap: bool = True, threads: int | None = None) -> Any:
    """Open a saved PDQ index of either kind, by its manifest."""
    fmt = _read_manifest(Path(directory)).get("format")
    if fmt == FORMAT_MIH:
        return MultiIndexPdqIndex.load(directory, mmap=mmap, threads=threads)
    if fmt == FORMAT_BRUTE:
        return BruteForcePdqIndex.load(directory, mmap=mmap)
    raise PdqIndexError(f"{directory}: unknown index format {fmt!r}")
