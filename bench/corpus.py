"""Benchmark corpora, built from scratch and cached in ``bench/corpus/`` (gitignored).

    .venv/bin/python bench/corpus.py photos 1000     # 1-3 MP JPEGs cut from real photographs
    .venv/bin/python bench/corpus.py small 100000    # small JPEGs (64-256 px) for the scale test
    .venv/bin/python bench/corpus.py md5 10000000    # a plain list of random MD5s

Photographs: the nature photos of Debian's ``mate-backgrounds`` (flowers, leaves, water drops,
dunes, a storm, wood) and two of ``lomiri-wallpapers-20.04`` (a nuthatch on a tree, a night sky),
fetched with ``apt-get download`` and unpacked with ``dpkg-deb``; no people. Each corpus image is
a different random crop of one of them, scaled to a 1,600-2,400 px long side (1-3 MP), recoloured
a little, sometimes mirrored or turned to portrait, saved at JPEG quality 85-92, a third with camera
EXIF. Real photographs keep the high-frequency detail that sets JPEG decode cost. Without apt the
corpus falls back to generated photo-like pictures (``hashsieve.samples.images.photo_like``), and
the manifest says so.

Every image depends only on its index, and a manifest ``bench/corpus/<kind>-<count>.json`` beside
the folder caches a finished corpus: reruns with the same size reuse it.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from hashsieve.samples.images import camera_exif, photo_like

CORPUS = Path(__file__).resolve().parent / "corpus"
SOURCES = CORPUS / "_sources"
#: Bump when the generator changes: cached corpora with another version are rebuilt.
VERSION = 1
#: (Debian package, path prefix inside it): only these benign photographs are used.
PHOTO_PACKAGES = {
    "mate-backgrounds": ("./usr/share/backgrounds/mate/nature/",),
    "lomiri-wallpapers-20.04": (
        "./usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
        "./usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg",
    ),
}
_MAX_SOURCE_SIDE = 3400  # sources are decoded once per worker, reduced by libjpeg to about this
_ASPECTS = (4 / 3, 3 / 2, 16 / 9, 5 / 4)

_sources: list[Image.Image] = []
_thumbs: list[Image.Image] = []  # the sources at about 900 px, for the small corpus


def fetch_sources() -> list[Path]:
    """The source photographs, downloaded and unpacked once; [] when apt cannot fetch them."""
    marker = SOURCES / "sources.json"
    if marker.exists():
        names = json.loads(marker.read_text())
        paths = [SOURCES / n for n in names]
        if paths and all(p.exists() for p in paths):
            return paths
    SOURCES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(2):
            got = subprocess.run(
                ["apt-get", "download", *PHOTO_PACKAGES], cwd=tmp, capture_output=True, text=True
            )
            if got.returncode == 0:
                break
            if attempt == 0:  # stale or missing package lists
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        else:
            print(f"corpus: apt-get download failed ({got.stderr.strip()[-200:]})", file=sys.stderr)
            return []
        names = []
        for deb in sorted(Path(tmp).glob("*.deb")):
            package = deb.name.split("_", 1)[0]
            members = subprocess.run(
                ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(members)) as tar:
                for m in tar.getmembers():
                    if not (m.isfile() and m.name.lower().endswith((".jpg", ".jpeg"))):
                        continue
                    if not m.name.startswith(PHOTO_PACKAGES[package]):
                        continue
                    name = f"{package}__{Path(m.name).name}"
                    extracted = tar.extractfile(m)
                    assert extracted is not None
                    (SOURCES / name).write_bytes(extracted.read())
                    names.append(name)
    marker.write_text(json.dumps(sorted(names)))
    return [SOURCES / n for n in sorted(names)]


def _load_sources(paths: list[str]) -> None:
    for p in paths:
        im = Image.open(p)
        im.draft("RGB", (_MAX_SOURCE_SIDE, _MAX_SOURCE_SIDE))
        _sources.append(im.convert("RGB"))
        thumb = _sources[-1].copy()
        thumb.thumbnail((900, 900), Image.Resampling.BILINEAR)
        _thumbs.append(thumb)


def _recolour(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Per-channel gain and gamma through one lookup table (cheap at any size)."""
    x = np.arange(256) / 255.0
    lut: list[int] = []
    for _ in range(3):
        gain, gamma = rng.uniform(0.88, 1.12), rng.uniform(0.85, 1.15)
        lut += list(np.clip(255 * gain * x**gamma, 0, 255).astype(int))
    return img.point(lut)


def _exif(rng: np.random.Generator, i: int) -> Image.Exif:
    make, model = [
        ("Canon", "EOS 80D"),
        ("NIKON CORPORATION", "NIKON D7500"),
        ("Apple", "iPhone 12"),
    ][i % 3]
    day = 1 + i % 28
    gps = (rng.uniform(-60, 60), rng.uniform(-170, 170)) if i % 2 else (None, None)
    return camera_exif(make, model, f"SN{i:08d}", f"2021:05:{day:02d} 10:{i % 60:02d}:00", *gps)


def _photo(i: int) -> tuple[str, bytes, int, int]:
    rng = np.random.default_rng(10_000 + i)
    aspect = float(rng.choice(_ASPECTS))
    long_side = min(rng.uniform(1600, 2400), math.sqrt(3e6 * aspect))
    w, h = round(long_side), round(long_side / aspect)
    if _sources:
        src = _sources[i % len(_sources)]
        sw, sh = src.size
        max_cw = min(sw, sh * aspect)
        cw = rng.uniform(max(min(max_cw, 0.9 * w), 0.45 * max_cw), max_cw)
        ch = cw / aspect
        x0, y0 = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
        box = (x0, y0, x0 + cw, y0 + ch)
        img = src.resize((w, h), Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
        img = _recolour(img, rng)
    else:
        img = photo_like(10_000 + i, (w, h))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.2:
        img = img.transpose(Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    extra = {"exif": _exif(rng, i)} if i % 3 == 0 else {}
    img.save(out, "JPEG", quality=int(rng.integers(85, 93)), **extra)
    return f"IMG_{i:05d}.jpg", out.getvalue(), img.width, img.height


def _small(i: int) -> tuple[str, bytes, int, int]:
    rng = np.random.default_rng(1_000_000 + i)
    if _thumbs:
        src = _thumbs[(i * 7) % len(_thumbs)]
        sw, sh = src.size
        cw = rng.uniform(0.1, 0.6) * sw
        ch = cw / float(rng.choice(_ASPECTS))
        if rng.random() < 0.3:
            cw, ch = ch, cw
        cw, ch = min(cw, sw), min(ch, sh)
        x0, y0 = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
        side = rng.uniform(64, 256)
        scale = side / max(cw, ch)
        size = (max(8, round(cw * scale)), max(8, round(ch * scale)))
        img = src.resize(size, Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    else:
        img = photo_like(1_000_000 + i, (int(rng.integers(64, 257)), int(rng.integers(64, 257))))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=int(rng.integers(70, 96)))
    return f"{i // 1000:03d}/s_{i:06d}.jpg", out.getvalue(), img.width, img.height


def _write_batch(args: tuple[str, str, list[int]]) -> list[tuple[str, int, int, int]]:
    kind, root, indexes = args
    make = _photo if kind == "photos" else _small
    rows = []
    for i in indexes:
        name, data, w, h = make(i)
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append((name, len(data), w, h))
    return rows


def _manifest(root: Path) -> Path:
    return root.with_name(root.name + ".json")


def _manifest_ok(root: Path, kind: str, count: int) -> dict | None:
    try:
        m = json.loads(_manifest(root).read_text())
    except (OSError, ValueError):
        return None
    if m.get("version") != VERSION or m.get("kind") != kind or m.get("count") != count:
        return None
    sample = m["files"][:: max(1, count // 200)]
    if not all((root / n).is_file() and (root / n).stat().st_size == s for n, s in sample):
        return None
    return m


def build(kind: str, count: int, workers: int | None = None, quiet: bool = False) -> Path:
    """Make (or reuse) ``bench/corpus/<kind>-<count>/`` and return it."""
    assert kind in ("photos", "small")
    root = CORPUS / f"{kind}-{count}"
    if _manifest_ok(root, kind, count):
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    sources = fetch_sources()
    workers = workers or os.cpu_count() or 1
    step = 16 if kind == "photos" else 1000
    batches = [
        (kind, str(root), list(range(s, min(s + step, count)))) for s in range(0, count, step)
    ]
    if not quiet:
        origin = f"{len(sources)} Debian photographs" if sources else "generated pictures"
        print(f"corpus: writing {count:,} {kind} JPEGs from {origin} into {root} ...", flush=True)
    rows: list[tuple[str, int, int, int]] = []
    ctx = mp.get_context("fork")
    with ctx.Pool(
        workers, initializer=_load_sources, initargs=([str(p) for p in sources],)
    ) as pool:
        for part in pool.imap(_write_batch, batches):
            rows += part
    manifest = {
        "kind": kind,
        "count": count,
        "version": VERSION,
        "source": [p.name for p in sources] or "generated: hashsieve.samples.images.photo_like",
        "bytes": sum(r[1] for r in rows),
        "mean_megapixels": round(sum(r[2] * r[3] for r in rows) / len(rows) / 1e6, 3),
        "max_side": [min(max(r[2], r[3]) for r in rows), max(max(r[2], r[3]) for r in rows)],
        "files": [[r[0], r[1]] for r in rows],
    }
    _manifest(root).write_text(json.dumps(manifest))
    return root


def files(root: Path) -> list[Path]:
    m = json.loads(_manifest(root).read_text())
    return [root / n for n, _ in m["files"]]


def describe(root: Path) -> dict:
    m = json.loads(_manifest(root).read_text())
    return {k: v for k, v in m.items() if k != "files"} | {"path": str(root)}


def md5_list(lines: int) -> Path:
    """A plain list of ``lines`` random MD5s (one per line), cached."""
    path = CORPUS / f"md5-{lines}.txt"
    if path.exists() and path.stat().st_size == 33 * lines:
        return path
    CORPUS.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(lines)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        for start in range(0, lines, 200_000):
            n = min(200_000, lines - start)
            hexes = rng.bytes(16 * n).hex()
            out.write("\n".join(hexes[i : i + 32] for i in range(0, 32 * n, 32)) + "\n")
    tmp.rename(path)
    return path


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("kind", choices=["photos", "small", "md5"])
    ap.add_argument("count", type=int)
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.kind == "md5":
        print(md5_list(args.count))
    else:
        print(json.dumps(describe(build(args.kind, args.count)), indent=1))


if __name__ == "__main__":
    main()
