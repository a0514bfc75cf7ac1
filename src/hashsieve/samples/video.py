"""Benign sample videos made on the spot from :func:`hashsieve.samples.images.photo_like` pictures.

A clip is a sequence of scenes; each scene shows one picture for a number of seconds with a slow
pan (so consecutive frames differ as in real footage). Encoded with PyAV (libx264 in its
bundled FFmpeg); no system FFmpeg needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hashsieve.samples.images import photo_like

#: A scene: (picture, seconds on screen), panned; or (picture, seconds, False): shown whole, still.
Scene = tuple[Image.Image, float] | tuple[Image.Image, float, bool]


def _frames(
    picture: Image.Image, count: int, size: tuple[int, int], pan: bool = True
) -> list[np.ndarray]:
    """``count`` frames of a gentle pan over ``picture`` (90 % of it, moving), or of the whole
    picture, still."""
    width, height = size
    if not pan:
        return [np.asarray(picture.convert("RGB").resize(size))] * count
    base = picture.convert("RGB").resize((int(width / 0.9), int(height / 0.9)))
    spare_x, spare_y = base.width - width, base.height - height
    out = []
    for i in range(count):
        t = i / max(1, count - 1)
        x, y = round(spare_x * t), round(spare_y * (1 - t) / 2)
        out.append(np.asarray(base.crop((x, y, x + width, y + height))))
    return out


def write_clip(
    path: Path,
    scenes: Sequence[Scene],
    *,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    container: str | None = None,
    codec: str = "libx264",
    gop: int | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode ``scenes`` into a video file (format from the extension unless ``container``)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        if gop is not None:
            stream.codec_context.gop_size = gop
        for picture, seconds, *rest in scenes:
            for rgb in _frames(picture, max(1, round(seconds * fps)), size, *rest):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def sample_scenes(seeds: Sequence[int], seconds: float = 2.0) -> list[Scene]:
    """One scene per seed, each a different photo-like picture."""
    return [(photo_like(seed, (480, 360)), seconds) for seed in seeds]
