"""Apple UDIF disk images (``.dmg``) read with libmodi as a media layer (sources/disk.py): told
by their ``koly`` trailer whatever their name, the HFS+ inside dfVFS's compressed
``hfsplus_zlib.dmg`` read by The Sleuth Kit, and damaged or unread DMGs recorded errors."""

from __future__ import annotations

import bz2
import os
import plistlib
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import archive, disk, magic
from hashsieve.sources import dmg as dmg_chunks
from hashsieve.sources.archive import Member
from tests.conftest import REPO, needs_realworld
from tests.sources.disk_builders import fat_fs, needs_tools

DFVFS = REPO.parent / "shared" / "realworld" / "disk-images" / "dfvfs"
DMG = DFVFS / "hfsplus_zlib.dmg"


def _problems(path: Path) -> dict[str, tuple[str, str]]:
    return {
        item.path.removeprefix(f"{path}!/"): (item.reason, item.detail)
        for item in archive.list_members(str(path))
        if not isinstance(item, Member)
    }


@needs_realworld(DMG)
def test_a_dmg_is_told_by_its_trailer_and_its_hfs_plus_files_read(tmp_path: Path) -> None:
    renamed = tmp_path / "download.bin"  # the content decides, not the name
    shutil.copy(DMG, renamed)
    assert magic.disk_image_type(DMG.read_bytes()[:512]) is None  # its head is zlib data
    assert disk.image_kind(str(renamed)) == magic.DMG and disk.has_dmg_trailer(str(renamed))
    members = {m.names[-1]: m for m in archive.list_members(str(renamed)) if isinstance(m, Member)}
    assert {"p1/passwords.txt", "p1/a_directory/a_file", "p1/a_directory/another_file"} <= set(
        members
    )
    assert archive.read_member(members["p1/passwords.txt"]).startswith(b"place,user,password")
    assert archive.read_member(members["p1/a_directory/another_file"]) == b"This is another file.\n"
    info = disk.image_info(str(renamed))
    assert (info.kind, info.media_size) == ("dmg", 1_954_304)
    assert [(v["name"], v["filesystem"]) for v in info.volumes] == [("p1", "hfs")]


@needs_realworld(DMG)
def test_damaged_and_unread_dmgs_are_recorded_errors(tmp_path: Path) -> None:
    data = DMG.read_bytes()
    cut = tmp_path / "cut.dmg"  # the trailer gone: only the name says DMG
    cut.write_bytes(data[:10_000])
    assert disk.image_kind(str(cut)) is None
    assert _problems(cut)[""][0] == "corrupt-image"
    holed = tmp_path / "holed.dmg"  # the trailer kept, the compressed chunks gone
    holed.write_bytes(data[:2_000] + bytes(len(data) - 8_000) + data[-6_000:])
    assert disk.image_kind(str(holed)) == magic.DMG
    assert _problems(holed)[""][0] == "corrupt-image"
    locked = tmp_path / "locked.dmg"  # an encrypted DMG's header: no key is asked for
    locked.write_bytes(b"encrcdsa" + os.urandom(8_192))
    assert _problems(locked)[""][0] == "unsupported-image"
    # Bytes that end in "koly" but not a UDIF trailer (version, size) are no DMG.
    fake = bytearray(os.urandom(4_096))
    fake[-512:-500] = b"koly" + (5).to_bytes(4, "big") + (512).to_bytes(4, "big")
    (tmp_path / "fake.bin").write_bytes(bytes(fake))
    assert disk.image_kind(str(tmp_path / "fake.bin")) is None


#: UDIF chunk types (libmodi's documentation of the format).
_ZERO, _RAW, _ZLIB, _BZIP2, _END = 0x0, 0x1, 0x80000005, 0x80000006, 0xFFFFFFFF


def _udif(raw: bytes, kind: int, chunk_sectors: int = 128) -> tuple[bytes, set[int]]:
    """A UDIF image of ``raw`` as hdiutil writes one: the data fork's chunks (zeros as zero-fill
    chunks, what does not shrink stored, the rest compressed by ``kind``: one compression per
    image, as libmodi expects), one ``blkx`` table in the XML property list, and the 512-byte
    ``koly`` trailer. No checksums (type 0: none). Returns it and the chunk types used."""
    fork = bytearray()
    chunks = []
    used = set()
    size = chunk_sectors * 512
    for at in range(0, len(raw), size):
        piece = raw[at : at + size]
        body = zlib.compress(piece) if kind == _ZLIB else bz2.compress(piece)
        chunk = kind if len(body) < len(piece) else _RAW
        if not piece.strip(b"\0"):
            chunk, body = _ZERO, b""
        elif chunk == _RAW:
            body = piece
        sectors = -(-len(piece) // 512)
        used.add(chunk)
        chunks.append(struct.pack(">IIQQQQ", chunk, 0, at // 512, sectors, len(fork), len(body)))
        fork += body
    total = -(-len(raw) // 512)
    chunks.append(struct.pack(">IIQQQQ", _END, 0, total, 0, len(fork), 0))
    mish = struct.pack(">4sIQQQII", b"mish", 1, 0, total, 0, 2056, 0) + bytes(24)
    mish += bytes(136) + struct.pack(">I", len(chunks) - 1 + 1) + b"".join(chunks)
    table = {"Attributes": "0x0050", "CFName": "whole disk", "Data": mish, "ID": "0"}
    table["Name"] = "whole disk (MS-DOS : 0)"
    xml = plistlib.dumps({"resource-fork": {"blkx": [table]}})
    koly = struct.pack(">4sIIIQQQQQII", b"koly", 4, 512, 1, 0, 0, len(fork), 0, 0, 1, 1)
    koly += bytes(16 + 136) + struct.pack(">QQ", len(fork), len(xml)) + bytes(120 + 136)
    koly += struct.pack(">IQ", 1, total) + bytes(12)
    assert len(koly) == 512
    return bytes(fork) + xml + koly, used


@needs_tools
@pytest.mark.parametrize(
    ("kind", "sectors"), [(_ZLIB, 128), (_BZIP2, 128), (_BZIP2, 2048)], ids=str
)
def test_a_dmg_of_compressed_stored_and_zero_chunks_reads_like_its_raw_disk(
    tmp_path: Path, kind: int, sectors: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = jpeg_bytes(photo_like(31, (320, 240)))
    noise = os.urandom(300_000)
    fat = fat_fs(tmp_path / "fat.img", {"DCIM/a.jpg": picture, "noise.bin": noise}, {})
    raw = fat.read_bytes()
    dmg = tmp_path / "card.dmg"
    data, used = _udif(raw, kind, sectors)
    # The empty clusters zero-filled; in small chunks the noise is stored as it is.
    assert used == ({kind, _RAW, _ZERO} if sectors == 128 else {kind, _ZERO})
    dmg.write_bytes(data)
    assert disk.image_kind(str(dmg)) == magic.DMG
    media = disk.open_image(str(dmg))
    try:
        assert media.kind == "dmg" and media.size == len(raw)
        assert getattr(media, "chunks", None) is not None  # read with Python's zlib/bz2
        assert media.read(0, media.size) == raw
        assert media.read(1_000_000, 70_000) == raw[1_000_000:1_070_000]  # across chunks
    finally:
        media.close()
    members = {m.names[-1]: m for m in archive.list_members(str(dmg)) if isinstance(m, Member)}
    assert archive.read_member(members["DCIM/a.jpg"]) == picture
    assert archive.read_member(members["noise.bin"]) == noise
    if sectors == 2048:
        return  # libmodi refuses bzip2 chunks of 1 MiB (two bzip2 blocks): read only here
    # An image whose chunks are of a kind not read in Python (ADC, LZFSE) goes to libmodi.
    monkeypatch.setattr(dmg_chunks, "UdifChunks", _refuse)
    media = disk.open_image(str(dmg))
    try:
        assert getattr(media, "chunks", True) is None
        assert media.read(0, media.size) == raw
    finally:
        media.close()


def _refuse(stream: object) -> None:
    raise ValueError("chunk type 0x80000007 is libmodi's to read")


@needs_realworld(DMG)
def test_the_python_chunk_reader_reads_what_libmodi_reads() -> None:
    import pymodi

    handle = pymodi.handle()
    handle.open(str(DMG))  # zlib chunks, zero-fill and "ignore" chunks, seven blkx tables
    with open(DMG, "rb") as stream:
        chunks = dmg_chunks.UdifChunks(stream)
        assert chunks.size == handle.get_media_size()
        assert chunks.read(0, chunks.size) == handle.read_buffer_at_offset(chunks.size, 0)
        for offset, size in ((0, 1), (20_479, 5_000), (1_900_000, 100_000)):
            want = handle.read_buffer_at_offset(min(size, chunks.size - offset), offset)
            assert chunks.read(offset, size) == want
    handle.close()
