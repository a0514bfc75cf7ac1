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
#: Disk images (:mod:`hashsieve.sources.disk`). An EWF set is opened from its first segment;
#: a later one (``.E02``...) is no container of its own.
EWF = "application/x-ewf"
EWF_SEGMENT = "application/x-ewf-segment"
VMDK = "application/x-vmdk"
VHD = "application/x-vhd"
VHDX = "application/x-vhdx"
QCOW = "application/x-qemu-disk"
RAW_DISK = "application/x-raw-disk-image"
#: An Apple UDIF ``.dmg``: told by its trailer, not its head (:func:`...disk.stream_kind`).
DMG = "application/x-apple-diskimage"
DISK_IMAGES = frozenset({EWF, VMDK, VHD, VHDX, QCOW, RAW_DISK, DMG})

#: Compressed streams: a tar inside, or else one compressed file.
COMPRESSED = frozenset({GZIP, BZIP2, XZ})
#: Files that hold pictures (:mod:`hashsieve.sources.documents`, :mod:`...thumbcache`): OLE
#: compound files (old Office documents, Thumbs.db), PDF, Windows thumbnail caches.
OLE = "application/x-ole-storage"
PDF = "application/pdf"
THUMBCACHE = "application/x-windows-thumbcache"
DOCUMENTS = frozenset({OLE, PDF, THUMBCACHE})
CONTAINERS = frozenset({ZIP, TAR, GZIP, BZIP2, XZ, CPIO, SEVEN_ZIP, RAR}) | DISK_IMAGES | DOCUMENTS

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
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return OLE
    if head[:5] == b"%PDF-":
        return PDF
    if head[:4] == b"CMMM" and int.from_bytes(head[4:8], "little") in range(20, 64):
        return THUMBCACHE
    return disk_image_type(head)


_FS_BOOT = (b"NTFS    ", b"EXFAT   ")


def _is_mbr(head: bytes) -> bool:
    """A DOS partition table (or a GPT's protective one): the boot signature and four sane
    entries, at least one of them used."""
    if len(head) < 512 or head[510:512] != b"\x55\xaa":
        return False
    used = 0
    for at in range(446, 510, 16):
        entry = head[at : at + 16]
        if entry[0] not in (0x00, 0x80):
            return False
        start = int.from_bytes(entry[8:12], "little")
        count = int.from_bytes(entry[12:16], "little")
        if entry[4] != 0:
            if start == 0 or count == 0:
                return False
            used += 1
    return used > 0


def disk_image_type(head: bytes) -> str | None:
    """The disk-image kind of content starting with ``head`` (512 bytes); a raw file system
    without a partition table in front (ext, HFS+, ISO 9660) is only told further in
    (:func:`hashsieve.sources.disk.peek_kind`)."""
    if head[:8] in (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00"):
        # The segment number: 2 bytes after EWF's fields start, 4 after EWF2's version and
        # compression method.
        v1 = head[:4] == b"EVF\x09"
        first = int.from_bytes(head[9:11] if v1 else head[12:16], "little")
        return EWF if first == 1 else EWF_SEGMENT
    if head[:4] == b"KDMV":  # a sparse extent; it is the disk if it holds the descriptor
        return VMDK if int.from_bytes(head[28:36], "little") else None
    if head.startswith(b"# Disk DescriptorFile"):
        return VMDK
    if head[:8] == b"conectix":  # a dynamic VHD (a fixed one is raw with a footer at the end)
        return VHD
    if head[:8] == b"vhdxfile":
        return VHDX
    if head[:4] == b"QFI\xfb":
        return QCOW
    boot = len(head) >= 512 and head[510:512] == b"\x55\xaa"
    fat = head[54:59] in (b"FAT12", b"FAT16") or head[82:87] == b"FAT32"
    if boot and (head[3:11] in _FS_BOOT or fat):
        return RAW_DISK
    return RAW_DISK if _is_mbr(head) else None
