"""What a worker process does with one file: one read, every hash, never a write.

Runs in worker processes (or, later, on cluster workers), so it takes a path and returns a
plain picklable result; every failure becomes a recorded error on the result.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from hashsieve.hashing.candidates import candidate_hashes
from hashsieve.hashing.crypto import BLOCK_SIZE, CryptoHasher, hash_bytes
from hashsieve.hashing.decode import UnreadableImage, open_image
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.hashing.metadata import exif_metadata
from hashsieve.hashing.pdq import ImageLike, pdq_with_dihedral, rgb_array
from hashsieve.hashing.video import FrameHash, VideoOptions

if TYPE_CHECKING:
    from hashsieve.sources.archive import ArchiveJob

#: Files up to this size are read into memory in one go (hash and decode share the bytes).
WHOLE_READ_LIMIT = 256 * 1024 * 1024
_O_NOATIME = getattr(os, "O_NOATIME", 0)


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


def open_readonly(path: str) -> int:
    """Open read-only, without updating the access time where the OS lets us."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    if _O_NOATIME:
        try:
            return os.open(path, flags | _O_NOATIME)
        except PermissionError:
            pass  # O_NOATIME needs ownership or CAP_FOWNER; fall back to a plain read
    return os.open(path, flags)


def hash_file(path: str, options: HashOptions) -> FileResult:
    result = FileResult(path=path)
    try:
        fd = open_readonly(path)
    except OSError as exc:
        reason = "permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unreadable"
        result.error = f"{reason}: {exc.strerror}"
        return result
    try:
        with os.fdopen(fd, "rb", buffering=0) as stream:
            st = os.fstat(stream.fileno())
            result.size, result.mtime_ns = st.st_size, st.st_mtime_ns
            hasher = CryptoHasher()
            if st.st_size <= WHOLE_READ_LIMIT:
                data = stream.read()
                hasher.update(data)
                head = data[:512]
            else:
                data = b""
                head = stream.read(BLOCK_SIZE)
                hasher.update(head)
                while block := stream.read(BLOCK_SIZE):
                    hasher.update(block)
    except OSError as exc:
        result.error = f"read-error: {exc.strerror or exc}"
        return result
    digests = hasher.result()
    result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
    # A file over the in-memory limit is decoded from a second read-only descriptor.
    reopen = lambda: os.fdopen(open_readonly(path), "rb")  # noqa: E731
    _hash_content(result, head, data, options, reopen)
    return result


def _hash_content(
    result: FileResult,
    head: bytes,
    data: bytes,
    options: HashOptions,
    reopen: Callable[[], BinaryIO] | None = None,
) -> None:
    """What a file's bytes are and, for media, its perceptual hashes (digests already in)."""
    kind, mime = sniff(head)
    result.media_kind, result.mime = kind.value, mime
    if kind is MediaKind.IMAGE:
        _hash_image(result, data, options)
        if mime in _ANIMATED and result.error is None and _is_animated(data):
            _hash_animation(result, data, options)
    elif kind is MediaKind.VIDEO:
        from hashsieve.scan.video import hash_video_into

        hash_video_into(result, data or reopen, options.video)  # type: ignore[arg-type]


def hash_archive_job(job: ArchiveJob, options: HashOptions) -> list[FileResult]:
    """The members of one archive job, each read in memory and hashed like a file; a member
    that cannot be read gets its error, the others go on."""
    from hashsieve.sources.archive import read_job

    results = []
    for member, data in read_job(job):
        # The size and time the archive declares: what a rerun compares to skip the member.
        result = FileResult(path=member.path, size=member.size, mtime_ns=member.mtime_ns)
        if isinstance(data, Exception):
            result.error = str(data)
        else:
            digests = hash_bytes(data)
            result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
            _hash_content(result, data[:512], data, options)
        # How the review reaches the member again (the EXIF step sets the dict anew).
        result.metadata = {**result.metadata, "archive": member.provenance()}
        results.append(result)
    return results


#: Image formats that may hold an animation, which is also hashed frame by frame like a video.
_ANIMATED = {"image/gif", "image/webp", "image/png"}


def _is_animated(data: bytes) -> bool:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return bool(getattr(image, "is_animated", False))
    except Exception:
        return False


def _hash_animation(result: FileResult, data: bytes, options: HashOptions) -> None:
    """Frame hashes of an animated GIF/WebP/APNG, sampled in time like a video's.

    Pillow decodes every one of these formats (FFmpeg does not decode animated WebP), and the
    frame size is already bounded by the header check of the first frame.
    """
    import io

    from PIL import Image, ImageSequence

    video = options.video
    frames: list[FrameHash] = []
    next_at, seconds = 0.0, 0.0
    try:
        with Image.open(io.BytesIO(data)) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image)):
                if len(frames) >= video.max_hashed_frames:
                    break
                if seconds >= next_at:
                    pdq, _ = pdq_with_dihedral(frame.convert("RGB"))
                    frames.append(FrameHash(number, pdq.quality, pdq.code, round(seconds, 3)))
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
        return
    result.width, result.height = opened.width, opened.height
    result.decode_scale = opened.scale
    hash_picture(result, opened.image, robust=options.robust, parts=options.parts)
    try:
        result.metadata = exif_metadata(opened.exif)
    except Exception as exc:  # metadata is a bonus; a broken block must not lose the hashes
        result.metadata = {"error": f"exif: {exc}"}
