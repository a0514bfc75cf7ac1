"""numba kernels of the candidate-region analysis, which runs on every image of a scan.

The overlay search asks, for every row of three edge masks, where its longest run of edge pixels
is (gaps of one pixel closed). In numpy that is a dozen whole-array passes per mask (closing,
sums, run starts and ends, a sort); one pass per row here costs a fraction: with it (and Pillow's
luma), the whole analysis of an ordinary 1024x768 photograph went from 5.0 to 2.8 ms, and with
the three masks in one pass from the luma (no mask arrays) the overlay search of a 2.6 MP photo
from 1.8 to 0.2 ms. The box search
then weighs every pair of a top and a bottom edge row by the means of the regions inside, above
and below; with summed-area tables each pair costs a few additions here instead of several numpy
calls (find_candidates 5.35 -> 3.58 ms on 1024-px pictures, the same boxes).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def edge_runs(lum: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a luma plane, the longest run of each of three edge masks of its central
    vertical difference ``gy[y] = lum[y + 1] - lum[y - 1]`` (zero on the first and last row):
    ``gy < -step`` (row 0 of the outputs), ``gy > step`` (row 1) and ``|gy| > step`` (row 2).
    Gaps of a pixel are closed (a pixel counts when it or a neighbour in the row is set); the
    leftmost run wins ties. Returns (lengths, starts), each 3 x height. One pass and no mask
    arrays: this runs on every picture of a scan, and most have no edge long enough to bound a
    box, so nothing else of the overlay search is needed for them."""
    h, w = lum.shape
    lengths = np.zeros((3, h), np.int64)
    starts = np.zeros((3, h), np.int64)
    falls = np.zeros(w + 2, np.bool_)  # one pixel of padding each side
    rises = np.zeros(w + 2, np.bool_)
    for y in range(1, h - 1):
        below = lum[y + 1]
        above = lum[y - 1]
        for x in range(w):
            d = below[x] - above[x]
            falls[x + 1] = d < -step
            rises[x + 1] = d > step
        # The three runs side by side, a run's length kept without a branch on the pixel
        # (0.69 -> 0.45 ms on a photo's analysis copy; the same lengths and starts).
        r0 = r1 = r2 = 0
        b0 = b1 = b2 = 0
        s0 = s1 = s2 = 0
        for x in range(w):
            c0 = falls[x] | falls[x + 1] | falls[x + 2]
            c1 = rises[x] | rises[x + 1] | rises[x + 2]
            r0 = (r0 + 1) * c0
            r1 = (r1 + 1) * c1
            r2 = (r2 + 1) * (c0 | c1)
            if r0 > b0:
                b0 = r0
                s0 = x - r0 + 1
            if r1 > b1:
                b1 = r1
                s1 = x - r1 + 1
            if r2 > b2:
                b2 = r2
                s2 = x - r2 + 1
        lengths[0, y], lengths[1, y], lengths[2, y] = b0, b1, b2
        starts[0, y], starts[1, y], starts[2, y] = s0, s1, s2
    return lengths, starts


@njit(cache=True, nogil=True)
def ink_steps(lum: np.ndarray, step: float, light: float, dark: float) -> np.ndarray:
    """Per row of a luma plane, how many steps between neighbours along it exceed ``step`` with
    their lighter side at ``light`` or above (row 0 of the output: the strokes of light text)
    and with their darker side at ``dark`` or below (row 1: dark text). 2 x height."""
    h, w = lum.shape
    out = np.zeros((2, h), np.int64)
    for y in range(h):
        n_light = 0
        n_dark = 0
        for x in range(w - 1):
            a = lum[y, x]
            b = lum[y, x + 1]
            if b - a > step or a - b > step:
                if max(a, b) >= light:
                    n_light += 1
                if min(a, b) <= dark:
                    n_dark += 1
        out[0, y] = n_light
        out[1, y] = n_dark
    return out


#: Overlay modes of :func:`best_box`.
DARK, SMOOTH, LIGHT = 0, 1, 2


@njit(cache=True, nogil=True)
def _rect_mean(sums: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> float:
    """Mean of ``[y0:y1, x0:x1]`` from an integral image (``sums[y, x]`` = sum above-left)."""
    total = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
    return total / ((y1 - y0) * (x1 - x0))


@njit(cache=True, nogil=True)
def _row_median(texture_rows: np.ndarray, y1: int, y2: int, left: int, right: int) -> float:
    """The median over the rows inside a box (``y1 + 2 : y2 - 1``) of each row's mean texture."""
    rows = np.empty(y2 - 1 - (y1 + 2))
    for k in range(rows.shape[0]):
        y = y1 + 2 + k
        rows[k] = (texture_rows[y, right] - texture_rows[y, left]) / (right - left)
    return float(np.median(rows))


@njit(cache=True, nogil=True)
def best_box(
    lum_sums: np.ndarray,
    texture_sums: np.ndarray,
    texture_rows: np.ndarray,
    tops: np.ndarray,
    bottoms: np.ndarray,
    mode: int,
    min_width: float = 0.25,
    contrast: float = 6.0,
    aligned: bool = False,
) -> tuple[int, int, int, int]:
    """The overlay box whose top and bottom edges (rows of ``tops`` and ``bottoms``: row, start,
    end) fit best: (y1, y2 + 1, left, right), or zeros. ``mode``: DARK (the inside darker than
    above and below it by ``contrast``), LIGHT (lighter by ``contrast``) or SMOOTH (much
    smoother than a textured picture around it). The edges overlap over ``min_width`` of the
    width; ``aligned`` (small boxes): both ends of both edges agree (the box's own sides),
    otherwise one edge may extend the other. Every region mean comes from integral images
    (``texture_rows``: per-row cumulative sums), so each of the many edge pairs of a textured
    photograph costs a few additions instead of numpy calls."""
    h = lum_sums.shape[0] - 1
    w = lum_sums.shape[1] - 1
    best_score = -1.0
    out = (0, 0, 0, 0)
    for i in range(tops.shape[0]):
        y1, a1, b1 = tops[i, 0], tops[i, 1], tops[i, 2]
        for j in range(bottoms.shape[0]):
            y2, a2, b2 = bottoms[j, 0], bottoms[j, 1], bottoms[j, 2]
            if not (0.03 * h <= y2 - y1 <= 0.4 * h) or y2 - y1 < 5:
                continue
            if min(b1, b2) - max(a1, a2) < min_width * w:
                continue
            slack = 0.04 * w
            if aligned:
                if abs(a1 - a2) > slack or abs(b1 - b2) > slack:
                    continue
            else:
                contained = (a1 >= a2 - slack and b1 <= b2 + slack) or (
                    a2 >= a1 - slack and b2 <= b1 + slack
                )
                if not contained and abs(a1 - a2) > slack and abs(b1 - b2) > slack:
                    continue
            left, right = min(a1, a2), max(b1, b2)
            margin = max(2, (y2 - y1) // 4)
            above0, above1 = max(0, y1 - margin), y1 - 1
            below0, below1 = y2 + 2, min(h, y2 + 2 + margin)
            if above1 <= above0 or below1 <= below0 or right <= left:
                continue
            if mode != SMOOTH:
                inside = _rect_mean(lum_sums, y1 + 2, y2 - 1, left, right)
                above = _rect_mean(lum_sums, above0, above1, left, right)
                below = _rect_mean(lum_sums, below0, below1, left, right)
                if mode == DARK and inside > min(above, below) - contrast:
                    continue
                if mode == LIGHT and inside < max(above, below) + contrast:
                    continue
            else:
                # Row medians: icons and a progress bar inside controls are a few rows only.
                around = min(
                    _rect_mean(texture_sums, above0, above1, left, right),
                    _rect_mean(texture_sums, below0, below1, left, right),
                )
                if around < 6:
                    continue
                if _row_median(texture_rows, y1, y2, left, right) > 0.3 * around:
                    continue
            score = float((b1 - a1) + (b2 - a2))
            if score > best_score:
                best_score = score
                out = (y1, y2 + 1, left, right)
    return out


@njit(cache=True, nogil=True)
def summed_areas(lum: np.ndarray, texture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integral images of ``lum`` and ``texture`` (zero first row and column, float64: exact for
    pixel levels) and per-row cumulative sums of ``texture``: one pass, for :func:`best_box`."""
    h, w = lum.shape
    lum_sums = np.zeros((h + 1, w + 1))
    texture_sums = np.zeros((h + 1, w + 1))
    texture_rows = np.zeros((h, w + 1))
    for y in range(h):
        lum_row = 0.0
        texture_row = 0.0
        for x in range(w):
            lum_row += lum[y, x]
            texture_row += texture[y, x]
            texture_rows[y, x + 1] = texture_row
            lum_sums[y + 1, x + 1] = lum_sums[y, x + 1] + lum_row
            texture_sums[y + 1, x + 1] = texture_sums[y, x + 1] + texture_row
    return lum_sums, texture_sums, texture_rows
