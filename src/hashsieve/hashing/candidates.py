"""Candidate regions: the parts of a query image that may be a known picture, each hashed with PDQ.

Plain PDQ of a whole image misses copies that were letterboxed, shown inside a viewer window and
screenshotted, stamped with a watermark box, or cropped. Known hash sets hold plain PDQ of the
original, so the repair happens on the query side: from one decoded image this module derives a
few **candidate regions**, each of which is what the original would look like if the alteration
were undone, and hashes each (with its 8 dihedral variants) for the matcher.

- ``trim`` undoes a letterbox, pillarbox or padding of any flat colour: edge lines that are one
  flat colour (noise and compression tolerated) are peeled, one colour per side.
- ``chrome`` undoes a title bar or toolbar laid over or around the picture: a band at the top or
  bottom, mostly one colour per row, that ends in a full-width edge, is replaced by the nearest
  content row.
- ``picture`` finds an image shown on a flat background inside a window: every flat band inside
  the window is peeled, whatever its colour.
- ``overlay`` / ``picture-overlay`` undo a box stamped on the picture (a watermark caption, player
  controls): a rectangle found by its long top and bottom edges, darker than the picture around
  it or much smoother than a textured picture, is filled by interpolating the rows around it (in
  the trimmed image, or in the ``picture``).
- ``blur-trim`` undoes bars of the picture itself, stretched and blurred behind it: bands on
  opposite sides that end in a jump of detail at one depth.
- ``ui-picture`` finds a photograph among an app's UI (a web page, a chat bubble, a feed card):
  the largest block of continuous-tone cells in a screenshot that is mostly exact flat fills,
  grown to the flat lines around it (:mod:`hashsieve.hashing.ui_picture`).
- ``sticker`` undoes an opaque shape anywhere on the picture (an emoji, a badge): a compact
  plateau of one level, unlike what is around it, filled like an overlay
  (:mod:`hashsieve.hashing.stickers`).
- ``uncrop`` partly undoes a few per cent cut from every edge: the image is padded back to the
  original's frame by repeating its edge pixels.

A cheap gate keeps most images at one PDQ hash: the border, chrome and overlay analysis runs on a
reduced copy (long side :data:`ANALYSIS_SIDE`) and produces nothing for a picture whose edges are
not flat and that carries no box, so only ``uncrop`` (when enabled) is added.

Each candidate has its own match threshold (:data:`THRESHOLDS`), set from false matches measured
on thousands of unrelated photographs (docs/robust-matching.md): a candidate is a new guess, and
every guess is another chance to match something unrelated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashsieve.hashing._candidate_kernels import (
    DARK,
    LIGHT,
    SMOOTH,
    best_box,
    edge_runs,
    ink_steps,
    summed_areas,
)
from hashsieve.hashing._pdq_kernels import reduce_plane
from hashsieve.hashing.boxes import Box, scale_box
from hashsieve.hashing.framed import find_framed
from hashsieve.hashing.pdq import (
    ImageLike,
    block_luma,
    is_grey_view,
    pdq_with_dihedral,
    reduced,
    rgb_array,
)
from hashsieve.hashing.reference import top_part
from hashsieve.hashing.stickers import find_stickers
from hashsieve.hashing.ui_picture import find_ui_pictures

#: Candidate names, in the order :func:`find_candidates` returns them.
CANDIDATE_NAMES = (
    "blur-trim",
    "trim",
    "chrome",
    "picture",
    "overlay",
    "picture-overlay",
    "sticker",
    "ui-picture",
    "framed",
    "uncrop",
)
#: PDQ distance at or below which each candidate matches (the whole image keeps the settings'
#: threshold, 31). Measured: docs/robust-matching.md.
THRESHOLDS: dict[str, int] = {
    # A trimmed region is the picture as a player or viewer re-rendered it (scaled, colour
    # converted), which costs a bit or two; no distractor region came within 48 (docs).
    "trim": 32,
    "blur-trim": 31,
    "chrome": 31,
    "overlay": 31,
    # The same holds for a picture cut out of a window (a viewer scaled it); no distractor's
    # picture region came within 62 (docs).
    "picture": 32,
    "picture-overlay": 32,
    # An opaque sticker anywhere, filled (hashing.stickers).
    "sticker": 31,
    # A photograph's rectangle among an app's UI (hashing.ui_picture).
    "ui-picture": 31,
    # A picture inside a textured surround: a pattern, a frame, a card (hashing.framed).
    "framed": 31,
    "uncrop": 31,
}
#: Candidates computed by default. ``uncrop`` is left out: it costs one more PDQ on every image
#: (the others only on images with flat edges or a box) for a third of 5 %-cropped copies, which
#: would put the scan under 8x python-threatexchange's throughput (bench/README.md).
#: ``HASHSIEVE_CANDIDATES=all`` turns it on (scans, sensors and the robustness benchmark alike).
DEFAULT_CANDIDATES: tuple[str, ...] = (
    CANDIDATE_NAMES
    if os.environ.get("HASHSIEVE_CANDIDATES") == "all"
    else tuple(n for n in CANDIDATE_NAMES if n != "uncrop")
)
#: The analysis copy's long side in pixels.
ANALYSIS_SIDE = 384
#: Two luma levels within this many steps are "the same flat colour".
_TOL = 20
#: Padding added around a picture is flatter than the picture's own sky or shadows.
_BORDER_TOL = 10
#: A line is flat when at least this share of its pixels is within _TOL of its median colour.
_FLAT = 0.97
#: An app's bar is a line with this share at one level (the rest: a clock, icons, a title, a
#: gesture pill and a screen's rounded corners).
_APP_FLAT = 0.6
#: ... within this share of the height at the top and at the bottom (status, header, navigation).
_APP_BARS = 0.12
#: ... and at least this share of the height at each end.
_APP_MIN = 0.02
#: A band of the picture itself blurred behind it ends at the first line whose detail (mean luma
#: step between neighbours along it, analysis copy) exceeds _JUMP x the band's mean + _SMOOTH.
_JUMP = 2.0
_SMOOTH = 0.15
#: ... and the band at the opposite edge at the same depth, by this much at least.
_WEAK_JUMP = 1.3
#: A small overlay box (a corner stamp) is at least this share of the width ...
_SMALL_BOX = 0.06
#: ... and darker or lighter than the picture above and below it by this many luma levels.
_SMALL_STEP = 20.0
#: ... and sits in a corner: within this share of the height from the top or bottom.
_CORNER = 0.2
#: A line of text over the picture (:func:`_text_lines`): steps along a row of more than
#: _TEXT_STEP levels whose light side is at least _TEXT_LIGHT (dark side at most _TEXT_DARK) ...
_TEXT_STEP, _TEXT_LIGHT, _TEXT_DARK = 40.0, 200.0, 50.0
#: ... at least _TEXT_MIN of the width per row and _TEXT_RISE times the picture's typical row ...
_TEXT_MIN, _TEXT_RISE = 0.03, 4.0
#: ... in a band within the outer _TEXT_ZONE of the height, _TEXT_LINE tall (shares of the
#: height) and at least _TEXT_WIDTH wide.
_TEXT_ZONE = 0.25
_TEXT_LINE = (0.012, 0.15)
_TEXT_WIDTH = 0.08
#: A frame (:func:`_frame`) is at most this share of the height or width on each side.
_FRAME_MAX = 0.15
#: The share of each edge that ``uncrop`` adds back: 5 % cut from each side of 100 leaves 90.
_UNCROP = 0.05 / 0.90


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    #: The region in the input image's pixels: (top, bottom, left, right).
    box: Box
    pixels: np.ndarray  # RGB, what is hashed


@dataclass(frozen=True, slots=True)
class CandidateHash:
    name: str
    quality: int
    #: The 8 dihedral PDQ codes concatenated (8 x 32 bytes), as ``FileResult.dihedral``.
    codes: bytes

    def as_tuple(self) -> tuple[str, int, bytes]:
        return (self.name, self.quality, self.codes)


def _as_rgb(px: np.ndarray) -> np.ndarray:
    """A region's pixels as :func:`rgb_array` takes them: a luma plane as an R = G = B view (no
    copy), RGB as it is."""
    return np.broadcast_to(px[:, :, None], (*px.shape, 3)) if px.ndim == 2 else px


def _analysis(px: np.ndarray) -> tuple[np.ndarray, int]:
    """A reduced luma copy (long side about ANALYSIS_SIDE, float32) and its reduction factor.

    ``px`` is a luma plane (a colour JPEG's decode: reduced as it is, a third of the work of
    three equal channels and none of the copy into them) or RGB pixels."""
    h, w = px.shape[:2]
    factor = max(1, -(-max(h, w) // ANALYSIS_SIDE))
    if px.ndim == 2:  # Pillow's reduce, value for value, at half its cost (no Image either)
        plane = np.ascontiguousarray(px)
        return (reduce_plane(plane, factor) if factor > 1 else plane).astype(np.float32), factor
    small = Image.fromarray(np.ascontiguousarray(px))
    if factor > 1:
        small = small.reduce(factor)
    # Pillow's "L" is the same ITU-R 601 luma (rounded to whole levels), in C.
    return np.asarray(small.convert("L"), dtype=np.float32), factor


def _flat_share(lines: np.ndarray, tol: float = _TOL) -> tuple[np.ndarray, np.ndarray]:
    """Per line (a row of ``lines``): share of pixels near the line's level, and that level.

    The level is the median of 33 evenly spaced samples: as good as the full median for a flat
    line and a fraction of its cost.
    """
    step = max(1, lines.shape[1] // 32)
    samples = np.sort(lines[:, ::step], axis=1)  # np.median costs more in overhead than work
    level = samples[:, samples.shape[1] // 2]
    return (np.abs(lines - level[:, None]) <= tol).mean(axis=1), level


def _edge_is_flat(lum: np.ndarray) -> bool:
    """The gate: is any outer line of the image flat (a border may be there)?"""
    edges = (lum[:2], lum[-2:], lum[:, :2].T, lum[:, -2:].T)
    return any(bool((_flat_share(e)[0] >= _FLAT).all()) for e in edges)


def _peel(
    lum: np.ndarray,
    box: Box,
    *,
    one_colour: bool,
    max_share: float = 0.45,
    tol: float = _TOL,
    min_run: float = 0.0,
    frame: int = 0,
) -> Box | None:
    """Peel flat lines off every side of ``box``; None when the peel would eat the picture.

    With ``one_colour`` each side stops where the flat level changes (a letterbox is one colour;
    a window's frame, then its black bars, are two), otherwise every flat band goes. A side whose
    band is thinner than ``min_run`` of the box is kept (a picture's own flat edge, not a border).
    With ``frame``, the colour is taken past that many outer lines (a window's frame line).
    """
    t, b, l, r = box  # noqa: E741
    first: dict[str, float] = {}
    for _ in range(8):  # peeling one side can make the lines of the others flat
        sub = lum[t:b, l:r]
        h, w = sub.shape
        if h < 16 or w < 16:
            return None
        rows, row_levels = _flat_share(sub, tol)
        cols, col_levels = _flat_share(sub.T, tol)

        def run(share: np.ndarray, levels: np.ndarray, order: range, side: str) -> int:
            n = 0
            for k, i in enumerate(order):
                if share[i] < _FLAT:
                    break
                if (
                    one_colour
                    and (k >= frame or side in first)
                    and abs(levels[i] - first.setdefault(side, levels[i])) > tol
                ):
                    break
                n += 1
            return n

        nt = run(rows, row_levels, range(h), "t")
        nb = run(rows, row_levels, range(h - 1, -1, -1), "b")
        nl = run(cols, col_levels, range(w), "l")
        nr = run(cols, col_levels, range(w - 1, -1, -1), "r")
        if nt + nb > 2 * max_share * h or nl + nr > 2 * max_share * w:
            return None
        if nt + nb + nl + nr == 0:
            break
        t, b, l, r = t + nt, b - nb, l + nl, r - nr  # noqa: E741
    t0, b0, l0, r0 = box
    if t - t0 < min_run * (b0 - t0):
        t = t0
    if b0 - b < min_run * (b0 - t0):
        b = b0
    if l - l0 < min_run * (r0 - l0):
        l = l0  # noqa: E741
    if r0 - r < min_run * (r0 - l0):
        r = r0
    return (t, b, l, r)


def _smooth_band(detail: np.ndarray) -> int:
    """Lines at both ends of ``detail`` (per line) that are smooth, equally many; 0 if none.

    A band ends where a line has more than _JUMP times the mean detail of the band before it
    (plus _SMOOTH): the blurred copy is smoother than the picture at its edge, whatever the
    picture. A player centres the picture, so both bands end at the same depth: the band
    at the other end must end there too (within 2 %), by a smaller step (x _WEAK_JUMP) when
    the picture's edge on that side is smooth itself.
    """
    n = len(detail)
    lo, hi = max(2, round(0.04 * n)), round(0.3 * n)
    slack = max(2, round(0.02 * n))

    def ends(d: np.ndarray, jump: float, floor: float) -> np.ndarray:
        means = np.cumsum(d)[:-1] / np.arange(1, n)
        found = np.flatnonzero(d[1:] >= jump * means + floor) + 1
        return found[(found >= lo - slack) & (found <= hi + slack)]

    best = 0
    for d, other in ((detail, detail[::-1]), (detail[::-1], detail)):
        strong = ends(d, _JUMP, _SMOOTH)
        if not len(strong) or not lo <= strong[0] <= hi:
            continue
        k = int(strong[0])
        weak = ends(other, _WEAK_JUMP, _SMOOTH / 3)
        near = weak[np.abs(weak - k) <= slack]
        if len(near) and (not best or k < best):
            best = k
    return best


def _blur_bars(lum: np.ndarray) -> list[Box]:
    """Bars of the picture itself, blurred and stretched behind it, at the top and bottom or at
    the sides: equally thick bands of smooth lines (the blur leaves little detail along them)
    on two opposite sides, ending where the picture's detail begins. Both pairs are returned
    apart when both are found (one is then likely the picture's own smooth edges)."""
    h, w = lum.shape
    if h < 32 or w < 32:
        return []
    kt = _smooth_band(np.abs(np.diff(lum, axis=1)).mean(axis=1))
    kl = _smooth_band(np.abs(np.diff(lum, axis=0)).mean(axis=0))
    out = [(kt, h - kt, 0, w)] if kt else []
    return [*out, (0, h, kl, w - kl)] if kl else out


def _sharpen(rgb: np.ndarray, box: Box, factor: int) -> Box:
    """``box`` (from the analysis copy) with each moved side put, at full size, on the sharpest
    step between neighbouring lines within a few pixels: where the picture meets its blurred
    copy."""
    if factor < 2:
        return box
    h, w = rgb.shape[:2]
    t, b, l, r = box  # noqa: E741

    def step(lines: np.ndarray, centre: int) -> int:  # lines: the strip around ``centre``
        lo = max(1, centre - 2 * factor)
        strip = block_luma(lines[lo - 1 : centre + 2 * factor])
        diffs = np.abs(np.diff(strip, axis=0)).mean(axis=1)
        return lo + int(diffs.argmax()) if len(diffs) else centre

    if t > 0:
        t, b = step(rgb[:, l:r], t), step(rgb[:, l:r], b)
    if l > 0:
        cols = rgb[t:b].swapaxes(0, 1)
        l, r = step(cols, l), step(cols, r)  # noqa: E741
    return (t, min(b, h), l, min(r, w))


def _app_peel(lum: np.ndarray, box: Box) -> Box | None:
    """The picture inside an app's bars: rows at the top and bottom that are mostly one level
    are peeled (bars with a clock, icons or a title on them, in any colour, within the outer
    _APP_BARS of the height; past them, the app's backdrop: one level, so a smooth picture on it
    stays), then every flat band as in ``picture``. Only rows are peeled loosely: a picture wider
    than tall on a phone's screen leaves most of each column backdrop."""
    t, b, l, r = box  # noqa: E741
    if b - t < 16 or r - l < 16:
        return None
    share, level = _flat_share(lum[t:b, l:r])
    ok = share >= _APP_FLAT
    zone = round(_APP_BARS * (b - t))

    def depth(ok: np.ndarray, level: np.ndarray) -> int:
        k = 0
        while k < len(ok) and ok[k] and (k <= zone or abs(level[k] - level[zone]) <= _TOL):
            k += 1
        return k

    nt, nb = depth(ok, level), depth(ok[::-1], level[::-1])
    # Bars at both ends (a photograph's flat sky is at one end), not the whole screen.
    if nt + nb > 0.9 * (b - t) or min(nt, nb) < _APP_MIN * (b - t):
        return None
    backdrop = level[zone]
    t, b = t + nt, b - nb
    # Then columns of the backdrop at the sides, in the picture's rows only (a smooth picture's
    # own rows would peel away whole).
    col_share, col_level = _flat_share(lum[t:b, l:r].T)
    flat_cols = (col_share >= _FLAT) & (np.abs(col_level - backdrop) <= _TOL)
    flat_cols[:2] |= col_share[:2] >= _FLAT  # a window's frame line
    flat_cols[-2:] |= col_share[-2:] >= _FLAT
    if flat_cols.all():
        return None
    return (t, b, l + int(flat_cols.argmin()), r - int(flat_cols[::-1].argmin()))


def _frame(lum: np.ndarray, box: Box) -> Box | None:
    """The inside of a frame of one level all round ``box`` whose corners may be rounded (a
    device's bezel in a mock-up, a card's or a rounded window's border): on every side, lines
    whose middle half is one flat level, the same level on all four sides and about as thick
    (a frame is drawn evenly; a picture's own flat sky is on one side). None when there is no
    such frame."""
    t, b, l, r = box  # noqa: E741
    sub = lum[t:b, l:r]
    h, w = sub.shape
    if h < 32 or w < 32:
        return None

    def band(lines: np.ndarray) -> tuple[int, float]:  # lines from the outside in
        n, m = lines.shape
        share, level = _flat_share(lines[: max(3, round(_FRAME_MAX * n)), m // 4 : m - m // 4])
        # The outer line may blend the frame with what is around it (the analysis copy's
        # reduction): the frame's level is its second line's.
        ok = (share >= _FLAT) & (np.abs(level - level[1]) <= _BORDER_TOL)
        ok[0] = True
        return (len(ok) if ok.all() else int(ok.argmin())), float(level[1])

    sides = [band(sub), band(sub[::-1]), band(sub.T), band(sub.T[::-1])]
    depths = [k for k, _ in sides]
    levels = [v for _, v in sides]
    if min(depths) < max(2, round(0.01 * min(h, w))) or max(levels) - min(levels) > _BORDER_TOL:
        return None
    # As thick all round: a side that runs deeper ran on into a bar of the frame's colour (a
    # dark status bar in a dark bezel) or the picture's own flat sky; the line of rounding the
    # analysis copy allows.
    d = [min(k, min(depths) + 1) for k in depths]
    return (t + d[0], b - d[1], l + d[2], r - d[3])


def _all_flat(lines: np.ndarray, tol: float = _TOL) -> bool:
    return bool(len(lines)) and bool((_flat_share(lines, tol)[0] >= _FLAT).all())


def _centred(box: Box, outer: Box, slack: float = 0.02) -> Box:
    """``box`` with opposite bands made equal (the thinner one) when they differ.

    Viewers and players centre the picture in their window, so the backdrop bands on opposite
    sides are equal; a band much wider than its opposite has eaten the picture's own flat sky or
    shadow, which peeling cannot tell from a backdrop.
    """
    t, b, l, r = box  # noqa: E741
    ot, ob, ol, or_ = outer
    top, bottom, left, right = t - ot, ob - b, l - ol, or_ - r
    if abs(top - bottom) > slack * (ob - ot):
        top = bottom = min(top, bottom)
    if abs(left - right) > slack * (or_ - ol):
        left = right = min(left, right)
    return (ot + top, ob - bottom, ol + left, or_ - right)


def _chrome_bands(lum: np.ndarray, box: Box, share: float = 0.08) -> tuple[int, int]:
    """Rows of chrome at the top and bottom of ``box``: bands that end in a full-width edge."""
    t, b, l, r = box  # noqa: E741
    lum = lum[t:b, l:r]
    h = lum.shape[0]
    # score[y]: an edge below row y, over one row or two (the analysis copy's reduction blurs a
    # bar's lower edge over two rows).
    step = np.abs(np.diff(lum, axis=0))
    step[:-1] = np.maximum(step[:-1], np.abs(lum[2:] - lum[:-2]))
    score = (step > 12).mean(axis=1)
    k = max(2, int(h * share))
    top = np.flatnonzero(score[:k] >= 0.9)
    bottom = np.flatnonzero(score[h - 1 - k :] >= 0.9)
    nt = int(top[-1]) + 1 if len(top) else 0
    nb = k - int(bottom[0]) if len(bottom) else 0
    # Chrome is mostly one colour per row (a bar with a little text and a few buttons); a band of
    # the photograph itself above a strong edge is not.
    # A bar is at least a few rows (1.5 % of the height) tall.
    least = max(3, round(0.015 * h))
    if nt < least or _flat_share(lum[:nt])[0].mean() < 0.65:
        nt = 0
    if nb < least or _flat_share(lum[h - nb :])[0].mean() < 0.65:
        nb = 0
    return nt, nb


def _edge_rows(
    lengths: np.ndarray, starts: np.ndarray, min_len: float
) -> list[tuple[int, int, int]]:
    """Rows of an edge mask with a long run (from :func:`edge_runs`): (row, start, end), one
    per cluster of rows.

    Gaps of a pixel are closed: an edge under text or a rounded corner is still one edge.
    """
    rows = np.flatnonzero(lengths >= min_len)
    out: list[tuple[int, int, int]] = []
    for row, length, start in zip(
        rows.tolist(), lengths[rows].tolist(), starts[rows].tolist(), strict=True
    ):  # keep the strongest row of adjacent rows
        if out and row - out[-1][0] <= 2:
            if length > out[-1][2] - out[-1][1]:
                out[-1] = (row, start, start + length)
            continue
        out.append((row, start, start + length))
    return out


def _text_lines(lum: np.ndarray) -> list[Box]:
    """Lines of text laid over the top or bottom of a picture without a box (a watermark, a
    caption, a user name): a band of rows, in the outer _TEXT_ZONE of the height, whose strong
    steps along the row with a light (or, for dark text, a dark) side are many times those of
    the picture's typical row; as wide as its strokes reach. In ``lum``'s pixels."""
    h, w = lum.shape
    steps = ink_steps(np.ascontiguousarray(lum), _TEXT_STEP, _TEXT_LIGHT, _TEXT_DARK)
    zone = max(3, round(_TEXT_ZONE * h))
    out: list[Box] = []
    for polarity in (0, 1):
        counts = steps[polarity]
        typical = float(np.median(counts))
        hot = counts >= max(_TEXT_MIN * w, _TEXT_RISE * typical)
        # Rows of only the tall letters' strokes (ascenders, descenders, capitals) are fewer.
        warm = counts >= max(_TEXT_MIN / 3 * w, _TEXT_RISE / 2 * typical)
        for rows in (np.arange(zone), np.arange(h - 1, h - 1 - zone, -1)):
            band = _longest_run(hot[rows], gap=2)
            if band is None:
                continue
            a, b = sorted((int(rows[band[0]]), int(rows[band[1]])))
            while a > 0 and warm[a - 1]:
                a -= 1
            while b < h - 1 and warm[b + 1]:
                b += 1
            height = b - a + 1
            if not _TEXT_LINE[0] * h <= height <= _TEXT_LINE[1] * h:
                continue
            # Its columns: where the band's rows have such steps, gaps of two letters' width
            # closed; the widest span.
            sub = lum[a : b + 1]
            diff = np.abs(np.diff(sub, axis=1)) > _TEXT_STEP
            side = (
                np.maximum(sub[:, 1:], sub[:, :-1]) >= _TEXT_LIGHT
                if polarity == 0
                else np.minimum(sub[:, 1:], sub[:, :-1]) <= _TEXT_DARK
            )
            span = _longest_run((diff & side).any(axis=0), gap=max(2, 2 * height))
            if span is None or span[1] - span[0] < _TEXT_WIDTH * w:
                continue
            pad = max(1, height // 3)
            out.append(
                (
                    max(0, a - pad),
                    min(h, b + 1 + pad),
                    max(0, span[0] - pad),
                    min(w, span[1] + 1 + pad),
                )
            )
    return out


def _longest_run(flags: np.ndarray, gap: int) -> tuple[int, int] | None:
    """First and last index of the longest run of True in ``flags``, gaps of up to ``gap``
    False closed; None when there is no True."""
    on = np.flatnonzero(flags)
    if not len(on):
        return None
    breaks = np.flatnonzero(np.diff(on) > gap + 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(on) - 1]))
    k = int(np.argmax(on[ends] - on[starts]))
    return int(on[starts[k]]), int(on[ends[k]])


def _find_overlays(lum: np.ndarray, box: Box) -> list[Box]:
    """Rectangles laid over the picture (controls, a watermark box), in ``lum``'s pixels.

    Found by their long top and bottom edges; accepted when the inside is darker than the
    picture above and below it (a dark caption box, dark controls), or much smoother than a
    textured picture around it (translucent, blurred player controls). Small boxes (a corner
    stamp, a tenth of the width) need both their edges to start and end together and a stronger
    step, darker or lighter than around them.
    """
    t, b, l, r = box  # noqa: E741
    lum = lum[t:b, l:r]
    h, w = lum.shape
    if h < 24 or w < 24:
        return []
    # Edges from the central difference down the columns (a blurred edge still counts). Top
    # edges of a dark box go dark (falls), of a light box light (rises); bottom edges the reverse.
    lengths, starts = edge_runs(np.ascontiguousarray(lum), 8.0)
    falls = _edge_rows(lengths[0], starts[0], _SMALL_BOX * w)
    rises = _edge_rows(lengths[1], starts[1], _SMALL_BOX * w)
    edges = _edge_rows(lengths[2], starts[2], 0.25 * w)

    def wide(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        return [e for e in rows if e[2] - e[1] >= 0.25 * w]

    def cornered(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        # A stamp sits in a corner: its edges in the outer _CORNER of the height, reaching
        # within _CORNER / 2 of the left or right side. (Anywhere else, small boxes are the
        # picture's own: every photograph has some, and each costs a PDQ.)
        near, side = _CORNER * h, _CORNER / 2 * w
        return [
            e
            for e in rows
            if (e[0] <= near or e[0] >= h - near) and (e[1] <= side or e[2] >= w - side)
        ]

    searches = [
        (wide(falls), wide(rises), DARK, False),
        (edges, edges, SMOOTH, False),
        (cornered(falls), cornered(rises), DARK, True),
        (cornered(rises), cornered(falls), LIGHT, True),
    ]
    searches = [s for s in searches if s[0] and s[1]]
    found = _text_lines(lum)
    if searches:  # most photographs: no top and bottom edge that could bound a box
        texture = np.zeros_like(lum)
        texture[:, 1:] = np.abs(np.diff(lum, axis=1))
        sums = summed_areas(lum, texture)
        found = [_best_box(sums, *search) for search in searches] + found
    out: list[Box] = []
    for y1, y2, x1, x2 in found:  # one box found by two rules is filled once
        near = any(
            max(abs(a - b) for a, b in zip(o, (y1, y2, x1, x2), strict=True)) <= 2 for o in out
        )
        if y2 and not near:
            out.append((y1, y2, x1, x2))
    return [(t + y1, t + y2, l + x1, l + x2) for y1, y2, x1, x2 in out]


def _best_box(
    sums: tuple[np.ndarray, np.ndarray, np.ndarray],
    tops: list[tuple[int, int, int]],
    bottoms: list[tuple[int, int, int]],
    mode: int,
    small: bool = False,
) -> Box:
    """The best-fitting box between a top and a bottom edge (:func:`best_box`); with ``small``,
    boxes from _SMALL_BOX of the width whose edges agree and that stand out by _SMALL_STEP."""
    if not tops or not bottoms:
        return (0, 0, 0, 0)
    y1, y2, left, right = best_box(
        *sums,
        np.array(tops, dtype=np.int64),
        np.array(bottoms, dtype=np.int64),
        mode,
        _SMALL_BOX if small else 0.25,
        _SMALL_STEP if small else 6.0,
        small,
    )
    return (int(y1), int(y2), int(left), int(right))


def _line_flat(lines: np.ndarray) -> np.ndarray:
    """Per line of pixels (lines x length, luma or RGB): one flat level (the backdrop's)?"""
    return _flat_share(block_luma(lines), _BORDER_TOL)[0] >= _FLAT


def _refine(rgb: np.ndarray, box: Box, factor: int) -> Box:
    """``box`` (found on the analysis copy, so good to ``factor`` pixels) with each side moved
    to the picture's own edge at full size: the first line, from a little outside inwards, that
    is not flat backdrop. A few bits of PDQ depend on a pixel or two of backdrop left in."""
    if factor < 2:
        return box
    h, w = rgb.shape[:2]
    t, b, l, r = box  # noqa: E741
    if b - t < 8 * factor or r - l < 8 * factor:
        return box

    def inward(lines: np.ndarray) -> int | None:  # lines from outside in: just past the last
        flat = np.flatnonzero(_line_flat(lines))  # flat one (None: no backdrop line here)
        return int(flat[-1]) + 1 if len(flat) and flat[-1] + 1 < len(lines) else None

    span = 2 * factor
    t0, b0, l0, r0 = max(0, t - factor), min(h, b + factor), max(0, l - factor), min(w, r + factor)
    if (k := inward(rgb[t0 : t0 + span, l:r])) is not None:
        t = t0 + k
    if (k := inward(rgb[max(b0 - span, 0) : b0, l:r][::-1])) is not None:
        b = b0 - k
    if (k := inward(rgb[t:b, l0 : l0 + span].swapaxes(0, 1))) is not None:
        l = l0 + k  # noqa: E741
    if (k := inward(rgb[t:b, max(r0 - span, 0) : r0].swapaxes(0, 1)[::-1])) is not None:
        r = r0 - k
    return (t, b, l, r)


def _fill_rows(pixels: np.ndarray, box: Box, margin: int = 0) -> np.ndarray:
    """Replace ``box`` by interpolating, column by column, between the rows just outside it.

    ``margin`` rows and columns more on each side: the box was found on the reduced analysis
    copy, and its soft edge must not be what the fill copies.
    """
    t, b, l, r = box  # noqa: E741
    h, w = pixels.shape[:2]
    t, b = max(0, t - margin), min(h, b + margin)
    l, r = max(0, l - margin), min(w, r + margin)  # noqa: E741
    above, below = max(t - 1, 0), min(b, h - 1)
    out = pixels.copy()
    top = pixels[above, l:r].astype(np.float32)
    bottom = pixels[below, l:r].astype(np.float32)
    if t == 0:
        top = bottom
    if b >= h:
        bottom = top
    span = max(below - above, 1)
    weight = ((np.arange(above, below + 1) - above) / span).astype(np.float32)
    weight = weight.reshape(-1, *(1,) * (pixels.ndim - 1))  # per row, over a plane or RGB
    out[above : below + 1, l:r] = np.clip(top * (1 - weight) + bottom * weight, 0, 255)
    return out


def _uncrop(rgb: np.ndarray) -> np.ndarray:
    small = reduced(rgb)
    h, w = small.shape[:2]
    ph, pw = round(h * _UNCROP), round(w * _UNCROP)
    # Repeating the edge pixels beat mirroring, blurred mirroring and a flat fill (measured:
    # docs/robust-matching.md).
    return np.pad(small, ((ph, ph), (pw, pw), (0, 0)), mode="edge")


def _same(a: Box, b: Box, shape: tuple[int, ...]) -> bool:
    tol = 0.01 * max(shape[:2])
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    return rgb[box[0] : box[1], box[2] : box[3]]


def find_candidates(
    image: ImageLike, names: tuple[str, ...] | frozenset[str] = DEFAULT_CANDIDATES
) -> list[Candidate]:
    """The candidate regions of an image (the whole image itself is not among them)."""
    rgb = rgb_array(image)
    # A colour JPEG's luma comes as an R = G = B view: every step below works on its one plane
    # (no copy into three channels), and regions go out as views of it again.
    px = rgb[:, :, 0] if is_grey_view(rgb) else rgb
    height, width = px.shape[:2]
    full: Box = (0, height, 0, width)
    out: list[Candidate] = []
    if min(height, width) >= 32:
        lum, factor = _analysis(px)
        small_full: Box = (0, lum.shape[0], 0, lum.shape[1])
        # 1. Flat borders (only when an outer line is flat: the gate), then bars of the
        # picture blurred behind it (phone videos).

        small_base, base = small_full, full
        edge_flat = _edge_is_flat(lum)
        if edge_flat:
            trim = _peel(lum, small_full, one_colour=True, tol=_BORDER_TOL, min_run=0.02)
            if trim is not None:
                box = scale_box(trim, factor, px.shape)
                if not _same(box, full, px.shape):
                    small_base, base = trim, box
                    if "trim" in names:
                        out.append(Candidate("trim", box, _as_rgb(_crop(px, box))))
            # A frame inside the border, of one level all round, rounded at its corners (a
            # device in a mock-up, a card): what it frames is the picture, or a screen.
            if (inside := _frame(lum, small_base)) is not None:
                box = scale_box(inside, factor, px.shape)
                small_base, base = inside, box
                if "trim" in names:
                    out.append(Candidate("trim", box, _as_rgb(_crop(px, box))))
        for bars in _blur_bars(lum) if "blur-trim" in names else ():
            box = _sharpen(px, scale_box(bars, factor, px.shape), factor)
            if not _same(box, base, px.shape):  # flat bars are trim's
                out.append(Candidate("blur-trim", box, _as_rgb(_crop(px, box))))
        base_px = _crop(px, base)
        # 2. Chrome bands (a title bar over or above the picture): filled from the content.
        nt, nb = _chrome_bands(lum, small_base)
        filled = base_px
        if nt or nb:
            h = base_px.shape[0]
            ct, cb = min(nt * factor, h // 4), min(nb * factor, h // 4)
            filled = base_px.copy()
            if ct:
                filled[:ct] = base_px[ct]
            if cb:
                filled[h - cb :] = base_px[h - cb - 1]
            if "chrome" in names:
                out.append(Candidate("chrome", base, _as_rgb(filled)))
        # 3. The picture inside a window: every flat band inside the chrome peeled.
        pictures_found: list[tuple[Box, Box]] = []  # (analysis box, full-size box)
        # (A flat outer line alone, with no border or bar found, is how a phone's screen looks
        # when its status bar has text on it: only the app's bars are looked for then.)
        window = base is not full or bool(nt or nb)
        if window or edge_flat:
            t, b, l, r = small_base  # noqa: E741
            # A "bar" of flat rows only is the window's backdrop: the peel takes it, and
            # _centred then needs it to tell the backdrop from the picture's own flat sky.
            inner = (
                t + (nt if not _all_flat(lum[t : t + nt, l:r]) else 0),
                b - (nb if not _all_flat(lum[b - nb : b, l:r]) else 0),
                l,
                r,
            )
            pictures: list[Box] = []
            if window:
                peeled = _peel(lum, inner, one_colour=False)
                # Centred first (the usual viewer); the peel as it came too when that differs
                # (a picture that is not centred, or a backdrop band counted as chrome).
                if peeled is not None:
                    pictures += [_centred(peeled, inner), peeled]
                # A smooth picture is flat too: only the backdrop's level peeled, past a frame.
                if (backdrop := _peel(lum, inner, one_colour=True, frame=2)) is not None:
                    pictures.append(_centred(backdrop, inner))
            # An app's bars (a phone's status and navigation bars, a gallery's header) carry a
            # clock, icons, a title: lines mostly of one level are peeled too.
            if (app := _app_peel(lum, inner)) is not None:
                pictures.append(app)
            kept: list[Box] = []
            for small in dict.fromkeys(pictures):
                box = scale_box(small, factor, px.shape)
                if _same(box, base, px.shape) or _same(box, full, px.shape):
                    continue
                if any(_same(box, other, px.shape) for other in kept):
                    continue
                kept.append(box)
                box = _refine(px, box, factor)
                pictures_found.append((small, box))
                if "picture" in names:
                    out.append(Candidate("picture", box, _as_rgb(_crop(px, box))))
        # 4. A dark box laid over the picture (controls, a watermark): filled by interpolation.
        if "overlay" in names:
            # In the trimmed image, and in the whole one when a "border" was peeled: a flat sky
            # at the top of a photograph peels like a letterbox band.
            regions = [(small_base, base, filled)]
            if base != full:
                regions.append((small_full, full, px))
            for small, region, pixels in regions:
                for found in _find_overlays(lum, small):
                    ob = scale_box(found, factor, px.shape)
                    local = (
                        ob[0] - region[0],
                        ob[1] - region[0],
                        ob[2] - region[2],
                        ob[3] - region[2],
                    )
                    out.append(
                        Candidate("overlay", region, _as_rgb(_fill_rows(pixels, local, factor)))
                    )
        for small, pic in pictures_found if "picture-overlay" in names else ():
            for found in _find_overlays(lum, small):
                ob = scale_box(found, factor, px.shape)
                local = (ob[0] - pic[0], ob[1] - pic[0], ob[2] - pic[2], ob[3] - pic[2])
                filled_pic = _fill_rows(_crop(px, pic), local, factor)
                out.append(Candidate("picture-overlay", pic, _as_rgb(filled_pic)))
        # 5. An opaque sticker anywhere on the picture (hashing.stickers): filled the same way.
        for found in find_stickers(lum) if "sticker" in names else ():
            box = scale_box(found, factor, px.shape)
            out.append(Candidate("sticker", full, _as_rgb(_fill_rows(px, box, factor))))
        # 6. A photograph among an app's UI (hashing.ui_picture), unless a region has it.
        for box in find_ui_pictures(lum, px, factor) if "ui-picture" in names else ():
            if not any(_same(box, c.box, px.shape) for c in out):
                out.append(Candidate("ui-picture", box, _as_rgb(_crop(px, box))))
        # 7. A picture padded or framed by a textured surround (hashing.framed), unless found.
        for box in find_framed(lum, px, factor) if "framed" in names else ():
            if not any(max(abs(x - y) for x, y in zip(box, c.box, strict=True)) <= 2 for c in out):
                out.append(Candidate("framed", box, _as_rgb(_crop(px, box))))
    if "uncrop" in names and min(height, width) >= 16:
        out.append(Candidate("uncrop", full, _uncrop(rgb)))
    return out


#: Regions whose upper part is hashed too when the store holds reference parts (``pdq-top``):
#: the image itself and the regions that undo a frame; overlay-filled regions already undo a box.
TOP_OF = ("trim", "chrome", "picture", "ui-picture")


def candidate_hashes(
    image: ImageLike,
    names: tuple[str, ...] | frozenset[str] = DEFAULT_CANDIDATES,
    *,
    parts: bool = False,
) -> list[CandidateHash]:
    """Each candidate region hashed with PDQ (8 dihedral codes); duplicates of the image dropped.

    With ``parts`` the upper part of the image and of its ``TOP_OF`` regions is hashed too, named
    ``top`` and ``<region>/top``, for the reference parts (:mod:`hashsieve.hashing.reference`).
    """

    rgb = rgb_array(image)
    out: list[CandidateHash] = []
    if parts:
        pdq, codes = pdq_with_dihedral(top_part(reduced(rgb)))
        out.append(CandidateHash("top", pdq.quality, b"".join(codes)))
    for candidate in find_candidates(rgb, names):
        pixels = reduced(candidate.pixels)
        pdq, codes = pdq_with_dihedral(pixels)
        out.append(CandidateHash(candidate.name, pdq.quality, b"".join(codes)))
        if parts and candidate.name in TOP_OF:
            pdq, codes = pdq_with_dihedral(top_part(pixels))
            out.append(CandidateHash(f"{candidate.name}/top", pdq.quality, b"".join(codes)))
    return out
