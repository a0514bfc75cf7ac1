"""Benchmark the PDQ multi-index against faiss (flat, and HMA's multi-hash), and digest lookups.

    .venv/bin/python bench/index.py --hashes 10000000 --queries 100000 [--json] [--clustered]
    .venv/bin/python bench/index.py --digests 50000000 [--sqlite-rows 50000000] [--json]

Data is generated (benign random codes). Queries are indexed codes with 0..31 random bits flipped,
so each has a planted answer; recall is measured against that planted source for every query and,
on the first ``--anchor-queries`` queries, against the full exact answer (faiss IndexBinaryFlat,
or our linear-scan kernel with ``--skip-anchors``). ``bytes_per_hash``: for ours the index arrays'
``nbytes`` / n (``rss_bytes_per_hash`` is the RSS growth while building); for faiss the RSS growth.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hashsieve.index import _kernels as K
from hashsieve.index.exact import SortedDigestIndex
from hashsieve.index.pdq_index import MultiIndexPdqIndex, load

THRESHOLD = 31


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def flip_exact(codes: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip exactly ``k[i]`` random bits of row ``i`` (vectorised, in blocks)."""
    out = codes.copy()
    for s in range(0, codes.shape[0], 50_000):
        keys = rng.random((min(50_000, codes.shape[0] - s), 256))
        cut = np.sort(keys, axis=1)[np.arange(keys.shape[0]), k[s : s + keys.shape[0]]]
        mask = np.packbits(keys < cut[:, None], axis=1)
        out[s : s + keys.shape[0]] ^= mask
    return out


def make_codes(n: int, clustered: bool, rng: np.random.Generator) -> np.ndarray:
    if not clustered:
        return rng.integers(0, 256, (n, 32), dtype=np.uint8)
    # near-duplicate families: centres, members within a few to ~25 bits, some exact duplicates
    centres = rng.integers(0, 256, (max(1, n // 200), 32), dtype=np.uint8)
    out = np.empty((n, 32), np.uint8)
    for s in range(0, n, 1_000_000):
        m = min(1_000_000, n - s)
        block = centres[rng.integers(0, centres.shape[0], m)]
        mask = rng.integers(0, 256, (m, 32), dtype=np.uint8)
        for _ in range(rng.integers(3, 6)):
            mask &= rng.integers(0, 256, (m, 32), dtype=np.uint8)
        out[s : s + m] = block ^ mask
    dup = n // 20
    out[:dup] = out[dup : 2 * dup]
    return out


def hits_by_row(rows: np.ndarray, ids: np.ndarray, nq: int) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(nq)]
    for r, i in zip(rows.tolist(), ids.tolist(), strict=True):
        out[r].add(i)
    return out


def recall(got: list[set[int]], truth: list[set[int]]) -> tuple[float, int]:
    total = sum(len(t) for t in truth)
    found = sum(len(g & t) for g, t in zip(got, truth, strict=True))
    extra = sum(len(g - t) for g, t in zip(got, truth, strict=True))
    return (found / total if total else 1.0), extra


def planted_recall(rows: np.ndarray, ids: np.ndarray, src: np.ndarray) -> float:
    hit = np.zeros(src.size, bool)
    sel = ids.astype(np.int64) == src[rows]
    hit[rows[sel]] = True
    return float(hit.mean())


def bench_ours(codes, ids, queries, src, nanchor, threads, single, tmp: Path) -> dict[str, Any]:
    r0 = rss()
    t = time.perf_counter()
    index = MultiIndexPdqIndex.from_arrays(ids, codes, threads=threads)
    build = time.perf_counter() - t
    rss_delta = rss() - r0
    index.query(queries[:8], THRESHOLD)  # JIT (cached) and pool warm-up
    t = time.perf_counter()
    rows, got, _ = index.query(queries, THRESHOLD)
    dt = time.perf_counter() - t
    nsingle = min(single, queries.shape[0])
    t = time.perf_counter()
    for i in range(nsingle):
        index.query(queries[i : i + 1], THRESHOLD)
    single_ms = (time.perf_counter() - t) / max(1, nsingle) * 1e3
    index.save(tmp / "ours")
    t = time.perf_counter()
    loaded = load(tmp / "ours", mmap=True, threads=threads)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    loaded.query(queries[:nanchor], THRESHOLD)
    loaded_qps = nanchor / (time.perf_counter() - t)
    n = codes.shape[0]
    return {
        "build_s": round(build, 3),
        "qps": round(queries.shape[0] / dt, 1),
        "single_ms": round(single_ms, 4),
        "recall": planted_recall(rows, got, src),
        "bytes_per_hash": round(index.nbytes / n, 2),
        "rss_bytes_per_hash": round(rss_delta / n, 2),
        "load_s": round(load_s, 4),
        "loaded_mmap_qps": round(loaded_qps, 1),
        "queries": int(queries.shape[0]),
        "threads": index.threads,
        "bits": index.stats()["bits"],
        "_hits": hits_by_row(rows[rows < nanchor], got[rows < nanchor], nanchor),
    }


def bench_faiss(kind: str, codes, ids, queries, src, threads) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(threads)
    r0 = rss()
    t = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexBinaryFlat(256)
        index.add(codes)
    else:
        mh = faiss.IndexBinaryMultiHash(256, 16, 16)
        mh.nflip = 1
        index = faiss.IndexBinaryIDMap2(mh)
        index.add_with_ids(codes, ids.astype(np.int64))
    build = time.perf_counter() - t
    rss_delta = rss() - r0
    t = time.perf_counter()
    lims, _, labels = index.range_search(queries, THRESHOLD + 1)
    dt = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(min(50, queries.shape[0])):
        index.range_search(queries[i : i + 1], THRESHOLD + 1)
    single_ms = (time.perf_counter() - t) / min(50, queries.shape[0]) * 1e3
    rows = np.repeat(np.arange(queries.shape[0]), np.diff(lims).astype(np.int64))
    found = labels if kind != "flat" else ids[labels]
    n = codes.shape[0]
    return {
        "build_s": round(build, 3),
        "qps": round(queries.shape[0] / dt, 1),
        "single_ms": round(single_ms, 3),
        "recall": planted_recall(rows, found, src),
        # flat: its code array (RSS growth is masked by memory freed before); multi-hash: RSS
        "bytes_per_hash": float(index.code_size) if kind == "flat" else round(rss_delta / n, 2),
        "queries": int(queries.shape[0]),
        "_hits": hits_by_row(rows, found, queries.shape[0]),
    }


def exact_truth(codes, ids, queries) -> list[set[int]]:
    words = codes.view("<u8").reshape(-1, 4)
    qw = np.ascontiguousarray(queries).view("<u8").reshape(-1, 4)
    out = np.empty((3, 1 << 20), np.int64)
    n_out, nxt, _need = K.flat_query(words, qw, 0, THRESHOLD, out)
    if nxt != qw.shape[0]:
        raise RuntimeError("truth buffer too small")
    return hits_by_row(out[0, :n_out], ids[out[1, :n_out]], qw.shape[0])


def run_pdq(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    n = args.hashes
    codes = make_codes(n, args.clustered, rng)
    ids = rng.permutation(n).astype(np.uint32) + 1
    src_rows = rng.integers(0, n, args.queries)
    queries = flip_exact(codes[src_rows], rng.integers(0, THRESHOLD + 1, args.queries), rng)
    src = ids[src_rows].astype(np.int64)
    nanchor = min(args.anchor_queries, args.queries)
    result: dict[str, Any] = {
        "hashes": n,
        "clustered": args.clustered,
        "threshold": THRESHOLD,
        "machine": f"{os.cpu_count()} CPUs",
    }
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        ours = bench_ours(codes, ids, queries, src, nanchor, args.threads, args.single, Path(tmp))
    result["ours"] = ours
    if args.skip_anchors:
        truth = exact_truth(codes, ids, queries[:nanchor])
    else:
        aq, asrc = queries[:nanchor], src[:nanchor]
        result["faiss_flat"] = bench_faiss("flat", codes, ids, aq, asrc, args.threads)
        truth = result["faiss_flat"]["_hits"]
        result["faiss_hma"] = bench_faiss("hma", codes, ids, aq, asrc, args.threads)
    for name in ("ours", "faiss_flat", "faiss_hma"):
        if name in result:
            r = result[name]
            r["recall_exact"], r["extra_hits"] = recall(r.pop("_hits"), truth)
    result["truth_queries"] = nanchor
    return result


def run_digests(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    n = args.digests
    digests = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    ids = np.arange(n, dtype=np.uint32)
    nq = args.digest_queries
    queries = np.concatenate(
        [digests[rng.integers(0, n, nq // 2)], rng.integers(0, 256, (nq - nq // 2, 16), np.uint8)]
    )
    t = time.perf_counter()
    index = SortedDigestIndex.from_arrays(ids, digests)
    build = time.perf_counter() - t
    index.lookup(queries[:10])
    t = time.perf_counter()
    rows, _ = index.lookup(queries)
    batch_us = (time.perf_counter() - t) / nq * 1e6
    qbytes = [q.tobytes() for q in queries[:2_000]]
    t = time.perf_counter()
    for q in qbytes:
        index.lookup_one(q)
    single_us = (time.perf_counter() - t) / 2_000 * 1e6
    out: dict[str, Any] = {
        "rows": n,
        "ours": {
            "build_s": round(build, 2),
            "batch_us_per_lookup": round(batch_us, 3),
            "single_us_per_lookup": round(single_us, 2),
            "hits": int(rows.size),
            "bytes_per_row": round(index.nbytes / n, 1),
        },
    }
    m = n if args.sqlite_rows is None else args.sqlite_rows
    if m:
        out["sqlite"] = bench_sqlite(digests[:m], queries, args)
    return out


def bench_sqlite(digests: np.ndarray, queries: np.ndarray, args) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        db = sqlite3.connect(Path(tmp) / "d.db")
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;"
            "CREATE TABLE h (id INTEGER PRIMARY KEY, digest BLOB NOT NULL);"
        )
        t = time.perf_counter()
        for s in range(0, digests.shape[0], 1_000_000):
            block = digests[s : s + 1_000_000]
            db.executemany(
                "INSERT INTO h (id, digest) VALUES (?, ?)",
                ((s + i, block[i].tobytes()) for i in range(block.shape[0])),
            )
        db.execute("CREATE INDEX h_digest ON h (digest)")
        db.commit()
        build = time.perf_counter() - t
        qb = [q.tobytes() for q in queries]
        t = time.perf_counter()
        hits = 0
        for s in range(0, len(qb), 500):
            part = qb[s : s + 500]
            sql = f"SELECT id, digest FROM h WHERE digest IN ({','.join('?' * len(part))})"
            hits += len(db.execute(sql, part).fetchall())
        batch_us = (time.perf_counter() - t) / len(qb) * 1e6
        t = time.perf_counter()
        for q in qb[:2_000]:
            db.execute("SELECT id FROM h WHERE digest = ?", (q,)).fetchall()
        single_us = (time.perf_counter() - t) / 2_000 * 1e6
        size = (Path(tmp) / "d.db").stat().st_size
        db.close()
    return {
        "rows": int(digests.shape[0]),
        "build_s": round(build, 1),
        "batch_us_per_lookup": round(batch_us, 3),
        "single_us_per_lookup": round(single_us, 2),
        "hits": hits,
        "bytes_per_row": round(size / digests.shape[0], 1),
    }


def print_table(result: dict[str, Any]) -> None:
    if "rows" in result:
        print(f"digest lookups, {result['rows']:,} rows")
        for name, r in result.items():
            if isinstance(r, dict):
                print(f"  {name:8s} {r}")
        return
    print(f"PDQ range search, {result['hashes']:,} hashes, threshold {THRESHOLD}, "
          f"clustered={result['clustered']}")  # fmt: skip
    cols = ("build_s", "qps", "single_ms", "recall", "recall_exact", "extra_hits", "bytes_per_hash")
    print(f"  {'index':11s}" + "".join(f"{c:>15s}" for c in cols))
    for name in ("ours", "faiss_flat", "faiss_hma"):
        if name in result:
            r = result[name]
            print(f"  {name:11s}" + "".join(f"{r.get(c, '-')!s:>15s}" for c in cols))
    ours = result["ours"]
    for name in ("faiss_flat", "faiss_hma"):
        if name in result:
            a = result[name]
            print(f"  ours vs {name}: qps x{ours['qps'] / a['qps']:.1f}, "
                  f"single x{a['single_ms'] / ours['single_ms']:.1f} faster, "
                  f"build x{a['build_s'] / max(ours['build_s'], 1e-9):.2f}, "
                  f"memory x{ours['bytes_per_hash'] / max(a['bytes_per_hash'], 1e-9):.2f}"
                  )  # fmt: skip
    print(f"  ours: load(mmap) {ours['load_s']} s, {ours['loaded_mmap_qps']} q/s when mapped, "
          f"RSS growth {ours['rss_bytes_per_hash']} B/hash, {ours['threads']} threads, "
          f"{ours['bits']}-bit slots")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hashes", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=100_000)
    p.add_argument("--anchor-queries", type=int, default=2_000)
    p.add_argument("--single", type=int, default=1_000, help="single-query calls timed")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--clustered", action="store_true")
    p.add_argument("--skip-anchors", action="store_true")
    p.add_argument("--digests", type=int, default=0, help="run the digest benchmark instead")
    p.add_argument("--digest-queries", type=int, default=1_000_000)
    p.add_argument("--sqlite-rows", type=int, default=None, help="rows in SQLite (0: skip)")
    p.add_argument("--tmp", default=None, help="directory for temporary files")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.digests and not args.skip_anchors:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import anchors

        anchors.ensure_faiss()  # the first time on a machine: faiss-cpu into this interpreter
    result = run_digests(args) if args.digests else run_pdq(args)
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
