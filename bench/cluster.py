"""Scan throughput on a Dask cluster on loopback vs the local pool, and the per-file costs a
throughput model for N worker machines is built from (docs/deploy.md).

    .venv/bin/python bench/cluster.py [--images 300] [--rounds 2] [--workers 2] [--max-n 4]

1. Throughput: the same corpus (bench/corpus.py photos: 1-3 MP JPEGs) scanned into fresh cases
   of one store holding an imported hash set (random MD5s and PDQs plus some of the corpus's
   own, so matching finds things), alternately with the local pool (``--workers 2``) and with a
   real ``dask scheduler`` + ``dask worker --nthreads 1 --nworkers 2`` on 127.0.0.1, the client
   being this process (``run_scan(..., cluster="tcp://...")``, as ``hashsieve scan --cluster``
   does: it connects, scans and disconnects). One warm-up scan each first; the wall times of
   the rounds are compared by their medians: overhead = cluster / local - 1 (bar: 10 %).
   Then the cluster with 1 and ``--max-n`` worker processes (the largest N on loopback).
2. Per-file costs, in this process on one core: on a worker, read (page cache), MD5+SHA-1+
   SHA-256, decode (the scan's rule), the rest of hashing (PDQ, 8 dihedral codes, candidate
   regions), and the index questions (:func:`hashsieve.scan.answers.answer`); between them,
   the result's pickled size and one task's round trip through the scheduler (no-op tasks);
   on the client, the walk and the "already done?" check, the rule over the workers' answers
   and the store write (one transaction per 256 files, SQLite).
Writes bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

import corpus
from hashsieve import Settings, Store, run_scan
from hashsieve.hashing.crypto import hash_bytes
from hashsieve.hashing.decode import open_image
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.matching import Matcher
from hashsieve.matching.verdict import decide
from hashsieve.scan import pipeline
from hashsieve.scan.answers import MatchPlan, answer, match_answered
from hashsieve.scan.stage import CLUSTER_CHUNK
from hashsieve.scan.worker import HashOptions, hash_evidence_file
from hashsieve.sources import SourceFile, open_source
from hashsieve.store.models import Scan
from procs import free_port

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
DASK = str(Path(sys.executable).parent / "dask")


def hash_set(path: Path, paths: list[Path], randoms: int) -> int:
    """Random MD5s and PDQs, every 25th corpus file's MD5 and every 20th one's PDQ."""
    rng = np.random.default_rng(7)
    lines = [f"md5 {rng.bytes(16).hex()}" for _ in range(randoms)]
    lines += [f"pdq {rng.bytes(32).hex()}" for _ in range(randoms)]
    options = HashOptions(max_image_pixels=Settings().max_image_pixels, robust=False)
    for p in paths[::25]:
        lines.append(f"md5 {hashlib.md5(p.read_bytes()).hexdigest()}")
    for p in paths[::20]:
        pdq = hash_evidence_file(str(p), options).pdq
        if pdq:
            lines.append(f"pdq {pdq}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


class LoopbackCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (as docs/deploy.md)."""

    def __init__(self, workers: int, log: Path) -> None:
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.log = open(log, "a")  # noqa: SIM115
        common: dict[str, Any] = {"stdout": self.log, "stderr": subprocess.STDOUT}
        self.scheduler = subprocess.Popen(
            # No dashboard; its HTTP server (metrics) on any free port, not 8787.
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
                "--dashboard-address",
                ":0",
            ],
            **common,
        )
        self.workers = subprocess.Popen(
            [
                DASK,
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--nworkers",
                str(workers),
                "--no-dashboard",
            ],
            **common,
        )
        from distributed import Client

        with Client(self.address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the scheduler and of the worker processes (with their nannies)."""

        def total(pid: int) -> float:
            proc = psutil.Process(pid)
            return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])

        return {"scheduler": total(self.scheduler.pid), "workers": total(self.workers.pid)}

    def close(self) -> None:
        for proc in (self.workers, self.scheduler):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def timed_scan(
    store: Store, case: str, root: Path, settings: Settings, cluster: LoopbackCluster | None
) -> dict:
    """One scan's wall time, and CPU seconds per file of the client (this process: the walk,
    the futures, the rule, the store writes) and, on a cluster, of the scheduler."""
    before = cluster.cpu() if cluster else {}
    cpu0, t0 = time.process_time(), time.perf_counter()
    address = cluster.address if cluster else None
    summary = run_scan(store, case, [str(root)], settings=settings, cluster=address)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    files = max(summary.files, 1)
    out = {
        "case": case,
        "files": summary.files,
        "seconds": wall,
        "files_per_s": summary.files / wall,
        "known": summary.verdicts.get("known", 0),
        "client_cpu_ms_per_file": cpu / files * 1e3,
        "load": os.getloadavg()[0],
    }
    if cluster:
        after = cluster.cpu()
        for part in ("scheduler", "workers"):
            out[f"{part}_cpu_ms_per_file"] = (after[part] - before[part]) / files * 1e3
    return out


def throughput(
    store: Store, root: Path, workers: int, rounds: int, max_n: int, tmp: Path
) -> dict[str, Any]:
    settings = Settings(home=store.settings.home, workers=workers)
    runs: dict[str, list[dict]] = {"local": [], "cluster": []}
    cluster = LoopbackCluster(workers, tmp / "dask.log")
    try:
        timed_scan(store, "warm-local", root, settings, None)
        timed_scan(store, "warm-cluster", root, settings, cluster)
        for i in range(rounds):
            for kind in ("local", "cluster"):
                on = cluster if kind == "cluster" else None
                runs[kind].append(timed_scan(store, f"{kind}-{i}", root, settings, on))
                print(f"  {kind} round {i}: {runs[kind][-1]}", flush=True)
    finally:
        cluster.close()
    local = statistics.median(r["seconds"] for r in runs["local"])
    remote = statistics.median(r["seconds"] for r in runs["cluster"])
    by_n: list[dict] = []
    for n in sorted({1, max_n}):
        cluster = LoopbackCluster(n, tmp / "dask.log")
        try:
            timed_scan(store, f"warm-n{n}", root, settings, cluster)
            by_n.append({"workers": n, **timed_scan(store, f"n{n}", root, settings, cluster)})
            print(f"  cluster of {n}: {by_n[-1]}", flush=True)
        finally:
            cluster.close()
    return {
        "workers": workers,
        "runs": runs,
        "local_seconds": local,
        "cluster_seconds": remote,
        "overhead": remote / local - 1,
        "bar_met": remote / local - 1 <= 0.10,
        "by_workers": by_n,
    }


def _per_file(total: float, files: int) -> float:
    return total / max(files, 1) * 1e3  # ms


def costs(store: Store, root: Path, sample: int) -> dict[str, Any]:
    """Per-file costs in CPU ms of this process, one core (see the module's docstring): CPU
    time, not wall time, so that other load on the machine does not inflate them."""
    paths = [str(p) for p in corpus.files(root)][:sample]
    settings = store.settings
    options = HashOptions(max_image_pixels=settings.max_image_pixels, robust=settings.robust)
    out: dict[str, Any] = {"files": len(paths)}
    t = {k: 0.0 for k in ("read", "crypto", "decode", "hash_total")}
    for p in paths:
        t0 = time.process_time()
        with open(p, "rb") as f:
            data = f.read()
        t1 = time.process_time()
        hash_bytes(data)
        t2 = time.process_time()
        open_image(data, max_pixels=settings.max_image_pixels, fast=True)
        t3 = time.process_time()
        t["read"] += t1 - t0
        t["crypto"] += t2 - t1
        t["decode"] += t3 - t2
    t0 = time.process_time()
    results = [hash_evidence_file(p, options) for p in paths]
    t["hash_total"] = time.process_time() - t0
    for key, value in t.items():
        out[f"{key}_ms"] = _per_file(value, len(paths))
    out["pdq_and_regions_ms"] = out["hash_total_ms"] - out["read_ms"] - out["crypto_ms"]
    out["pdq_and_regions_ms"] -= out["decode_ms"]
    matcher = Matcher(store, settings)
    plan = MatchPlan.of(matcher)
    answer(results[:CLUSTER_CHUNK], plan)  # indexes mapped and kernels loaded once
    t0 = time.process_time()
    hashed = []
    for at in range(0, len(results), CLUSTER_CHUNK):
        hashed += answer(results[at : at + CLUSTER_CHUNK], plan)
    out["match_worker_ms"] = _per_file(time.process_time() - t0, len(results))
    out["answered_with_hits"] = sum(1 for _, hits in hashed if hits)
    chunks = [hashed[at : at + CLUSTER_CHUNK] for at in range(0, len(hashed), CLUSTER_CHUNK)]
    t0 = time.process_time()
    blobs = [pickle.dumps(c, protocol=5) for c in chunks]
    for blob in blobs:
        pickle.loads(blob)
    out["result_pickle_ms"] = _per_file(time.process_time() - t0, len(hashed))
    out["result_bytes_per_file"] = sum(len(b) for b in blobs) / len(hashed)
    # The client: the rule over the answers, then the store write (one transaction per batch).
    t0 = time.process_time()
    hits_of = match_answered(matcher, hashed)
    out["match_client_ms"] = _per_file(time.process_time() - t0, len(hashed))
    t0 = time.process_time()
    hits_local = matcher.match([r for r, _ in hashed])
    out["match_local_client_ms"] = _per_file(time.process_time() - t0, len(hashed))
    assert [[h.entry_id for h in x] for x in hits_of] == [
        [h.entry_id for h in x] for x in hits_local
    ]
    case = store.ensure_case("costs")
    with store.session() as s:
        scan = Scan(case_id=case.id, root="[]", status="running")
        s.add(scan)
        s.flush()
        scan_id = scan.id
    writer = pipeline._Writer(store, case.id, scan_id, None)
    rows = []
    for (r, _), hits in zip(hashed, hits_of, strict=True):
        verdict, category = decide(r.media_kind, r.error, hits)
        rows.append((r, verdict, category, hits))
    t0 = time.process_time()
    for at in range(0, len(rows), settings.commit_every):
        writer.write(rows[at : at + settings.commit_every])
    out["store_write_ms"] = _per_file(time.process_time() - t0, len(rows))
    # Walk and "already done?" (one query per 500 files), over the whole corpus.
    t0 = time.process_time()
    walked = [i for i in open_source(str(root)).files() if isinstance(i, SourceFile)]
    summary = pipeline.ScanSummary(case="costs", scan_id=scan_id)
    pending = list(pipeline._pending(store, case.id, iter(walked), summary, None))
    out["walk_and_check_ms"] = _per_file(time.process_time() - t0, len(walked))
    out["walk_check_files"] = len(pending) + summary.skipped
    return out


def task_round_trip(cluster: LoopbackCluster, tasks: int = 1000) -> dict[str, Any]:
    """No-op tasks through the scheduler and back, 64 in flight: tasks/s, and the CPU time per
    task of the client (this process) and of the scheduler."""
    from distributed import Client

    from hashsieve.workers.cluster import DaskExecutor

    with Client(cluster.address, set_as_default=False) as client:
        ex: DaskExecutor[int, int] = DaskExecutor(client, on_crash=lambda i, m: -1, in_flight=64)
        list(ex.map_unordered(abs, range(100)))
        before = cluster.cpu()
        cpu0, t0 = time.process_time(), time.perf_counter()
        n = sum(1 for _ in ex.map_unordered(abs, range(tasks)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        after = cluster.cpu()
    return {
        "tasks": n,
        "tasks_per_s": n / wall,
        "client_cpu_ms_per_task": cpu / n * 1e3,
        "scheduler_cpu_ms_per_task": (after["scheduler"] - before["scheduler"]) / n * 1e3,
    }


def model(
    c: dict[str, Any], rt: dict[str, Any], scans: list[dict], cores: int = 16
) -> dict[str, Any]:
    """Files/s of one worker machine with ``cores`` single-threaded workers, of the client, of
    the scheduler, and the N of machines at which each saturates (docs/deploy.md explains it).
    The client's and scheduler's costs are the CPU they spent per file in the cluster scans;
    the sum of the parts (from the per-file costs) is given beside as a check."""
    worker_ms = c["hash_total_ms"] + c["match_worker_ms"]
    client_ms = statistics.median(s["client_cpu_ms_per_file"] for s in scans)
    scheduler_ms = statistics.median(s["scheduler_cpu_ms_per_file"] for s in scans)
    parts_ms = (
        c["walk_and_check_ms"]
        + c["match_client_ms"]
        + c["store_write_ms"]
        + c["result_pickle_ms"] / 2  # unpickling on the client
        + rt["client_cpu_ms_per_task"] / CLUSTER_CHUNK
    )
    machine = cores * 1e3 / worker_ms
    return {
        "cores_per_machine": cores,
        "worker_ms_per_file": worker_ms,
        "client_cpu_ms_per_file": client_ms,
        "client_parts_ms_per_file": parts_ms,
        "scheduler_cpu_ms_per_file": scheduler_ms,
        "store_write_ms_per_file": c["store_write_ms"],
        "machine_files_per_s": machine,
        "client_files_per_s": 1e3 / client_ms,
        "scheduler_files_per_s": 1e3 / scheduler_ms if scheduler_ms else None,
        "store_files_per_s": 1e3 / c["store_write_ms"],
        "client_saturates_at_machines": 1e3 / client_ms / machine,
        "store_saturates_at_machines": 1e3 / c["store_write_ms"] / machine,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-n", type=int, default=4, help="largest cluster tried on loopback")
    ap.add_argument("--sample", type=int, default=80, help="files for the per-file costs")
    ap.add_argument("--randoms", type=int, default=50_000, help="random MD5s and PDQs listed")
    args = ap.parse_args()
    print(run(args.images, args.rounds, args.workers, args.max_n, args.sample, args.randoms))


def run(
    images: int = 300,
    rounds: int = 2,
    workers: int = 2,
    max_n: int = 4,
    sample: int = 80,
    randoms: int = 50_000,
) -> dict[str, Any]:
    root = corpus.build("photos", images)
    paths = corpus.files(root)
    result: dict[str, Any] = {"corpus": corpus.describe(root), "load_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        store = Store(Settings(home=home, workers=workers))
        try:
            listed = hash_set(tmp / "known.txt", paths, randoms)
            import_hashset(store, tmp / "known.txt", "known", category=1)
            result["listed"] = listed
            print(f"cluster bench: {len(paths)} photos, {listed:,} listed hashes", flush=True)
            result["throughput"] = throughput(store, root, workers, rounds, max_n, tmp)
            result["costs"] = costs(store, root, sample)
            cluster = LoopbackCluster(1, tmp / "dask.log")
            try:
                result["task"] = task_round_trip(cluster)
            finally:
                cluster.close()
        finally:
            store.close()
    scans = result["throughput"]["runs"]["cluster"]
    result["model"] = model(result["costs"], result["task"], scans)
    result["load_at_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
