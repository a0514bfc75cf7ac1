"""Opening images for hashing: refuse hostile files by their header, decode what PDQ needs.

The decode rule is part of the hash definition (see docs/hash-definition.md):

- EXIF orientation is NOT applied (as the C++ reference, python-threatexchange and HMA do); dihedral
  matching catches EXIF-rotated copies instead.
- Every image is decoded at full size: PDQ's box filter must see every pixel. The old fast path
  (libjpeg's DCT scaling to 1/2-1/8) moved the hash of finely textured photographs by up to 46 bits
  from the field's (bench/fidelity), so it is gone.
- Luma path (``fast=True``, the default everywhere): a colour JPEG is decoded straight to its Y
  channel (``Image.draft("L", size)``), skipping chroma IDCT, upsampling and colour conversion.
  JFIF's Y is 0.299R + 0.587G + 0.114B, PDQ's luma, so only rounding and clamping differ: at most
  4 bits from ``pdqhash`` on the RGB decode over the fidelity corpus (docs/hash-definition.md),
  at less than half the decode time. The image is then mode ``"L"``; PDQ reads L as R = G = B.
- A near-flat JPEG (estimated PDQ quality under :data:`FLAT_QUALITY`) is decoded to RGB after all:
  when every DCT coefficient is tiny, Y's single rounding flips bits that the RGB decode's
  rounding does not (38 bits from the C++ reference on a conformance image of quality 3). Such a
  hash matches nothing, but it is still exported, so it is the field's.
- Anything else becomes RGB by ``Image.convert("RGB")``, as python-threatexchange does.
  ``fast=False`` decodes every file to RGB, as python-threatexchange does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from hashsieve.hashing.formats import (
    DecoderWarnings,
    Refused,
    libtiff_reason,
    mime_of,
    open_heif,
    why_refused,
)

try:  # HEIC/HEIF/AVIF support is optional at import time but installed by default.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

#: Formats decoded through libjpeg, which can output the Y channel alone.
_LUMA_FORMATS = frozenset({"JPEG", "MPO"})

#: Below this estimated PDQ quality the luma path gives way to the RGB decode (see above). On 408
#: pictures (conformance, nebulae, wallpapers) every one of true quality under 10 scored under 12,
#: and 1.6 % of those of quality 50 or more scored under 50 (decoded twice: slower, never wrong).
FLAT_QUALITY = 50

# Our own pixel limit is checked from the header below; open_image also sets Pillow's to it for
# the frames a container holds behind its own header (an icon's BMP claiming 65535x65535).
Image.MAX_IMAGE_PIXELS = None


class UnreadableImage(Exception):
    """An image that cannot be decoded; ``reason`` is a short, stable code for reports."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        #: What the decoders said before giving up (see :class:`DecoderWarnings`).
        self.warnings: list[str] = []


@dataclass(slots=True)
class OpenedImage:
    image: Image.Image  # decoded pixels: RGB, or L (a JPEG's Y channel) on the luma path
    width: int  # as stored in the file
    height: int
    format: str  # Pillow's format name
    exif: Image.Exif | None
    #: Always 1 (full size); stored with each hash since the DCT-scaled rule (2, 4, 8) was used.
    scale: int = 1
    #: What the decoders said while opening it (short, deduplicated, capped): for the file's row.
    warnings: list[str] = field(default_factory=list)
    #: The luma plane as an array (the luma path's pixels), decoded straight into it (copying a
    #: Pillow image out to numpy costs about 1.5 ms per 2.6 MP); the quality estimate, PDQ and
    #: the robust stage share it.
    luma: np.ndarray | None = None


#: Headers of the files decoded by libtiff, whose warnings go to descriptor 2 from C.
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def open_image(data: bytes, *, max_pixels: int, fast: bool = True) -> OpenedImage:
    """Decode ``data`` (the whole file) to the pixels PDQ reads: RGB, or a colour JPEG's luma.

    Raises :class:`UnreadableImage` for content that is not an image (``"not-an-image"``), is
    truncated (``"truncated"``) or otherwise broken (``"corrupt"``), or claims more than
    ``max_pixels`` pixels (``"decompression-bomb"``, decided from the header before any pixel memory
    is spent), or that no decoder here reads (``"unsupported"``: a 12-bit JPEG, a HEIF coding
    without a decoder). ``fast`` decodes a colour JPEG to its luma only (mode ``"L"``, full size).
    Decoder warnings go into the result's (or the exception's) ``warnings``, not the terminal.
    """
    # Pillow refuses (DecompressionBombError) over twice this: the same limit as ours.
    Image.MAX_IMAGE_PIXELS = (max_pixels + 1) // 2
    caught = DecoderWarnings(stderr=data[:4] in _TIFF_MAGIC)
    try:
        with caught:
            opened = _open_image(data, max_pixels=max_pixels, fast=fast)
    except UnreadableImage as exc:
        better = libtiff_reason(exc.detail, caught.messages)
        if better is not None:
            exc = UnreadableImage(better.reason, better.detail)
        exc.warnings = caught.messages
        raise exc from None
    opened.warnings = caught.messages
    return opened


def _open_image(data: bytes, *, max_pixels: int, fast: bool) -> OpenedImage:
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        image = _not_identified(data, max_pixels)
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("decompression-bomb", str(exc)) from None
    except (OSError, ValueError, SyntaxError, RuntimeError, EOFError) as exc:
        # A PNG text chunk that inflates past Pillow's cap is a bomb too, not damage.
        bomb = "Decompressed data too large" in str(exc)
        raise UnreadableImage("decompression-bomb" if bomb else "corrupt", str(exc)) from None
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
    luma = fast and fmt in _LUMA_FORMATS and image.mode == "RGB"
    if luma:
        # Pillow switches a YCbCr-coded JPEG to libjpeg's grayscale output at full size (a
        # CMYK JPEG keeps its mode and is converted below).
        image.draft("L", (width, height))
    plane: np.ndarray | None = None
    try:
        if luma and image.mode == "L" and image.size == (width, height):
            plane = _load_into_array(image)
        else:
            image.load()
        keep = image.mode == "RGB" or (fast and image.mode == "L")
        pixels = image if keep else image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("decompression-bomb", str(exc)) from None
    except (OSError, ValueError, SyntaxError, RuntimeError, EOFError) as exc:
        # RuntimeError: Pillow's AVIF plugin on a damaged frame; EOFError: pillow-heif's
        # "Decoder plugin generated an error" (both found by fuzz/content.py).
        message = str(exc)
        # Pillow says "image file is truncated" when the data ends early; a decoder error
        # ("broken data stream ...") is damage inside the file.
        reason = "truncated" if "truncated" in message.lower() else "corrupt"
        raise UnreadableImage(reason, message) from None
    except MemoryError:
        raise UnreadableImage("decompression-bomb", "out of memory while decoding") from None
    if luma and pixels.size != (width, height):  # the rule is full size: a draft never shrinks
        raise UnreadableImage("corrupt", f"decoded {pixels.size} of {width}x{height}")
    if luma and plane is None:
        plane = np.asarray(pixels)
    if plane is not None and estimated_quality(plane) < FLAT_QUALITY:
        return _open_image(data, max_pixels=max_pixels, fast=False)
    return OpenedImage(pixels, width, height, fmt, exif, luma=plane)


def _load_into_array(image: Image.Image) -> np.ndarray | None:
    """Decode an ``L`` image straight into a numpy array (read-only once decoded) that the image
    then shares, instead of copying it out afterwards (``np.asarray`` goes through ``tobytes``:
    about 1.5 ms per 2.6 MP, a twentieth of a photo's hashing). The decoder writes into the image
    memory it finds prepared, here Pillow's own view of the array (``Image.frombuffer``, zeroed
    as Pillow's own memory is). Where Pillow does not share the array or replaces the memory, the
    image is decoded as usual and None returned (the caller copies)."""
    width, height = image.size
    plane = np.zeros((height, width), dtype=np.uint8)
    view = Image.frombuffer("L", (width, height), plane, "raw", "L", 0, 1)
    if not view.readonly:  # a copy, not the array's memory: decode as usual
        image.load()
        return None
    core = view.im
    image.im = core
    image.load()
    if image.im is not core:  # Pillow decoded into memory of its own
        return None
    image.readonly = 1  # Pillow copies before any change: the array stays the decode
    plane.flags.writeable = False
    return plane


def _not_identified(data: bytes, max_pixels: int) -> Image.Image:
    """A HEIF that Pillow's openers refused, decoded by pillow-heif or PyAV; else the reason."""
    try:
        if mime_of(data) in ("image/heif", "image/avif"):
            image = open_heif(data, max_pixels)
            image.format = "HEIF"
            return image
        raise why_refused(data)
    except Refused as exc:
        raise UnreadableImage(exc.reason, exc.detail) from None


def estimated_quality(luma: np.ndarray) -> int:
    """PDQ's quality (gradient sum of the 64x64 buffer / 90, at most 100), estimated cheaply: box
    means of a strided sample of at most about 256x256 pixels stand in for PDQ's filtered buffer
    (``_pdq_kernels.estimated_quality``: compiled, the same float32 steps as numpy's)."""
    from hashsieve.hashing._pdq_kernels import estimated_quality as kernel

    h, w = luma.shape
    if h < 64 or w < 64:
        return 0
    return int(kernel(luma, max(1, h // 256), max(1, w // 256)))
