"""Metadata that identifies victims and places: camera, serial number, time, GPS.

Read from the EXIF block Pillow has already parsed while opening the image, so it costs no
second read of the file.
"""

from __future__ import annotations

from typing import Any

from PIL import ExifTags, Image

_IFD0 = {"Make": 0x010F, "Model": 0x0110, "Software": 0x0131, "DateTime": 0x0132}
_EXIF = {
    "DateTimeOriginal": 0x9003,
    "BodySerialNumber": 0xA431,
    "CameraOwnerName": 0xA430,
    "LensModel": 0xA434,
    "LensSerialNumber": 0xA435,
}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).strip("\x00 ").strip()
    return text or None


def _degrees(dms: Any, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if _text(ref) in ("S", "W") else value


def exif_metadata(exif: Image.Exif | None) -> dict[str, Any]:
    """Camera, serial, lens, software, times and GPS position from EXIF; empty when absent."""
    if not exif:
        return {}
    out: dict[str, Any] = {}
    for key, tag in _IFD0.items():
        if (value := _text(exif.get(tag))) is not None:
            out[key] = value
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        sub = {}
    for key, tag in _EXIF.items():
        if (value := _text(sub.get(tag))) is not None:
            out[key] = value
    if (orientation := exif.get(0x0112)) is not None:
        out["Orientation"] = int(orientation) if isinstance(orientation, int) else orientation
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        gps = {}
    if gps:
        lat = _degrees(gps.get(2), gps.get(1))
        lon = _degrees(gps.get(4), gps.get(3))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            out["GPSLatitude"] = round(lat, 7)
            out["GPSLongitude"] = round(lon, 7)
    return out
