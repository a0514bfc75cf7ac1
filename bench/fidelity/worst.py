"""Why the luma rule's worst copies are off, and whether any verdict moves on them.

    .venv/bin/python bench/fidelity/worst.py [--min-bits 5]

Reads ``bench/results/fidelity.json`` (``make bench-fidelity``), rebuilds every copy whose luma
hash lay at least ``--min-bits`` from ``pdqhash`` on the RGB decode (the same picture, size,
quality, chroma subsampling and progressive flag: ``run.copies`` with the run's seed), and
prints for each:

- PDQ quality and the bits again (a check that the copy is the run's);
- where the pixels differ: the luma of a JPEG's RGB decode equals its Y channel but for the
  rounding of R, G and B and their clamping to 0-255 (a saturated colour whose chroma, upsampled
  at 4:2:0 or not, takes a channel out of range). ``clamped``: the share of pixels with a channel
  at 0 or 255; ``round`` and ``clamp``: bits from ``pdqhash`` of a plane that is the RGB luma
  only where clamped (so what is left is rounding) and bits from the Y plane to it (the clamping);
- how close to the median the flipped coefficients were: ``margin`` (the median |coefficient -
  median| of the flipped ones, over that of all 256);
- the verdicts of the fidelity run's edits of that copy (whole image, 8 dihedral codes, <= 31,
  quality >= 50) against the copy's field hash, for ``pdqhash`` and the luma rule, with both
  distances, and the copies where the two verdicts differ.

Writes ``bench/results/fidelity-worst.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as fidelity  # noqa: E402
import sources  # noqa: E402
from hashsieve.hashing import pdq  # noqa: E402

OUT = HERE.parent / "results" / "fidelity-worst.json"


def picture(name: str) -> Image.Image:
    """The benchmark's picture called ``name`` (a photograph, or ``<wallpaper>#tile<k>``)."""
    base, _, tile = name.partition("#tile")
    path = next(p for p in [*sources.wallpapers.fetch(), *sources.fetch()] if p.name == base)
    whole = sources._rgb(path)
    if not tile:
        return whole
    cols = whole.size[0] // sources.TILE
    k, t = int(tile), sources.TILE
    x, y = (k % cols) * t, (k // cols) * t
    return whole.crop((x, y, x + t, y + t))


def _dct(rgb: np.ndarray) -> np.ndarray:
    dct, _ = pdq._dct(rgb, direct64=False)
    return np.asarray(dct, dtype=np.float64).reshape(16, 16)


def _code(rgb: np.ndarray) -> bytes:
    return pdq.pdq_hash(rgb, impl="pdqhash").code


def why(data: bytes) -> dict[str, Any]:
    """Where the Y plane and the RGB decode's luma part, and what each part costs in bits."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    y = np.asarray(fidelity.decode("luma", data))
    if y.ndim == 3:  # a near-flat JPEG goes to RGB even on the luma rule
        y = y[..., 0]
    field = _code(rgb)
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    clamped = ((rgb == 0) | (rgb == 255)).any(axis=2)
    # Y where no channel was clamped, the RGB pixel where one was: only the rounding is left.
    hybrid = np.where(clamped[..., None], rgb, np.repeat(y[..., None], 3, axis=2))
    hybrid_code = _code(np.ascontiguousarray(hybrid.astype(np.uint8)))
    y3 = np.ascontiguousarray(np.repeat(y[..., None], 3, axis=2))
    d_field, d_y = _dct(np.ascontiguousarray(rgb)), _dct(y3)
    median = np.median(d_field)
    flipped = (d_field > median) != (d_y > np.median(d_y))
    spread = np.median(np.abs(d_field - median))
    diff = np.abs(luma - y)
    return {
        "bits": pdq.distance(_code(y3), field),
        "quality": pdq.pdq_hash(rgb, impl="pdqhash").quality,
        "clamped_share": float(clamped.mean()),
        "mean_abs_diff": float(diff.mean()),
        "mean_abs_diff_clamped": float(diff[clamped].mean()) if clamped.any() else 0.0,
        "round_bits": pdq.distance(hybrid_code, field),
        "clamp_bits": pdq.distance(_code(y3), hybrid_code),
        "flipped": int(flipped.sum()),
        "margin": float(np.median(np.abs(d_field - median)[flipped]) / spread)
        if flipped.any()
        else 0.0,
    }


def verdicts(base: Image.Image, field: bytes) -> dict[str, dict[str, Any]]:
    """Each edit of ``base``: pdqhash's and the luma rule's best distance to ``field`` and
    whether each matches."""
    out = {}
    for edit in fidelity.EDITS:
        data = fidelity.edited(edit, base)
        codes, q = pdq.pdq_dihedral(Image.open(io.BytesIO(data)).convert("RGB"), impl="pdqhash")
        lcodes, lq = pdq.pdq_dihedral(fidelity.decode("luma", data))
        d, ld = (min(pdq.distance(c, field) for c in cs) for cs in (codes, lcodes))
        out[edit] = {
            "pdqhash": [d, q, fidelity._matches(codes, q, field)],
            "luma": [ld, lq, fidelity._matches(lcodes, lq, field)],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--min-bits", type=int, default=5)
    args = ap.parse_args()
    if not fidelity.RESULTS.exists():
        sys.exit(f"{fidelity.RESULTS} is not there: run make bench-fidelity first")
    rows = json.loads(fidelity.RESULTS.read_text())["rows"]
    worst = [
        (i, r["name"], cls)
        for i, r in enumerate(rows)
        for cls, e in r["classes"].items()
        if e["luma"][0] >= args.min_bits
    ]
    pdq.warm_up()
    report: list[dict[str, Any]] = []
    moved = 0
    print(
        f"{'bits':>4} {'q':>4} {'clamped':>8} {'round':>6} {'clamp':>6} {'flip':>5} "
        f"{'margin':>7}  copy"
    )
    for i, name, cls in worst:
        img = picture(name)
        data, style = fidelity.copies(i, img, (cls,))[cls]
        cause = why(data)
        w, h = (int(v) for v in style.split()[0].split("x"))
        size = (w, h)
        base = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        field = pdq.pdq_hash(Image.open(io.BytesIO(data)).convert("RGB"), impl="pdqhash").code
        edits = verdicts(base, field)
        differ = [e for e, v in edits.items() if v["pdqhash"][2] != v["luma"][2]]
        moved += len(differ)
        report.append(
            {"index": i, "picture": name, "class": cls, "style": style, **cause, "edits": edits}
        )
        print(
            f"{cause['bits']:>4} {cause['quality']:>4} {cause['clamped_share']:>8.2%} "
            f"{cause['round_bits']:>6} {cause['clamp_bits']:>6} {cause['flipped']:>5} "
            f"{cause['margin']:>7.2f}  {name} {cls} ({style})"
        )
        for e, v in edits.items():
            (d, q, m), (ld, lq, lm) = v["pdqhash"], v["luma"]
            mark = "  VERDICT DIFFERS" if m != lm else ""
            print(f"        {e:<11} pdqhash {d:>3} (q {q:>3}) luma {ld:>3} (q {lq:>3}){mark}")
    n_edits = sum(len(r["edits"]) for r in report)
    print(f"\n{len(report)} copies, {n_edits} edited copies: {moved} verdicts differ")
    OUT.write_text(json.dumps({"min_bits": args.min_bits, "copies": report}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
