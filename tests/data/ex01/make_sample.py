"""How ``tests/data/ex01/card.Ex01`` (+ ``card.Ex02``) was made; the tests read the committed
set and never run this (it needs an ``ewfacquire`` that writes EWF2: see README.md here).

    EWFACQUIRE=/path/to/ewfacquire .venv/bin/python tests/data/ex01/make_sample.py
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tempfile
from pathlib import Path

from hashsieve.samples.images import jpeg_bytes, photo_like

HERE = Path(__file__).resolve().parent


def png_bytes(seed: int, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    photo_like(seed, size).save(out, "PNG")
    return out.getvalue()


KNOWN = {  # in the known list of the tests (known.txt)
    "DCIM/IMG_0001.JPG": jpeg_bytes(photo_like(301, (320, 240)), quality=85),
    "Pictures/map.png": png_bytes(302, (96, 72)),
}
NEW = {"DCIM/IMG_0002.JPG": jpeg_bytes(photo_like(303, (320, 240)), quality=85)}
DELETED = {"DCIM/IMG_0003.JPG": jpeg_bytes(photo_like(304, (320, 240)), quality=85)}


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def main() -> None:
    tool = os.environ.get("EWFACQUIRE", "ewfacquire")
    with tempfile.TemporaryDirectory() as work:
        fat = Path(work) / "card.raw"
        run("mkfs.vfat", "-n", "CARD", "-i", "0C0FFEE0", "-C", str(fat), "1024")
        run("mmd", "-i", str(fat), "::/DCIM", "::/Pictures")
        for name, data in {**KNOWN, **NEW, **DELETED}.items():
            local = Path(work) / name.replace("/", "_")
            local.write_bytes(data)
            run("mcopy", "-m", "-i", str(fat), str(local), f"::/{name}")
        for name in DELETED:
            run("mdel", "-i", str(fat), f"::/{name}")
        for old in HERE.glob("card.Ex*"):
            old.unlink()
        run(
            tool, "-u", "-q", "-f", "encase7-v2", "-c", "deflate:best", "-d", "sha1",
            "-S", str(64 * 1024), "-C", "case-ex01", "-e", "examiner-b", "-D", "test card",
            "-E", "ev-2", "-N", "benign generated pictures", "-t", str(HERE / "card"), str(fat),
        )  # fmt: skip
        raw = fat.read_bytes()
    lines = [f"md5 {hashlib.md5(d).hexdigest()}" for d in [*KNOWN.values(), *DELETED.values()]]
    (HERE / "known.txt").write_text("\n".join(lines) + "\n")
    print("media md5", hashlib.md5(raw).hexdigest(), "sha1", hashlib.sha1(raw).hexdigest())
    for name, data in {**KNOWN, **NEW, **DELETED}.items():
        print(name, len(data), hashlib.md5(data).hexdigest())


if __name__ == "__main__":
    main()
