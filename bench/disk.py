"""Scanning pictures inside a disk image against the same pictures in a folder.

    .venv/bin/python bench/disk.py [--count 300] [--repeat 2] [--workers 2]

Makes ``--count`` generated JPEGs (``samples.images.photo_like``, 1-2 MP), puts them in a folder,
in an ext4 file system image made from that folder (``mkfs.ext4 -d``: raw, no partition table)
and in an E01 of that image (``ewfacquire``, fast deflate), then runs ``hashsieve scan`` on each
with a fresh ``HASHSIEVE_HOME`` and prints the pictures per second by wall clock (the best of
``--repeat`` runs, the three kinds alternating) and each image's rate relative to the folder's.
An image scan also hashes the image file itself (its MD5, SHA-1 and SHA-256 as evidence), which
is counted in its time. Needs e2fsprogs and ewf-tools; the corpus is kept in
``bench/corpus/disk-N/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hashsieve.samples.images import jpeg_bytes, photo_like

HERE = Path(__file__).resolve().parent
HASHSIEVE = Path(sys.executable).with_name("hashsieve")


def build(count: int) -> dict[str, Path]:
    corpus = HERE / "corpus" / f"disk-{count}"
    folder, raw, e01 = corpus / "folder", corpus / "pictures.img", corpus / "pictures.E01"
    if e01.exists():
        return {"folder": folder, "raw": raw, "E01": e01}
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
    return {"folder": folder, "raw": raw, "E01": e01}


def scan(path: Path, workers: int) -> tuple[float, int]:
    """Seconds of one ``hashsieve scan`` in a fresh home, and the JPEG rows it wrote."""
    with tempfile.TemporaryDirectory() as home:
        jsonl = Path(home) / "out.jsonl"
        env = dict(os.environ, HASHSIEVE_HOME=home)
        args = [str(HASHSIEVE), "scan", str(path), "--case", "bench", "--jsonl", str(jsonl)]
        started = time.perf_counter()
        subprocess.run([*args, "--workers", str(workers)], check=True, env=env, capture_output=True)
        seconds = time.perf_counter() - started
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    pictures = sum(1 for r in rows if r["media_type"] == "image/jpeg" and not r["error"])
    return seconds, pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths = build(args.count)
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for kind, path in paths.items():
            seconds, pictures = scan(path, args.workers)
            if pictures != args.count:
                raise SystemExit(f"{kind}: {pictures} pictures scanned, not {args.count}")
            best[kind] = min(best.get(kind, float("inf")), seconds)
    folder_rate = args.count / best["folder"]
    load = os.getloadavg()[0]
    print(f"{args.count} JPEGs (1-2 MP), {args.workers} workers, load {load:.2f} at the end")
    for kind, seconds in best.items():
        rate = args.count / seconds
        print(f"{kind:7} {seconds:7.2f} s  {rate:7.1f} pictures/s  {rate / folder_rate:5.2f}x")


if __name__ == "__main__":
    main()
