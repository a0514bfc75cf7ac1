"""The ``ui-picture`` candidate: a photograph's rectangle among an app's UI.

A picture shown on a web page (tabs, address bar, text lines around it), in a chat bubble (text
bubbles, a contact bar, a doodled wallpaper), a feed card, a mail, a file manager's preview pane
or a slide is screenshotted with the UI around it; ``picture`` finds a picture on a flat backdrop
only, and text and bubbles around it are not flat. What tells a photograph from UI, whatever the
app, is its **continuous tone**: rendered UI is drawn in flat fills (a backdrop, a bar, a
bubble), with text and icons as thin edges between them, so most of its pixels equal their
neighbours exactly; a photograph's noise and gradients leave almost none equal. So:

1. **Gate**: the share of pixels of the analysis copy (every :data:`GATE_STEP`-th row and
   column) that equal their right and lower neighbours exactly. A screenshot of an app is mostly
   such pixels (0.50-0.66 on the dev screenshots, PNG or JPEG at 80); a photograph is not (the
   ingest corpus: at most 0.32, mean 0.11). Below :data:`GATE` nothing more is done: that is
   all an ordinary photograph pays (0.05 ms).
2. **Seed**: cells of :data:`CELL` pixels whose pixels are mostly not flat are photographic;
   the largest rectangle of such cells is a photograph's core (a line of text is a cell or two
   tall, a bubble's inside is flat).
3. **Grow**: each side moves outwards while the line beyond it is not a flat fill, and inwards
   while its own line is one. A fill line is mostly flat pixels (a backdrop, bubbles with their
   text) or nearly all one level (a margin, an outline), read over its middle (rounded corners
   tolerated). A second guess also grows through fill lines that continue the picture's own
   tone (a smooth sky at its edge is a fill too, but of the picture's level, not the UI's).
   A box whose tones are mostly one level is a UI element (a bubble, a card), not a photograph.
4. **Sides** are put, at full size, on the first line (from outside in, within two analysis
   pixels) that is not one level along its middle: a bubble's margin and outline are, the
   photograph is not.
"""

from __future__ import annotations

import numpy as np

from hashsieve.hashing._ui_kernels import (
    flat_mask,
    flat_share,
    largest_rectangle,
    mode_share,
)
from hashsieve.hashing.boxes import Box, scale_box

#: The gate: at least this share of the analysis copy's pixels equal their four neighbours.
GATE = 0.4
#: ... read on every GATE_STEP-th row and column (the pixel and its right and lower neighbours).
GATE_STEP = 4
#: A component is looked at when its box is at least this share of the image's long side on
#: each axis ...
MIN_SIDE = 0.08
#: ... and covers at least this share of the image, but not (nearly) all of it.
MIN_AREA, MAX_AREA = 0.02, 0.9
#: Cells of this many analysis pixels a side seed the search: a cell with most of its pixels not
#: flat is photographic (a line of text is a cell or two tall; a photograph many).
CELL = 4
#: A line is a flat fill when this share of its middle is within a level of its commonest level.
FILL = 0.85
#: ... or when this share of its middle's pixels equal their neighbours.
FLAT_LINE = 0.5
#: A fill beyond a picture's edge is its own smooth sky when it continues its tone: within this
#: many levels of the line inside it, for at most this share of the box.
_SKY_STEP, _SKY = 3, 0.4
#: A box is a UI element, not a photograph, when this share of it is within a level of one level.
MAX_MODE = 0.3
#: A side line is read over its middle: this share is left off at each end (rounded corners).
CORNER = 0.1
#: At most this many regions per image (a gallery or a video call shows several pictures).
MAX_REGIONS = 2
#: At full size, a line of UI is one level (within this many levels) on this share of its middle.
_LEVEL_TOL, _LEVEL_SHARE = 3, 0.9


def _middle(n: int) -> slice:
    k = int(CORNER * n)
    return slice(k, n - k)


def _fill(line: np.ndarray, flat: np.ndarray) -> int | None:
    """The level of a line (its middle) that is a flat fill: mostly pixels equal to their
    neighbours (a backdrop, bubbles' fills with their text) or nearly all one level (a bubble's
    margin, an outline); None for a line that is neither (a photograph's)."""
    mid = _middle(len(line))
    if len(line[mid]) < 4:
        return -1
    share, level = mode_share(line[mid], 1)
    if share >= FILL or flat[mid].mean() >= FLAT_LINE:
        return level
    return None


def _grow(lum: np.ndarray, flat: np.ndarray, box: Box, *, sky: bool) -> Box:
    """``box`` with each side moved outwards while the line beyond it is not a fill, or is a
    fill that continues the picture's own tone (a smooth sky at the picture's edge: within
    _SKY_STEP levels of its neighbour line, up to _SKY of the box), and inwards (before and
    after) while its own line is a fill: the seed from dense cells to the photograph's edge."""
    h, w = lum.shape
    t, b, l, r = box  # noqa: E741

    def line(side: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        if side in "tb":
            return lum[k, l:r], flat[k, l:r]
        return lum[t:b, k], flat[t:b, k]

    def beyond(side: str) -> int | None:  # the index of the next line out, None at the edge
        k = {"t": t - 1, "b": b, "l": l - 1, "r": r}[side]
        return k if 0 <= k < (h if side in "tb" else w) else None

    def grow(side: str, sky: bool) -> int:
        nonlocal t, b, l, r  # noqa: E741
        n = 0
        limit = _SKY * ((b - t) if side in "tb" else (r - l))
        prev: np.ndarray | None = None
        while (k := beyond(side)) is not None:
            level = _fill(*line(side, k))
            if level is not None:
                if not sky or n >= limit:
                    break
                inner = line(side, k + (1 if side in "tl" else -1))[0]
                mid = inner[_middle(len(inner))] if prev is None else prev
                if (np.abs(mid - level) <= _SKY_STEP).mean() < 0.1:
                    break
                prev = np.array([level], np.float32)
                n += 1
            else:
                prev = None
            if side == "t":
                t -= 1
            elif side == "b":
                b += 1
            elif side == "l":
                l -= 1  # noqa: E741
            else:
                r += 1
        return n

    def shrink() -> None:
        nonlocal t, b, l, r  # noqa: E741
        while b - t > 4 and _fill(lum[t, l:r], flat[t, l:r]) is not None:
            t += 1
        while b - t > 4 and _fill(lum[b - 1, l:r], flat[b - 1, l:r]) is not None:
            b -= 1
        while r - l > 4 and _fill(lum[t:b, l], flat[t:b, l]) is not None:
            l += 1  # noqa: E741
        while r - l > 4 and _fill(lum[t:b, r - 1], flat[t:b, r - 1]) is not None:
            r -= 1

    # The seed's cells may take in a line or two of fill past the picture's edge (the analysis
    # copy blends the edge into them): peeled first, or the growth starts beyond the edge.
    shrink()
    for with_sky in (False, True, False) if sky else (False,):
        for side in "tblr":
            grow(side, with_sky)
    shrink()
    return (t, b, l, r)


def _refine(px: np.ndarray, box: Box, factor: int) -> Box:
    """``box`` (the analysis copy's, scaled) with each side on the first line, from a little
    outside inwards, that is not one level along its middle (the UI's backdrop, a bubble's margin
    and outline are; the photograph is not)."""
    if factor < 2:
        return box
    lum = px if px.ndim == 2 else px[..., 1]  # green: near enough to luma for one level or not
    h, w = lum.shape
    t, b, l, r = box  # noqa: E741
    span = 2 * factor

    def first(lines: np.ndarray) -> int | None:  # lines from the outside in
        mid = lines[:, _middle(lines.shape[1])].astype(np.int16)
        if mid.shape[1] < 8:
            return None
        level = np.median(mid, axis=1)
        flat = (np.abs(mid - level[:, None]) <= _LEVEL_TOL).mean(axis=1) >= _LEVEL_SHARE
        k = int(flat.argmin())
        return k if not flat[k] and k > 0 else None

    t0, b0, l0, r0 = max(0, t - span), min(h, b + span), max(0, l - span), min(w, r + span)
    if (k := first(lum[t0 : min(t + span, b), l:r])) is not None:
        t = t0 + k
    if (k := first(lum[max(b - span, t) : b0, l:r][::-1])) is not None:
        b = b0 - k
    if (k := first(lum[t:b, l0 : min(l + span, r)].T)) is not None:
        l = l0 + k  # noqa: E741
    if (k := first(lum[t:b, max(r - span, l) : r0].T[::-1])) is not None:
        r = r0 - k
    return (t, b, l, r)


def find_ui_pictures(lum: np.ndarray, px: np.ndarray, factor: int) -> list[Box]:
    """Boxes (in ``px``'s pixels) of photographs among an app's UI, largest first; [] for a
    picture that is not mostly flat UI (the gate). ``lum`` is the candidate stage's analysis copy
    (luma, float32), ``factor`` its reduction of ``px`` (the image: a luma plane or RGB)."""
    h, w = lum.shape
    if h < 32 or w < 32:
        return []
    if flat_share(lum, GATE_STEP) < GATE:
        return []
    flat, _ = flat_mask(lum, 0.0)
    # Cells of CELL x CELL pixels, "photographic" when most of their pixels are not flat.
    ch, cw = h // CELL, w // CELL
    busy = ~flat[: ch * CELL, : cw * CELL]
    cells = busy.reshape(ch, CELL, cw, CELL).mean(axis=(1, 3)) >= 0.5
    side = MIN_SIDE * max(h, w)
    out: list[Box] = []
    for _ in range(MAX_REGIONS):
        ct, cb, cl, cr = largest_rectangle(cells)
        if (cb - ct) * CELL < side or (cr - cl) * CELL < side:
            break
        cells[ct:cb, cl:cr] = False
        seed = (ct * CELL, cb * CELL, cl * CELL, cr * CELL)
        # The box as grown past texture only; and past a smooth sky at its edge too, when that
        # differs (a second guess: a fill beyond the edge may be the UI's, or the sky's).
        first: Box | None = None
        for sky in (False, True) if not out else (False,):
            grown = _grow(lum, flat, seed, sky=sky)
            if grown == first:
                continue  # the same box again: the same verdict, or a copy of what was kept
            first = grown
            t, b, l, r = grown  # noqa: E741
            area = (b - t) * (r - l)
            if min(b - t, r - l) < side or not MIN_AREA * h * w <= area <= MAX_AREA * h * w:
                continue
            # A photograph's tones spread; a UI box (a bubble, a card, a button) is one fill.
            if mode_share(lum[t:b, l:r], 1)[0] > MAX_MODE:
                continue
            box = _refine(px, scale_box((t, b, l, r), factor, px.shape), factor)
            if not any(max(abs(x - y) for x, y in zip(box, o, strict=True)) <= factor for o in out):
                out.append(box)
    return out
