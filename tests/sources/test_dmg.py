"""Apple UDIF disk images (``.dmg``) read with libmodi as a media layer (sources/disk.py): told
by their ``koly`` trailer whatever their name, the HFS+ inside dfVFS's compressed
``hfsplus_zlib.dmg`` read by The Sleuth Kit, and damaged or unread DMGs recorded errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hashsieve.sources import archive, disk, magic
from hashsieve.sources.archive import Member
from tests.conftest import REPO, needs_realworld

DFVFS = REPO.parent / "shared" / "realworld" / "disk-images" / "dfvfs"
DMG = DFVFS / "hfsplus_zlib.dmg"

pytestmark = needs_realworld(DMG)


def _problems(path: Path) -> dict[str, tuple[str, str]]:
    return {
        item.path.removeprefix(f"{path}!/"): (item.reason, item.detail)
        for item in archive.list_members(str(path))
        if not isinstance(item, Member)
    }


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
