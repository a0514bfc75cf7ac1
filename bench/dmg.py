"""Reading the files of a disk out of an Apple DMG against the same raw disk, in one process.

    .venv/bin/python bench/dmg.py [--count 120] [--repeat 3]

Makes ``--count`` generated JPEGs (``samples.images.photo_like``, 1024x768) in a FAT file
system (``mkfs.vfat`` + mtools, as the tests build them), wraps it as a zlib UDIF image with
the tests' writer (``tests/sources/test_dmg.py``: 64 KiB chunks, stored where zlib does not
shrink them, zero-fill for empty space) and reads every file through
:class:`hashsieve.sources.disk.DiskReader` from the raw disk, from the DMG with the chunks
through Python's zlib (``sources/dmg.py``) and from the DMG through libmodi alone. Prints MB/s
by wall clock and by CPU seconds of this process (the best of ``--repeat``). Needs dosfstools
and mtools.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the tests' image builders

from tests.sources.disk_builders import fat_fs  # noqa: E402
from tests.sources.test_dmg import _ZLIB, _udif  # noqa: E402

from hashsieve.samples.images import jpeg_bytes, photo_like  # noqa: E402
from hashsieve.sources import disk  # noqa: E402
from hashsieve.sources import dmg as dmg_chunks  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def libmodi_only() -> Iterator[None]:
    """The DMG read by libmodi: the Python chunk reader refuses every image."""
    real = dmg_chunks.UdifChunks

    def refuse(stream: object) -> None:
        raise ValueError("bench: libmodi alone")

    dmg_chunks.UdifChunks = refuse
    try:
        yield
    finally:
        dmg_chunks.UdifChunks = real


def read_all(path: Path) -> int:
    with open(path, "rb") as stream:
        reader = disk.DiskReader(stream, str(path), str(path))
        names = [e.name for e in reader.entries() if e.problem is None]
        total = 0
        for name in names:
            member = reader.open(name)
            while block := member.read(1 << 20):
                total += len(block)
        reader.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dmg-"))
    pictures = {f"DCIM/{i}.jpg": jpeg_bytes(photo_like(i, (1024, 768))) for i in range(args.count)}
    size = sum(map(len, pictures.values()))
    mib = max(16, int(size * 1.3) // (1 << 20) + 8)
    raw = fat_fs(work / "disk.img", pictures, {}, mib=mib)
    image = work / "disk.dmg"
    image.write_bytes(_udif(raw.read_bytes(), _ZLIB)[0])
    print(
        f"{args.count} pictures, {size / 1e6:.1f} MB, in a {mib} MiB FAT; "
        f"DMG {image.stat().st_size / 1e6:.1f} MB"
    )
    runs = [
        ("raw disk", raw, False),
        ("DMG, chunks with Python's zlib", image, False),
        ("DMG, libmodi", image, True),
    ]
    for label, path, modi in runs:
        best: tuple[float, float] | None = None
        for _ in range(args.repeat):
            wall, spent = time.perf_counter(), cpu()
            if modi:
                with libmodi_only():
                    total = read_all(path)
            else:
                total = read_all(path)
            wall, spent = time.perf_counter() - wall, cpu() - spent
            best = (wall, spent) if best is None or wall < best[0] else best
        assert best is not None and total >= size
        print(
            f"{label:32} {total / 1e6 / best[0]:7.0f} MB/s wall  "
            f"{total / 1e6 / best[1]:7.0f} MB/s of CPU  ({best[0]:.2f} s, {best[1]:.2f} s CPU)"
        )


if __name__ == "__main__":
    main()
