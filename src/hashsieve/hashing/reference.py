"""Reference parts: extra PDQ hashes of a known original, for copies plain PDQ cannot reach.

Candidate regions (:mod:`hashsieve.hashing.candidates`) repair the *query*, so plain lists keep
working. Two alterations cannot be repaired from the query alone: a crop (what was cut off is
gone) and a box laid over the picture that the overlay detector does not find (a dark box on a
dark picture, translucent player controls). When the known **original** is at hand (an agency's
own reference library, the categorised files of earlier cases) hashsieve can hash parts of it as
well, and match the copy against them:

- ``pdq-crop``: the original with 2, 4, 6, 8 and 10 % cut from every edge, with 4.5 or 6.5 %
  cut from each edge on its own (16 uneven parts), and with one of seven cuts on each axis
  (:data:`AXIS_CUTS`: none, 3/3, 6/6, 1.5/4.5, 4.5/1.5, 1.5/6 or 6/1.5 % from its two edges;
  47 more parts). PDQ tolerates about one per cent of a shift and one and a half of a scale
  per axis, so these cover centred crops from 1 to 11 %, uneven ones of about 3-8 % per edge,
  and crops that leave an edge or a whole axis untouched (a window dragged to one side, a crop
  to another aspect ratio); the query's plain hash (and its candidate regions' hashes) are
  matched against them unchanged.
- ``pdq-top``: the upper :data:`TOP_SHARE` of the original. Captions, watermark boxes and player
  controls sit in the lower third; the query hashes the upper part of itself and of its
  ``trim``, ``chrome`` and ``picture`` regions (the same cut, :func:`top_part`) and matches those
  against these.

Which query region goes to which part table is the matching rule's
(:func:`hashsieve.matching.rules.regions_by_table`). Parts are plain PDQ codes in their own
algorithms (and so their own indexes): hash lists written
for other tools never carry them (exports leave them out), and a part never matches a whole
image's hash by accident. A part is kept only at quality :data:`PART_MIN_QUALITY` or better: a
smooth corner of sky matches any other smooth sky (measured: docs/robust-matching.md).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hashsieve.hashing.algorithms import ALGORITHMS
from hashsieve.hashing.pdq import ImageLike, pdq_hash, reduced, rgb_array

#: Share cut from every edge for each centred ``pdq-crop`` part.
CROP_LEVELS = (0.02, 0.04, 0.06, 0.08, 0.10)
#: Shares cut from each edge on its own for the other ``pdq-crop`` parts: every combination for
#: (top, bottom, left, right), 16 parts. A crop cut unevenly (3-8 % per edge, each its own) is
#: within about a per cent per edge of one of them: measured on 37 benchmark originals, its
#: copy's PDQ came within 31 of one of these for 92 % (of a centred part: 35 %; of a grid of
#: 3.5/5.5/7.5 %, 81 parts: 97 %; of 4/7 %: 89 %).
CROP_OFFSETS = (0.045, 0.065)
#: Cuts (first edge, second edge) of one axis for the rest of the ``pdq-crop`` parts: every
#: (top/bottom, left/right) pair of them, less the whole image and the parts above (47 parts).
#: Crops that leave an edge or an axis untouched (a window of 92-97 % placed anywhere; 3-8 % cut
#: from two opposite edges only) fall outside the grid above: on 576 crops in the benchmark's four
#: styles of 48 dev originals (docs/robust-matching.md, "Reference parts") these took crop recall
#: from 51 and 41 % to 89 and 70 %; a grid of 1.5 % steps (1,314 parts) reached 94 and 84 %.
AXIS_CUTS = (
    (0.0, 0.0),
    (0.03, 0.03),
    (0.06, 0.06),
    (0.015, 0.045),
    (0.045, 0.015),
    (0.015, 0.06),
    (0.06, 0.015),
)
#: The upper share of a picture that ``pdq-top`` hashes.
TOP_SHARE = 0.6
#: Parts below this PDQ quality are not kept, and a part matches at this distance or less: the
#: algorithm registry's values (hashing/algorithms.py says how they were measured).
PART_MIN_QUALITY = ALGORITHMS.get("pdq-crop").min_quality or 0
PART_THRESHOLD = ALGORITHMS.get("pdq-crop").threshold or 0


@dataclass(frozen=True, slots=True)
class ReferencePart:
    algorithm: str  # one of hashing.algorithms.PART_ALGORITHMS
    label: str  # "crop 4%", "top 60%": what the examiner reads in a match
    quality: int
    code: bytes  # 32 bytes, the part's PDQ


def part_entry(entry: str, label: str) -> str:
    """The display text of a part of the original ``entry``: "a.jpg (crop 4%)" (the record
    keeps the original and the label in columns, never parsed back from this)."""
    return f"{entry} ({label})"


def top_part(pixels: np.ndarray) -> np.ndarray:
    """The upper TOP_SHARE of a picture: the same cut on the known and the query side."""
    return np.ascontiguousarray(pixels[: max(1, round(pixels.shape[0] * TOP_SHARE))])


def centred_crop(pixels: np.ndarray, share: float) -> np.ndarray:
    return uneven_crop(pixels, (share,) * 4)


def uneven_crop(pixels: np.ndarray, shares: tuple[float, float, float, float]) -> np.ndarray:
    """``pixels`` with the (top, bottom, left, right) shares cut from each edge."""
    h, w = pixels.shape[:2]
    t, b, l, r = shares  # noqa: E741
    return np.ascontiguousarray(
        pixels[round(h * t) : h - round(h * b), round(w * l) : w - round(w * r)]
    )


def _percent(shares: tuple[float, ...]) -> str:
    return "/".join(f"{v * 100:g}" for v in shares)


Shares = tuple[float, float, float, float]


def _crop_shares() -> tuple[Shares, ...]:
    """The (top, bottom, left, right) shares of every ``pdq-crop`` part, centred ones first."""
    shares: list[Shares] = [(share, share, share, share) for share in CROP_LEVELS]
    shares += [(t, b, l, r) for t, b, l, r in itertools.product(CROP_OFFSETS, repeat=4)]  # noqa: E741
    for (t, b), (l, r) in itertools.product(AXIS_CUTS, repeat=2):  # noqa: E741
        cut = (t, b, l, r)
        if any(cut) and cut not in shares:
            shares.append(cut)
    return tuple(shares)


#: (top, bottom, left, right) shares of every ``pdq-crop`` part, in the order they are made.
CROP_SHARES = _crop_shares()


def crop_label(shares: Shares) -> str:
    """A crop part's label: "crop 4%" (centred), "crop 4.5/6.5/0/0%" (top/bottom/left/right)."""
    if shares[0] in CROP_LEVELS and len(set(shares)) == 1:
        return f"crop {round(shares[0] * 100)}%"
    return f"crop {_percent(shares)}%"


def reference_parts(image: ImageLike) -> list[ReferencePart]:
    """The parts of a known original worth keeping (quality at least PART_MIN_QUALITY)."""
    rgb = reduced(rgb_array(image))
    if min(rgb.shape[:2]) < 32:
        return []
    parts = [("pdq-crop", crop_label(shares), uneven_crop(rgb, shares)) for shares in CROP_SHARES]
    parts.append(("pdq-top", f"top {round(TOP_SHARE * 100)}%", top_part(rgb)))
    out = []
    for algorithm, label, pixels in parts:
        pdq = pdq_hash(pixels)
        if pdq.quality >= PART_MIN_QUALITY:
            out.append(ReferencePart(algorithm, label, pdq.quality, pdq.code))
    return out
