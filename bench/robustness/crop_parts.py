"""Crop reference parts: what they catch and how close unrelated pictures come (issue #12).

    nice -n 10 .venv/bin/python bench/robustness/crop_parts.py            # both measurements
    nice -n 10 .venv/bin/python bench/robustness/crop_parts.py --recall   # the first only

1. **Recall on dev originals** (never the benchmark's known side): the quadrants of the first 8
   and the next 10 distractor-side source photographs (two sets), each cropped 3 times in each of
   the benchmark's four crop styles (``styles.STYLES["crop"]``, drawn from seeds of this script,
   not a run's), encoded and decoded as the scanner does; a copy is caught when its PDQ (any of
   the 8 variants) is within PART_THRESHOLD of a crop part of its original. Printed per style for
   the 21 parts shipped before 2026-11-29 (the first 21 of ``CROP_SHARES``) and for all of them.
2. **False-match margin at a larger scale**: the crop parts of every known-side original of the
   benchmark (its quadrants of quality >= 50) against PDQ of thousands of unrelated pictures: every
   picture of bench/corpus/fidelity-sources (Stellarium's landscapes and sky, Tux Paint's stamps,
   Extreme Tux Racer's textures; ``bench/fidelity/sources.py`` fetches them) and of the
   distractor-side photographs, whole and 5 random crops each. Prints the closest distances and
   how many pictures come within a few bounds, for the old and the new parts.

CPU: about 1 minute for 1, 2-3 minutes for 2 (one process).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from styles import STYLES  # noqa: E402

import run  # noqa: E402
from hashsieve.config import PDQ_MIN_QUALITY  # noqa: E402
from hashsieve.hashing.decode import open_image  # noqa: E402
from hashsieve.hashing.pdq import pdq_with_dihedral, warm_up  # noqa: E402
from hashsieve.hashing.reference import (  # noqa: E402
    CROP_SHARES,
    PART_THRESHOLD,
    crop_label,
    reference_parts,
)
from sources import fetch  # noqa: E402

OLD_PARTS = 21  # CROP_LEVELS + the 4.5/6.5 % grid: the parts before the axis cuts
FIDELITY = HERE.parent / "corpus" / "fidelity-sources"


def _query(img: Image.Image) -> tuple[int, np.ndarray]:
    """A copy as the scanner hashes it: JPEG, the luma decode, PDQ and its 8 variants."""
    opened = open_image(run._encode(img), max_pixels=run.MAX_PIXELS)
    pdq, dihedral = pdq_with_dihedral(opened.image)
    return pdq.quality, run._as_u64(b"".join(dihedral))


def _crop_parts(img: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """An original's crop parts, as `hashset import FOLDER` makes them, and which are old."""
    full = open_image(run._encode(img, quality=92), max_pixels=run.MAX_PIXELS, fast=False)
    old = {crop_label(shares) for shares in CROP_SHARES[:OLD_PARTS]}
    parts = [p for p in reference_parts(full.image) if p.algorithm == "pdq-crop"]
    codes = run._as_u64(b"".join(p.code for p in parts)) if parts else np.zeros((0, 4), np.uint64)
    return codes, np.array([p.label in old for p in parts], dtype=bool)


def _nearest(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per row of ``table``, the least distance to any of ``codes``."""
    if not len(table):
        return np.zeros(0, np.int64)
    return np.bitwise_count(codes[:, None, :] ^ table[None, :, :]).sum(axis=2).min(axis=0)


def recall(paths: list[Path]) -> None:
    styles = STYLES["crop"]
    for label, chosen in (("dev set 1", paths[1::2][:8]), ("dev set 2", paths[1::2][8:18])):
        hits = {name: np.zeros(2, int) for name in styles}
        found = {name: np.zeros(2, int) for name in styles}
        originals = 0
        for s, path in enumerate(chosen):
            for o, img in enumerate(run._quadrants(run._load(path))):
                if _query(img)[0] < PDQ_MIN_QUALITY:
                    continue
                originals += 1
                table, old = _crop_parts(img)
                for k, (name, style) in enumerate(styles.items()):
                    for j in range(3):
                        rng = np.random.default_rng([900, s, o, k, j])
                        _, codes = _query(style(img, rng))
                        d = _nearest(codes, table)
                        found[name] += 1
                        hits[name] += (
                            bool((d[old] <= PART_THRESHOLD).any()),
                            bool((d <= PART_THRESHOLD).any()),
                        )
        total = sum(hits.values()) / sum(found.values())
        per = ", ".join(
            f"{n} {h[0] / found[n][0]:.0%} -> {h[1] / found[n][1]:.0%}" for n, h in hits.items()
        )
        print(
            f"{label}: {originals} originals, {sum(f[0] for f in found.values())} copies; "
            f"{OLD_PARTS} -> {len(CROP_SHARES)} parts: {per}; "
            f"all {total[0]:.1%} -> {total[1]:.1%}",
            flush=True,
        )


def margin(paths: list[Path]) -> None:
    tables, olds = [], []
    for path in paths[0::2]:
        for img in run._quadrants(run._load(path)):
            if _query(img)[0] >= PDQ_MIN_QUALITY:
                table, old = _crop_parts(img)
                tables.append(table)
                olds.append(old)
    table, old = np.concatenate(tables), np.concatenate(olds)
    print(f"known side: {len(tables)} originals, crop parts {old.sum()} old, {len(table)} all")
    rng = np.random.default_rng(5)
    pictures = sorted(p for p in FIDELITY.glob("*") if p.suffix != ".json") + paths[1::2]
    nearest_old, nearest_all = [], []
    for path in pictures:
        try:
            with Image.open(path) as opened:
                img = opened.convert("RGB")
        except OSError:
            continue
        if min(img.size) < 64:
            continue
        for pic in [img, *run._distractor_crops(img, 5, rng)]:
            quality, codes = _query(pic)
            if quality < PDQ_MIN_QUALITY:
                continue
            d = _nearest(codes, table)
            nearest_old.append(int(d[old].min()))
            nearest_all.append(int(d.min()))
    print(f"unrelated pictures: {len(pictures)}, hashes of quality >= 50: {len(nearest_all)}")
    for label, near in (("old parts", nearest_old), ("all parts", nearest_all)):
        d = np.sort(np.array(near))
        bounds = " ".join(f"<={b}: {(d <= b).sum()}" for b in (31, 40, 50, 60))
        print(f"  {label}: closest {d[:5].tolist()}, {bounds}, median {int(np.median(d))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--recall", action="store_true", help="only the recall on dev originals")
    args = ap.parse_args()
    warm_up()
    started = time.process_time()
    paths = [p for p in fetch() if min(Image.open(p).size) >= 800]
    recall(paths)
    if not args.recall:
        if not any(FIDELITY.glob("*")):
            sys.exit("crop_parts: no unrelated pictures (run bench/fidelity/sources.py's fetch)")
        margin(paths)
    print(f"CPU {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
