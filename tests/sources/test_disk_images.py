"""Disk images as containers (sources/disk.py): the kinds told by content, the public dfVFS
sample images opened and listed, partitions and deleted files, damaged input recorded, and the
image's own integrity (stored acquisition hashes, verification)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hashsieve.cli import main
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import archive, disk, magic
from hashsieve.sources.archive import SourceProblem
from hashsieve.store import Store
from tests.conftest import REPO, needs_conformance
from tests.sources.disk_builders import ewf, ext4_fs, fat_fs, needs_tools, ntfs_fs, partitioned
from tests.sources.disk_builders import listing as _listing

DFVFS = REPO.parent / "shared" / "realworld" / "disk-images" / "dfvfs"
KEPT = jpeg_bytes(photo_like(21, (320, 240)))
GONE = jpeg_bytes(photo_like(22, (320, 240)))


#: The dfVFS test images of one small ext2 file system, in each container kind.
EXT2_SET = [
    ("ext2.E01", magic.EWF),
    ("ext2.split.E01", magic.EWF),
    ("ext2.qcow2", magic.QCOW),
    ("ext2.vhd", magic.VHD),
    ("ext2.vmdk", magic.VMDK),
    ("ext2.splitraw.000", magic.RAW_DISK),
]


@needs_conformance(DFVFS / "ext2.E01")
@pytest.mark.parametrize(("name", "kind"), EXT2_SET)
def test_dfvfs_images_open_and_list_their_files(name: str, kind: str) -> None:
    assert disk.image_kind(str(DFVFS / name)) == kind
    members, problems = _listing(DFVFS / name)
    assert set(members) == {"passwords.txt", "a_directory/a_file", "a_directory/another_file"}
    assert {p: x.reason for p, x in problems.items()} == {"a_link": "symlink"}
    # The same file system in every container: the same bytes, read through the image.
    reference, _ = _listing(DFVFS / "ext2.E01")
    data = archive.read_member(members["passwords.txt"])
    assert data == archive.read_member(reference["passwords.txt"])
    assert b"place,user,password" in data
    assert dict(members["passwords.txt"].details)["modified"].startswith("2021-07-22")


@needs_conformance(DFVFS / "ext2.E01")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ímynd.dd", "passwords.txt"),  # ext2 without a partition table, a non-ASCII name
        ("image.vhd", "passwords.txt"),
        ("iso9660.raw", "PASSWORDS.TXT"),
        ("hfsplus.raw", "passwords.txt"),
        ("windows_volume.qcow2", "Windows/System32/config/syslog"),  # NTFS
    ],
)
def test_other_dfvfs_file_systems_are_listed(name: str, expected: str) -> None:
    members, problems = _listing(DFVFS / name)
    assert expected in members, sorted(members)
    assert archive.read_member(members[expected])
    assert all(p.reason == "symlink" for p in problems.values()), problems


@needs_conformance(DFVFS / "ext2.E01")
def test_a_differencing_vhd_without_its_parent_is_a_recorded_error() -> None:
    members, problems = _listing(DFVFS / "image-differential.vhd")
    assert not members
    assert [p.reason for p in problems.values()] == ["corrupt-image"]
    assert "parent" in next(iter(problems.values())).detail


@needs_conformance(DFVFS / "ext2.split.E01")
def test_an_e01_says_what_the_acquisition_stored_and_verifies() -> None:
    info = disk.image_info(str(DFVFS / "ext2.split.E01"))
    assert info.kind == "ewf" and len(info.segments) == 2
    assert info.media_size == 4 * 1024 * 1024 and info.sector_size == 512
    assert info.stored_hashes["md5"] == "196066add11fb71c4c49cf1bb50d6d24"
    assert info.case["examiner_name"] == "examiner"
    assert [v["filesystem"] for v in info.volumes] == ["ext2"]
    checked = disk.verify_image(str(DFVFS / "ext2.split.E01"))
    assert checked.computed["md5"] == info.stored_hashes["md5"] and checked.matches is True


def test_kinds_are_told_by_content_not_by_name() -> None:
    assert magic.disk_image_type(b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00" + bytes(501)) == magic.EWF
    later = b"EVF\x09\x0d\x0a\xff\x00\x01\x02\x00" + bytes(501)
    assert magic.disk_image_type(later) == magic.EWF_SEGMENT  # read through the first segment
    assert magic.EWF_SEGMENT not in magic.CONTAINERS
    ewf2 = b"EVF2\x0d\x0a\x81\x00\x02\x01\x01\x00"  # EWF2 (Ex01): version, compression
    assert magic.disk_image_type(ewf2 + b"\x01\x00\x00\x00" + bytes(496)) == magic.EWF
    assert magic.disk_image_type(ewf2 + b"\x02\x00\x00\x00" + bytes(496)) == magic.EWF_SEGMENT
    assert magic.disk_image_type(b"QFI\xfb" + bytes(508)) == magic.QCOW
    assert magic.disk_image_type(b"vhdxfile" + bytes(504)) == magic.VHDX
    # A raw ext file system: zeros for 1 KiB, then the superblock's magic.
    ext = bytearray(4096)
    ext[1080:1082] = b"\x53\xef"
    assert magic.disk_image_type(bytes(ext[:512])) is None
    assert disk.peek_kind(bytes(ext)) == magic.RAW_DISK
    # Random bytes with a boot signature are no partition table.
    noise = bytearray(os.urandom(512))
    noise[446], noise[510:512] = 0x7F, b"\x55\xaa"
    assert magic.disk_image_type(bytes(noise)) is None


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not shutil.which("sfdisk"):
        pytest.skip("Debian tools missing (see .ci/run)")
    work = tmp_path_factory.mktemp("disks")
    fat = fat_fs(work / "fat.img", {"keep/kept picture.jpg": KEPT}, {"gone picture.jpg": GONE})
    ext = ext4_fs(work / "ext.img", {"a/b/c.txt": b"deep", "n.bin": os.urandom(200_000)})
    raw = partitioned(work / "disk.dd", [(fat, "c"), (ext, "83")])
    # The same disk with the second partition's start pointing past the end of the disk.
    bad = work / "badtable.dd"
    data = bytearray(raw.read_bytes())
    data[446 + 16 + 8 : 446 + 16 + 12] = (10**9).to_bytes(4, "little")
    bad.write_bytes(bytes(data))
    stored = work / "ewf"
    stored.mkdir()
    e01 = ewf(raw, stored / "disk")
    return {"raw": raw, "bad": bad, "ewf": e01}


@needs_tools
def test_partitions_deleted_files_and_their_times(disks: dict[str, Path]) -> None:
    members, problems = _listing(disks["raw"])
    assert {"p1/keep/kept picture.jpg", "p1/gone picture.jpg", "p2/a/b/c.txt"} <= set(members)
    assert problems == {}
    gone, kept = members["p1/gone picture.jpg"], members["p1/keep/kept picture.jpg"]
    assert gone.recovered == "deleted" and kept.recovered is None
    assert archive.read_member(gone) == GONE and archive.read_member(kept) == KEPT
    assert archive.read_member(members["p2/a/b/c.txt"]) == b"deep"
    assert {"inode", "created", "modified"} <= set(dict(gone.details))


@needs_tools
def test_ntfs_alternate_data_streams_are_members_of_their_own(tmp_path: Path) -> None:
    image = ntfs_fs(tmp_path / "ntfs.img", {"report.doc": b"text"}, {"report.doc:hidden": KEPT})
    members, problems = _listing(image)
    assert {"report.doc", "report.doc:hidden"} <= set(members) and problems == {}
    assert archive.read_member(members["report.doc:hidden"]) == KEPT
    assert archive.read_member(members["report.doc"]) == b"text"
    assert disk.image_info(str(image)).volumes[0]["filesystem"] == "ntfs"


@needs_tools
def test_a_corrupt_partition_table_costs_only_that_partition(disks: dict[str, Path]) -> None:
    members, problems = _listing(disks["bad"])
    assert "p1/keep/kept picture.jpg" in members
    assert not [m for m in members if m.startswith("p2/")]
    assert problems["p2/"].reason == "unreadable-filesystem"


@needs_tools
def test_unallocated_runs_hold_the_deleted_picture_not_the_kept_one(
    disks: dict[str, Path],
) -> None:
    data = disks["raw"].read_bytes()
    runs = list(disk.unallocated_runs(str(disks["raw"])))
    inside = [
        any(start <= at and at + 512 <= start + length for start, length in runs)
        for at in (data.find(GONE[:4096]), data.find(KEPT[:4096]))
    ]
    assert inside == [True, False]
    assert all(length > 0 for _, length in runs)
    # What a carver reads there, through the image's own reader.
    media = disk.open_image(str(disks["raw"]))
    try:
        gone_at = data.find(GONE)
        start, length = next((s, n) for s, n in runs if s <= gone_at < s + n)
        assert GONE in media.read(start, min(length, gone_at - start + len(GONE)))
    finally:
        media.close()


@needs_tools
def test_image_info_and_verify_from_the_command_line(disks: dict[str, Path]) -> None:
    runner = CliRunner()
    info = runner.invoke(main, ["image", "info", str(disks["ewf"])])
    assert info.exit_code == 0, info.output
    assert "case-42" in info.output and "examiner-a" in info.output and "ext4" in info.output
    good = runner.invoke(main, ["image", "verify", str(disks["ewf"])])
    assert good.exit_code == 0 and "verified" in good.output
    raw_md5 = hashlib.md5(disks["raw"].read_bytes()).hexdigest()
    assert f"md5: {raw_md5} matches" in good.output
    plain = runner.invoke(main, ["image", "verify", str(disks["raw"])])
    assert plain.exit_code == 0 and "no hash stored" in plain.output


@needs_tools
def test_verify_fails_when_the_media_changed(disks: dict[str, Path], tmp_path: Path) -> None:
    # An uncompressed E01 of the disk, then one byte of a picture's data changed in it.
    raw = disks["raw"]
    e01 = ewf(raw, tmp_path / "plain", compression="none")
    data = bytearray(e01.read_bytes())
    at = data.find(KEPT[1000:1064])
    assert at > 0
    data[at] ^= 0xFF
    e01.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["image", "verify", str(e01)])
    # libewf hands the changed chunk over (its checksum is only a warning): the hashes differ.
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.output


@needs_tools
def test_ewf_chunks_through_zlib_are_what_libewf_reads(disks: dict[str, Path]) -> None:
    import pyewf

    from hashsieve.sources.ewf import EwfChunks

    names = pyewf.glob(str(disks["ewf"]))
    with open(names[0], "rb") as first:
        handle = pyewf.handle()
        handle.open_file_objects([first])
        size = handle.get_media_size()
        chunks = EwfChunks([first], handle.get_chunk_size(), size)
        for offset, length in ((0, 512), (12_345, 100_000), (size - 70_000, 70_000)):
            assert chunks.read(offset, length) == handle.read_buffer_at_offset(length, offset)
        assert chunks.read(0, size) == disks["raw"].read_bytes()
        handle.close()


@needs_tools
@pytest.mark.skipif(shutil.which("debugfs") is None, reason="debugfs (e2fsprogs) missing")
def test_a_directory_loop_is_recorded_and_the_walk_ends(tmp_path: Path) -> None:
    import subprocess

    image = ext4_fs(tmp_path / "loop.img", {"a/b/f.txt": b"x"}, mib=4)
    # A second name for /a inside its own subfolder (debugfs edits the image; no mount).
    subprocess.run(
        ["debugfs", "-w", "-R", "link /a /a/b/up", str(image)], check=True, capture_output=True
    )
    members, problems = _listing(image)
    assert set(members) == {"a/b/f.txt"}
    assert {p: x.reason for p, x in problems.items()} == {"a/b/up/": "loop"}


def _losetup(image: Path) -> str:
    """A read-only loop device over ``image`` (root and losetup needed, else the test skips)."""
    import subprocess

    if shutil.which("losetup") is None or os.geteuid() != 0:
        pytest.skip("block devices: needs losetup and root to attach a loop device")
    proc = subprocess.run(
        ["losetup", "--find", "--show", "--read-only", str(image)], capture_output=True, text=True
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.skip(f"block devices: losetup could not attach a loop device: {proc.stderr}")
    return proc.stdout.strip()


@needs_tools
def test_a_block_device_named_on_the_command_line_is_scanned_as_a_disk(
    tmp_path: Path, store: Store
) -> None:
    import stat
    import subprocess

    from hashsieve import run_scan
    from hashsieve.hashsets.catalogue import import_hashset
    from hashsieve.sources import FolderSource, SourceFile

    image = fat_fs(tmp_path / "card.img", {"DCIM/kept.jpg": KEPT}, {"DCIM/gone.jpg": GONE})
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    listing = tmp_path / "known.txt"
    listing.write_text(f"md5 {hashlib.md5(KEPT).hexdigest()}\n")
    import_hashset(store, listing, "known", category=1)
    device = _losetup(image)
    try:
        (item,) = FolderSource(device).files()
        assert isinstance(item, SourceFile) and item.size == image.stat().st_size
        jsonl = tmp_path / "scan.jsonl"
        run_scan(store, "dev", [device], jsonl_path=jsonl)
        rows = {r["path"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
        whole = rows[device]
        assert whole["error"] is None and whole["size"] == image.stat().st_size
        assert whole["md5"] == hashlib.md5(image.read_bytes()).hexdigest()
        kept = rows[f"{device}!/DCIM/kept.jpg"]
        assert kept["verdict"] == "known" and kept["md5"] == hashlib.md5(KEPT).hexdigest()
        gone = [r for p, r in rows.items() if r["recovered"] == "deleted"]
        assert [r["md5"] for r in gone] == [hashlib.md5(GONE).hexdigest()]
        # The same device met in a folder walk (as in /dev) is never opened: a special file.
        walked = tmp_path / "walked"
        walked.mkdir()
        os.mknod(walked / "node", 0o600 | stat.S_IFBLK, os.stat(device).st_rdev)
        (problem,) = FolderSource(str(walked)).files()
        assert isinstance(problem, SourceProblem) and problem.reason == "special-file"
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
