"""What one candidate costs an ordinary photograph: CPU and regions of the robust stage per photo.

    .venv/bin/python bench/robustness/stage_cost.py ui-picture

Decodes the ingest corpus's first photos (``bench/corpus/photos-300``, as the scan decodes them)
once, then times ``candidate_hashes`` on every one with the default candidates and with the
named one left out, alternately (so both meet the same load), by CPU time (``process_time``),
best of the rounds; and counts the regions per photo each way and the named one's own.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hashsieve.hashing.candidates import DEFAULT_CANDIDATES, candidate_hashes
from hashsieve.hashing.decode import open_image
from hashsieve.hashing.pdq import warm_up

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "photos-300"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("candidate", choices=DEFAULT_CANDIDATES, help="the candidate to weigh")
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    paths = sorted(CORPUS.glob("*.jpg"))[: args.photos]
    if not paths:
        raise SystemExit(f"no photos in {CORPUS} (bench/corpus.py makes them)")
    images = [open_image(p.read_bytes(), max_pixels=200_000_000).image for p in paths]
    warm_up()
    ways = {
        "with": DEFAULT_CANDIDATES,
        "without": tuple(n for n in DEFAULT_CANDIDATES if n != args.candidate),
    }
    for names in ways.values():  # compile and warm both
        candidate_hashes(images[0], names)
    best = dict.fromkeys(ways, float("inf"))
    regions: dict[str, float] = {}
    own = 0
    for _ in range(args.rounds):
        for way, names in ways.items():
            n = 0
            t0 = time.process_time()
            for image in images:
                found = candidate_hashes(image, names)
                n += len(found)
                if way == "with":
                    own += sum(c.name == args.candidate for c in found)
            best[way] = min(best[way], (time.process_time() - t0) / len(images) * 1000)
            regions[way] = n / len(images)
    print(
        f"{len(images)} photos, best of {args.rounds}: candidate_hashes "
        f"{best['without']:.2f} ms without {args.candidate}, {best['with']:.2f} ms with "
        f"({best['with'] - best['without']:+.2f}); regions per photo {regions['without']:.3f} "
        f"-> {regions['with']:.3f}; {args.candidate} regions {own / args.rounds / len(images):.3f}"
        " per photo"
    )


if __name__ == "__main__":
    main()
