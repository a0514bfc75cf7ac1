"""Benign sample media made on the spot: photo-like pictures, never real photographs of people.

The demo and the tests use these to play the role of "known" and "new" material.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo_like(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A deterministic, textured, photo-like RGB picture (smooth fields, shapes, grain)."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    pixels = np.zeros((h, w, 3), np.float32)
    for _ in range(5):
        fx, fy = rng.uniform(0.5, 6, 2) * 2 * np.pi / np.array([w, h])
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(x * fx + y * fy + phase)
        pixels += wave[..., None] * rng.uniform(10, 45, 3)
    pixels += rng.uniform(60, 190, 3)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x1, y1 = x0 + rng.uniform(w / 20, w / 3), y0 + rng.uniform(h / 20, h / 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(w, h) / 400))
    grain = rng.normal(0, 4, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(image) + grain, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    if exif is not None:
        image.save(out, "JPEG", quality=quality, exif=exif)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def camera_exif(
    make: str,
    model: str,
    serial: str,
    when: str,
    lat: float | None = None,
    lon: float | None = None,
) -> Image.Exif:
    """EXIF as a camera writes it: make, model, body serial, original time, GPS."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = serial
    sub[0x9003] = when
    if lat is not None and lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[1] = "N" if lat >= 0 else "S"
        gps[2] = _dms(abs(lat))
        gps[3] = "E" if lon >= 0 else "W"
        gps[4] = _dms(abs(lon))
    return exif


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 4)
    return (float(d), float(m), s)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
