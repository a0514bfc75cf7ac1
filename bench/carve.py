"""Speed of the structural carver (hashsieve.sources.carve) where there is little to find.

    .venv/bin/python bench/carve.py [--mb 1024] [--repeat 2]

Data made in memory: ``--mb`` MiB of 1 MiB stretches, random bytes and zeros alternating in
runs (what unallocated space of a used disk looks like), read through a stream in the carver's
own blocks; once with nothing in it, once with a JPEG (with an EXIF thumbnail inside) planted
every 64 MiB. Prints MB/s by wall clock and by this process's CPU time (the CPU figure is the
one to compare on a machine shared with other work); the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time

from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import carve

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="MiB of data (default 1024)")
    parser.add_argument("--repeat", type=int, default=2)
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


if __name__ == "__main__":
    main()
