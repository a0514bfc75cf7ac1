"""What a file is, from its first bytes: the extension is never trusted."""

from __future__ import annotations

from enum import StrEnum

from hashsieve.sources.magic import container_type


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


# ISO base media (MP4/MOV/HEIF) brands that mark a still image (or an image sequence) in HEIF:
# HEVC (heic...), AV1 (avif, avis), AVC (avci), VVC (vvic), JPEG 2000 (j2ki), JPEG (jpeg),
# uncompressed (unif) and the structural brands (mif1-3, msf1). A fuzzed major brand with a
# HEIF compatible brand is still HEIF (libheif reads it so), never video.
_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"mif2",
    b"mif3",
    b"msf1",
    b"avif",
    b"avis",
    b"avci",
    b"vvic",
    b"j2ki",
    b"jpeg",
    b"unif",
}
#: HEIF brands that name a codec other than AV1 (a major brand of these is not AVIF).
_CODED_BRANDS = _HEIF_BRANDS - {b"mif1", b"mif2", b"mif3", b"msf1", b"avif", b"avis"}
#: Major brands of video files that may list a HEIF brand among their compatible ones.
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"qt  ", b"M4V ", b"avc1", b"dash"}


def _ftyp_brands(head: bytes) -> tuple[bytes, list[bytes]]:
    """The major brand and the compatible brands of an ``ftyp`` box at the start of ``head``."""
    size = int.from_bytes(head[:4], "big")
    end = min(size if size >= 16 else 16, len(head))
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    if head[8:12] == b"mif3":  # a low-overhead ('mini') HEIF names its codec brand as minor
        compatible.append(head[12:16])
    return head[8:12], compatible


def _iso_bmff(head: bytes) -> tuple[MediaKind, str]:
    major, compatible = _ftyp_brands(head)
    heif = major in _HEIF_BRANDS or (
        major not in _VIDEO_BRANDS and any(b in _HEIF_BRANDS for b in compatible)
    )
    if heif:
        # AV1 by the major brand, or by a compatible one under a structural (codec-less) major.
        av1 = major in (b"avif", b"avis") or (
            major not in _CODED_BRANDS and (b"avif" in compatible or b"avis" in compatible)
        )
        return MediaKind.IMAGE, "image/avif" if av1 else "image/heif"
    if major == b"qt  ":
        return MediaKind.VIDEO, "video/quicktime"
    if major.startswith(b"3g"):
        return MediaKind.VIDEO, "video/3gpp"
    return MediaKind.VIDEO, "video/mp4"


def _is_ico(head: bytes) -> bool:
    """An ICO header (reserved 0, type 1, 1-255 images) whose first entry is plausible (0-1
    planes, a usual bit depth): the four bytes alone also start NTFS's $UpCase table."""
    if head[:4] != b"\x00\x00\x01\x00" or len(head) < 22:
        return False
    count = int.from_bytes(head[4:6], "little")
    planes = int.from_bytes(head[10:12], "little")
    bits = int.from_bytes(head[12:14], "little")
    return 0 < count < 256 and planes in (0, 1) and bits in (0, 1, 4, 8, 16, 24, 32)


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
    # Classic TIFF and BigTIFF (64-bit offsets, which Pillow reads too).
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return MediaKind.IMAGE, "image/tiff"
    # JPEG 2000: the JP2 signature box, or a raw codestream (SOC then SIZ), both via openjpeg.
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return MediaKind.IMAGE, "image/jp2"
    if head[:4] == b"\xff\x4f\xff\x51":
        return MediaKind.IMAGE, "image/j2c"
    if head[:4] == b"qoif":
        return MediaKind.IMAGE, "image/qoi"
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.VIDEO, "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"FLV\x01"):
        return MediaKind.VIDEO, "video/x-flv"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return MediaKind.VIDEO, "video/mp2t"
    if head[:4] == b"\x00\x00\x01\xba":
        return MediaKind.VIDEO, "video/mpeg"
    if _is_ico(head):
        return MediaKind.IMAGE, "image/x-icon"
    # Formats Pillow decodes that have a four-byte signature. Those with one or two bytes or none
    # (SGI, PCX, FLI, TGA, PPM, SPIDER) stay "other": such a weak magic would make arbitrary files
    # unreadable pictures.
    if head[:4] == b"8BPS":
        return MediaKind.IMAGE, "image/vnd.adobe.photoshop"
    if head[:4] == b"DDS ":
        return MediaKind.IMAGE, "image/vnd.ms-dds"
    if head[:4] in (b"BLP1", b"BLP2"):
        return MediaKind.IMAGE, "image/x-blp"
    if head[:4] == b"icns":
        return MediaKind.IMAGE, "image/icns"
    # Archives are not media themselves; the scan lists and hashes what they hold.
    container = container_type(head)
    if container is not None:
        return MediaKind.OTHER, container
    return MediaKind.OTHER, "application/octet-stream"
