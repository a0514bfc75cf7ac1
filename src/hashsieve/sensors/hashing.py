"""Hashing content a sensor holds in memory (an HTTP body), the way the scan hashes a file."""

from __future__ import annotations

from hashsieve.config import MAX_IMAGE_PIXELS
from hashsieve.hashing.crypto import hash_bytes
from hashsieve.hashing.decode import UnreadableImage, open_image
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.scan.worker import FileResult, hash_picture


def hash_digests(data: bytes, name: str = "") -> FileResult:
    """MD5, SHA-1 and SHA-256 of ``data`` and its kind by its first bytes: no decoding."""
    result = FileResult(path=name, size=len(data))
    digests = hash_bytes(data)
    result.md5, result.sha1, result.sha256 = digests.md5, digests.sha1, digests.sha256
    kind, mime = sniff(data[:512])
    result.media_kind, result.mime = kind.value, mime
    return result


def hash_content(
    data: bytes,
    name: str = "",
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    video: bool = True,
    robust: bool = True,
    parts: bool = False,
) -> FileResult:
    """Digests of ``data``; PDQ (+ dihedral) for an image, sampled frame hashes for a video.

    With ``robust`` an image's candidate regions are hashed too (and with ``parts`` its upper
    parts), the scan's own stage (hashsieve.hashing.candidates), for the list copy to match.
    """
    result = hash_digests(data, name)
    kind = MediaKind(result.media_kind)
    if kind is MediaKind.IMAGE:
        try:
            opened = open_image(data, max_pixels=max_pixels, fast=True)
        except UnreadableImage as exc:
            result.error = str(exc)
            return result
        result.width, result.height, result.decode_scale = opened.width, opened.height, opened.scale
        hash_picture(result, opened.image, robust=robust, parts=parts)
    elif kind is MediaKind.VIDEO and video:
        from hashsieve.scan.video import hash_video_into

        try:
            hash_video_into(result, data)
        except Exception as exc:  # a broken video keeps its digests
            result.error = f"video: {exc}"
    return result
