"""Robustness benchmark in the style of Thorn's perception: plain PDQ vs hashsieve's candidates.

    .venv/bin/python bench/robustness/run.py            # make bench-robust
    .venv/bin/python bench/robustness/run.py --quick    # fewer originals and distractors

Builds, from real photographs shipped in Debian packages (bench/robustness/sources.py):

- **originals** (the known set): the four quadrants of every other source photograph, each its
  own picture, hashed with plain PDQ as every hash list holds them;
- **transformed copies** of every original: resize 50 %, JPEG quality 30, grayscale, brightness,
  flip, rotate 90, crop 5 % per edge, letterbox 15 %, watermark (caption in a dark box),
  screenshot (the picture inside a drawn viewer window, often with player controls over it), PNG;
- **distractors**: crops of the *other* source photographs (never related to an original), each
  disguised the same ways (letterboxed, in a window, watermarked, cropped) so that every
  candidate type fires on unrelated pictures too.

Every image goes through the scanner's own path (encode, ``open_image`` fast decode, PDQ with the
8 dihedral variants, candidate regions). Prints recall per transform and false matches for plain
PDQ (the whole image, any variant, distance <= 31, quality >= 50: python-threatexchange / HMA) and
for hashsieve side by side, false-match counts per candidate type and threshold, the cost per
image, and the scan throughput with the robust stage off and on; writes
``bench/results/robustness.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from styles import HOLDOUT, POOLS, STYLES, UNSEEN, apply  # noqa: E402

from hashsieve.config import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY  # noqa: E402
from hashsieve.hashing.candidates import THRESHOLDS, candidate_hashes  # noqa: E402
from hashsieve.hashing.content import FileResult  # noqa: E402
from hashsieve.hashing.decode import open_image  # noqa: E402
from hashsieve.hashing.pdq import pdq_with_dihedral, warm_up  # noqa: E402
from hashsieve.hashing.reference import (  # noqa: E402
    PART_MIN_QUALITY,
    PART_THRESHOLD,
    reference_parts,
)
from hashsieve.matching.rules import match, regions_by_table  # noqa: E402
from hashsieve.sensors.listcopy import ListCopy  # noqa: E402
from sources import fetch  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "robustness.json"
MAX_PIXELS = 200_000_000
EASY = ("resize50", "jpeg30", "grayscale", "brightness", "flip", "rotate90", "png")
HARD = ("crop", "letterbox", "watermark", "screenshot")
TRANSFORMS = EASY + HARD
BAR = {"letterbox": 0.90, "screenshot": 0.75, "watermark": 0.80, "crop": 0.65}
#: Distractor disguises: what the candidates are built to undo, applied to unrelated pictures.
DISGUISES = ("none", "letterbox", "screenshot", "watermark", "crop")
THRESHOLD_GRID = (24, 28, 31, 34, 38)

# ---------------------------------------------------------------------------------------------
# Transforms


def _encode(img: Image.Image, fmt: str = "JPEG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=quality)
    else:
        img.save(out, fmt)
    return out.getvalue()


def _easy(img: Image.Image, name: str) -> bytes:
    if name == "none":
        return _encode(img)
    if name == "resize50":
        return _encode(img.resize((img.width // 2, img.height // 2), Image.Resampling.BILINEAR))
    if name == "jpeg30":
        return _encode(img, quality=30)
    if name == "grayscale":
        return _encode(ImageOps.grayscale(img))
    if name == "brightness":
        return _encode(img.point(lambda v: min(255, int(v * 1.3) + 10)))
    if name == "flip":
        return _encode(ImageOps.mirror(img))
    if name == "rotate90":
        return _encode(img.transpose(Image.Transpose.ROTATE_90))
    if name == "png":
        return _encode(img, "PNG")
    raise ValueError(name)


def transform(
    img: Image.Image,
    name: str,
    rng: np.random.Generator,
    *,
    holdout: bool = False,
    pool: str = "all",
) -> tuple[bytes, str]:
    """``img`` transformed and encoded as a file, and the style drawn ("" for easy ones).

    Hard transforms draw a style per image from ``pool`` (bench/robustness/styles.py);
    screenshots are PNG."""
    if name in STYLES:
        altered, style = apply(img, name, rng, holdout=holdout, pool=pool)
        return _encode(altered, "PNG" if name == "screenshot" else "JPEG"), style
    return _easy(img, name), ""


# ---------------------------------------------------------------------------------------------
# Building the pictures


def _load(path: Path, side: int = 2048) -> Image.Image:
    with Image.open(path) as opened:
        opened.draft("RGB", (side, side))
        im = opened.convert("RGB")
    im.thumbnail((side, side), Image.Resampling.BILINEAR)
    return im


def _quadrants(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    out = []
    for x0, y0 in ((0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)):
        tile = im.crop((x0, y0, x0 + w // 2, y0 + h // 2))
        tile.thumbnail((1024, 1024), Image.Resampling.BILINEAR)
        out.append(tile)
    return out


def _distractor_crops(im: Image.Image, n: int, rng: np.random.Generator) -> list[Image.Image]:
    w, h = im.size
    out = []
    for _ in range(n):
        cw = rng.uniform(0.25, 0.8) * w
        ch = min(h, cw / rng.choice((4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4, 2 / 3)))
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        side = rng.uniform(400, 1200)
        s = side / max(cw, ch)
        out.append(
            im.resize(
                (max(16, round(cw * s)), max(16, round(ch * s))),
                Image.Resampling.BILINEAR,
                box=(x0, y0, x0 + cw, y0 + ch),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Hashing (in worker processes)


def _init() -> None:
    warm_up()


#: What the workers draw from (set before the pool forks): the pictures and the run's options.
_PICTURES: dict[str, list[Image.Image]] = {}
_OPTIONS: dict[str, object] = {}


def _make(job: tuple[str, str, int, int]) -> tuple[bytes, str]:
    """One job's file: a picture of ``_PICTURES[kind]`` transformed, from a generator seeded by
    the run's seed and the job's place, so a run is the same whatever the order of the work."""
    key, kind, index, t = job
    picture = _PICTURES[kind][index]
    if key.startswith("orig/"):
        return _encode(picture, quality=92), ""
    name = TRANSFORMS[t] if kind == "originals" else DISGUISES[t]
    rng = np.random.default_rng([int(str(_OPTIONS["seed"])), index, t, int(kind == "distractors")])
    data, style = transform(
        picture, name, rng, holdout=bool(_OPTIONS["holdout"]), pool=str(_OPTIONS["pool"])
    )
    return data, f"{name}/{style}" if style else name


def _hash(job: tuple[str, str, int, int]) -> dict:
    """What the scanner computes for one file, with the time each stage took.

    The file is made here (:func:`_make`: rendering and encoding thousands of screenshots is
    work to share too). An original also gets its reference parts, from a full decode, as
    ``hashsieve hashset import FOLDER`` computes them; a query gets its candidate regions
    without and with the upper parts that reference parts need (``HashOptions.parts``), timed
    apart.
    """
    key = job[0]
    data, style = _make(job)
    t0 = time.perf_counter()
    opened = open_image(data, max_pixels=MAX_PIXELS)
    pdq, dihedral = pdq_with_dihedral(opened.image)
    t1 = time.perf_counter()
    cands = candidate_hashes(opened.image)
    t2 = time.perf_counter()
    with_parts = candidate_hashes(opened.image, parts=True)
    t3 = time.perf_counter()
    out = {
        "key": key,
        "style": style,
        "quality": pdq.quality,
        "codes": b"".join(dihedral),
        "candidates": [c.as_tuple() for c in with_parts],
        "plain_s": t1 - t0,
        "robust_s": t2 - t1,
        "parts_s": t3 - t2,
        "n_candidates": len(cands),
    }
    if key.startswith("orig/"):
        full = open_image(data, max_pixels=MAX_PIXELS, fast=False)
        out["parts"] = [(p.algorithm, p.quality, p.code) for p in reference_parts(full.image)]
    return out


# ---------------------------------------------------------------------------------------------
# Matching


def _as_u64(codes: bytes) -> np.ndarray:
    return np.frombuffer(codes, dtype=">u8").astype(np.uint64).reshape(-1, 4)


class Known:
    """The known side: plain PDQ of each original, and its reference parts (by owner)."""

    def __init__(
        self, plain: np.ndarray, crop: list[tuple[int, bytes]], top: list[tuple[int, bytes]]
    ) -> None:
        self.plain = plain
        self.owner_plain = np.arange(len(plain))
        self.crop = _as_u64(b"".join(c for _, c in crop)) if crop else np.zeros((0, 4), np.uint64)
        self.owner_crop = np.array([o for o, _ in crop], dtype=np.int64)
        self.top = _as_u64(b"".join(c for _, c in top)) if top else np.zeros((0, 4), np.uint64)
        self.owner_top = np.array([o for o, _ in top], dtype=np.int64)


class RuleLists:
    """The known set as an in-memory list (the sensors' ``ListCopy``), so whether a copy matches
    is decided by the one matching rule (``hashsieve.matching.rules.match``: routing, thresholds,
    ranking, one original told once), not by this benchmark. Per mode: "plain" (the whole image
    against plain PDQ), "robust" (plus candidate regions), "parts" (plus reference parts)."""

    def __init__(
        self, plain: list[bytes], crop: list[tuple[int, bytes]], top: list[tuple[int, bytes]]
    ) -> None:
        records = [(k + 1, 1, "pdq", code, 1) for k, code in enumerate(plain)]
        self.owner = {k + 1: k for k in range(len(plain))}
        parts: list[tuple[int, int, str, bytes, int]] = []
        original: dict[int, int] = {}
        for algo, items in (("pdq-crop", crop), ("pdq-top", top)):
            for k, code in items:
                entry_id = len(records) + len(parts) + 1
                parts.append((entry_id, 1, algo, code, 1))
                original[entry_id], self.owner[entry_id] = k + 1, k
        names = {1: "known"}
        without_parts = ListCopy.from_records(records, names)
        self.lists = {
            "plain": without_parts,
            "robust": without_parts,
            "parts": ListCopy.from_records(records + parts, names, original=original),
        }

    def owners(self, result: dict, mode: str) -> set[int]:
        """The originals the rule says ``result`` (a hashed copy) is."""
        query = FileResult(
            path="copy",
            dihedral=result["codes"],
            quality=result["quality"],
            candidates=[] if mode == "plain" else list(result["candidates"]),
        )
        [hits] = match(self.lists[mode], [query])
        return {self.owner[h.entry_id] for h in hits if h.entry_id is not None}


def _distances(codes: np.ndarray, table: np.ndarray, owners: np.ndarray, own: int | None) -> dict:
    """Best distance of any of ``codes`` to the table: overall, to ``own``'s rows, to others'."""
    if not len(table):
        return {"any": 999, "own": 999, "other": 999}
    d = np.bitwise_count(codes[:, None, :] ^ table[None, :, :]).sum(axis=2).min(axis=0)
    out = {"any": int(d.min())}
    if own is not None:
        mine = owners == own
        out["own"] = int(d[mine].min()) if mine.any() else 999
        out["other"] = int(d[~mine].min()) if (~mine).any() else 999
    return out


def _evaluate(result: dict, known: Known, own: int | None) -> dict:
    """The matching rule, as hashsieve applies it: per region, its best distances to a table
    and the distance at which it matches there.

    Which region goes to which table at which threshold is the shared rule's
    (:func:`hashsieve.matching.rules.regions_by_table`, as the scan's matcher and the sensors
    ask it); this only measures distances in memory. Keys: ``<region>`` (the originals' plain
    PDQ), ``<region>@crop`` (their crop parts), ``<region>@top`` (upper parts vs their upper
    parts); ``image`` is the whole picture.
    """
    routed = regions_by_table(
        result["codes"],
        result["quality"],
        result["candidates"],
        min_quality=PDQ_MIN_QUALITY,
        threshold=PDQ_MATCH_THRESHOLD,
    )
    tables = {
        "pdq": (known.plain, known.owner_plain, ""),
        "pdq-crop": (known.crop, known.owner_crop, "@crop"),
        "pdq-top": (known.top, known.owner_top, "@top"),
    }
    per: dict[str, dict] = {}
    for table, queries in routed.items():
        rows, owners, suffix = tables[table]
        for name, limit, codes in queries:
            found = {**_distances(_as_u64(codes), rows, owners, own), "limit": limit}
            held = per.setdefault(f"{name or 'image'}{suffix}", found)
            for k, v in found.items():  # a region type may come twice (two boxes)
                held[k] = min(held[k], v)
    return per


def _counts(key: str, mode: str) -> bool:
    """Whether a region key takes part in a mode: "plain" (the whole image, as every tool),
    "robust" (plus candidate regions, against plain lists), "parts" (plus reference parts)."""
    if mode == "plain":
        return key == "image"
    if mode == "robust":
        return "@" not in key
    return True


def _label(key: str) -> str:
    """A region key as the summary prints it: "picture", "image vs crop parts", ..."""
    region, _, part = key.partition("@")
    if not part:
        return region
    if part == "crop":
        return f"{region} vs crop parts"
    below = region.removesuffix("top").removesuffix("/") or "image"
    return f"upper {below} vs upper parts"


def _matched(per: dict, mode: str, key: str) -> bool:
    """Whether the image's regions match, by ``key`` ("own" or "any"/"other")."""
    return any(entry[key] <= entry["limit"] for name, entry in per.items() if _counts(name, mode))


# ---------------------------------------------------------------------------------------------
# Scan throughput


def _throughput(images: list[Image.Image], originals: list[Image.Image], workers: int) -> dict:
    """``hashsieve scan`` of ``images``: robust stage off, on, and on with a store that holds
    reference parts (the originals imported as a folder), so the upper parts are hashed too."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "evidence"
        folder.mkdir()
        for i, img in enumerate(images):
            (folder / f"IMG_{i:04d}.jpg").write_bytes(_encode(img, quality=88))
        reference = Path(tmp) / "reference"
        reference.mkdir()
        for i, img in enumerate(originals):
            (reference / f"orig_{i:04d}.jpg").write_bytes(_encode(img, quality=92))
        out: dict[str, float] = {}
        exe = shutil.which("hashsieve", path=str(Path(sys.executable).parent)) or "hashsieve"
        runs = (("off", "0"), ("on", "1"), ("parts", "1"))
        for label, flag in runs + tuple((f"{label}2", flag) for label, flag in runs):
            home = Path(tmp) / f"home-{label}"
            if label.startswith("parts"):
                import_args = ["hashset", "import", str(reference), "--name", "reference"]
                subprocess.run(
                    [exe, "--home", str(home), *import_args, "--category", "1"],
                    check=True,
                    capture_output=True,
                )
            env = dict(os.environ, HASHSIEVE_ROBUST=flag)
            t0 = time.perf_counter()
            subprocess.run(
                [exe, "--home", str(home), "scan", str(folder), "--case", "bench"],
                env=env,
                check=True,
                capture_output=True,
            )
            out[label] = len(images) / (time.perf_counter() - t0)
    off = max(out["off"], out["off2"])
    on = max(out["on"], out["on2"])
    parts = max(out["parts"], out["parts2"])
    return {
        "files": len(images),
        "files_per_s_off": off,
        "files_per_s_on": on,
        "files_per_s_parts": parts,
        "ratio": off / on,
        "ratio_parts": off / parts,
    }


# ---------------------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    """CPU time of this process and its ended children (the pool's workers, the scans): on a
    shared machine the wall clock says little, this says what the run cost."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer originals and distractors")
    ap.add_argument("--distractors", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-scan", action="store_true", help="skip the scan throughput run")
    ap.add_argument("--seed", type=int, default=2026, help="draws distractors, styles, sizes")
    ap.add_argument("--holdout", action="store_true", help="leave out styles.HOLDOUT")
    ap.add_argument(
        "--styles",
        choices=POOLS,
        default="all",
        help="hard transforms' styles: all, all but styles.UNSEEN, only those, or only the "
        "third or fourth held-out round (heldout3.py, heldout4.py, never in all)",
    )
    ap.add_argument(
        "--hard-only",
        action="store_true",
        help="copies of the hard transforms only (crop, letterbox, watermark, screenshot)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the JSON results go")
    args = ap.parse_args()
    transforms = HARD if args.hard_only else TRANSFORMS
    n_distractors = 600 if args.quick else args.distractors
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()

    paths = [p for p in fetch() if min(Image.open(p).size) >= 800]  # photographs, not icons
    if not paths:
        sys.exit("robustness: no source photographs (apt-get download failed)")
    known_paths, distractor_paths = paths[0::2], paths[1::2]
    if args.quick:
        known_paths = known_paths[:20]

    originals: list[Image.Image] = []
    for p in known_paths:
        originals.extend(_quadrants(_load(p)))
    per_source = -(-n_distractors // len(distractor_paths))
    distractors: list[Image.Image] = []
    for p in distractor_paths:
        distractors.extend(_distractor_crops(_load(p, 1600), per_source, rng))
    distractors = distractors[:n_distractors]
    print(
        f"sources: {len(paths)} photographs ({len(known_paths)} known side, "
        f"{len(distractor_paths)} distractor side); originals {len(originals)}, "
        f"distractors {len(distractors)}",
        flush=True,
    )

    # Jobs: (key, pictures, index, transform's place); the workers make and hash each file.
    jobs = [(f"orig/{i}", "originals", i, 0) for i in range(len(originals))]
    jobs += [
        (f"q/{i}/{t}", "originals", i, k)
        for i in range(len(originals))
        for k, t in enumerate(TRANSFORMS)
        if t in transforms
    ]
    jobs += [(f"d/{i}", "distractors", i, i % len(DISGUISES)) for i in range(len(distractors))]
    _PICTURES.update(originals=originals, distractors=distractors)
    _OPTIONS.update(seed=args.seed, holdout=args.holdout, pool=args.styles)
    print(f"making and hashing {len(jobs)} images on {args.workers} processes ...", flush=True)
    with mp.get_context("fork").Pool(args.workers, initializer=_init) as pool:
        results = {r["key"]: r for r in pool.imap_unordered(_hash, jobs, chunksize=4)}
    # job key -> "watermark/logo", "letterbox/blur-tb", ..., "crop/centred"; "resize50"
    style_of = {key: r["style"] for key, r in results.items()}

    # The known set: plain PDQ of each usable original, as a hash list holds it, and the
    # reference parts of each (what `hashsieve hashset import FOLDER` adds when the originals
    # themselves are at hand).
    usable = [
        i for i in range(len(originals)) if results[f"orig/{i}"]["quality"] >= PDQ_MIN_QUALITY
    ]
    # Drop near-duplicate originals (one quadrant of sky looks like another).
    kept: list[int] = []
    codes0 = {i: _as_u64(results[f"orig/{i}"]["codes"])[0] for i in usable}
    for i in usable:
        if all(int(np.bitwise_count(codes0[i] ^ codes0[j]).sum()) > 50 for j in kept):
            kept.append(i)
    position = {i: k for k, i in enumerate(kept)}
    parts_of = {
        algo: [
            (position[i], code)
            for i in kept
            for a, quality, code in results[f"orig/{i}"]["parts"]
            if a == algo and quality >= PART_MIN_QUALITY
        ]
        for algo in ("pdq-crop", "pdq-top")
    }
    known = Known(np.stack([codes0[i] for i in kept]), parts_of["pdq-crop"], parts_of["pdq-top"])
    rule = RuleLists(
        [results[f"orig/{i}"]["codes"][:32] for i in kept],
        parts_of["pdq-crop"],
        parts_of["pdq-top"],
    )

    modes = ("plain", "robust", "parts")
    recall: dict[str, dict[str, float]] = {}
    wins: dict[str, Counter[str]] = defaultdict(Counter)
    wrong = dict.fromkeys(modes, 0)
    # Per style of each hard transform: copies, and copies matched per mode.
    by_style: dict[str, Counter[str]] = defaultdict(Counter)
    for t in transforms:
        got = dict.fromkeys(modes, 0)
        for i in kept:
            per = _evaluate(results[f"q/{i}/{t}"], known, position[i])
            tally = by_style[style_of[f"q/{i}/{t}"]]
            tally["n"] += 1
            for mode in modes:
                found = rule.owners(results[f"q/{i}/{t}"], mode)
                hit = position[i] in found
                got[mode] += hit
                tally[mode] += hit
                wrong[mode] += bool(found - {position[i]})
            if _matched(per, "parts", "own") and not _matched(per, "plain", "own"):
                name = min(
                    (e["own"], n) for n, e in per.items() if n != "image" and e["own"] <= e["limit"]
                )[1]
                wins[t][name] += 1
        recall[t] = {k: v / len(kept) for k, v in got.items()}

    # Distractors: every region's best distance to any original, per region type.
    fm_grid: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(THRESHOLD_GRID, 0))
    fired: Counter[str] = Counter()
    closest: dict[str, int] = {}
    false = dict.fromkeys(modes, 0)
    false_by_style: dict[str, Counter[str]] = defaultdict(Counter)
    for i in range(len(distractors)):
        per = _evaluate(results[f"d/{i}"], known, None)
        tally = false_by_style[style_of[f"d/{i}"]]
        tally["n"] += 1
        for mode in modes:
            hit = bool(rule.owners(results[f"d/{i}"], mode))
            false[mode] += hit
            tally[mode] += hit
        for name, e in per.items():
            kind = (
                name
                if "@" not in name
                else ("top parts" if name.endswith("@top") else "crop parts")
            )
            fired[kind] += 1
            closest[kind] = min(closest.get(kind, 999), e["any"])
            for th in THRESHOLD_GRID:
                fm_grid[kind][th] += e["any"] <= th

    queries = [r for k, r in results.items() if not k.startswith("orig/")]
    plain_ms = 1000 * np.mean([r["plain_s"] for r in queries])
    robust_ms = 1000 * np.mean([r["robust_s"] for r in queries])
    parts_ms = 1000 * np.mean([r["parts_s"] for r in queries])
    n_cands = np.mean([r["n_candidates"] for r in queries])
    n_with_parts = np.mean([len(r["candidates"]) for r in queries])
    plain_only = [r for k, r in results.items() if k.startswith("d/") and not r["n_candidates"]]

    print(
        f"\nknown set: {len(kept)} originals ({len(known.crop)} crop parts, {len(known.top)} "
        f"upper parts); distractors: {len(distractors)}"
    )
    print(
        f"\n{'transform':<13}{'plain PDQ':>10}{'hashsieve':>11}{'+ parts':>9}"
        "   regions that added matches"
    )
    for t in transforms:
        bar = f"  (bar {BAR[t]:.0%})" if t in BAR else ""
        extra = ", ".join(f"{_label(n)} {c}" for n, c in wins[t].most_common())
        r = recall[t]
        print(f"{t:<13}{r['plain']:>10.1%}{r['robust']:>11.1%}{r['parts']:>9.1%}   {extra}{bar}")
    print(f"\n{'style':<26}{'copies':>7}{'plain PDQ':>10}{'hashsieve':>11}{'+ parts':>9}")
    for style in sorted(s for s in by_style if "/" in s):
        c = by_style[style]
        print(
            f"{style:<26}{c['n']:>7}{c['plain'] / c['n']:>10.1%}{c['robust'] / c['n']:>11.1%}"
            f"{c['parts'] / c['n']:>9.1%}"
        )
    print(
        "\n'hashsieve': candidate regions against a plain PDQ list; '+ parts': also against the "
        "reference parts of the originals (hashsieve.hashing.reference)"
    )
    print(
        f"false matches on {len(distractors)} distractors: plain {false['plain']}, "
        f"hashsieve {false['robust']}, + parts {false['parts']}"
    )
    for style, c in sorted(false_by_style.items()):
        if c["robust"] or c["parts"]:
            print(f"  {style}: hashsieve {c['robust']}, + parts {c['parts']} of {c['n']}")
    print(
        "transformed copies matching a wrong original: "
        f"plain {wrong['plain']}, hashsieve {wrong['robust']}, + parts {wrong['parts']}"
    )
    print("\ndistractor regions within distance T of an original, per region type (threshold):")
    print(
        f"{'region':<24}{'fired':>7}{'closest':>9}"
        + "".join(f"{'<=' + str(t):>7}" for t in THRESHOLD_GRID)
    )
    for name in sorted(fired, key=lambda n: (n.endswith("parts"), "/" in n, n)):
        th = PART_THRESHOLD if name.endswith("parts") else THRESHOLDS.get(name, PDQ_MATCH_THRESHOLD)
        row = "".join(f"{fm_grid[name][t]:>7}" for t in THRESHOLD_GRID)
        print(f"{name:<24}{fired[name]:>7}{closest.get(name, 0):>9}{row}   ({th})")
    print(
        f"\ncost per image (one process): decode + PDQ {plain_ms:.1f} ms, candidates "
        f"+{robust_ms:.1f} ms ({n_cands:.2f} regions per image); candidates and upper parts "
        f"(a store with reference parts) +{parts_ms:.1f} ms ({n_with_parts:.2f} regions)"
    )
    scan = None
    if not args.no_scan:
        sample = distractors[: 200 if args.quick else 400]
        scan = _throughput(sample, [originals[i] for i in kept], args.workers)
        print(
            f"scan throughput ({scan['files']} JPEGs, {args.workers} workers): robust off "
            f"{scan['files_per_s_off']:.0f} files/s, on {scan['files_per_s_on']:.0f} files/s "
            f"(off/on {scan['ratio']:.2f}x), on with reference parts in the store "
            f"{scan['files_per_s_parts']:.0f} files/s ({scan['ratio_parts']:.2f}x)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "sources": len(paths),
                "originals": len(kept),
                "distractors": len(distractors),
                "recall": recall,
                "seed": args.seed,
                "holdout": sorted("/".join(s) for s in HOLDOUT) if args.holdout else [],
                "styles": args.styles,
                "unseen": sorted("/".join(s) for s in UNSEEN),
                "hard_only": args.hard_only,
                "recall_by_style": {
                    s: {"copies": c["n"], **{m: c[m] / c["n"] for m in modes}}
                    for s, c in sorted(by_style.items())
                    if "/" in s
                },
                "false_matches_by_disguise": {
                    s: {"distractors": c["n"], **{m: c[m] for m in modes}}
                    for s, c in sorted(false_by_style.items())
                },
                "bar": BAR,
                "added_by": {t: dict(c) for t, c in wins.items()},
                "false_matches": false,
                "wrong_original": wrong,
                "distractor_regions_within": {
                    n: {str(t): v for t, v in g.items()} for n, g in fm_grid.items()
                },
                "distractor_regions_fired": dict(fired),
                "distractor_closest": closest,
                "thresholds": {**THRESHOLDS, "parts": PART_THRESHOLD},
                "part_min_quality": PART_MIN_QUALITY,
                "cost_ms": {
                    "plain": plain_ms,
                    "candidates": robust_ms,
                    "candidates_per_image": n_cands,
                    "candidates_with_upper_parts": parts_ms,
                    "regions_with_upper_parts": n_with_parts,
                },
                "distractors_without_candidates": len(plain_only),
                "scan": scan,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": _cpu_seconds(),
            },
            indent=2,
        )
    )
    print(
        f"\nwrote {args.out} in {time.perf_counter() - started:.0f} s "
        f"({_cpu_seconds():.0f} s of CPU, workers included)"
    )


if __name__ == "__main__":
    main()
