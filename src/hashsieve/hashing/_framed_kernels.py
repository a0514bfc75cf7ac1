"""numba kernels of the ``framed`` candidate (:mod:`hashsieve.hashing.framed`).

:func:`column_steps` runs on every picture's analysis copy (the gate's first half: column edges
over every third row), :func:`row_steps` only when both sides have an edge; :func:`edge_peaks` on
the shares they return.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def row_steps(lum: np.ndarray, tol: float) -> np.ndarray:
    """Per row edge ``i`` (between rows i and i + 2) the share of columns whose levels differ by
    more than ``tol``. Branch-free along rows (the loop vectorises)."""
    h, w = lum.shape
    rows = np.zeros(max(h - 2, 0), np.float64)
    for y in range(1, h - 1):
        n = 0
        for x in range(w):
            n += abs(lum[y + 1, x] - lum[y - 1, x]) > tol
        rows[y - 1] = n / w
    return rows


@njit(cache=True, nogil=True)
def column_steps(lum: np.ndarray, tol: float, stride: int) -> np.ndarray:
    """Per column edge ``i`` (between columns i and i + 2) the share of rows, every
    ``stride``-th, whose levels differ by more than ``tol``."""
    h, w = lum.shape
    counts = np.zeros(max(w - 2, 0), np.int32)
    per = 0
    for y in range(0, h, stride):
        per += 1
        for x in range(1, w - 1):
            counts[x - 1] += abs(lum[y, x + 1] - lum[y, x - 1]) > tol
    return counts / max(per, 1)


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
