"""APFS containers in disk images (sources/apfs.py, read with libfsapfs): dfVFS's public
``apfs.raw`` as a whole image and inside a GPT partition built here, every file listed and read
with its resource fork and times, the carver's free runs clear of file data, and a scan that
finds the files of an APFS image and a DMG while cut copies are recorded errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hashsieve.sources import apfs, archive, disk, magic
from hashsieve.store import Store
from tests.conftest import REPO, needs_realworld
from tests.sources.disk_builders import listing as _listing
from tests.sources.test_dmg import _ZLIB, _udif

DFVFS = REPO.parent / "shared" / "realworld" / "disk-images" / "dfvfs"
APFS = DFVFS / "apfs.raw"
DMG = DFVFS / "hfsplus_zlib.dmg"
MIB = 1024 * 1024
#: The files of dfVFS's apfs.raw (volume "apfs_test"), with the resource fork as a member.
FILES = {
    "apfs_test/passwords.txt",
    "apfs_test/a_directory/a_file",
    "apfs_test/a_directory/another_file",
    "apfs_test/a_directory/a_resourcefork",
    "apfs_test/a_directory/a_resourcefork:com.apple.ResourceFork",
    "apfs_test/.fseventsd/fseventsd-uuid",
    "apfs_test/.fseventsd/000000001714941a",
    "apfs_test/.fseventsd/000000001714941b",
}
PASSWORDS = b"place,user,password\nbank,joesmith,superrich\n"

pytestmark = needs_realworld(APFS)


def test_an_apfs_image_lists_and_reads_every_file_with_its_fork_and_times() -> None:
    head = APFS.read_bytes()[:512]
    assert apfs.is_container(head) and magic.disk_image_type(head) is None  # told 32 bytes in
    assert disk.image_kind(str(APFS)) == magic.RAW_DISK
    members, problems = _listing(APFS)
    assert set(members) == FILES
    assert {p: x.reason for p, x in problems.items()} == {"apfs_test/a_link": "symlink"}
    assert archive.read_member(members["apfs_test/passwords.txt"]).startswith(PASSWORDS)
    fork = members["apfs_test/a_directory/a_resourcefork:com.apple.ResourceFork"]
    assert archive.read_member(fork) == b"My resource fork\n"
    assert archive.read_member(members["apfs_test/a_directory/a_resourcefork"]) == b""
    details = dict(members["apfs_test/passwords.txt"].details)
    assert details["inode"] == "18"
    assert details["modified"].startswith("2022-01-14T07:19:41")
    assert {"created", "accessed", "changed"} <= set(details)
    (volume,) = disk.image_info(str(APFS)).volumes
    assert (volume["name"], volume["filesystem"], volume["problem"]) == ("apfs_test", "apfs", None)


@pytest.fixture(scope="module")
def gpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """apfs.raw copied into the first partition of a GPT disk (type Apple APFS)."""
    if shutil.which("sfdisk") is None:
        pytest.skip("sfdisk missing (see .ci/run)")
    data = APFS.read_bytes()
    path = tmp_path_factory.mktemp("apfs") / "mac.dd"
    with open(path, "wb") as image:
        image.truncate(MIB + -(-len(data) // MIB) * MIB + MIB)
    script = (
        f"label: gpt\nstart=2048, size={len(data) // 512}, "
        'type=7C3457EF-0000-11AA-AA11-00306543ECAC, name="Macintosh HD"\n'
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=script.encode(), check=True)
    with open(path, "r+b") as image:
        image.seek(MIB)
        image.write(data)
    return path


def test_an_apfs_partition_of_a_gpt_disk_and_its_free_runs(gpt: Path) -> None:
    members, problems = _listing(gpt)
    assert set(members) == {f"p1/{name}" for name in FILES}
    assert set(problems) == {"p1/apfs_test/a_link"}
    assert archive.read_member(members["p1/apfs_test/passwords.txt"]).startswith(PASSWORDS)
    # The carver is given the container's free space, never a file's data.
    data = gpt.read_bytes()
    runs = list(disk.unallocated_runs(str(gpt)))

    def inside(at: int) -> bool:
        return any(start <= at < start + length for start, length in runs)

    assert not inside(data.find(PASSWORDS)) and not inside(data.find(b"My resource fork"))
    assert inside(0) and inside(MIB + 512 * 1024)  # before the partition, free blocks in it
    assert sum(n for _, n in runs) < len(data)
    # The same disk as a DMG (a Mac's downloads and installers are APFS in UDIF today).
    packed = gpt.with_suffix(".dmg")
    packed.write_bytes(_udif(data, _ZLIB)[0])
    inner, _ = _listing(packed)
    assert set(inner) == set(members)
    assert archive.read_member(inner["p1/apfs_test/passwords.txt"]).startswith(PASSWORDS)


def test_a_cut_apfs_image_is_a_recorded_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.raw"
    cut.write_bytes(APFS.read_bytes()[: 64 * 1024])  # the superblock, not the object maps
    members, problems = _listing(cut)
    assert members == {}
    assert problems[""].reason == "corrupt-image" and "APFS" in problems[""].detail


@needs_realworld(DMG)
def test_a_scan_finds_the_files_of_apfs_and_dmg_images_and_goes_on_past_cut_ones(
    store: Store, tmp_path: Path
) -> None:
    from hashsieve import run_scan
    from hashsieve.hashsets.catalogue import import_hashset

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    shutil.copy(APFS, evidence / "mac.raw")
    shutil.copy(DMG, evidence / "installer.bin")  # a DMG by its trailer, not its name
    (evidence / "cut.raw").write_bytes(APFS.read_bytes()[: 64 * 1024])
    (evidence / "cut.dmg").write_bytes(DMG.read_bytes()[:10_000])
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in evidence.iterdir()}
    members, _ = _listing(APFS)
    known = archive.read_member(members["apfs_test/passwords.txt"])
    listing = tmp_path / "known.txt"
    listing.write_text(f"md5 {hashlib.md5(known).hexdigest()}\n")
    import_hashset(store, listing, "known", category=1)
    jsonl = tmp_path / "scan.jsonl"
    run_scan(store, "mac", [str(evidence)], jsonl_path=jsonl)
    rows = {
        r["path"].removeprefix(f"{evidence}/"): r
        for r in map(json.loads, jsonl.read_text().splitlines())
    }
    for name in FILES:
        assert rows[f"mac.raw!/{name}"]["error"] is None, name
    passwords = rows["mac.raw!/apfs_test/passwords.txt"]
    assert passwords["verdict"] == "known"
    assert passwords["metadata"]["filesystem"]["inode"] == "18"
    assert passwords["metadata"]["filesystem"]["modified"].startswith("2022-01-14")
    for name in ("passwords.txt", "a_directory/a_file", "a_directory/another_file"):
        assert rows[f"installer.bin!/p1/{name}"]["error"] is None, name
    assert rows["installer.bin!/p1/passwords.txt"]["verdict"] == "known"  # the same file
    assert rows["cut.raw!/"]["error"].startswith("corrupt-image")
    assert rows["cut.dmg!/"]["error"].startswith("corrupt-image")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in evidence.iterdir()}
    assert after == before


class _Locked:
    """A pyfsapfs volume as libfsapfs gives an encrypted one without its key: locked."""

    def __init__(self, volume: object) -> None:
        self.volume = volume
        self.name = "Secret"

    def is_locked(self) -> bool:
        return True


class _OneLocked:
    """pyfsapfs's container with a second, locked volume after the real one."""

    real_container: Any = None  # pyfsapfs.container, before the test replaces it

    def __init__(self) -> None:
        self.real = self.real_container()

    def open_file_object(self, stream: object) -> None:
        self.real.open_file_object(stream)

    @property
    def number_of_volumes(self) -> int:
        return 2

    def get_volume(self, index: int) -> object:
        volume = self.real.get_volume(0)
        return volume if index == 0 else _Locked(volume)

    def close(self) -> None:
        self.real.close()


def test_an_encrypted_volume_is_one_recorded_error_beside_the_readable_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyfsapfs

    monkeypatch.setattr(_OneLocked, "real_container", pyfsapfs.container)
    monkeypatch.setattr(pyfsapfs, "container", _OneLocked)
    members, problems = _listing(APFS)
    assert set(members) == FILES  # the open volume is read as before
    assert problems["Secret/"].reason == "encrypted-volume"
    names = [(v["name"], v["problem"]) for v in disk.image_info(str(APFS)).volumes]
    assert names == [("apfs_test", None), ("Secret", "encrypted-volume")]
