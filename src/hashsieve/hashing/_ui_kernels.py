"""numba kernels of the ``ui-picture`` candidate (:mod:`hashsieve.hashing.ui_picture`).

All run on the candidate stage's analysis copy (long side 384): :func:`flat_share` on every
picture (the gate: a count over a sixteenth of the pixels, 0.05 ms), the others only on pictures
that are mostly flat, as screenshots of an app are.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def flat_mask(lum: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """Per pixel of a luma plane: is it flat, within ``tol`` of each of its four neighbours (an
    app's backdrop, the inside of a bar or a bubble)? And how many are. One pass."""
    h, w = lum.shape
    flat = np.zeros((h, w), np.bool_)
    n = 0
    for y in range(h):
        for x in range(w):
            v = lum[y, x]
            ok = not (
                (x > 0 and abs(v - lum[y, x - 1]) > tol)
                or (x < w - 1 and abs(v - lum[y, x + 1]) > tol)
                or (y > 0 and abs(v - lum[y - 1, x]) > tol)
                or (y < h - 1 and abs(v - lum[y + 1, x]) > tol)
            )
            flat[y, x] = ok
            n += ok
    return flat, n


@njit(cache=True, nogil=True)
def largest_rectangle(grid: np.ndarray) -> tuple[int, int, int, int]:
    """The largest axis-aligned rectangle of True cells in ``grid`` (by area): (top, bottom,
    left, right), end exclusive; zeros when there is none. The stack-of-histograms method: one
    pass over the rows, each column's run of True cells above as a bar."""
    h, w = grid.shape
    heights = np.zeros(w + 1, np.int64)
    stack = np.empty(w + 1, np.int64)
    best = 0
    out = (0, 0, 0, 0)
    for y in range(h):
        for x in range(w):
            heights[x] = heights[x] + 1 if grid[y, x] else 0
        top = 0
        for x in range(w + 1):
            while top and heights[stack[top - 1]] >= heights[x]:
                top -= 1
                bar = heights[stack[top]]
                left = stack[top - 1] + 1 if top else 0
                area = bar * (x - left)
                if area > best:
                    best = area
                    out = (y + 1 - bar, y + 1, left, x)
            stack[top] = x
            top += 1
    return out


@njit(cache=True, nogil=True)
def mode_share(values: np.ndarray, tol: int) -> tuple[float, int]:
    """The share of ``values`` (whole luma levels) within ``tol`` of their most common level, and
    that level: a flat fill's line or box is nearly all one level, a photograph's spreads over
    many."""
    counts = np.zeros(256 + 2 * tol, np.int64)
    for v in values.ravel():
        k = min(255, max(0, int(v)))
        for d in range(2 * tol + 1):
            counts[k + d] += 1
    n = values.size
    k = int(counts.argmax())
    return (counts[k] / n if n else 1.0), k - tol


@njit(cache=True, nogil=True)
def flat_share(lum: np.ndarray, step: int) -> float:
    """The share of the pixels on every ``step``-th row and column that equal their right and
    lower neighbours exactly: the gate, a fraction of :func:`flat_mask`'s cost."""
    h, w = lum.shape
    n = 0
    total = 0
    for y in range(0, h - 1, step):
        for x in range(0, w - 1, step):
            v = lum[y, x]
            n += v == lum[y, x + 1] and v == lum[y + 1, x]
            total += 1
    return n / total if total else 0.0
