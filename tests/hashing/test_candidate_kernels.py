"""The numba box search against a plain numpy statement of the same rule, on random pictures."""

from __future__ import annotations

import numpy as np
import pytest

from hashsieve.hashing._candidate_kernels import (
    DARK,
    LIGHT,
    SMOOTH,
    best_box,
    edge_runs,
    ink_steps,
    summed_areas,
)


def _reference(lum, texture, tops, bottoms, mode, min_width=0.25, contrast=6.0, aligned=False):  # type: ignore[no-untyped-def]
    """The rule as numpy slices and means (how the search read before it moved to numba)."""
    h, w = lum.shape
    best = None
    for y1, a1, b1 in tops:
        for y2, a2, b2 in bottoms:
            if not 0.03 * h <= y2 - y1 <= 0.4 * h or y2 - y1 < 5:
                continue
            if min(b1, b2) - max(a1, a2) < min_width * w:
                continue
            slack = 0.04 * w
            contained = (a1 >= a2 - slack and b1 <= b2 + slack) or (
                a2 >= a1 - slack and b2 <= b1 + slack
            )
            if aligned and (abs(a1 - a2) > slack or abs(b1 - b2) > slack):
                continue
            if not aligned and not contained and abs(a1 - a2) > slack and abs(b1 - b2) > slack:
                continue
            left, right = min(a1, a2), max(b1, b2)
            margin = max(2, (y2 - y1) // 4)
            inside = np.s_[y1 + 2 : y2 - 1, left:right]
            above = np.s_[max(0, y1 - margin) : y1 - 1, left:right]
            below = np.s_[y2 + 2 : y2 + 2 + margin, left:right]
            if lum[above].size == 0 or lum[below].size == 0:
                continue
            inside_level = lum[inside].mean()
            if mode == DARK and inside_level > min(lum[above].mean(), lum[below].mean()) - contrast:
                continue
            if (
                mode == LIGHT
                and inside_level < max(lum[above].mean(), lum[below].mean()) + contrast
            ):
                continue
            around = min(texture[above].mean(), texture[below].mean())
            rows_median = np.median(texture[inside].mean(axis=1))
            if mode == SMOOTH and (around < 6 or rows_median > 0.3 * around):
                continue
            score = float((b1 - a1) + (b2 - a2))
            if best is None or score > best[0]:
                best = (score, (y1, y2 + 1, left, right))
    return (0, 0, 0, 0) if best is None else best[1]


@pytest.mark.parametrize("seed", range(12))
def test_best_box_agrees_with_the_numpy_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(40, 200)), int(rng.integers(40, 300))
    lum = rng.integers(0, 256, (h, w)).astype(np.float32)
    # a darker, smoother box somewhere, so that some pairs pass the tests
    y0, x0 = int(rng.integers(2, h // 2)), int(rng.integers(0, w // 4))
    lum[y0 : y0 + h // 4, x0 : x0 + w // 2] = rng.integers(0, 40)
    texture = np.zeros_like(lum)
    texture[:, 1:] = np.abs(np.diff(lum, axis=1))

    def rows(n: int) -> list[tuple[int, int, int]]:
        out = []
        for _ in range(n):
            start = int(rng.integers(0, w // 2))
            out.append((int(rng.integers(1, h - 1)), start, int(rng.integers(start + 1, w + 1))))
        return sorted(out)

    tops, bottoms = rows(int(rng.integers(1, 30))), rows(int(rng.integers(1, 30)))
    sums = summed_areas(lum, texture)
    for mode, extra in (
        (DARK, {}),
        (SMOOTH, {}),
        (LIGHT, {}),
        (DARK, {"min_width": 0.06, "contrast": 20.0, "aligned": True}),
        (LIGHT, {"min_width": 0.06, "contrast": 20.0, "aligned": True}),
    ):
        expected = _reference(lum, texture, tops, bottoms, mode, **extra)
        got = best_box(*sums, np.array(tops, np.int64), np.array(bottoms, np.int64), mode, **extra)
        assert tuple(int(v) for v in got) == expected


def test_a_dark_box_between_its_edges_is_found() -> None:
    rng = np.random.default_rng(3)
    lum = rng.integers(100, 200, (120, 160)).astype(np.float32)
    lum[40:70, 20:140] = 20
    texture = np.zeros_like(lum)
    texture[:, 1:] = np.abs(np.diff(lum, axis=1))
    tops, bottoms = [(39, 20, 140), (10, 0, 60)], [(70, 20, 140), (100, 30, 150)]
    expected = _reference(lum, texture, tops, bottoms, DARK)
    assert expected == (39, 71, 20, 140)
    got = best_box(
        *summed_areas(lum, texture), np.array(tops, np.int64), np.array(bottoms, np.int64), DARK
    )
    assert tuple(int(v) for v in got) == expected


def test_a_small_light_box_in_a_corner_is_found() -> None:
    """A light box a tenth of the width, its two edges aligned: found in LIGHT mode only."""
    rng = np.random.default_rng(4)
    lum = rng.integers(60, 140, (120, 200)).astype(np.float32)
    lum[100:115, 175:198] = 240
    texture = np.zeros_like(lum)
    texture[:, 1:] = np.abs(np.diff(lum, axis=1))
    tops, bottoms = [(99, 175, 198), (20, 0, 80)], [(115, 175, 198), (60, 10, 90)]
    sums = summed_areas(lum, texture)
    small = {"min_width": 0.06, "contrast": 20.0, "aligned": True}
    for mode, expected in ((LIGHT, (99, 116, 175, 198)), (DARK, (0, 0, 0, 0))):
        assert _reference(lum, texture, tops, bottoms, mode, **small) == expected
        got = best_box(*sums, np.array(tops, np.int64), np.array(bottoms, np.int64), mode, **small)
        assert tuple(int(v) for v in got) == expected
    # The wide-box rule (edges over a quarter of the width) does not take it.
    got = best_box(*sums, np.array(tops, np.int64), np.array(bottoms, np.int64), LIGHT)
    assert tuple(int(v) for v in got) == (0, 0, 0, 0)


def test_summed_areas_are_exact_sums() -> None:
    rng = np.random.default_rng(1)
    lum = rng.integers(0, 256, (37, 53)).astype(np.float32)
    texture = rng.integers(0, 256, (37, 53)).astype(np.float32)
    lum_sums, texture_sums, texture_rows = summed_areas(lum, texture)
    assert lum_sums[-1, -1] == lum.astype(np.float64).sum()
    assert lum_sums[10, 20] == lum[:10, :20].astype(np.float64).sum()
    assert texture_sums[37, 7] == texture[:, :7].astype(np.float64).sum()
    assert np.array_equal(texture_rows[:, 1:], np.cumsum(texture, axis=1, dtype=np.float64))


def _plain_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Per row: (length, start) of the longest run after closing gaps of a pixel, leftmost."""
    out = []
    for row in mask:
        closed = row.copy()
        closed[1:] |= row[:-1]
        closed[:-1] |= row[1:]
        best, best_start, run = 0, 0, 0
        for x, on in enumerate(closed):
            run = run + 1 if on else 0
            if run > best:
                best, best_start = run, x - run + 1
        out.append((best, best_start))
    return out


@pytest.mark.parametrize(
    ("seed", "shape"), [(5, (60, 97)), (6, (3, 5)), (7, (41, 2)), (8, (33, 300))]
)
def test_the_edge_run_kernel_matches_a_plain_reading_of_its_definition(
    seed: int, shape: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    lum = rng.integers(0, 256, shape).astype(np.float32)
    lum[20:30] = 100.0  # long edges too, not only noise
    lum[25:, 10:70] = 160.0
    gy = np.zeros_like(lum)
    gy[1:-1] = lum[2:] - lum[:-2]
    lengths, starts = edge_runs(lum, 8.0)
    for k, mask in enumerate((gy < -8, gy > 8, np.abs(gy) > 8)):
        assert list(zip(lengths[k].tolist(), starts[k].tolist(), strict=True)) == _plain_runs(mask)


def test_the_ink_step_kernel_matches_a_plain_reading_of_its_definition() -> None:
    rng = np.random.default_rng(6)
    lum = rng.integers(0, 256, (40, 71)).astype(np.float32)
    a, b = lum[:, :-1], lum[:, 1:]
    strong = np.abs(b - a) > 40
    light = (strong & (np.maximum(a, b) >= 200)).sum(axis=1)
    dark = (strong & (np.minimum(a, b) <= 50)).sum(axis=1)
    got = ink_steps(lum, 40.0, 200.0, 50.0)
    assert np.array_equal(got[0], light) and np.array_equal(got[1], dark)


def test_the_plane_reduction_is_pillows_value_for_value() -> None:
    """``reduce_plane`` replaces ``Image.reduce`` on the luma plane (the robust stage's analysis
    copy, the reduced copies hashed for regions): every level sum a full cell can have, for
    factors 2-6, and cells cut at the edges, must give Pillow's byte."""
    from PIL import Image

    from hashsieve.hashing._pdq_kernels import reduce_plane

    for f in range(2, 7):
        n = f * f
        sums = np.arange(255 * n + 1)
        q, r = np.divmod(sums, n)
        cells = q[:, None] + (np.arange(n)[None, :] < r[:, None])
        strip = cells.reshape(-1, f, f).transpose(1, 0, 2).reshape(f, -1).astype(np.uint8)
        assert np.array_equal(reduce_plane(strip, f), np.asarray(Image.fromarray(strip).reduce(f)))
    rng = np.random.default_rng(5)
    for _ in range(40):
        f = int(rng.integers(2, 30))
        plane = rng.integers(0, 256, tuple(rng.integers(1, 120, 2)), dtype=np.uint8)
        want = np.asarray(Image.fromarray(plane).reduce(f))
        assert np.array_equal(reduce_plane(plane, f), want)
    # Factors whose column sums outgrow 16 bits (257 rows of 255 is the most that fits).
    plane = np.full((700, 530), 255, dtype=np.uint8)
    plane[::3] = rng.integers(0, 256, plane[::3].shape, dtype=np.uint8)
    for f in (257, 258, 300):
        assert np.array_equal(reduce_plane(plane, f), np.asarray(Image.fromarray(plane).reduce(f)))
