"""Speed of the structural carver (hashsieve.sources.carve) where there is little to find.

    .venv/bin/python bench/carve.py [--mb 1024] [--repeat 2] [--image-mb 1024] [--workers 2]

Data made in memory: ``--mb`` MiB of 1 MiB stretches, random bytes and zeros alternating in
runs (what unallocated space of a used disk looks like), read through a stream in the carver's
own blocks; once with nothing in it, once with a JPEG (with an EXIF thumbnail inside) planted
every 64 MiB. Prints MB/s by wall clock and by this process's CPU time (the CPU figure is the
one to compare on a machine shared with other work); the best of ``--repeat`` runs.

Then the scan's own carve jobs (``hashsieve.scan.listing``) over a disk image: a FAT32 file
system of ``--image-mb`` MiB (``mkfs.vfat`` and mtools: one small picture, kept in
``bench/corpus/carve-N.img``) whose free clusters hold the same random bytes and zeros; its
unallocated runs planned as the scan plans them and carved (and what is found hashed) once in
this process (MB/s of one core) and once by the scan's worker pool of ``--workers`` processes
(MB/s by wall clock, and by the workers' CPU time). ``--image-mb 0`` skips it.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import carve
from procs import cpu_seconds

HERE = Path(__file__).resolve().parent

MIB = 1024 * 1024


def make_data(mb: int, with_jpegs: bool) -> tuple[bytes, int]:
    rng = random.Random(1)
    data = bytearray()
    noise = os.urandom(8 * MIB)
    while len(data) < mb * MIB:
        run = rng.randint(1, 8) * MIB
        data += noise[:run] if rng.random() < 0.6 else bytes(run)
    del data[mb * MIB :]
    planted = 0
    if with_jpegs:
        main = jpeg_bytes(photo_like(3, (1024, 768)))
        thumb = jpeg_bytes(photo_like(4, (160, 120)))
        app1 = b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + thumb
        blob = main[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + main[2:]
        for at in range(5 * MIB + 12345, len(data) - len(blob), 64 * MIB):
            data[at : at + len(blob)] = blob
            planted += 1
    return bytes(data), planted


def measure(data: bytes, repeat: int) -> tuple[float, float, carve.CarveResult]:
    best_wall = best_cpu = float("inf")
    result = carve.CarveResult()
    for _ in range(repeat):
        stream = io.BytesIO(data)
        wall, cpu = time.perf_counter(), time.process_time()
        result = carve.carve(stream)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    mb = len(data) / 1e6
    return mb / best_wall, mb / best_cpu, result


def build_image(mb: int) -> Path:
    """A FAT32 image of ``mb`` MiB holding one picture, its free clusters filled like
    :func:`make_data` (nothing planted: a file of it copied in with mtools, then deleted),
    made once."""
    path = HERE / "corpus" / f"carve-{mb}.img"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    made = path.with_suffix(".part")
    made.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as work:
        picture, filler = Path(work) / "a.jpg", Path(work) / "filler.bin"
        picture.write_bytes(jpeg_bytes(photo_like(5, (320, 240))))
        noise, _ = make_data(64, False)
        with open(filler, "wb") as out:
            for _ in range((mb - 16) // 64):
                out.write(noise)
        for args in (
            ["mkfs.vfat", "-F", "32", "-C", str(made), str(mb * 1024)],
            ["mcopy", "-i", str(made), str(picture), "::/a.jpg"],
            ["mcopy", "-i", str(made), str(filler), "::/filler.bin"],
            ["mdel", "-i", str(made), "::/filler.bin"],
        ):
            subprocess.run(args, check=True, capture_output=True)
    made.rename(path)
    return path


def carve_image(mb: int, workers: int) -> None:
    from hashsieve.scan.listing import carve_jobs, list_job
    from hashsieve.scan.stage import LocalStage
    from hashsieve.scan.worker import HashOptions
    from hashsieve.sources import disk
    from hashsieve.sources.documents import merged_runs

    path = build_image(mb)
    runs = merged_runs(disk.unallocated_runs(str(path)))
    free = sum(length for _, length in runs) / 1e6
    jobs = carve_jobs(str(path), runs)
    options = HashOptions(max_image_pixels=178_956_970)
    wall, cpu = time.perf_counter(), time.process_time()
    found = sum(len(list_job(job, options).hashed) for job in jobs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"image {mb} MiB, {free:.0f} MB unallocated in {len(runs)} runs, {len(jobs)} jobs; "
        f"in one process: {free / wall:.0f} MB/s wall, {free / cpu:.0f} MB/s CPU, found {found}"
    )
    stage = LocalStage(workers, options)
    try:
        list(stage.listings(jobs[:1]))  # the pool started and warm
        pool = stage._listings._pool
        pids = list(pool._processes) if pool is not None else []
        held = sum(cpu_seconds(pid) for pid in pids)
        wall = time.perf_counter()
        found = sum(len(listed.hashed) for listed in stage.listings(jobs))
        wall = time.perf_counter() - wall
        used = sum(cpu_seconds(pid) for pid in pids) - held
    finally:
        stage.close()
    print(
        f"  in {workers} workers (the scan's carve jobs): {free / wall:.0f} MB/s wall, "
        f"{free / used:.0f} MB/s of the workers' CPU, found {found}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="MiB of data (default 1024)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--image-mb", type=int, default=1024, help="0: no disk image")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for with_jpegs in (False, True):
        data, planted = make_data(args.mb, with_jpegs)
        wall, cpu, result = measure(data, args.repeat)
        label = f"{planted} JPEGs planted" if with_jpegs else "nothing planted"
        print(
            f"{args.mb} MiB random+zeros, {label}: {wall:.0f} MB/s wall, {cpu:.0f} MB/s CPU; "
            f"found {len(result.items)} items, {len(result.fragments)} fragment runs"
        )
        if with_jpegs and len(result.items) != planted:
            raise SystemExit(f"expected {planted} items, found {len(result.items)}")
        del data
    if args.image_mb:
        carve_image(args.image_mb, args.workers)


if __name__ == "__main__":
    main()
