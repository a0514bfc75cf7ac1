"""Opaque objects laid anywhere on a picture (an emoji sticker, a badge): found and filled.

A sticker is a compact plateau of one flat level (its fill colour) that a photograph seldom
has away from its edges: flat areas of a photograph (sky, a wall, clipped highlights or
shadows) are large, run to the picture's edge or shade by more than a few levels across. So
:func:`find_stickers` looks, on the analysis copy, for connected areas whose neighbouring pixels
differ by at most :data:`_STEP` levels, all within :data:`_SPREAD` levels of each other, of
:data:`_SIZE` of the short side, not touching the picture's edge, filling a good share of their
bounding box (a disc, a heart, a star) and unlike the picture around them (few pixels of the ring
round the box at the plateau's level). The box, widened by the sticker's outline, is filled by
interpolating between the rows above and below it (``overlay``'s fill rule).

Two numba kernels do the work: :func:`plateaus` (the reduced copy, its flat pixels, their runs
along rows joined by union-find, each plateau's extent and levels) and :func:`join_pieces` (the
pieces of one sticker joined, the size, fill and clipping tests); Python looks only at plateaus
that pass them, which an ordinary photograph seldom has. Cost: about 0.2 ms per photograph of
the ingest corpus (``bench/robustness/stage_cost.py sticker``), no region on any of 120.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hashsieve.hashing.boxes import Box

#: Neighbouring pixels of a plateau (analysis copy) differ by at most this many luma levels ...
_STEP = 2.0
#: ... and all its pixels lie within this many levels of each other.
_SPREAD = 3.0
#: A sticker's box is this share of the picture's short side, on each axis.
_SIZE = (0.07, 0.32)
#: Pieces of a sticker's plateau are at least this share of its smallest box's area ...
_PIECE = 0.05
#: ... and together fill at least this share of its box (a five-pointed star fills about a third).
_FILL = 0.28
#: The plateau's edge: pixels two past it differ from its level by this much (median). On the
#: dev set stickers 14-101 levels, the smooth patches of 120 ordinary photographs at most 10.
_CONTRAST = 12.0
#: A plateau at a clipped level (a blown highlight, a black shadow) is the picture's own.
_CLIPPED = (5.0, 250.0)
#: At most this share of the ring round the box is at the plateau's level (within _RING_TOL).
_RING_SHARE, _RING_TOL = 0.35, 12.0
#: The box is widened by this share of its size on each side (the sticker's outline, its soft
#: edge in the copy) before it is filled.
_WIDEN = 0.08
#: At most this many stickers per picture (each is one more PDQ).
_MAX = 1


@njit(cache=True, nogil=True)
def _root(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def plateaus(lum: np.ndarray, step: float, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Connected plateaus of a copy of ``lum`` reduced by 2 (means of 2 x 2 pixels): pixels
    whose four neighbours are all within ``step`` levels, joined to such neighbours.

    Returns the runs of plateau pixels along rows, (row, start, end exclusive, plateau; -1: a
    plateau under ``min_count`` pixels), and one row per plateau of at least ``min_count``
    pixels: (count, top, bottom, left, right, min level, max level, sum of levels), in the
    reduced copy's pixels, bottom and right inclusive."""
    h, w = lum.shape[0] // 2, lum.shape[1] // 2
    small = np.empty((h, w), np.float32)
    pair = np.empty(lum.shape[1], np.float32)
    for y in range(h):
        upper, lower = lum[2 * y], lum[2 * y + 1]
        for x in range(lum.shape[1]):  # rows first: a contiguous loop the compiler vectorises
            pair[x] = upper[x] + lower[x]
        for x in range(w):
            small[y, x] = 0.25 * (pair[2 * x] + pair[2 * x + 1])
    # The largest step to the four neighbours, branch-free (a branch per comparison cost
    # twice the whole kernel).
    flat = np.zeros((h, w), np.bool_)
    for y in range(1, h - 1):
        above, row, below = small[y - 1], small[y], small[y + 1]
        for x in range(1, w - 1):
            v = row[x]
            most = max(
                max(abs(row[x - 1] - v), abs(row[x + 1] - v)),
                max(abs(above[x] - v), abs(below[x] - v)),
            )
            flat[y, x] = most <= step
    # Runs of flat pixels along each row, joined to the runs they touch in the row above
    # (union-find over runs: a fraction of the pixels' count).
    cap = h * (w // 2 + 1)
    run_y = np.empty(cap, np.int32)
    run_a = np.empty(cap, np.int32)
    run_b = np.empty(cap, np.int32)
    parent = np.empty(cap, np.int32)
    runs = 0
    prev_start = prev_end = 0  # the runs of the row above: [prev_start, prev_end)
    for y in range(1, h - 1):
        row_start = runs
        x = 1
        j = prev_start
        while x < w - 1:
            if not flat[y, x]:
                x += 1
                continue
            a = x
            while x < w - 1 and flat[y, x]:
                x += 1
            k = runs
            run_y[k], run_a[k], run_b[k], parent[k] = y, a, x, k
            runs += 1
            while j < prev_end and run_b[j] <= a:
                j += 1
            m = j
            while m < prev_end and run_a[m] < x:  # overlaps [a, x)
                r1, r2 = _root(parent, k), _root(parent, m)
                if r1 != r2:
                    parent[max(r1, r2)] = min(r1, r2)
                m += 1
        prev_start, prev_end = row_start, runs
    count = np.zeros(runs, np.int32)
    for k in range(runs):
        parent[k] = _root(parent, k)
        count[parent[k]] += run_b[k] - run_a[k]
    rows = 0
    slot = np.full(runs, -1, np.int32)
    for k in range(runs):
        if parent[k] == k and count[k] >= min_count:
            slot[k] = rows
            rows += 1
    piece = np.full(runs, -1, np.int32)
    out = np.zeros((rows, 8))
    for k in range(rows):
        out[k, 1] = h
        out[k, 3] = w
        out[k, 5] = np.inf
        out[k, 6] = -np.inf
    for k in range(runs):
        q = slot[parent[k]]
        if q < 0:
            continue
        y, a, b = run_y[k], run_a[k], run_b[k]
        low, high, total = np.inf, -np.inf, 0.0
        piece[k] = q
        for x in range(a, b):
            v = small[y, x]
            low = min(low, v)
            high = max(high, v)
            total += v
        out[q, 0] += b - a
        out[q, 1] = min(out[q, 1], y)
        out[q, 2] = max(out[q, 2], y)
        out[q, 3] = min(out[q, 3], a)
        out[q, 4] = max(out[q, 4], b - 1)
        out[q, 5] = min(out[q, 5], low)
        out[q, 6] = max(out[q, 6], high)
        out[q, 7] += total
    spans = np.empty((runs, 4), np.int32)
    for k in range(runs):
        spans[k, 0], spans[k, 1], spans[k, 2], spans[k, 3] = run_y[k], run_a[k], run_b[k], piece[k]
    return spans, out


@njit(cache=True, nogil=True)
def join_pieces(
    found: np.ndarray,
    spread: float,
    gap: int,
    lo: float,
    hi: float,
    fill: float,
    h: int,
    w: int,
    clipped: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Pieces (rows of :func:`plateaus`) each flat within ``spread`` and of one level (within
    ``spread``) whose boxes lie within ``gap`` of each other, joined; kept when the joined box
    is ``lo`` to ``hi`` on each side, off the picture's edge (``h`` x ``w``) and filled to
    ``fill``; pieces at a ``clipped`` level (below the first or above the second) are left
    out. Returns each piece's group (-1: none kept) and per group kept (count, top,
    bottom, left, right, sum of levels)."""
    n = found.shape[0]
    parent = np.arange(n)
    ok = np.empty(n, np.bool_)
    level = np.empty(n)
    for k in range(n):
        level[k] = found[k, 7] / found[k, 0]
        ok[k] = found[k, 6] - found[k, 5] <= spread and clipped[0] <= level[k] <= clipped[1]
    for i in range(n):
        if not ok[i]:
            continue
        for j in range(i + 1, n):
            if (
                ok[j]
                and abs(level[i] - level[j]) <= spread
                and found[i, 1] <= found[j, 2] + gap
                and found[j, 1] <= found[i, 2] + gap
                and found[i, 3] <= found[j, 4] + gap
                and found[j, 3] <= found[i, 4] + gap
            ):
                a, b = _root(parent, i), _root(parent, j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    joined = np.zeros((n, 6))
    for k in range(n):
        joined[k, 1] = np.inf
        joined[k, 3] = np.inf
    for k in range(n):
        if ok[k]:
            g = _root(parent, k)
            joined[g, 0] += found[k, 0]
            joined[g, 1] = min(joined[g, 1], found[k, 1])
            joined[g, 2] = max(joined[g, 2], found[k, 2])
            joined[g, 3] = min(joined[g, 3], found[k, 3])
            joined[g, 4] = max(joined[g, 4], found[k, 4])
            joined[g, 5] += found[k, 7]
    slot = np.full(n, -1, np.int64)
    rows = 0
    for k in range(n):
        if not ok[k] or _root(parent, k) != k:
            continue
        bh = joined[k, 2] - joined[k, 1] + 1
        bw = joined[k, 4] - joined[k, 3] + 1
        if (
            lo <= bh <= hi
            and lo <= bw <= hi
            and joined[k, 0] >= fill * bh * bw
            and joined[k, 1] > 1
            and joined[k, 3] > 1
            and joined[k, 2] < h - 2
            and joined[k, 4] < w - 2
        ):
            slot[k] = rows
            rows += 1
    out = np.empty((rows, 6))
    group = np.full(n, -1, np.int64)
    for k in range(n):
        if ok[k]:
            group[k] = slot[_root(parent, k)]
        if slot[k] >= 0:
            out[slot[k]] = joined[k]
    return group, out


def find_stickers(lum: np.ndarray) -> list[Box]:
    """Boxes of opaque stickers on ``lum`` (an analysis copy), widened by their outline, in its
    pixels; the most distinct from its surroundings first, at most :data:`_MAX`."""
    h, w = lum.shape[0] // 2, lum.shape[1] // 2  # the kernel's reduced copy
    lo, hi = _SIZE[0] * min(h, w), _SIZE[1] * min(h, w)
    if lo < 4:
        return []
    spans, found = plateaus(
        np.ascontiguousarray(lum, dtype=np.float32), _STEP, max(4, int(_PIECE * lo * lo))
    )
    # Pieces of one level side by side are one sticker (a face's eyes and mouth cut its fill).
    piece_group, groups = join_pieces(found, _SPREAD, 2, lo, hi, _FILL, h, w, _CLIPPED)
    out: list[tuple[float, Box]] = []
    for g, (n, top, bottom, left, right, total) in enumerate(groups.tolist()):
        t, b, l, r = int(top), int(bottom) + 1, int(left), int(right) + 1  # noqa: E741
        level = total / n
        # The ring round its box is mostly at other levels (the cheaper test first) ...
        pad = max(2, round(_WIDEN * max(b - t, r - l)))
        box = (max(0, t - pad), min(h, b + pad), max(0, l - pad), min(w, r + pad))
        big = (2 * box[0], 2 * box[1], 2 * box[2], 2 * box[3])  # in the analysis copy
        ring = _ring(lum, big, 2 * pad)
        if not len(ring) or np.mean(np.abs(ring - level) <= _RING_TOL) > _RING_SHARE:
            continue
        # ... and its edge is distinct: the pixels two past the plateau (median) differ from
        # its level.
        t0, b0, l0, r0 = max(0, t - 3), min(h, b + 3), max(0, l - 3), min(w, r + 3)
        mask = np.zeros((b0 - t0, r0 - l0), np.bool_)
        for y, a, e, _ in spans[np.isin(spans[:, 3], np.flatnonzero(piece_group == g))]:
            mask[y - t0, a - l0 : e - l0] = True
        near = _dilate(mask, 1)
        edge = _dilate(near, 2) & ~near
        contrast = float(np.median(np.abs(_reduced(lum, t0, b0, l0, r0)[edge] - level)))
        if contrast < _CONTRAST:
            continue
        out.append((contrast, big))
    out.sort(key=lambda c: -c[0])
    return [box for _, box in out[:_MAX]]


def _reduced(lum: np.ndarray, t: int, b: int, l: int, r: int) -> np.ndarray:  # noqa: E741
    block = lum[2 * t : 2 * b, 2 * l : 2 * r]
    return block.reshape(b - t, 2, r - l, 2).mean(axis=(1, 3))


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(k):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _ring(lum: np.ndarray, box: Box, pad: int) -> np.ndarray:
    """The pixels in a band ``pad`` wide round ``box`` (clipped to the picture)."""
    h, w = lum.shape
    t, b, l, r = box  # noqa: E741
    t0, b0, l0, r0 = max(0, t - pad), min(h, b + pad), max(0, l - pad), min(w, r + pad)
    outer = lum[t0:b0, l0:r0]
    mask = np.ones(outer.shape, np.bool_)
    mask[t - t0 : b - t0, l - l0 : r - l0] = False
    return outer[mask]
