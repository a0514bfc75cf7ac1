"""Which container a file is, from its first bytes (never its name): the one place that
recognises archives, used by the sniffer (:func:`hashsieve.hashing.media.sniff`) and by the
archive reader, so the two never disagree."""

from __future__ import annotations

from typing import Literal

ZIP = "application/zip"
TAR = "application/x-tar"
GZIP = "application/gzip"
BZIP2 = "application/x-bzip2"
XZ = "application/x-xz"
CPIO = "application/x-cpio"
SEVEN_ZIP = "application/x-7z-compressed"
RAR = "application/vnd.rar"

#: Compressed streams: a tar inside, or else one compressed file.
COMPRESSED = frozenset({GZIP, BZIP2, XZ})
CONTAINERS = frozenset({ZIP, TAR, GZIP, BZIP2, XZ, CPIO, SEVEN_ZIP, RAR})

#: A header block of a tar archive (ustar or pre-POSIX) is this long.
TAR_BLOCK = 512


def _octal(field: bytes) -> int | None:
    """A tar header's numeric field: octal digits padded by spaces/NULs (None: not one)."""
    text = field.rstrip(b"\x00 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        return None
    return int(text, 8)


def is_tar_header(block: bytes) -> bool:
    """A tar header, ustar or pre-POSIX (v7, which has no magic): checked by its checksum (the
    sum of the block's bytes with the checksum field read as spaces) and sane name, mode and
    size fields, so random data is not taken for a tar."""
    if len(block) < TAR_BLOCK:
        return False
    block = block[:TAR_BLOCK]
    stored = _octal(block[148:156])
    if stored is None:
        return False
    unsigned = sum(block[:148]) + 256 + sum(block[156:])
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 256
    if stored not in (unsigned, signed):
        return False
    name = block[:100].split(b"\x00", 1)[0]
    if not name or any(c < 0x20 for c in name):
        return False
    size_field = block[124:136]
    size_ok = size_field[0] & 0x80 or _octal(size_field) is not None  # base-256: GNU, large
    return bool(size_ok) and _octal(block[100:108]) is not None


def _is_binary_cpio(head: bytes, order: Literal["little", "big"]) -> bool:
    """An old binary cpio header (a 2-byte magic only, so the name is checked too)."""
    if len(head) < 28:
        return False
    namesize = int.from_bytes(head[20:22], order)
    return 1 < namesize <= 4096 and (len(head) < 26 + namesize or head[25 + namesize] == 0)


def container_type(head: bytes) -> str | None:
    """The container's MIME type for content starting with ``head`` (512 bytes are enough), or
    None when it is not one."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return ZIP
    if head[257:262] == b"ustar" or is_tar_header(head):
        return TAR
    if head[:3] == b"\x1f\x8b\x08":
        return GZIP
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and len(head) > 3:
        return BZIP2
    if head[:6] == b"\xfd7zXZ\x00":
        return XZ
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return SEVEN_ZIP
    if head[:7] == b"Rar!\x1a\x07\x00" or head[:8] == b"Rar!\x1a\x07\x01\x00":
        return RAR
    if head[:6] in (b"070701", b"070702", b"070707"):
        return CPIO
    if (head[:2] == b"\xc7\x71" and _is_binary_cpio(head, "little")) or (
        head[:2] == b"\x71\xc7" and _is_binary_cpio(head, "big")
    ):
        return CPIO
    return None
