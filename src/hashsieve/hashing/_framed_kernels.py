"""numba kernels of the ``framed`` candidate (:mod:`hashsieve.hashing.framed`).

:func:`step_shares` runs on every picture's analysis copy (the gate reads every third pixel
along each line); :func:`edge_peaks` on the shares it returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def step_shares(lum: np.ndarray, tol: float, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row edge ``i`` (between rows i and i + 2) the share of columns, every ``stride``-th,
    whose levels differ by more than ``tol``; the same per column edge, over every
    ``stride``-th row. One pass."""
    h, w = lum.shape
    rows = np.zeros(max(h - 2, 0), np.float64)
    cols = np.zeros(max(w - 2, 0), np.float64)
    for y in range(1, h - 1):
        n = 0
        for x in range(0, w, stride):
            if abs(lum[y + 1, x] - lum[y - 1, x]) > tol:
                n += 1
        rows[y - 1] = n / ((w + stride - 1) // stride)
    per = (h + stride - 1) // stride
    for y in range(0, h, stride):
        for x in range(1, w - 1):
            if abs(lum[y, x + 1] - lum[y, x - 1]) > tol:
                cols[x - 1] += 1.0
    for x in range(w - 2):
        cols[x] /= per
    return rows, cols


@njit(cache=True, nogil=True)
def edge_peaks(share: np.ndarray, least: float, gap: int, rise: float) -> np.ndarray:
    """Which lines are straight edges: a share of at least ``least``, the largest within two
    lines (the first of equals), and ``rise`` above the shares ``gap`` lines before and after
    (0 past the ends)."""
    n = len(share)
    out = np.zeros(n, np.bool_)
    for i in range(n):
        s = share[i]
        if s < least:
            continue
        ok = True
        for k in range(max(0, i - 2), min(n, i + 3)):
            if share[k] > s or (k < i and share[k] == s):
                ok = False
                break
        if not ok:
            continue
        before = share[i - gap] if i >= gap else 0.0
        after = share[i + gap] if i + gap < n else 0.0
        out[i] = s >= max(before, after) + rise
    return out
