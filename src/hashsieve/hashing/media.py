"""What a file is, from its first bytes: the extension is never trusted."""

from __future__ import annotations

from enum import StrEnum

from hashsieve.sources.magic import container_type


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


# ISO base media (MP4/MOV/HEIF) brands: which are still images and which are video.
_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}


def sniff(head: bytes) -> tuple[MediaKind, str]:
    """Classify content by its magic bytes; returns (kind, MIME type)."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE, "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE, "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.IMAGE, "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE, "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaKind.VIDEO, "video/x-msvideo"
    if head[:2] == b"BM" and len(head) >= 14:
        return MediaKind.IMAGE, "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return MediaKind.IMAGE, "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return MediaKind.IMAGE, "image/avif" if brand.startswith(b"avi") else "image/heif"
        if brand == b"qt  ":
            return MediaKind.VIDEO, "video/quicktime"
        if brand.startswith(b"3g"):
            return MediaKind.VIDEO, "video/3gpp"
        return MediaKind.VIDEO, "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.VIDEO, "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"FLV\x01"):
        return MediaKind.VIDEO, "video/x-flv"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return MediaKind.VIDEO, "video/mp2t"
    if head[:4] == b"\x00\x00\x01\xba":
        return MediaKind.VIDEO, "video/mpeg"
    if head[:4] in (b"\x00\x00\x01\x00",):
        return MediaKind.IMAGE, "image/x-icon"
    # Archives are not media themselves; the scan lists and hashes what they hold.
    container = container_type(head)
    if container is not None:
        return MediaKind.OTHER, container
    return MediaKind.OTHER, "application/octet-stream"
