"""An offline world map: Natural Earth 1:110m outlines in an equirectangular SVG projection.

``data/world-110m.path`` is SVG path data (x = longitude + 180, y = 90 - latitude, 0.1 degree
steps) made from Natural Earth's public-domain 1:110m countries (the ``naturalearth_lowres``
data set shipped in geopandas 0.14) by dropping vertices closer than about 0.35 degrees.
No tiles or requests leave the machine.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

WORLD_PATH = Path(__file__).parent / "data" / "world-110m.path"


@functools.cache
def world_path() -> str:
    return WORLD_PATH.read_text(encoding="ascii").strip()


def project(lat: float, lon: float) -> tuple[float, float]:
    """Equirectangular: degrees to the map's x (0-360) and y (0-180)."""
    return round(lon + 180.0, 4), round(90.0 - lat, 4)


def map_view(points: list[dict[str, Any]], highlight: int | None = None) -> dict[str, Any]:
    """Projected points and two view boxes: the whole world and the region of the points."""
    projected = []
    for p in points:
        x, y = project(p["lat"], p["lon"])
        projected.append({**p, "x": x, "y": y, "highlight": p.get("file_id") == highlight})
    region = "0 0 360 180"
    if projected:
        xs, ys = [p["x"] for p in projected], [p["y"] for p in projected]
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        w = max(max(xs) - min(xs) + 10, 30.0)
        h = max(max(ys) - min(ys) + 5, w / 2)
        w = max(w, h * 2)
        x0 = min(max(cx - w / 2, 0), 360 - w)
        y0 = min(max(cy - h / 2, 0), 180 - h)
        region = f"{x0:.2f} {y0:.2f} {w:.2f} {h:.2f}"
    return {"world": "0 0 360 180", "region": region, "points": projected}
