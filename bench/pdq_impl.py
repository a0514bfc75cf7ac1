"""PDQ micro-benchmark and decode-rule measurements.

    .venv/bin/python bench/pdq_impl.py speed     # ms/image: pdqhash vs ours; RGB vs luma decode
    .venv/bin/python bench/pdq_impl.py distance  # bits moved by the luma decode rule

``speed`` times the two PDQ implementations on the same RGB array at several sizes, then the whole
pipeline (JPEG bytes -> decode -> PDQ with dihedral codes) with RGB and luma decoding on generated
1.6-2.4k px photo-like JPEGs. ``distance`` hashes the conformance images and generated 1-3 MP JPEGs
with the RGB decode and with the luma path (``open_image(fast=True)``) and prints mean / p95 / max
distance between them, and the distance to each reference's expected hashes. Real photographs:
bench/fidelity/run.py.
All images are benign: the conformance set and pictures generated here (gradients, shapes, noise).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from hashsieve.hashing import pdq
from hashsieve.hashing.decode import open_image

MAX_PIXELS = 200_000_000
REPO = Path(__file__).resolve().parents[1]


def conformance_dir() -> Path:
    env = os.environ.get("HASHSIEVE_CONFORMANCE")
    return Path(env) if env else REPO.parent / "shared" / "conformance"


def photo_like(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A benign synthetic 'photo': a gradient sky, shapes, texture, sensor noise, a little blur."""
    small_w, small_h = max(64, width // 4), max(64, height // 4)
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    base = np.empty((small_h, small_w, 3), np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = np.cos(angle) * xx / small_w + np.sin(angle) * yy / small_h
    for ch in range(3):
        c0, c1 = rng.uniform(20, 235, 2)
        base[..., ch] = c0 + (c1 - c0) * ramp
        for _ in range(3):  # soft texture: a few sinusoids
            fx, fy = rng.uniform(0.5, 12, 2)
            base[..., ch] += rng.uniform(3, 18) * np.sin(
                2 * np.pi * (fx * xx / small_w + fy * yy / small_h) + rng.uniform(0, 6.3)
            )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 25))):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        x1, y1 = x0 + rng.uniform(0.05, 0.6) * width, y0 + rng.uniform(0.05, 0.6) * height
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=color)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        else:
            pts = [
                (rng.uniform(0, width), rng.uniform(0, height))
                for _ in range(int(rng.integers(3, 7)))
            ]
            draw.polygon(pts, fill=color)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 3.0)))
    arr = np.asarray(img).astype(np.int16)
    arr = arr + rng.normal(0, rng.uniform(2, 8), arr.shape).astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg_bytes(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def generated_jpegs(n: int, seed: int, min_mp: float, max_mp: float) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        mp = rng.uniform(min_mp, max_mp) * 1e6
        aspect = rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4, 2 / 3])
        width = int((mp * aspect) ** 0.5)
        height = int(mp / width)
        out.append(jpeg_bytes(photo_like(rng, width, height), int(rng.integers(75, 96))))
    return out


def _ms(fn, arg, repeat: int) -> float:
    fn(arg)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn(arg)
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e3


def speed(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    pdq.warm_up()
    print(f"numba kernels ready in {time.perf_counter() - t0:.2f} s (load from cache or compile)")
    rng = np.random.default_rng(0)
    print("\n## PDQ only, same RGB array (ms/image, best of 3)")
    print("| size | pdqhash hash | pdqhash dihedral | ours hash | ours hash+dihedral | speed-up |")
    print("|---|---|---|---|---|---|")
    for width, height in [(256, 256), (512, 384), (1024, 768), (2048, 1536)]:
        rgb = np.asarray(photo_like(rng, width, height))
        repeat = max(3, int(3e6 / (width * height)))
        ref = _ms(lambda a: pdq.pdq_hash(a, impl="pdqhash"), rgb, repeat)
        ref_d = _ms(lambda a: pdq.pdq_dihedral(a, impl="pdqhash"), rgb, repeat)
        ours = _ms(lambda a: pdq.pdq_hash(a, impl="numba"), rgb, repeat)
        ours_d = _ms(lambda a: pdq.pdq_with_dihedral(a, impl="numba"), rgb, repeat)
        print(
            f"| {width}x{height} | {ref:.2f} | {ref_d:.2f} | {ours:.2f} | {ours_d:.2f} "
            f"| {ref_d / ours_d:.1f}x |"
        )

    files = generated_jpegs(args.n, seed=7, min_mp=1.5, max_mp=5.0)
    files = [f for f in files if 1600 <= max(Image.open(io.BytesIO(f)).size) <= 2400] or files
    sizes = [Image.open(io.BytesIO(f)).size for f in files]
    print(
        f"\n## Pipeline: JPEG bytes -> decode -> PDQ + 8 dihedral codes ({len(files)} generated "
        f"JPEGs, {min(max(s) for s in sizes)}-{max(max(s) for s in sizes)} px long side; ms/image)"
    )
    print("| decode | PDQ impl | decode ms | PDQ ms | total ms |")
    print("|---|---|---|---|---|")
    for fast in (False, True):
        for impl in ("pdqhash", "numba"):
            dec = hsh = 0.0
            for data in files:
                t1 = time.perf_counter()
                img = open_image(data, max_pixels=MAX_PIXELS, fast=fast).image
                t2 = time.perf_counter()
                pdq.pdq_with_dihedral(img, impl=impl)
                t3 = time.perf_counter()
                dec += t2 - t1
                hsh += t3 - t2
            n = len(files)
            label = "luma (Y channel)" if fast else "RGB"
            print(
                f"| {label} | {impl} | {dec / n * 1e3:.1f} | {hsh / n * 1e3:.1f} "
                f"| {(dec + hsh) / n * 1e3:.1f} |"
            )


def _stats(values: list[int]) -> str:
    if not values:
        return "-"
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"{statistics.mean(v):.1f} / {p95} / {v[-1]} (n={len(v)})"


def _hash(data: bytes, fast: bool) -> pdq.PdqHash:
    return pdq.pdq_hash(open_image(data, max_pixels=MAX_PIXELS, fast=fast).image)


def distance(args: argparse.Namespace) -> None:
    conf = conformance_dir() / "pdq"
    rules = {"luma": True}
    if conf.is_dir():
        print("## Conformance images: distance to each reference's expected hash")
        print("| reference | decode | mean | p95 | max | quality>=50 rows max |")
        print("|---|---|---|---|---|---|")
        for name in ("pytx", "cpp", "wasm"):
            with open(conf / f"expected-{name}.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            for label, fast in [("rgb", False), *rules.items()]:
                ds, dq = [], []
                for row in rows:
                    data = (conf / "images" / row["path"]).read_bytes()
                    h = _hash(data, fast)
                    d = pdq.distance(h.code, pdq.hex_to_code(row["pdq_hex"]))
                    ds.append(d)
                    if h.quality >= 50:
                        dq.append(d)
                v = sorted(ds)
                print(
                    f"| {name} | {label} | {statistics.mean(v):.2f} "
                    f"| {v[round(0.95 * (len(v) - 1))]} | {v[-1]} | {max(dq, default=0)} |"
                )
        print("\n## Conformance JPEGs: luma vs RGB decode (bits: mean / p95 / max)")
        jpegs = sorted(
            p for p in (conf / "images").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"}
        )
        for label, fast in rules.items():
            ds = []
            for p in jpegs:
                data = p.read_bytes()
                ds.append(pdq.distance(_hash(data, False).code, _hash(data, fast).code))
            print(f"- {label}: {_stats(ds)}")
    print(f"\n## {args.n} generated photo-like JPEGs, 1-3 MP: luma vs RGB decode")
    files = generated_jpegs(args.n, seed=11, min_mp=1.0, max_mp=3.0)
    full = [_hash(f, False) for f in files]
    qualities = [h.quality for h in full]
    print(
        f"quality: min {min(qualities)}, median {statistics.median(qualities)}, "
        f"share >= 50: {sum(q >= 50 for q in qualities) / len(qualities):.0%}"
    )
    for label, fast in rules.items():
        ds = [pdq.distance(h.code, _hash(f, fast).code) for h, f in zip(full, files, strict=True)]
        over = sum(d > 31 for d in ds)
        print(f"- {label}: {_stats(ds)}; over 31: {over}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_speed = sub.add_parser("speed")
    p_speed.add_argument("-n", type=int, default=30, help="generated JPEGs for the pipeline")
    p_speed.set_defaults(func=speed)
    p_dist = sub.add_parser("distance")
    p_dist.add_argument("-n", type=int, default=300, help="generated JPEGs")
    p_dist.set_defaults(func=distance)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
