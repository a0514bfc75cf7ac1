"""The ``framed`` candidate: a picture padded or framed by something textured.

``trim`` peels flat bands, ``blur-trim`` smooth blurred ones; a picture padded to a square on a
checkerboard, stripes or paper texture, hung in a wooden frame with a mat on a wall, or stuck on
a polaroid card with a handwritten caption, has a surround that is neither. Whatever the
surround, the picture's edge is a **straight step across its whole side**: the picture's first
line differs from the surround's last one all along it. A pattern's or a frame's edges are
straight steps too, but they lie outside the picture; the picture is the innermost rectangle
all four of whose sides are such steps. So, on the analysis copy:

1. **Steps**: a line's step is the share of its pixels whose level differs by more than
   :data:`STEP` from the pixel two lines on (across the line). A straight edge is a *peak* of
   that share over the lines around it; a textured photograph's share is high everywhere, so it
   has no peaks.
2. **Gate**: a peak of at least :data:`PEAK` (over the whole width or height) in each outer
   band (:data:`BAND` of the side) on all four sides: the left and right first, column edges read
   on every :data:`GATE_STRIDE`-th row (numba); the top and bottom only when both have one. An
   ordinary photograph has none on some side, and pays that much only (0.06 ms).
3. **Rectangle**: the strongest :data:`LINES` peaks per side are combined; a rectangle whose four
   sides each step over :data:`SIDE` of their own span (the other sides' limits) is consistent.
   The innermost consistent one (of at least :data:`MIN_AREA` of the image) is the picture.
4. **Sides** are put, at full size, on the sharpest step between neighbouring lines within a
   few pixels of where the analysis copy put them.
"""

from __future__ import annotations

import numpy as np

from hashsieve.hashing._framed_kernels import column_steps, edge_peaks, row_steps
from hashsieve.hashing.boxes import Box, scale_box
from hashsieve.hashing.pdq import block_luma

#: Two pixels two lines apart differ by more than this many luma levels: a step.
STEP = 12.0
#: A line is a straight edge when at least this share of it steps ...
PEAK = 0.3
#: ... and that share exceeds the lines' PEAK_GAP lines either side by PEAK_RISE.
PEAK_GAP, PEAK_RISE = 3, 0.12
#: The gate reads column edges on every GATE_STRIDE-th row.
GATE_STRIDE = 3
#: Each side's edge is looked for within this share of the height or width from it.
BAND = 0.42
#: Per side, this many of the strongest edges are combined.
LINES = 10
#: A rectangle's side steps over at least this share of its own span.
SIDE = 0.7
#: At most this many consistent rectangles, the innermost first, are tried ...
TRIES = 24
#: ... for one whose surround (DEPTH lines outside each side) has mean levels within SURROUND.
DEPTH, SURROUND = 4, 24.0
#: The picture is at least this share of the image's area ...
MIN_AREA = 0.25
#: ... and the surround at least this share of a side (a picture's own edge line is not one).
MIN_MARGIN = 0.015


def _peaks(share: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Indices (into ``share``) in [lo, hi) that are straight edges, the strongest first."""
    idx = np.flatnonzero(edge_peaks(share, PEAK, PEAK_GAP, PEAK_RISE)[lo:hi]) + lo
    return idx[np.argsort(-share[idx], kind="stable")][:LINES]


def _bands(h: int, w: int) -> tuple[tuple[int, int], ...]:
    """Where each side's edge is looked for (row edges: top, bottom; column edges: left,
    right), as index ranges into the shares of :func:`row_steps` and :func:`column_steps`."""
    bh, bw = round(BAND * h), round(BAND * w)
    return ((0, bh), (max(h - 2 - bh, 0), h - 2), (0, bw), (max(w - 2 - bw, 0), w - 2))


def _gate(lum: np.ndarray) -> bool:
    """A straight edge near each of the four sides: the left and right first (column edges read
    on every GATE_STRIDE-th row; most photographs stop there), then the top and bottom."""
    h, w = lum.shape
    if h < 32 or w < 32:
        return False
    (t0, t1), (b0, b1), (l0, l1), (r0, r1) = _bands(h, w)
    c = edge_peaks(column_steps(lum, STEP, GATE_STRIDE), PEAK, PEAK_GAP, PEAK_RISE)
    if not (c[l0:l1].any() and c[r0:r1].any()):
        return False
    r = edge_peaks(row_steps(lum, STEP), PEAK, PEAK_GAP, PEAK_RISE)
    return bool(r[t0:t1].any() and r[b0:b1].any())


def _rectangle(lum: np.ndarray) -> Box | None:
    """The innermost rectangle of the analysis copy whose four sides are straight edges."""
    h, w = lum.shape
    # Row edge i lies between lines i and i + 2 (column edges likewise).
    rows = np.abs(lum[2:] - lum[:-2]) > STEP
    cols = np.abs(lum[:, 2:] - lum[:, :-2]) > STEP
    r_share, c_share = rows.mean(axis=1), cols.mean(axis=0)
    (t0, t1), (b0, b1), (l0, l1), (r0, r1) = _bands(h, w)
    tops, bottoms = _peaks(r_share, t0, t1), _peaks(r_share, b0, b1)
    lefts, rights = _peaks(c_share, l0, l1), _peaks(c_share, r0, r1)
    if not (len(tops) and len(bottoms) and len(lefts) and len(rights)):
        return None
    # A step at index i lies between lines i and i + 2: the picture starts at line i + 1 on the
    # top and left and ends (exclusive) at line i + 2 on the bottom and right (to a line:
    # :func:`_sharpen` places each side at full size).
    t, b = tops + 1, bottoms + 2
    left, right = lefts + 1, rights + 2
    # Steps summed along each line, for the share over any span.
    rsum = np.concatenate([np.zeros((rows.shape[0], 1)), np.cumsum(rows, axis=1)], axis=1)
    csum = np.concatenate([np.zeros((1, cols.shape[1])), np.cumsum(cols, axis=0)], axis=0)

    def along_rows(i: np.ndarray, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Share of each row edge ``i`` stepping over columns a..z: [len(i), len(a), len(z)]."""
        span = np.maximum(z[None, None, :] - a[None, :, None], 1)
        ii = i[:, None, None]
        return (rsum[ii, z[None, None, :]] - rsum[ii, a[None, :, None]]) / span

    def along_cols(j: np.ndarray, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        span = np.maximum(z[None, None, :] - a[None, :, None], 1)
        jj = j[:, None, None]
        return (csum[z[None, None, :], jj] - csum[a[None, :, None], jj]) / span

    top = along_rows(tops, left, right)  # [T, L, R]
    bottom = along_rows(bottoms, left, right)  # [B, L, R]
    lside = along_cols(lefts, t, b)  # [L, T, B]
    rside = along_cols(rights, t, b)  # [R, T, B]
    ok = (
        (top[:, None, :, :] >= SIDE)  # [T, 1, L, R]
        & (bottom[None, :, :, :] >= SIDE)  # [1, B, L, R]
        & (lside.transpose(1, 2, 0)[:, :, :, None] >= SIDE)  # [T, B, L, 1]
        & (rside.transpose(1, 2, 0)[:, :, None, :] >= SIDE)  # [T, B, 1, R]
    )
    height = (b[None, :] - t[:, None]).astype(np.float64)
    width = (right[None, :] - left[:, None]).astype(np.float64)
    area = height[:, :, None, None] * width[None, None, :, :]
    ok &= area >= MIN_AREA * h * w
    # At least one side has a surround (the whole image is not a candidate).
    outside = (
        (t[:, None, None, None] >= MIN_MARGIN * h)
        | (h - b[None, :, None, None] >= MIN_MARGIN * h)
        | (left[None, None, :, None] >= MIN_MARGIN * w)
        | (w - right[None, None, None, :] >= MIN_MARGIN * w)
    )
    ok &= outside
    if not ok.any():
        return None
    order = np.argsort(np.where(ok, area, np.inf), axis=None, kind="stable")
    for flat in order[: min(int(ok.sum()), TRIES)]:
        i, j, k, m = np.unravel_index(int(flat), area.shape)
        box = (int(t[i]), int(b[j]), int(left[k]), int(right[m]))
        if _one_surround(lum, box):
            return box
    return None


def _one_surround(lum: np.ndarray, box: Box) -> bool:
    """Is what lies just outside ``box`` one surround: about the same mean level on each side
    that has one (a pattern, a mat, a card all round), unlike a picture's own line (sky above
    it, something else beside it)?"""
    t, b, l, r = box  # noqa: E741
    means = []
    for strip in (
        lum[max(0, t - DEPTH) : t, l:r],
        lum[b : b + DEPTH, l:r],
        lum[t:b, max(0, l - DEPTH) : l],
        lum[t:b, r : r + DEPTH],
    ):
        if strip.size:
            means.append(float(strip.mean()))
    return len(means) >= 2 and max(means) - min(means) <= SURROUND


def _sharpen(px: np.ndarray, box: Box, factor: int) -> Box:
    """Each side of ``box`` (full size, from the analysis copy) moved onto the sharpest step
    between neighbouring lines within ``factor`` pixels, measured over its span."""
    if factor < 2:
        return box
    height, width = px.shape[:2]
    t, b, l, r = box  # noqa: E741

    def place(lines: np.ndarray, at: int, n: int) -> int:  # all the axis, spanned
        lo, hi = max(1, at - factor), min(n - 1, at + factor)
        if hi <= lo:
            return at
        strip = block_luma(lines[lo - 1 : hi + 1])
        diffs = np.abs(np.diff(strip, axis=0)).mean(axis=tuple(range(1, strip.ndim)))
        return lo + int(diffs.argmax())  # the first line past the step

    pad_c, pad_r = max(1, (r - l) // 10), max(1, (b - t) // 10)  # inside the corners
    t2 = place(px[:, l + pad_c : r - pad_c], t, height)
    b2 = place(px[:, l + pad_c : r - pad_c], b, height)
    cols = px[t + pad_r : b - pad_r].swapaxes(0, 1)
    l2 = place(cols, l, width)
    r2 = place(cols, r, width)
    return (t2, b2, l2, r2)


def find_framed(lum: np.ndarray, px: np.ndarray, factor: int) -> list[Box]:
    """The picture's box (full size) inside a textured surround, or none. ``lum`` is the
    analysis copy (luma, float32), ``factor`` its reduction of ``px`` (a luma plane or RGB)."""
    if not _gate(lum):
        return []
    found = _rectangle(lum)
    if found is None:
        return []
    return [_sharpen(px, scale_box(found, factor, px.shape), factor)]
