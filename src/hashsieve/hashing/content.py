"""One way to hash content: a file, an archive member, an HTTP body or a frame become one
:class:`FileResult` by the same steps (digests, what the bytes are, PDQ with its dihedral variants
and candidate regions, a video's or an animation's frame hashes, EXIF metadata).

The scan's workers, archive members, the endpoint agent, the ICAP service, the stream monitor and
the ``media`` hash-set format all call :func:`hash_content` (or :func:`hash_picture` for pixels
already decoded), so no path hashes differently. Every failure becomes the result's ``error``
(``"<reason>: <detail>"``); nothing here raises for bad input.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from hashsieve.hashing.candidates import candidate_hashes
from hashsieve.hashing.crypto import CryptoHashes, hash_bytes, hash_stream
from hashsieve.hashing.decode import UnreadableImage, open_image
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.hashing.metadata import exif_metadata
from hashsieve.hashing.pdq import ImageLike, pdq_with_dihedral, rgb_array
from hashsieve.hashing.video import (
    FrameHash,
    FrameRegions,
    UnreadableVideo,
    VideoOptions,
    hash_video,
)
from hashsieve.sources.readonly import opener

#: Content up to this size is read into memory in one go (digests and decode share the bytes);
#: larger content is hashed in blocks and decoded (a video) from a second read.
WHOLE_READ_LIMIT = 256 * 1024 * 1024

#: What :func:`hash_content` takes: the bytes, or a function that opens them as a stream.
Source = bytes | Callable[[], BinaryIO]


@dataclass(slots=True)
class HashOptions:
    max_image_pixels: int
    fast_decode: bool = True
    #: Robust matching (hashsieve.hashing.candidates): hash candidate regions of each image too.
    robust: bool = True
    #: Also hash the upper part of the image and of its frame regions, to match the reference
    #: parts of known originals (hashsieve.hashing.reference); set when the store holds any.
    parts: bool = False
    video: VideoOptions = field(default_factory=VideoOptions)
    #: Decode videos for frame hashes (a sensor may keep to digests and pictures).
    decode_video: bool = True


@dataclass(slots=True)
class FileResult:
    path: str
    size: int | None = None
    mtime_ns: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    media_kind: str = MediaKind.OTHER.value
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    pdq: str | None = None
    quality: int | None = None
    #: 1 = decoded at full size; 2, 4, 8 = JPEG DCT-scaled decode (docs/hash-definition.md).
    decode_scale: int | None = None
    #: The 8 dihedral PDQ codes concatenated (8 x 32 bytes), for matching.
    dihedral: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Why the file could not be fully read: "<reason>: <detail>".
    error: str | None = None
    #: A video's sampled frame hashes (vPDQ); duration and codec go in ``metadata``.
    frames: list[FrameHash] | None = None
    #: Candidate regions of an image (robust matching): (name, quality, 8 x 32 dihedral bytes).
    candidates: list[tuple[str, int, bytes]] = field(default_factory=list)
    #: How the content was found when not as a file: "deleted" (a file system's unallocated
    #: entry), "carved", "thumbnail", "embedded".
    recovered: str | None = None
    #: Where recovered content starts in its container (bytes), when that is known.
    offset: int | None = None

    def identity(self) -> dict[str, Any]:
        """What identifies the file: the fields every JSON form of a result starts with."""
        return {
            "path": self.path,
            "size": self.size,
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "media_type": self.mime,
            "pdq": self.pdq,
            "quality": self.quality,
            "decode_scale": self.decode_scale,
            "error": self.error,
        }


def hash_content(source: Source, options: HashOptions, *, path: str = "") -> FileResult:
    """Digests of the content and, for media, its perceptual hashes and metadata.

    ``source`` is the bytes themselves or an opener (a file's: :func:`hash_file`); an opened
    stream that is a file also gives the result its size and modification time.
    """
    result = FileResult(path=path)
    if isinstance(source, bytes):
        result.size = len(source)
        _fill(result, hash_bytes(source), source[:512], source, options, None)
        return result
    try:
        stream = source()
    except OSError as exc:
        reason = "permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unreadable"
        result.error = f"{reason}: {exc.strerror or exc}"
        return result
    try:
        with stream:
            try:
                st = os.fstat(stream.fileno())
                result.size, result.mtime_ns = st.st_size, st.st_mtime_ns
                if stat.S_ISBLK(st.st_mode):  # a device's fstat says 0: its size is its end
                    result.size = os.lseek(stream.fileno(), 0, os.SEEK_END)
                    os.lseek(stream.fileno(), 0, os.SEEK_SET)
            except (OSError, AttributeError, io.UnsupportedOperation):
                pass  # not a file: the size comes from the read
            digests, size, data, head = hash_stream(
                stream, keep_up_to=WHOLE_READ_LIMIT, size_hint=result.size
            )
    except OSError as exc:
        result.error = f"read-error: {exc.strerror or exc}"
        return result
    if result.size and size != result.size and result.mtime_ns is not None:
        # A file of the evidence cut short (or grown) while it was read: its digests are of
        # neither version. Recorded with its old size, so the next run hashes it again.
        result.error = (
            f"changed-while-read: read {size:,} bytes of the {result.size:,} it had when opened"
        )
        return result
    result.size = size if result.size is None else result.size
    _fill(result, digests, head, data, options, source)
    return result


def hash_file(path: str, options: HashOptions) -> FileResult:
    """A file of the evidence, opened read-only (never following a link), hashed once."""
    return hash_content(opener(path), options, path=path)


def hash_digests(data: bytes, path: str = "") -> FileResult:
    """MD5, SHA-1 and SHA-256 of ``data`` and its kind by its first bytes: no decoding (a sensor's
    answer when decoding failed or would take too long)."""
    result = FileResult(path=path, size=len(data))
    digests = hash_bytes(data)
    result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
    kind, mime = sniff(data[:512])
    result.media_kind, result.mime = kind.value, mime
    return result


def _fill(
    result: FileResult,
    digests: CryptoHashes,
    head: bytes,
    data: bytes,
    options: HashOptions,
    reopen: Callable[[], IO[bytes]] | None,
) -> None:
    """What the bytes are and, for media, their perceptual hashes (``data`` is empty for content
    over :data:`WHOLE_READ_LIMIT`, which only a video decodes again, through ``reopen``)."""
    result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
    kind, mime = sniff(head)
    result.media_kind, result.mime = kind.value, mime
    if kind is MediaKind.IMAGE:
        _hash_image(result, data, options)
        if mime in _ANIMATED and result.error is None and _is_animated(data):
            _hash_animation(result, data, options)
    elif kind is MediaKind.VIDEO and options.decode_video:
        source = data or reopen
        if source:
            hash_video_into(
                result, source, options.video, robust=options.robust, parts=options.parts
            )
        else:
            result.error = "too-large: video over the in-memory limit and no way to read it again"


#: Image formats that may hold an animation, which is also hashed frame by frame like a video.
_ANIMATED = {"image/gif", "image/webp", "image/png"}


def _is_animated(data: bytes) -> bool:
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():  # open_image already kept this file's warnings
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return bool(getattr(image, "is_animated", False))
    except Exception:
        return False


def _hash_animation(result: FileResult, data: bytes, options: HashOptions) -> None:
    """Frame hashes of an animated GIF/WebP/APNG, sampled in time like a video's.

    Pillow decodes every one of these formats (FFmpeg does not decode animated WebP), and the
    frame size is already bounded by the header check of the first frame. With ``robust`` each
    hashed frame carries its candidate regions, as a video's.
    """
    import io

    import numpy as np
    from PIL import Image, ImageSequence

    video = options.video
    regions = FrameRegions(parts=options.parts) if options.robust else None
    frames: list[FrameHash] = []
    next_at, seconds = 0.0, 0.0
    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as image:
            warnings.simplefilter("ignore")  # the first frame's were kept by open_image
            for number, frame in enumerate(ImageSequence.Iterator(image)):
                if len(frames) >= video.max_hashed_frames:
                    break
                if seconds >= next_at:
                    rgb = np.asarray(frame.convert("RGB"))
                    pdq, _ = pdq_with_dihedral(rgb)
                    candidates = regions(rgb) if regions is not None else ()
                    frames.append(
                        FrameHash(number, pdq.quality, pdq.code, round(seconds, 3), candidates)
                    )
                    next_at = seconds + video.seconds_per_hash
                seconds += (frame.info.get("duration") or 100) / 1000
    except Exception as exc:  # a broken later frame: keep what was hashed, say why
        result.metadata = {**result.metadata, "animation_error": str(exc)}
    if len(frames) > 1:
        result.frames = frames
        result.metadata = {**result.metadata, "frames": number + 1, "duration": round(seconds, 3)}


def hash_picture(result: FileResult, image: ImageLike, *, robust: bool, parts: bool) -> None:
    """PDQ with its 8 dihedral variants and, with ``robust``, the candidate regions (and with
    ``parts`` their upper parts): the one stage the scan, the sensors and the stream monitor share.
    """
    rgb = rgb_array(image)  # once: both stages read the same pixels
    pdq, dihedral = pdq_with_dihedral(rgb)
    result.pdq, result.quality = pdq.hex, pdq.quality
    result.dihedral = b"".join(dihedral)
    if robust:
        try:
            result.candidates = [c.as_tuple() for c in candidate_hashes(rgb, parts=parts)]
        except Exception:  # a bonus like metadata: never lose the picture's own hashes
            result.candidates = []


def _hash_image(result: FileResult, data: bytes, options: HashOptions) -> None:
    if not data:
        result.error = "too-large: image file over the in-memory limit"
        return
    try:
        opened = open_image(data, max_pixels=options.max_image_pixels, fast=options.fast_decode)
    except UnreadableImage as exc:
        result.error = str(exc)
        if exc.warnings:
            result.metadata = {**result.metadata, "warnings": exc.warnings}
        return
    result.width, result.height = opened.width, opened.height
    result.decode_scale = opened.scale
    try:
        pixels = opened.image if opened.luma is None else opened.luma  # one copy out of Pillow
        hash_picture(result, pixels, robust=options.robust, parts=options.parts)
    except MemoryError:  # pixels that fit the pixel limit but not the worker's memory
        result.error = "too-large: out of memory while hashing the picture"
        return
    try:
        result.metadata = exif_metadata(opened.exif)
    except Exception as exc:  # metadata is a bonus; a broken block must not lose the hashes
        result.metadata = {"error": f"exif: {exc}"}
    if opened.warnings:  # the decoders' complaints belong to the file's row, not the terminal
        result.metadata = {**result.metadata, "warnings": opened.warnings}


def hash_video_into(
    result: FileResult,
    source: bytes | Callable[[], IO[bytes]],
    options: VideoOptions | None = None,
    *,
    robust: bool = False,
    parts: bool = False,
) -> None:
    """Fill ``result`` (frames, size, duration, codec) from the video's bytes or an opener; with
    ``robust`` the frames carry their candidate regions (and with ``parts`` their upper parts)."""
    stream = source() if callable(source) else None
    try:
        video = hash_video(
            stream if stream is not None else source,  # type: ignore[arg-type]
            options,
            robust=robust,
            parts=parts,
        )
    except UnreadableVideo as exc:
        result.error = str(exc)
        return
    except MemoryError:
        result.error = "too-large: out of memory while decoding"
        return
    except Exception as exc:  # a decoder bug must cost this file only, never the scan
        result.error = f"corrupt: {type(exc).__name__}: {exc}"
        return
    finally:
        if stream is not None:
            stream.close()
    result.width, result.height = video.width, video.height
    result.frames = video.frames
    result.metadata = video.metadata()
    if video.error:
        result.error = video.error
