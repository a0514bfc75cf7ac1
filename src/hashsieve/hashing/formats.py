"""Pictures Pillow alone does not open, and precise reasons for those nobody decodes.

The rule (issue #18): whatever Pillow, pillow-heif or PyAV decodes is media; what none of them
decodes gets a precise reason ("unsupported: 12-bit JPEG", "unsupported: HEIF with VVC
coding"), never "not an image" for content the sniffer recognised.

- :func:`why_refused` asks the one Pillow plugin that the sniffed type names for its own error:
  ``Image.open`` tries every plugin and says only "cannot identify image file".
- :func:`open_heif` reads a HEIF that Pillow's registered openers refused (a low-overhead 'mini'
  HEIF, a coding without a decoder) with pillow-heif, and a JPEG-coded HEIF with PyAV (FFmpeg
  reads HEIF items; pillow-heif is built with an HEVC decoder only).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import warnings
from typing import IO

from PIL import Image

from hashsieve.hashing.media import sniff

#: Pillow's format name for each picture type the sniffer recognises.
PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/x-icon": "ICO",
    "image/jp2": "JPEG2000",
    "image/j2c": "JPEG2000",
    "image/qoi": "QOI",
    "image/vnd.adobe.photoshop": "PSD",
    "image/vnd.ms-dds": "DDS",
    "image/x-blp": "BLP",
    "image/icns": "ICNS",
}

#: HEIF item types that carry coded pixels, and the coding's name in reasons.
_HEIF_CODINGS = {
    b"hvc1": "HEVC",
    b"av01": "AV1",
    b"avc1": "AVC",
    b"vvc1": "VVC",
    b"j2k1": "JPEG 2000",
    b"jpeg": "JPEG",
    b"unci": "uncompressed",
}
_NOT_BUILT = re.compile(r"has not been built in: ([\w ]+?) \(")
_DEEP_JPEG = re.compile(r"cannot handle (\d+)-bit layers")


class Refused(Exception):
    """A picture no decoder here reads; ``reason`` is the report's code, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def mime_of(data: bytes) -> str:
    return sniff(data[:512])[1]


def why_refused(data: bytes) -> Refused:
    """Why ``Image.open`` identified no format in ``data``, from the plugin its type names."""
    mime = mime_of(data)
    fmt = PILLOW_FORMATS.get(mime)
    if fmt is None:
        return Refused("not-an-image", "no image format recognised")
    Image.init()
    if fmt not in Image.OPEN:
        return Refused("unsupported", f"{fmt}: this Pillow has no decoder for it")
    factory = Image.OPEN[fmt][0]
    try:
        factory(io.BytesIO(data), "").close()
    except Exception as exc:  # each plugin raises its own kinds: all are this file's reason
        message = str(exc) or type(exc).__name__
    else:  # the plugin reads it alone; Pillow's quick check of the first bytes refused it
        return Refused("corrupt", f"{fmt}: header refused by Pillow's first check")
    deep = _DEEP_JPEG.search(message)
    if fmt == "JPEG" and deep:
        # libjpeg-turbo in Pillow is built for 8-bit samples only; no decoder here reads 12-bit.
        return Refused("unsupported", f"{deep.group(1)}-bit JPEG")
    if message == "not identified by this driver":
        message = "header refused (a zero or impossible size, a wrong signature)"
    return Refused("corrupt", f"{fmt}: {message}")


def heif_codings(data: bytes) -> list[str]:
    """The codings of a HEIF's image items, read from its ``infe`` boxes (first 64 KB)."""
    found: list[str] = []
    head = data[: 64 * 1024]
    at = head.find(b"infe")
    while at >= 4:
        version = head[at + 4] if at + 4 < len(head) else 0
        start = at + 8 + (2 if version == 2 else 4) + 2  # item_ID, protection index
        coding = _HEIF_CODINGS.get(head[start : start + 4]) if version >= 2 else None
        if coding and coding not in found:
            found.append(coding)
        at = head.find(b"infe", at + 4)
    return found


def open_heif(data: bytes, max_pixels: int) -> Image.Image:
    """Decode a HEIF that Pillow's openers refused; :class:`Refused` says why when none can."""
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
    except IndexError:  # pillow-heif lists no image it can describe (an uncompressed item)
        codings = heif_codings(data)
        if codings:
            return _refuse_coding(data, codings[0], max_pixels)
        raise Refused("corrupt", "HEIF: no image item found") from None
    except Exception as exc:  # libheif's own message names the broken box or feature
        raise Refused("corrupt", f"HEIF: {exc}") from None
    _check_size(width, height, max_pixels)
    try:
        return heif.to_pillow()
    except RuntimeError as exc:
        coding = _NOT_BUILT.search(str(exc))
        if coding is None:
            raise Refused("corrupt", f"HEIF: {exc}") from None
        return _refuse_coding(data, coding.group(1), max_pixels)
    except Exception as exc:
        raise Refused("corrupt", f"HEIF: {exc}") from None


def _refuse_coding(data: bytes, coding: str, max_pixels: int) -> Image.Image:
    if coding == "JPEG":
        return _decode_with_av(data, max_pixels)
    raise Refused("unsupported", f"HEIF with {coding} coding")


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise Refused("corrupt", f"dimensions {width}x{height}")
    if width * height > max_pixels:
        raise Refused(
            "decompression-bomb", f"{width}x{height} exceeds the {max_pixels:,}-pixel limit"
        )


def _decode_with_av(data: bytes, max_pixels: int) -> Image.Image:
    """The first picture FFmpeg finds in a HEIF (its primary JPEG item), size checked first."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise Refused("unsupported", "HEIF with JPEG coding: FFmpeg lists no picture")
            stream = container.streams.video[0]
            _check_size(stream.codec_context.width, stream.codec_context.height, max_pixels)
            for frame in container.decode(stream):
                return frame.to_image()
    except Refused:
        raise
    except Exception as exc:  # FFmpeg's error for this file
        raise Refused("corrupt", f"HEIF (JPEG coding): {exc}") from None
    raise Refused("corrupt", "HEIF (JPEG coding): no picture decoded")


#: At most this many distinct decoder warnings are kept per file, each cut to WARNING_CHARS.
MAX_WARNINGS = 5
WARNING_CHARS = 160


class DecoderWarnings:
    """Collects what decoders say while a picture is opened, for the file's row instead of the
    terminal: Python warnings (Pillow's "Tag data larger than file", "Corrupt EXIF data") and,
    with ``stderr``, what C code writes to file descriptor 2 (libtiff's warning handler prints
    there, out of Python's reach). The descriptor is process-wide: a worker decodes one file at a
    time, so only its own decoder writes there meanwhile. ``messages`` is filled on exit:
    deduplicated, at most :data:`MAX_WARNINGS`, the last one counting those left out."""

    def __init__(self, *, stderr: bool = False) -> None:
        self.messages: list[str] = []
        self._stderr = stderr
        self._catch = warnings.catch_warnings(record=True)
        self._records: list[warnings.WarningMessage] = []
        self._saved: int | None = None
        self._file: IO[bytes] | None = None

    def __enter__(self) -> DecoderWarnings:
        records = self._catch.__enter__()  # the list it appends to (empty: falsy, kept)
        self._records = records if records is not None else []
        warnings.simplefilter("always")
        # open_image applies the pixel limit itself; Pillow's half-way warning is not news.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if self._stderr:
            try:
                sys.stderr.flush()
                self._file = tempfile.TemporaryFile()
                self._saved = os.dup(2)
                os.dup2(self._file.fileno(), 2)
            except (OSError, ValueError):  # no descriptor 2 (a daemon): nothing to capture
                self._saved = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        text = ""
        if self._saved is not None and self._file is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._file.seek(0)
            text = self._file.read(16 * 1024).decode("utf-8", "replace")
        if self._file is not None:
            self._file.close()
        self._catch.__exit__(None, None, None)
        lines = [str(w.message) for w in self._records] + text.splitlines()
        unique = list(dict.fromkeys(line.strip()[:WARNING_CHARS] for line in lines if line.strip()))
        self.messages = unique[:MAX_WARNINGS]
        if len(unique) > MAX_WARNINGS:
            self.messages[-1] = f"... and {len(unique) - MAX_WARNINGS + 1} more"


_NOT_CONFIGURED = re.compile(r"(\w+) compression support is not configured")


def libtiff_reason(detail: str, said: list[str]) -> Refused | None:
    """A better reason than Pillow's bare "decoder error -2" from what libtiff said meanwhile: a
    compression this libtiff was built without is unsupported, not damage."""
    if not detail.startswith("decoder error") or not said:
        return None
    for line in said:
        missing = _NOT_CONFIGURED.search(line)
        if missing:
            return Refused("unsupported", f"TIFF with {missing.group(1)} compression")
    # The last complaint is usually the one that stopped the decode (a read past the end).
    last = [line for line in said if not line.startswith("... and ")][-1]
    return Refused("corrupt", f"{detail} ({last})")
