"""Ingest throughput, side by side in one run on one corpus of 1-3 MP JPEGs.

    .venv/bin/python bench/ingest.py [--images 1000] [--workers N]

Measured, in this order, on the same files (page cache warmed first):

1. limit: read each file, MD5 + SHA-1 + SHA-256 of its bytes, decode it by the rule our scan uses
   (``hashsieve.hashing.decode.open_image(fast=True)``: full size, a JPEG's luma only), with N
   processes (``multiprocessing.Pool``): the work no triage can skip. Also with the full RGB decode
   (``fast=False``, python-threatexchange's decode) as ``limit_rgb``.
2. pytx: ``threatexchange hash photo FILE...`` (python-threatexchange 1.2.17, from ``.bench-venv``),
   one process as a user runs it, in chunks of files per invocation; its start-up is timed apart.
3. ours: ``hashsieve scan <corpus> --case bench --workers N`` with a fresh ``HASHSIEVE_HOME``
   holding a small imported hash set (random MD5 and PDQ plus some of the corpus's own MD5s and
   some of pytx's PDQs from step 2, so matching runs); files/s from the wall time of the whole
   command, and the scan's own printed rate.
4. ours with ``--full-decode`` (RGB instead of luma), for reference, and with ``--no-robust``
   (plain PDQ of the whole image only, no candidate regions).
5. CPU time per file, which other jobs on a shared machine move far less than wall time: pytx's
   (the kernel's account of its invocations in step 2) and our worker's step
   (``hashsieve.hashing.content.hash_file``, robust stage on and off, in this process, on
   ``--cpu-sample`` files): their ratio is the work per file, one core against one core (the
   parent's matching and writes and the start-up are left out; the wall ratios include them),
   and by step (``--stages`` prints only that, in a minute). Each scan's own CPU per file too:
   the whole command's (main process, forkserver, workers, start-up included; the bench adopts
   the orphaned forkserver to count it), and the main process's share.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import anchors
import corpus
from hashsieve.config import MAX_IMAGE_PIXELS
from hashsieve.hashing.decode import open_image

HASHSIEVE = str(Path(sys.executable).parent / "hashsieve")
_RATE = re.compile(r"scanned ([\d,]+) files .* in ([\d.]+) s: ([\d,.]+) files/s")


def _limit_one(job: tuple[str, bool]) -> int:
    path, fast = job
    with open(path, "rb") as f:
        data = f.read()
    hashlib.md5(data).digest(), hashlib.sha1(data).digest(), hashlib.sha256(data).digest()
    return open_image(data, max_pixels=MAX_IMAGE_PIXELS, fast=fast).image.size[0]


def limit(paths: list[str], workers: int, fast: bool = True) -> dict:
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_limit_one, [(p, fast) for p in paths], chunksize=4):
            pass
    wall = time.perf_counter() - t0
    return {"workers": workers, "seconds": wall, "files_per_s": len(paths) / wall}


def _warm(paths: list[str]) -> int:
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            total += len(f.read())
    return total


def pytx(paths: list[str], home: Path, chunk: int) -> dict:
    """``threatexchange hash photo`` over ``paths`` in invocations of ``chunk`` files."""
    exe = str(anchors.ensure(quiet=True))
    env = os.environ | {"HOME": str(home)}
    tiny = home / "tiny.jpg"
    Image.new("RGB", (32, 32), (90, 120, 150)).save(tiny)
    subprocess.run([exe, "hash", "photo", str(tiny)], env=env, capture_output=True, check=True)
    starts = []
    for _ in range(3):  # start-up: a whole run on one tiny file
        t0 = time.perf_counter()
        subprocess.run([exe, "hash", "photo", str(tiny)], env=env, capture_output=True, check=True)
        starts.append(time.perf_counter() - t0)
    startup = min(starts)
    hashes: list[str] = []
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    invocations = 0
    for i in range(0, len(paths), chunk):
        out = subprocess.run(
            [exe, "hash", "photo", *paths[i : i + chunk]],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        hashes += [line.split()[1] for line in out.splitlines() if line.startswith("pdq ")]
        invocations += 1
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return {
        "command": "threatexchange hash photo FILE...",
        "cpu_ms_per_file": 1000 * cpu / len(paths),
        "version": "1.2.17",
        "files_per_invocation": chunk,
        "invocations": invocations,
        "hashes": len(hashes),
        "seconds": wall,
        "startup_s": startup,
        "files_per_s": len(paths) / wall,
        "files_per_s_without_startup": len(paths) / max(wall - invocations * startup, 1e-9),
        "processes": 1,
        "pdq": hashes,
    }


def hash_set(path: Path, paths: list[str], pdqs: list[str]) -> int:
    """A python-threatexchange-format list: random MD5s and PDQs plus some of the corpus's own."""
    rng = np.random.default_rng(7)
    lines = [f"md5 {rng.bytes(16).hex()}" for _ in range(3000)]
    lines += [f"pdq {rng.bytes(32).hex()}" for _ in range(2000)]
    for p in paths[::25]:
        lines.append(f"md5 {hashlib.md5(Path(p).read_bytes()).hexdigest()}")
    lines += [f"pdq {h}" for h in pdqs[::20]]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def scan(
    home: Path, root: Path, case: str, workers: int, full: bool = False, robust: bool = True
) -> dict:
    env = os.environ | {"HASHSIEVE_HOME": str(home), "COLUMNS": "250"}
    cmd = [HASHSIEVE, "scan", str(root), "--case", case, "--workers", str(workers)]
    cmd += ["--full-decode"] if full else []
    cmd += [] if robust else ["--no-robust"]
    _adopt_orphans()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, main_usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    _reap_orphans()  # the workers' forkserver (with the workers it reaped) and helpers
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {stderr[-2000:]}")
    found = _RATE.search(stdout)
    files = int(found.group(1).replace(",", "")) if found else 0
    main_cpu = main_usage.ru_utime + main_usage.ru_stime
    total_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "command": " ".join(["hashsieve", *cmd[1:]]),
        "workers": workers,
        "files": files,
        "seconds": wall,
        "files_per_s": files / wall,
        # The whole command's CPU per file: its main process (imports, listing, matching,
        # writes) and the forkserver with every worker it forked, start-up included.
        "cpu_ms_per_file": 1000 * total_cpu / max(files, 1),
        "main_cpu_ms_per_file": 1000 * main_cpu / max(files, 1),
        "workers_cpu_ms_per_file": 1000 * (total_cpu - main_cpu) / max(files, 1),
        "scan_seconds": float(found.group(2)) if found else None,
        "scan_files_per_s": float(found.group(3).replace(",", "")) if found else None,
        "output": stdout[-1500:],
    }


def _cpu(scanned: dict) -> str:
    return (
        f"CPU ms per file: {scanned['cpu_ms_per_file']:.1f} = main process "
        f"{scanned['main_cpu_ms_per_file']:.1f} + forkserver and workers "
        f"{scanned['workers_cpu_ms_per_file']:.1f}"
    )


def _adopt_orphans() -> None:
    """Make this process the reaper of its orphaned descendants (Linux): the scan's forkserver
    outlives the scan's main process, and only once it is reaped here do its CPU time and its
    workers' (which it reaped) count in ``RUSAGE_CHILDREN``."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans(seconds: float = 10.0) -> None:
    """Wait for the orphans adopted by :func:`_adopt_orphans` (they exit when the scan has)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def worker_cpu(paths: list[str], robust: bool) -> float:
    """CPU ms per file of our worker's step (read, digests, decode, PDQ, candidates, EXIF)."""
    from hashsieve.hashing.content import HashOptions, hash_file
    from hashsieve.hashing.pdq import warm_up

    warm_up()
    options = HashOptions(max_image_pixels=MAX_IMAGE_PIXELS, robust=robust)
    hash_file(paths[0], options)  # the first call loads what is loaded lazily
    t0 = time.process_time()
    for p in paths:
        hash_file(p, options)
    return 1000 * (time.process_time() - t0) / len(paths)


def stages(paths: list[str]) -> dict[str, float]:
    """CPU ms per file of each step of our worker, in this process (best of two passes): read,
    digests, decode (Pillow's luma decode, the one copy out to numpy, the flat-picture check),
    PDQ with its 8 dihedral codes, the robust stage, EXIF, and the whole ``hash_file``."""
    from hashsieve.hashing.candidates import candidate_hashes
    from hashsieve.hashing.content import HashOptions, hash_file
    from hashsieve.hashing.crypto import hash_bytes
    from hashsieve.hashing.metadata import exif_metadata
    from hashsieve.hashing.pdq import pdq_with_dihedral, warm_up

    warm_up()
    options = HashOptions(max_image_pixels=MAX_IMAGE_PIXELS)
    hash_file(paths[0], options)
    best: dict[str, float] = {}
    spent: dict[str, float] = {}

    def timed(name: str, step):  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        value = step()
        spent[name] = spent.get(name, 0.0) + time.process_time() - t0
        return value

    for _ in range(2):
        spent.clear()
        for path in paths:
            data = timed("read", lambda p=path: Path(p).read_bytes())
            timed("digests", lambda d=data: hash_bytes(d))
            opened = timed("decode", lambda d=data: open_image(d, max_pixels=MAX_IMAGE_PIXELS))
            pixels = opened.image if opened.luma is None else opened.luma
            timed("pdq", lambda px=pixels: pdq_with_dihedral(px))
            timed("robust", lambda px=pixels: candidate_hashes(px))
            timed("exif", lambda o=opened: exif_metadata(o.exif))
            timed("hash_file", lambda p=path: hash_file(p, options))
        for name, seconds in spent.items():
            best[name] = min(best.get(name, 1e9), 1000 * seconds / len(paths))
    return best


def run(images: int, workers: int | None = None, chunk: int = 250, cpu_sample: int = 60) -> dict:
    workers = workers or os.cpu_count() or 1
    root = corpus.build("photos", images)
    paths = [str(p) for p in corpus.files(root)]
    anchors.ensure()
    size = _warm(paths)
    result: dict = {"corpus": corpus.describe(root), "bytes": size, "workers": workers}
    result["load_before"] = os.getloadavg()
    print(f"ingest: {len(paths):,} JPEGs, {size / 1e6:,.0f} MB, {workers} workers", flush=True)
    result["limit"] = limit(paths, workers)
    print(f"  limit (read+3 hashes+luma decode): {result['limit']['files_per_s']:.1f} files/s")
    result["limit_rgb"] = limit(paths, workers, fast=False)
    print(f"  limit (read+3 hashes+RGB decode): {result['limit_rgb']['files_per_s']:.1f} files/s")
    with tempfile.TemporaryDirectory(prefix="hashsieve-bench-") as tmp:
        home = Path(tmp)
        # pytx first: its PDQ hashes of some corpus files go into the hash set our scan matches.
        tx = pytx(paths, home, chunk)
        print(f"  pytx hash photo (1 process): {tx['files_per_s']:.1f} files/s")
        hs = home / "bench-hashes.txt"
        entries = hash_set(hs, paths, tx.pop("pdq"))
        env = os.environ | {"HASHSIEVE_HOME": str(home / "store")}
        subprocess.run(
            [HASHSIEVE, "hashset", "import", str(hs), "--name", "bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        result["hash_set_entries"] = entries
        result["ours"] = scan(home / "store", root, "bench", workers)
        scanned = result["ours"]
        print(f"  hashsieve scan: {scanned['files_per_s']:.1f} files/s ({_cpu(scanned)})")
        result["pytx"] = tx
        result["ours_plain"] = scan(home / "store", root, "bench-plain", workers, robust=False)
        plain = result["ours_plain"]
        print(f"  hashsieve scan --no-robust: {plain['files_per_s']:.1f} files/s ({_cpu(plain)})")
        result["ours_full_decode"] = scan(home / "store", root, "bench-full", workers, full=True)
        print(f"  hashsieve scan --full-decode: {result['ours_full_decode']['files_per_s']:.1f}")
    sample = paths[:cpu_sample]
    result["cpu_ms_per_file"] = {
        "pytx": tx["cpu_ms_per_file"],
        "ours_worker": worker_cpu(sample, robust=True),
        "ours_worker_no_robust": worker_cpu(sample, robust=False),
        "ours_sample": len(sample),
    }
    result["stages_cpu_ms_per_file"] = stages(sample)
    print(
        "  CPU ms per file by step: "
        + ", ".join(f"{k} {v:.1f}" for k, v in result["stages_cpu_ms_per_file"].items())
    )
    cpu = result["cpu_ms_per_file"]
    print(
        f"  CPU ms per file: pytx {cpu['pytx']:.1f}, our worker {cpu['ours_worker']:.1f} "
        f"(--no-robust {cpu['ours_worker_no_robust']:.1f})"
    )
    result["load_after"] = os.getloadavg()
    ours, tx_rate = result["ours"]["files_per_s"], tx["files_per_s"]
    result["ratios"] = {
        "ours_over_pytx": ours / tx_rate,
        "ours_no_robust_over_pytx": result["ours_plain"]["files_per_s"] / tx_rate,
        "cpu_pytx_over_ours_worker": cpu["pytx"] / cpu["ours_worker"],
        "cpu_pytx_over_ours_worker_no_robust": cpu["pytx"] / cpu["ours_worker_no_robust"],
        "ours_per_core_over_pytx": ours / workers / tx_rate,
        "limit_over_ours": result["limit"]["files_per_s"] / ours,
        "limit_rgb_over_ours": result["limit_rgb"]["files_per_s"] / ours,
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=250, help="files per pytx invocation")
    ap.add_argument("--cpu-sample", type=int, default=60, help="files for our worker's CPU time")
    ap.add_argument(
        "--stages", action="store_true", help="only our worker's CPU per step (no scans, no pytx)"
    )
    args = ap.parse_args()
    if args.stages:
        paths = [str(p) for p in corpus.files(corpus.build("photos", args.images))]
        steps = stages(paths[: args.cpu_sample])
        print(json.dumps({k: round(v, 2) for k, v in steps.items()}, indent=1))
        return
    result = run(args.images, args.workers, args.chunk, args.cpu_sample)
    print(json.dumps(result["ratios"], indent=1))


if __name__ == "__main__":
    main()
