"""Fidelity: is the scan's PDQ the field's PDQ on real photographs? Which decode rule keeps it so?

    .venv/bin/python bench/fidelity/run.py [--quick] [--pictures 2000] [--edit-every 4]

The field's hash is ``pdqhash`` (the C++ reference) on the fully decoded RGB pixels, what
python-threatexchange and every other agency's list compute. Each real photograph
(bench/fidelity/sources.py) is encoded in three size classes, with a style drawn per picture
(JPEG quality, 4:2:0 or 4:4:4 chroma, baseline or progressive):

- ``own``: its own size, JPEG q 85-95;
- ``phone``: long side 4032 or 4000 (a phone camera's 12 MP), JPEG q 85-95 (every
  ``--phone-every``-th picture: a 12 MP copy costs 30 times a web one);
- ``web``: long side 800-1600, JPEG q 75-90.

For every decode rule below: the distance of the scan's PDQ (numba, from that rule's pixels) to the
field's hash (mean, p99, max per class and overall) and the rule's own cost (read + decode +
PDQ with its 8 dihedral codes, one core: files/s):

- ``full-rgb``: full-size RGB decode (python-threatexchange's);
- ``luma``: full-size decode of a JPEG straight to its Y channel (the scan's rule,
  ``open_image(fast=True)``);
- ``dct-256`` (the old fast path), ``dct-512``, ``dct-1024``: libjpeg DCT scaling at 1/2-1/8
  keeping the short side at least 256/512/1024 pixels (PDQ's box window follows the decoded size).

Then the verdicts of ordinary edits of every ``--edit-every``-th picture's ``own`` and every
``--phone-edit-every``-th picture's ``phone`` copy: each edit is matched (whole image, 8
dihedral codes, distance <= 31, quality >= 50) against the field's hash of its original;
recall per rule beside ``pdqhash``'s own recall.

Writes bench/results/fidelity.json and prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sources  # noqa: E402
from hashsieve.hashing import pdq  # noqa: E402
from hashsieve.hashing.decode import open_image  # noqa: E402

RESULTS = HERE.parent / "results" / "fidelity.json"
MAX_PIXELS = 400_000_000
THRESHOLD = 31
MIN_QUALITY = 50
CLASSES = ("own", "phone", "web")
RULES = ("full-rgb", "luma", "dct-256", "dct-512", "dct-1024")
#: Measured on every picture; the others on every ``--rules-every``-th (full-rgb is pdqhash's
#: arithmetic on the same pixels, 0 bits by construction: it is there for its cost).
ALWAYS = ("luma", "dct-256")
EDITS = (
    "resize50",
    "jpeg30",
    "flip",
    "rot90",
    "grey",
    "bright",
    "letterbox",
    "screenshot",
    "watermark",
)


def _encode(img: Image.Image, quality: int, subsampling: int, progressive: bool) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, subsampling=subsampling, progressive=progressive)
    return buf.getvalue()


def _fit(img: Image.Image, long_side: int) -> Image.Image:
    w, h = img.size
    k = long_side / max(w, h)
    return img.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS)


def copies(seed: int, img: Image.Image, classes: tuple[str, ...]) -> dict[str, tuple[bytes, str]]:
    """The size classes of one picture: class -> (JPEG bytes, style)."""
    rng = np.random.default_rng(seed)
    out = {}
    for cls in CLASSES:
        q = int(rng.integers(75, 91) if cls == "web" else rng.integers(85, 96))
        sub = int(rng.choice([0, 2]))  # 4:4:4 or 4:2:0
        prog = bool(rng.integers(0, 2))
        if cls == "phone":
            pic = _fit(img, int(rng.choice([4032, 4000])))
        elif cls == "web":
            pic = _fit(img, int(rng.choice([800, 1024, 1280, 1600])))
        else:
            pic = img
        if cls not in classes:
            continue
        style = f"{pic.size[0]}x{pic.size[1]} q{q} {'444' if sub == 0 else '420'}"
        out[cls] = (_encode(pic, q, sub, prog), style + (" progressive" if prog else ""))
    return out


def _draft(data: bytes, min_side: int) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    scale = next((s for s in (8, 4, 2) if min(w, h) // s >= min_side), 1)
    if scale > 1:
        im.draft("RGB", (w // scale, h // scale))
    return im.convert("RGB")


def decode(rule: str, data: bytes) -> Any:
    if rule == "full-rgb":
        return open_image(data, max_pixels=MAX_PIXELS, fast=False).image
    if rule == "luma":
        return open_image(data, max_pixels=MAX_PIXELS, fast=True).image
    return _draft(data, int(rule.split("-")[1]))


def field_hash(data: bytes) -> tuple[list[bytes], int]:
    """pdqhash's 8 dihedral codes and quality on the full RGB decode."""
    with Image.open(io.BytesIO(data)) as im:
        return pdq.pdq_dihedral(im.convert("RGB"), impl="pdqhash")


def edited(name: str, img: Image.Image) -> bytes:
    w, h = img.size
    if name == "resize50":
        return _encode(
            img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS), 85, 2, False
        )
    if name == "jpeg30":
        return _encode(img, 30, 2, False)
    if name == "flip":
        return _encode(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 85, 2, False)
    if name == "rot90":
        return _encode(img.transpose(Image.Transpose.ROTATE_90), 85, 2, False)
    if name == "grey":
        return _encode(img.convert("L"), 85, 2, False)
    if name == "bright":
        return _encode(ImageEnhance.Brightness(img).enhance(1.25), 85, 2, False)
    if name == "letterbox":  # black bars above and below to 16:9 of the width (or 12 %)
        bar = max(h // 8, (w * 9 // 16 - h) // 2) if w > h else h // 8
        canvas = Image.new("RGB", (w, h + 2 * bar), (0, 0, 0))
        canvas.paste(img, (0, bar))
        return _encode(canvas, 85, 2, False)
    if name == "screenshot":  # the picture on a phone screen: status bar, margins, a caption
        cw, ch = int(w * 1.04), int(h * 1.2)
        canvas = Image.new("RGB", (cw, ch), (250, 250, 250))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, cw, int(h * 0.06)), fill=(30, 30, 30))
        canvas.paste(img, ((cw - w) // 2, int(h * 0.09)))
        draw.rectangle((cw // 20, int(h * 1.12), cw // 2, int(h * 1.15)), fill=(90, 90, 90))
        return _encode(canvas, 85, 2, False)
    if name == "watermark":  # a translucent badge with text in a corner
        over = img.convert("RGBA")
        layer = Image.new("RGBA", over.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        box = (int(w * 0.62), int(h * 0.84), int(w * 0.97), int(h * 0.96))
        draw.rectangle(box, fill=(255, 255, 255, 110))
        draw.text((box[0] + 8, box[1] + 4), "(c) example.org", fill=(0, 0, 0, 200))
        return _encode(Image.alpha_composite(over, layer).convert("RGB"), 85, 2, False)
    raise ValueError(name)


def _matches(codes: list[bytes], quality: int, original: bytes) -> bool:
    return quality >= MIN_QUALITY and min(pdq.distance(c, original) for c in codes) <= THRESHOLD


Job = tuple[int, str, Image.Image, tuple[str, ...], bool, tuple[str, ...]]


def one(job: Job) -> dict[str, Any]:
    seed, name, img, classes, all_rules, edit_classes = job
    rules = RULES if all_rules else ALWAYS
    row: dict[str, Any] = {"name": name, "classes": {}, "edits": {}}
    originals: dict[str, bytes] = {}
    for cls, (data, style) in copies(seed, img, classes).items():
        ref_codes, ref_q = field_hash(data)
        originals[cls] = ref_codes[0]
        entry: dict[str, Any] = {"style": style, "bytes": len(data), "quality": ref_q}
        for rule in rules:
            t0 = time.perf_counter()
            h, _ = pdq.pdq_with_dihedral(decode(rule, data))
            entry[rule] = (pdq.distance(h.code, ref_codes[0]), time.perf_counter() - t0)
        row["classes"][cls] = entry
    for cls in edit_classes:
        base = img if cls == "own" else _fit(img, 4032)
        for edit in EDITS:
            data = edited(edit, base)
            codes, q = field_hash(data)
            verdicts = {"pdqhash": _matches(codes, q, originals[cls])}
            for rule in RULES:
                codes, q = pdq.pdq_dihedral(decode(rule, data))
                verdicts[rule] = _matches(codes, q, originals[cls])
            row["edits"][f"{cls}/{edit}"] = verdicts
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"distance": {}, "files_per_s": {}, "edits": {}, "worst": {}}
    for rule in RULES:
        per: dict[str, Any] = {}
        have = [(r, c) for r in rows for c in r["classes"] if rule in r["classes"][c]]
        for cls in (*CLASSES, "all"):
            pick = [r["classes"][c][rule] for r, c in have if cls in ("all", c)]
            if not pick:
                continue
            d = np.array([bits for bits, _ in pick], dtype=float)
            t = sum(seconds for _, seconds in pick)
            per[cls] = {
                "n": int(d.size),
                "mean": float(d.mean()),
                "p99": float(np.percentile(d, 99)),
                "max": int(d.max()),
                "over_16": int((d > 16).sum()),
                "files_per_s": d.size / t,
            }
        # Cost on the same copies for every rule (those of the pictures every rule ran on).
        common = [
            r["classes"][c][rule]
            for r in rows
            if RULES[-1] in r["classes"]["own"]
            for c in r["classes"]
        ]
        if common:
            per["all"]["files_per_s_common"] = len(common) / sum(t for _, t in common)
            per["all"]["n_common"] = len(common)
        out["distance"][rule] = per
        worst = sorted(
            ((r["classes"][c][rule][0], r["name"], c) for r, c in have),
            reverse=True,
        )[:8]
        out["worst"][rule] = [{"bits": b, "picture": n, "class": c} for b, n, c in worst]
    for cls in ("own", "phone"):
        for edit in EDITS:
            key = f"{cls}/{edit}"
            got = [r["edits"][key] for r in rows if key in r["edits"]]
            if got:
                names = ("pdqhash", *RULES)
                recall = {rule: sum(v[rule] for v in got) / len(got) for rule in names}
                out["edits"][key] = {"n": len(got), **recall}
    return out


def show(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="PDQ bits from the field's hash (pdqhash, full RGB decode)")
    table.add_column("rule")
    for cls in (*CLASSES, "all"):
        table.add_column(f"{cls}: mean / p99 / max (n)")
    table.add_column("files/s (1 core, same copies)")
    for rule, per in summary["distance"].items():
        cells = [
            f"{per[c]['mean']:.2f} / {per[c]['p99']:.0f} / {per[c]['max']} ({per[c]['n']})"
            if c in per
            else "-"
            for c in (*CLASSES, "all")
        ]
        table.add_row(rule, *cells, f"{per['all'].get('files_per_s_common', 0):.2f}")
    console = Console(width=160)
    console.print(table)
    edits = Table(title="Recall of edits (whole image + 8 dihedral, <= 31 bits, quality >= 50)")
    edits.add_column("copy/edit (pictures)")
    for rule in ("pdqhash", *RULES):
        edits.add_column(rule)
    for key, recall in summary["edits"].items():
        base = recall["pdqhash"]
        cells = [
            f"{recall[r]:.3f}" + ("" if recall[r] >= base else " (-)") for r in ("pdqhash", *RULES)
        ]
        edits.add_row(f"{key} ({recall['n']})", *cells)
    console.print(edits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pictures", type=int, default=2000)
    ap.add_argument("--phone-every", type=int, default=16, help="phone-size copy of every N-th")
    ap.add_argument("--rules-every", type=int, default=16, help="every rule on every N-th picture")
    ap.add_argument("--edit-every", type=int, default=40, help="edits of every N-th own-size copy")
    ap.add_argument("--phone-edit-every", type=int, default=160, help="... and phone-size copy")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="60 pictures, for development")
    args = ap.parse_args()
    if args.quick:
        args.pictures, args.phone_every, args.rules_every = 40, 4, 4
        args.edit_every, args.phone_edit_every = 8, 20
    pdq.warm_up()
    jobs = (
        (
            i,
            name,
            img,
            ("own", "web") + ("phone",) * (i % args.phone_every == 0),
            i % args.rules_every == 0,
            ("own",) * (i % args.edit_every == 0) + ("phone",) * (i % args.phone_edit_every == 0),
        )
        for i, (name, img) in enumerate(sources.pictures(args.pictures))
    )
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        for row in pool.imap(one, jobs, chunksize=1):
            rows.append(row)
            if len(rows) % 100 == 0:  # a partial result survives an interrupted run
                print(f"  {len(rows)} pictures, {time.perf_counter() - t0:.0f} s", flush=True)
                save(rows, t0, partial=True)
    summary = save(rows, t0, partial=False)
    show(summary)
    print(f"wrote {RESULTS}")


def save(rows: list[dict[str, Any]], t0: float, *, partial: bool) -> dict[str, Any]:
    summary = summarise(rows)
    summary["pictures"] = len(rows)
    summary["distinct_photographs"] = min(sources.distinct_count(), len(rows))
    summary["seconds"] = time.perf_counter() - t0
    summary["partial"] = partial
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return summary


if __name__ == "__main__":
    main()
