"""Boxes of the robust stage's candidate regions, and their move to the full-size picture.

The candidate finders (candidates, framed, stickers, ui_picture) work on a reduced copy of the
picture and hand back boxes of the full-size one.
"""

from __future__ import annotations

Box = tuple[int, int, int, int]  # top, bottom, left, right (rows and columns, end exclusive)


def scale_box(box: Box, factor: int, shape: tuple[int, ...]) -> Box:
    """``box`` of the analysis copy (``factor`` times smaller) on the full-size ``shape``."""
    t, b, l, r = box  # noqa: E741
    return (t * factor, min(b * factor, shape[0]), l * factor, min(r * factor, shape[1]))
