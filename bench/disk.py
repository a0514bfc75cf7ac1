"""Scanning pictures inside a disk image against the same pictures in a folder.

    .venv/bin/python bench/disk.py [--count 300] [--repeat 2] [--workers 2] [--ewfacquire2 PATH]

Makes ``--count`` generated JPEGs (``samples.images.photo_like``, 1-2 MP), puts them in a folder,
in an ext4 file system image made from that folder (``mkfs.ext4 -d``: raw, no partition table)
and in an E01 of that image (``ewfacquire``, fast deflate), then runs ``hashsieve scan`` on each
with a fresh ``HASHSIEVE_HOME`` and prints the pictures per second by wall clock (the best of
``--repeat`` runs, the kinds alternating), the CPU seconds of the scan and its workers (of that
best run; the workers' sampled from /proc) and each image's rate relative to the folder's.
With ``--ewfacquire2``, an ``ewfacquire`` that writes EWF2 (libewf 2021 or later; Debian's
writes EWF1 only), the same image is also acquired as an ``.Ex01`` set and scanned. An image
scan also hashes the image file itself (its MD5, SHA-1 and SHA-256 as evidence), which is
counted in its time. Needs e2fsprogs and ewf-tools; the corpus is kept in
``bench/corpus/disk-N/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hashsieve.samples.images import jpeg_bytes, photo_like
from procs import cpu_seconds

HERE = Path(__file__).resolve().parent
HASHSIEVE = Path(sys.executable).with_name("hashsieve")


def build(count: int, ewfacquire2: str | None) -> dict[str, Path]:
    corpus = HERE / "corpus" / f"disk-{count}"
    folder, raw, e01 = corpus / "folder", corpus / "pictures.img", corpus / "pictures.E01"
    if e01.exists():
        paths = {"folder": folder, "raw": raw, "E01": e01}
        if ewfacquire2:
            paths["Ex01"] = ex01(ewfacquire2, raw, corpus)
        return paths
    shutil.rmtree(corpus, ignore_errors=True)
    (folder / "DCIM").mkdir(parents=True)
    rng = random.Random(7)
    total = 0
    for i in range(count):
        width = rng.randint(1200, 1700)
        height = int(width * rng.choice((0.66, 0.75, 0.8)))  # 1-2 MP
        data = jpeg_bytes(photo_like(1000 + i, (width, height)), quality=90)
        (folder / "DCIM" / f"IMG_{i:04d}.jpg").write_bytes(data)
        total += len(data)
    size_mb = int(total / 1024 / 1024 * 1.25) + 32
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(folder), str(raw), f"{size_mb}M"],
        check=True,
        capture_output=True,
    )
    target = corpus / "pictures"
    subprocess.run(
        ["ewfacquire", "-u", "-q", "-t", str(target), "-c", "deflate:fast", str(raw)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    paths = {"folder": folder, "raw": raw, "E01": e01}
    if ewfacquire2:
        paths["Ex01"] = ex01(ewfacquire2, raw, corpus)
    return paths


def ex01(tool: str, raw: Path, corpus: Path) -> Path:
    """An EWF2 set of ``raw`` (32 MiB segments, fast deflate), made once."""
    first = corpus / "ex01" / "pictures.Ex01"
    if not first.exists():
        first.parent.mkdir(exist_ok=True)
        args = [tool, "-u", "-q", "-f", "encase7-v2", "-c", "deflate:fast", "-S", str(32 << 20)]
        args += ["-t", str(first.with_suffix("")), str(raw)]
        subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return first


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def scan(path: Path, workers: int) -> tuple[float, float, int]:
    """Seconds and CPU seconds of one ``hashsieve scan`` in a fresh home (the scan's own, as
    it exits, and its workers', sampled every 0.2 s from /proc: the forkserver's children are
    not waited for by the scan, so rusage misses them), and the JPEG rows it wrote."""
    with tempfile.TemporaryDirectory() as home:
        jsonl = Path(home) / "out.jsonl"
        env = dict(os.environ, HASHSIEVE_HOME=home)
        args = [str(HASHSIEVE), "scan", str(path), "--case", "bench", "--jsonl", str(jsonl)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*args, "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen: dict[int, float] = {}
        while proc.poll() is None:
            for pid in _descendants(proc.pid):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    seen[pid] = cpu_seconds(pid)
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{path}: hashsieve scan exited with {proc.returncode}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + sum(seen.values())
    pictures = sum(1 for r in rows if r["media_type"] == "image/jpeg" and not r["error"])
    return seconds, cpu, pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ewfacquire2", help="an ewfacquire that writes EWF2: scan an Ex01 too")
    args = parser.parse_args()
    paths = build(args.count, args.ewfacquire2)
    best: dict[str, tuple[float, float]] = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeat):
        for kind, path in paths.items():
            seconds, cpu, pictures = scan(path, args.workers)
            if pictures != args.count:
                raise SystemExit(f"{kind}: {pictures} pictures scanned, not {args.count}")
            best[kind] = min(best.get(kind, (float("inf"), 0.0)), (seconds, cpu))
    folder_rate = args.count / best["folder"][0]
    print(
        f"{args.count} JPEGs (1-2 MP), {args.workers} workers, "
        f"load {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    for kind, (seconds, cpu) in best.items():
        rate = args.count / seconds
        print(
            f"{kind:7} {seconds:7.2f} s  {rate:7.1f} pictures/s  {rate / folder_rate:5.2f}x  "
            f"CPU {cpu:6.1f} s"
        )


if __name__ == "__main__":
    main()
