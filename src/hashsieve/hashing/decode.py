"""Opening images for hashing: refuse hostile files by their header, decode what PDQ needs.

The decode rule is part of the hash definition (see docs/hash-definition.md):

- EXIF orientation is NOT applied (as the C++ reference, python-threatexchange and HMA do); dihedral
  matching catches EXIF-rotated copies instead.
- Any Pillow mode becomes RGB by ``Image.convert("RGB")``, as python-threatexchange does.
- Fast path (``fast=True``, the scanner's default): a JPEG is decoded by libjpeg's DCT scaling at
  1/2, 1/4 or 1/8 size, the largest factor that keeps its shorter side at least
  :data:`FAST_MIN_SIDE` pixels (:func:`draft_scale`). Other formats are decoded at full size.
  ``fast=False`` decodes every file at full size, as python-threatexchange does.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

try:  # HEIC/HEIF/AVIF support is optional at import time but installed by default.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

#: The fast path keeps a JPEG's shorter side at least this long (see docs/hash-definition.md).
FAST_MIN_SIDE = 256
#: Formats decoded through libjpeg, whose DCT scaling the fast path uses.
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})

# Our own pixel limit is checked from the header below; Pillow's warning-level check is redundant.
Image.MAX_IMAGE_PIXELS = None


class UnreadableImage(Exception):
    """An image that cannot be decoded; ``reason`` is a short, stable code for reports."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class OpenedImage:
    image: Image.Image  # decoded pixels, RGB
    width: int  # as stored in the file
    height: int
    format: str  # Pillow's format name
    exif: Image.Exif | None
    scale: int = 1  # the decoded pixels are 1/scale of the stored size (the fast path's JPEG draft)


def draft_scale(width: int, height: int, min_side: int = FAST_MIN_SIDE) -> int:
    """The fast path's JPEG reduction: the largest of 8, 4, 2 that keeps the shorter side at least
    ``min_side`` pixels, else 1."""
    short = min(width, height)
    for scale in (8, 4, 2):
        if short // scale >= min_side:
            return scale
    return 1


def open_image(
    data: bytes, *, max_pixels: int, fast: bool = True, min_side: int = FAST_MIN_SIDE
) -> OpenedImage:
    """Decode ``data`` (the whole file) to RGB pixels for hashing.

    Raises :class:`UnreadableImage` for content that is not an image (``"not-an-image"``), is
    truncated (``"truncated"``) or otherwise broken (``"corrupt"``), or claims more than
    ``max_pixels`` pixels (``"decompression-bomb"``, decided from the header before any pixel memory
    is spent). ``fast`` decodes a JPEG at reduced size (:func:`draft_scale` with ``min_side``).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnreadableImage("not-an-image", "no image format recognised") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableImage("corrupt", str(exc)) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise UnreadableImage("corrupt", f"dimensions {width}x{height}")
    if width * height > max_pixels:
        raise UnreadableImage(
            "decompression-bomb", f"{width}x{height} exceeds the {max_pixels:,}-pixel limit"
        )
    fmt = image.format or "unknown"
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block must not cost the image its hash
        exif = None
    scale = 1
    if fast and fmt in _DRAFT_FORMATS:
        scale = draft_scale(width, height, min_side)
        if scale > 1:
            # Asking for (w // s, h // s) makes Pillow pick exactly s (it takes the largest of
            # 8/4/2/1 not above min(w // req_w, h // req_h)); the result is ceil(w / s) wide.
            image.draft("RGB", (width // scale, height // scale))
            scale = round(width / image.size[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
            rgb = image if image.mode == "RGB" else image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        message = str(exc)
        # Pillow says "image file is truncated" when the data ends early; a decoder error
        # ("broken data stream ...") is damage inside the file.
        reason = "truncated" if "truncated" in message else "corrupt"
        raise UnreadableImage(reason, message) from None
    except MemoryError:
        raise UnreadableImage("decompression-bomb", "out of memory while decoding") from None
    return OpenedImage(rgb, width, height, fmt, exif, scale)
