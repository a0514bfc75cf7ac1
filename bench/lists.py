"""National-scale lists: import, index and match a PDQ list and an MD5 list of ``--size`` lines.

    .venv/bin/python bench/lists.py --size 10000000 [--kind pdq --kind md5] [--db sqlite]
        [--db postgresql] [--queries 10000] [--exact-sample 50] [--faiss] [--json]

For each kind and database, end to end as a user runs it:

1. a list of ``--size`` random hashes is generated under ``--work`` (default /tmp/lists-bench;
   cached beside a small sample of its lines, the planted sources);
2. ``hashsieve hashset import`` (a subprocess, fresh ``HASHSIEVE_HOME``): wall seconds and the
   peak RSS of the process (``wait4``);
3. the store's index is opened (``StoreIndex.open``: the database check and the memory map) and
   queried. PDQ: ``--queries`` codes, half of them list lines with 0..31 random bits flipped
   (planted near-duplicates: each must find a code within its flip count), half random; batch
   queries per second with 2 threads, one query at a time in ms, and on ``--exact-sample``
   queries the index's answer compared with a brute-force scan of every indexed code. MD5:
   ``--queries`` x 100 digests, half of them list lines: every one must be found, with the id
   of a row holding it;
4. with ``--faiss``: faiss ``IndexBinaryFlat`` and HMA's ``IndexBinaryMultiHash`` (16 x 16, nflip
   1; bench/index.py) on the same codes, each only where it fits in ``--faiss-memory-gb``.

PostgreSQL runs on a private server started here (initdb under ``--work``, Unix socket, default
settings), or on ``--database-url``. The 100 M runs live here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import index as index_bench
from hashsieve import Settings, Store
from hashsieve.index.store_index import StoreIndex

HASHSIEVE = str(Path(sys.executable).parent / "hashsieve")
THRESHOLD = 31
SAMPLE = 20_000  # list lines kept as planted sources
CHUNK = 1_000_000


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def generate(path: Path, kind: str, size: int, seed: int = 14) -> np.ndarray:
    """Write ``size`` random ``kind`` hashes, one per line; return a sample of (line, bytes)
    rows as a structured array (cached beside the file)."""
    width = 32 if kind == "pdq" else 16
    sample_path = path.with_suffix(".sample.npy")
    if path.exists() and sample_path.exists():
        return np.load(sample_path)
    rng = np.random.default_rng(seed)
    lines = np.sort(rng.choice(size, min(SAMPLE, size), replace=False))
    sample = np.zeros(lines.size, [("line", np.int64), ("value", np.uint8, (width,))])
    sample["line"] = lines + 1
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for start in range(0, size, CHUNK):
            n = min(CHUNK, size - start)
            values = rng.integers(0, 256, (n, width), dtype=np.uint8)
            sel = (lines >= start) & (lines < start + n)
            sample["value"][sel] = values[lines[sel] - start]
            digits = values.tobytes().hex()
            w = 2 * width
            fh.write("\n".join(digits[i * w : (i + 1) * w] for i in range(n)))
            fh.write("\n")
    os.replace(tmp, path)
    np.save(sample_path, sample)
    return sample


def run_import(
    home: Path, path: Path, kind: str, url: str | None, pg: PrivatePostgres | None = None
) -> dict[str, Any]:
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    env.pop("HASHSIEVE_DATABASE_URL", None)
    if url:
        env["HASHSIEVE_DATABASE_URL"] = url
    cmd = [HASHSIEVE, "hashset", "import", str(path), "--name", kind, "--algorithm", kind]
    load0 = load_average()
    server0 = pg.cpu_seconds() if pg is not None and url else None
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    waits = RunQueueWait(proc.pid)
    while True:  # the output is one summary line: the pipes do not fill
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        waits.sample()
        time.sleep(0.05)
    wall = time.perf_counter() - t
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if status != 0:
        raise RuntimeError(f"import failed: {out.decode()}\n{err.decode()}")
    server = {}
    if server0 is not None and pg is not None:
        # the server's CPU (its backend, checkpointer, WAL writer) during the import
        server["server_cpu_s"] = round(pg.cpu_seconds() - server0, 1)
    return {
        **server,
        "command": " ".join(cmd),
        "import_s": round(wall, 1),
        # CPU seconds of the import process: what it costs on an idle machine, whatever the load
        "import_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "import_peak_rss_mb": round(usage.ru_maxrss / 1024),
        # seconds its threads were ready to run but waited for a core (other sessions' load):
        # the main thread's wait is what an idle machine would take off the wall clock
        "import_runqueue_wait_s": waits.summary(),
        "load_before": load0,
        "load_after": load_average(),
    }


class RunQueueWait:
    """Each thread of a process: its CPU seconds and the seconds it waited for a CPU
    (``/proc/PID/task/TID/schedstat``), sampled while it runs (a thread's last sample is kept),
    and its name (``comm``): the critical path of an import on an idle machine."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last: dict[int, tuple[str, float, float]] = {}

    def sample(self) -> None:
        try:
            tasks = list(Path(f"/proc/{self.pid}/task").iterdir())
        except OSError:
            return
        for task in tasks:
            try:
                cpu, wait = (task / "schedstat").read_text().split()[:2]
                name = (task / "comm").read_text().strip()
            except (OSError, ValueError):
                continue
            self.last[int(task.name)] = (name, int(cpu) / 1e9, int(wait) / 1e9)

    def summary(self) -> dict[str, Any]:
        by_name: dict[str, list[float]] = {}
        for tid, (name, cpu, wait) in self.last.items():
            key = "main" if tid == self.pid else name
            total = by_name.setdefault(key, [0.0, 0.0])
            total[0] += cpu
            total[1] += wait
        return {
            "main_thread": round(self.last.get(self.pid, ("", 0.0, 0.0))[2], 1),
            "all_threads": round(sum(w for _, _, w in self.last.values()), 1),
            # thread name -> [CPU s, wait for a CPU s]
            "threads": {k: [round(c, 1), round(w, 1)] for k, (c, w) in by_name.items()},
        }


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_pdq(index: Any, sample: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(31)
    nq = args.queries
    half = nq // 2
    src = sample["value"][rng.integers(0, sample.size, half)]
    flips = rng.integers(0, THRESHOLD + 1, half)
    planted = index_bench.flip_exact(src, flips, rng)
    queries = np.concatenate([planted, rng.integers(0, 256, (nq - half, 32), dtype=np.uint8)])
    index.threads = args.threads
    index.query(queries[:8], THRESHOLD)  # JIT and pool warm-up
    t, cpu = time.perf_counter(), time.process_time()
    rows, ids, dists = index.query(queries, THRESHOLD)
    batch_s, batch_cpu = time.perf_counter() - t, time.process_time() - cpu
    best = np.full(nq, 10**6)
    np.minimum.at(best, rows, dists)
    planted_ok = bool((best[:half] <= flips).all())
    single = min(200, nq)
    t = time.perf_counter()
    for i in range(single):
        index.query(queries[i : i + 1], THRESHOLD)
    single_ms = (time.perf_counter() - t) / single * 1e3
    # brute force over every indexed code on a sample (half planted, half random)
    k = min(args.exact_sample, half)
    pick = np.concatenate([np.arange(k // 2 + k % 2), half + np.arange(k // 2)])
    got = index_bench.hits_by_row(*_rows_for(rows, ids, pick), pick.size)
    truth: list[set[int]] = [set() for _ in range(pick.size)]
    t = time.perf_counter()
    for seg in (index._main, index._delta):
        if len(seg):
            seg_truth = _truth_chunked(seg, queries[pick])
            for a, b in zip(truth, seg_truth, strict=True):
                a |= b
    brute_s = time.perf_counter() - t
    return {
        "queries": nq,
        "threads": index.threads,
        "qps": round(nq / batch_s, 1),
        # queries per CPU-second x threads: the rate on as many idle cores
        "qps_idle_cores": round(nq / batch_cpu * index.threads, 1),
        "single_ms": round(single_ms, 3),
        "planted_found": planted_ok,
        "planted": half,
        "exact_sample": int(pick.size),
        "exact_equal": got == truth,
        "brute_force_s_per_query": round(brute_s / max(1, pick.size), 3),
    }


def _rows_for(rows: np.ndarray, ids: np.ndarray, pick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    where = {int(q): i for i, q in enumerate(pick)}
    sel = np.isin(rows, pick)
    return np.asarray([where[int(r)] for r in rows[sel]], np.int64), ids[sel]


def _truth_chunked(seg: Any, queries: np.ndarray) -> list[set[int]]:
    """Every code of one segment within the threshold of each query (linear scan, in chunks)."""
    out: list[set[int]] = [set() for _ in range(queries.shape[0])]
    step = 8_000_000
    for s in range(0, len(seg), step):
        codes = np.ascontiguousarray(seg.codes[s : s + step])
        ids = np.asarray(seg.ids[s : s + step])
        for q, hits in enumerate(index_bench.exact_truth(codes, ids, queries)):
            out[q] |= hits
    return out


def bench_md5(index: Any, sample: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    nq = args.queries * 100
    half = nq // 2
    present = sample["value"][rng.integers(0, sample.size, half)]
    queries = np.concatenate([present, rng.integers(0, 256, (nq - half, 16), dtype=np.uint8)])
    t = time.perf_counter()
    rows, ids = index.lookup(queries)
    batch_s = time.perf_counter() - t
    found = np.zeros(nq, bool)
    found[rows] = True
    single = 2000
    t = time.perf_counter()
    for i in range(single):
        index.lookup_one(queries[i].tobytes())
    single_us = (time.perf_counter() - t) / single * 1e6
    # the ids found hold the digest asked for: check a sample against the index's own rows
    check = rows[:1000]
    pos = {int(i): p for p, i in enumerate(np.asarray(index._ids))} if len(index) < 2e7 else None
    ids_ok = True
    if pos is not None:
        digests = np.asarray(index._digests)
        ids_ok = all(
            (digests[pos[int(i)]] == queries[r]).all()
            for r, i in zip(check, ids[:1000], strict=True)
        )
    return {
        "queries": nq,
        "lookups_per_s": round(nq / batch_s),
        "single_us": round(single_us, 2),
        "present_found": bool(found[:half].all()),
        "absent_found": int(found[half:].sum()),
        "ids_hold_the_digest": ids_ok,
    }


def bench_faiss(codes_index: Any, sample: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    n = len(codes_index)
    budget = args.faiss_memory_gb * 1e9
    codes = codes_index._main.codes
    ids = np.asarray(codes_index._main.ids)
    rng = np.random.default_rng(31)
    nq = min(args.queries, 2000)
    src_rows = rng.integers(0, n, nq)
    queries = index_bench.flip_exact(
        np.asarray(codes[np.sort(src_rows)]), rng.integers(0, 32, nq), rng
    )
    src = ids[np.sort(src_rows)].astype(np.int64)
    out: dict[str, Any] = {}
    for kind, bytes_per_hash in (("flat", 32), ("hma", 300)):
        if kind == "hma" and n > args.hma_max:
            out[kind] = {
                "skipped": f"over --hma-max {args.hma_max:,}",
                "needs_gb": round(n * 3e-7, 1),
            }
            continue
        if n * bytes_per_hash > budget:
            out[kind] = {"fits": False, "needs_gb": round(n * bytes_per_hash / 1e9, 1)}
            continue
        resident = np.ascontiguousarray(codes)
        q = queries if kind == "hma" else queries[: min(nq, 200 if n > 2e7 else nq)]
        out[kind] = index_bench.bench_faiss(kind, resident, ids, q, src[: q.shape[0]], args.threads)
        out[kind].pop("_hits", None)
        del resident
    return out


class PrivatePostgres:
    """A PostgreSQL cluster under ``root`` (initdb, default settings, Unix socket only)."""

    def __init__(self, root: Path) -> None:
        import glob

        self.bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.root = root
        self.data, self.socket = root / "pgdata", root / "pgsock"

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if (self.data / "postmaster.pid").exists():
            return  # left running by an earlier run
        self.socket.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        if not self.data.exists():
            self._run(f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres",
                      "--auth=trust")  # fmt: skip
        # PostgreSQL's own advice for bulk loads ("Populating a Database"; its log says
        # "checkpoints are occurring too frequently" at the default 1 GB during a 10 M list):
        # WAL room for a whole list between checkpoints, as docs/deploy.md sets the shared server.
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories={self.socket}"
            " -c max_wal_size=8GB -c checkpoint_timeout=30min"
        )
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-w", "-l",
                  str(self.root / "pg.log"), "-o", opts, "start")  # fmt: skip

    def database(self, name: str) -> str:
        self._run(f"{self.bindir}/dropdb", "-h", str(self.socket), "-U", "postgres",
                  "--if-exists", name)  # fmt: skip
        self._run(f"{self.bindir}/createdb", "-h", str(self.socket), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@/{name}?host={self.socket}"

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server so far: the postmaster, its live children,
        and the children it has reaped (a backend's time is added when its connection ends)."""
        tick = os.sysconf("SC_CLK_TCK")
        pid = int((self.data / "postmaster.pid").read_text().split()[0])

        def stat(p: int | str) -> list[str]:
            text = Path(f"/proc/{p}/stat").read_text()
            return text[text.rindex(")") + 2 :].split()

        fields = stat(pid)  # fields[11:15]: utime, stime, cutime, cstime
        total = sum(int(x) for x in fields[11:15])
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    child = stat(entry.name)
                except OSError:
                    continue
                if int(child[1]) == pid:
                    total += int(child[11]) + int(child[12])
        return total / tick

    def stop(self) -> None:
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "fast", "stop")


def run_one(kind: str, db: str, args: argparse.Namespace, pg: PrivatePostgres | None) -> dict:
    work = Path(args.work)
    path = work / f"{kind}-{args.size}.txt"
    t = time.perf_counter()
    sample = generate(path, kind, args.size)
    gen_s = time.perf_counter() - t
    home = work / f"home-{db}-{kind}-{args.size}"
    shutil.rmtree(home, ignore_errors=True)
    url = args.database_url
    if db == "postgresql" and url is None:
        assert pg is not None
        url = pg.database(f"lists_{kind}_{args.size}")
    result: dict[str, Any] = {"kind": kind, "db": db, "size": args.size}
    result.update(generate_s=round(gen_s, 1), list_bytes=path.stat().st_size)
    result.update(run_import(home, path, kind, url, pg if db == "postgresql" else None))
    if url:
        os.environ["HASHSIEVE_DATABASE_URL"] = url
    else:
        os.environ.pop("HASHSIEVE_DATABASE_URL", None)
    store = Store(Settings(home=home))
    t = time.perf_counter()
    index = StoreIndex(store, kind).open()
    result["open_s"] = round(time.perf_counter() - t, 3)
    folder = store.settings.index_dir / kind
    result["index_bytes"] = du(folder)
    result["index_bytes_per_hash"] = round(du(folder) / args.size, 1)
    if db == "sqlite":
        result["database_bytes"] = du(home) - du(store.settings.index_dir)
    result["load_before_queries"] = load_average()
    if kind == "pdq":
        result["queries"] = bench_pdq(index, sample, args)
        if args.faiss:
            result["faiss"] = bench_faiss(index, sample, args)
    else:
        result["queries"] = bench_md5(index, sample, args)
    store.close()
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return result


def run_index_only(args: argparse.Namespace) -> dict[str, Any]:
    """The PDQ index at ``--size`` built straight from generated codes (``build_saved``)."""
    from hashsieve.index.pdq_index import build_saved, load

    work = Path(args.work)
    codes_path = work / f"codes-{args.size}.npy"
    rng = np.random.default_rng(14)
    if not codes_path.exists():
        codes = np.lib.format.open_memmap(codes_path, "w+", np.uint8, (args.size, 32))
        for s in range(0, args.size, CHUNK * 4):
            n = min(CHUNK * 4, args.size - s)
            codes[s : s + n] = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        codes.flush()
        del codes
    codes = np.load(codes_path, mmap_mode="r")
    lines = np.sort(rng.choice(args.size, min(SAMPLE, args.size), replace=False))
    sample = np.zeros(lines.size, [("line", np.int64), ("value", np.uint8, (32,))])
    sample["value"] = codes[lines]
    folder = work / f"index-{args.size}"
    result: dict[str, Any] = {"kind": "pdq", "db": "none (index only)", "size": args.size}
    if args.reuse_index and (folder / "manifest.json").exists():
        result["build"] = f"reused {folder}"
    else:
        shutil.rmtree(folder, ignore_errors=True)
        ids = np.arange(1, args.size + 1, dtype=np.uint32)
        result["load_before_build"] = load_average()
        t, cpu = time.perf_counter(), time.process_time()
        built = build_saved(folder, ids, np.asarray(codes), threads=args.threads)
        result["build_s"] = round(time.perf_counter() - t, 1)
        result["build_cpu_s"] = round(time.process_time() - cpu, 1)
        del built
    result["index_bytes_per_hash"] = round(du(folder) / args.size, 1)
    t = time.perf_counter()
    index = load(folder, mmap=True, threads=args.threads)
    result["load_s"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    # Warm the page cache as the workers' first queries do: from disk through the index's own
    # mapping (2 MB pages asked for), after dropping what earlier runs left cached in 4 KB pages.
    for f in folder.iterdir():
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    seg = index._main
    for arr in (seg.codes, seg.ids, seg.offsets, seg.pos):
        flat = np.asarray(arr).reshape(-1).view(np.uint8)
        for s in range(0, flat.size, 1 << 26):
            int(flat[s : s + (1 << 26) : 4096].sum())
    result["warm_page_cache_s"] = round(time.perf_counter() - t, 1)
    result["load_before_queries"] = load_average()
    result["queries"] = bench_pdq(index, sample, args)
    # 2 MB pages matter (load() asks for them): how much of the index the kernel mapped so
    result["mapped_2mb_pages_gb"] = _pmd_mapped_gb()
    if args.faiss:
        result["faiss"] = bench_faiss(index, sample, args)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _pmd_mapped_gb() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("FilePmdMapped:"):
            return round(int(line.split()[1]) / 1e6, 2)
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--kind", action="append", choices=["pdq", "md5"])
    ap.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--database-url", help="a PostgreSQL URL instead of a private server")
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--exact-sample", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--faiss", action="store_true", help="faiss flat and HMA beside, if they fit")
    ap.add_argument("--faiss-memory-gb", type=float, default=6.0)
    ap.add_argument("--hma-max", type=int, default=2_000_000, help="largest N for HMA's index")
    ap.add_argument(
        "--index-only",
        action="store_true",
        help="PDQ: build the index straight from generated codes (no list, no database)",
    )
    ap.add_argument(
        "--reuse-index",
        action="store_true",
        help="--index-only: query the index left under --work by an earlier --keep run",
    )
    ap.add_argument("--work", default="/tmp/lists-bench")
    ap.add_argument("--keep", action="store_true", help="keep the homes (stores and indexes)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    dbs = args.db or ["sqlite"]
    pg = None
    if "postgresql" in dbs and args.database_url is None:
        pg = PrivatePostgres(Path(args.work) / "pg")
        pg.start()
    results = []
    if args.index_only:
        results.append(run_index_only(args))
        print(json.dumps(results[-1]), flush=True)
        dbs = []
    try:
        for kind in args.kind or ["pdq", "md5"]:
            for db in dbs:
                results.append(run_one(kind, db, args, pg))
                print(json.dumps(results[-1]), flush=True)
    finally:
        if pg is not None:
            pg.stop()
    tag = "-index" if args.index_only else ""
    out = Path(__file__).parent / "results" / f"lists-{args.size}{tag}.json"
    out.parent.mkdir(exist_ok=True)
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv[1:], "results": results}
    out.write_text(json.dumps(record, indent=1))
    if args.json:
        print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
