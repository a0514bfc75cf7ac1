"""Every container kind, recognised by its content and read in memory: v7 and ustar tar, a
single file compressed with gzip, bzip2 or xz, cpio (newc, odc, binary), 7z, RAR (through
libarchive). Archives are made here (or are the field's public test files)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import py7zr
import pytest

from hashsieve import run_scan
from hashsieve.hashing.media import sniff
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import archive, magic
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from tests.conftest import REPO, needs_conformance

KNOWN = jpeg_bytes(photo_like(5, (320, 240)))
NOTES = b"nothing to see here\n" * 50
REALWORLD = REPO.parent / "shared" / "realworld"
DFVFS = REALWORLD / "disk-images" / "dfvfs"
HOPPER = REALWORLD / "media" / "pillow"


def _cpio(kind: str, entries: dict[str, bytes]) -> bytes:
    """A cpio archive in ``kind`` ("newc", "odc", "bin"): a tiny writer, enough for tests."""
    out = bytearray()

    def pad(align: int) -> None:
        out.extend(b"\x00" * (-len(out) % align))

    for ino, (name, data) in enumerate([*entries.items(), ("TRAILER!!!", b"")], start=1):
        raw_name = name.encode() + b"\x00"
        mode = 0o100644 if data or name != "TRAILER!!!" else 0
        if kind == "newc":
            fields = [ino, mode, 0, 0, 1, 1_600_000_000, len(data), 0, 0, 0, 0, len(raw_name), 0]
            out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw_name
            pad(4)
            out += data
            pad(4)
        elif kind == "odc":
            out += b"070707" + b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
                0,
                ino,
                mode,
                0,
                0,
                1,
                0,
                1_600_000_000,
                len(raw_name),
                len(data),
            )
            out += raw_name + data
        else:
            mtime, size = 1_600_000_000, len(data)
            shorts = [0o070707, 0, ino, mode, 0, 0, 1, 0, mtime >> 16, mtime & 0xFFFF,
                      len(raw_name), size >> 16, size & 0xFFFF]  # fmt: skip
            out += b"".join(s.to_bytes(2, "little") for s in shorts) + raw_name
            pad(2)
            out += data
            pad(2)
    return bytes(out)


def _v7_tar(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    data = bytearray(out.getvalue())
    at = 0
    while at < len(data) and data[at : at + 512].strip(b"\x00"):  # each header: drop "ustar"
        header = data[at : at + 512]
        size = int(header[124:136].rstrip(b"\x00 ") or b"0", 8)
        header[257:265] = b"\x00" * 8
        header[148:156] = b" " * 8
        header[148:156] = b"%06o\x00 " % sum(header)
        data[at : at + 512] = header
        at += 512 + -(-size // 512) * 512
    return bytes(data)


def _seven_zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(data, name)
    return out.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def _rar4(entries: dict[str, bytes]) -> bytes:
    """A RAR 4 archive of stored (uncompressed) files: free tools cannot write RAR, and the
    stored form is simple enough to write here (RAR technote 2.9: marker, main header, one
    header per file, end block; each header's CRC is the low 16 bits of its CRC-32)."""

    def block(kind: int, flags: int, body: bytes) -> bytes:
        rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest

    out = b"Rar!\x1a\x07\x00" + block(0x73, 0, bytes(6))
    dos_time = (2020 - 1980) << 25 | 1 << 21 | 1 << 16  # 2020-01-01 00:00
    for name, data in entries.items():
        raw = name.encode()
        header = (
            struct.pack(
                "<IIBIIBBHI",
                len(data),
                len(data),
                3,
                zlib.crc32(data),
                dos_time,
                20,
                0x30,
                len(raw),
                0o100644,
            )
            + raw
        )
        out += block(0x74, 0x8000, header) + data
    return out + block(0x7B, 0x4000, b"")


RAR5_HEAD = b"Rar!\x1a\x07\x01\x00" + bytes(200)  # the RAR 5 signature, then damage

MAKERS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "photo.jpg.gz": (magic.GZIP, lambda: gzip.compress(KNOWN, mtime=0)),
    "photo.jpg.bz2": (magic.BZIP2, lambda: bz2.compress(KNOWN)),
    "photo.jpg.xz": (magic.XZ, lambda: lzma.compress(KNOWN)),
    "v7.tar": (magic.TAR, lambda: _v7_tar({"photo.jpg": KNOWN, "notes.txt": NOTES})),
    "newc.cpio": (magic.CPIO, lambda: _cpio("newc", {"photo.jpg": KNOWN, "notes.txt": NOTES})),
    "odc.cpio": (magic.CPIO, lambda: _cpio("odc", {"photo.jpg": KNOWN, "notes.txt": NOTES})),
    "bin.cpio": (magic.CPIO, lambda: _cpio("bin", {"photo.jpg": KNOWN, "notes.txt": NOTES})),
    "photos.7z": (magic.SEVEN_ZIP, lambda: _seven_zip({"a/photo.jpg": KNOWN, "notes.txt": NOTES})),
    "photos.rar": (magic.RAR, lambda: _rar4({"a/photo.jpg": KNOWN, "notes.txt": NOTES})),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_each_kind_is_recognised_by_content_and_read_in_memory(name: str, tmp_path: Path) -> None:
    mime, make = MAKERS[name]
    path = tmp_path / "evidence.bin"  # no telling extension: the content decides
    path.write_bytes(make())
    assert sniff(path.read_bytes()[:512])[1] == mime
    listed = list(archive.list_members(str(path)))
    members = {m.names[-1]: m for m in listed if isinstance(m, archive.Member)}
    assert not [p for p in listed if isinstance(p, archive.SourceProblem)]
    jpeg = next(m for n, m in members.items() if n.endswith(".jpg") or n == "evidence.bin")
    assert jpeg.size == len(KNOWN)
    assert archive.read_member(jpeg) == KNOWN
    job = archive.plan_jobs(list(members.values()))
    read = {m.names[-1]: s.read(10**7) for j in job for m, s in archive.read_job(j)}  # type: ignore[union-attr]
    assert read[jpeg.names[-1]] == KNOWN
    assert all(m.size == len(read[n]) for n, m in members.items())
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.bin"]  # nothing extracted


def test_a_compressed_file_is_one_member_named_by_gzip_header_or_suffix(tmp_path: Path) -> None:
    named = io.BytesIO()
    with gzip.GzipFile("holiday.jpg", "wb", fileobj=named, mtime=1_600_000_000) as g:
        g.write(KNOWN)
    (tmp_path / "x.gz").write_bytes(named.getvalue())
    (tmp_path / "photo.jpg.bz2").write_bytes(bz2.compress(KNOWN))
    [by_header] = archive.list_members(str(tmp_path / "x.gz"))
    [by_suffix] = archive.list_members(str(tmp_path / "photo.jpg.bz2"))
    assert isinstance(by_header, archive.Member) and by_header.names == ("holiday.jpg",)
    assert by_header.mtime_ns == 1_600_000_000 * 10**9
    assert isinstance(by_suffix, archive.Member) and by_suffix.names == ("photo.jpg",)


def test_random_data_and_zeros_are_not_taken_for_a_tar() -> None:
    block = bytearray(_v7_tar({"a.txt": b"x"})[:512])
    assert magic.is_tar_header(bytes(block))
    block[0:5] = b"b.txt"  # the checksum no longer adds up
    assert not magic.is_tar_header(bytes(block))
    assert not magic.is_tar_header(bytes(512))
    assert magic.container_type(hashlib.sha512(b"x").digest() * 8) is None


def test_a_damaged_rar_5_is_recognised_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "a.rar"
    path.write_bytes(RAR5_HEAD)
    assert sniff(RAR5_HEAD)[1] == magic.RAR
    [problem] = archive.list_members(str(path))
    assert isinstance(problem, archive.SourceProblem)
    assert problem.reason == "corrupt-archive"


def test_every_new_kind_is_scanned_matched_resumed_and_read_back(
    store: Store, tmp_path: Path
) -> None:
    from hashsieve.review.thumbs import read_record

    folder = tmp_path / "evidence"
    folder.mkdir()
    for name, (_, make) in MAKERS.items():
        (folder / name).write_bytes(make())
    (folder / "notes.txt.gz").write_bytes(gzip.compress(NOTES))
    (folder / "inner.zip.xz").write_bytes(lzma.compress(_zip({"deep.jpg": KNOWN})))
    (folder / "broken.rar").write_bytes(RAR5_HEAD)
    before = sorted(p.name for p in folder.iterdir())
    jsonl = tmp_path / "scan.jsonl"
    listing = tmp_path / "known.txt"
    listing.write_text(f"md5 {hashlib.md5(KNOWN).hexdigest()}\n")
    import_hashset(store, listing, "known", category=1)
    run_scan(store, "c", [str(folder)], jsonl_path=jsonl)
    rows = {
        json.loads(line)["path"].removeprefix(f"{folder}/"): json.loads(line)
        for line in jsonl.read_text().splitlines()
    }
    verdicts = {path: row["verdict"] for path, row in rows.items() if "!/" in path}
    assert verdicts == {
        "photo.jpg.gz!/photo.jpg": "known",
        "photo.jpg.bz2!/photo.jpg": "known",
        "photo.jpg.xz!/photo.jpg": "known",
        "v7.tar!/photo.jpg": "known",
        "v7.tar!/notes.txt": "other",
        "newc.cpio!/photo.jpg": "known",
        "newc.cpio!/notes.txt": "other",
        "odc.cpio!/photo.jpg": "known",
        "odc.cpio!/notes.txt": "other",
        "bin.cpio!/photo.jpg": "known",
        "bin.cpio!/notes.txt": "other",
        "photos.7z!/a/photo.jpg": "known",
        "photos.7z!/notes.txt": "other",
        "photos.rar!/a/photo.jpg": "known",
        "photos.rar!/notes.txt": "other",
        "notes.txt.gz!/notes.txt": "other",  # not media, matched nothing: no error row
        "inner.zip.xz!/inner.zip": "other",
        "inner.zip.xz!/inner.zip!/deep.jpg": "known",
        "broken.rar!/": "unreadable",
    }
    assert rows["broken.rar!/"]["error"].startswith("corrupt-archive")
    assert rows["notes.txt.gz!/notes.txt"]["error"] is None
    assert rows["notes.txt.gz!/notes.txt"]["md5"] == hashlib.md5(NOTES).hexdigest()
    assert rows["photos.7z"]["media_type"] == magic.SEVEN_ZIP
    assert sorted(p.name for p in folder.iterdir()) == before
    # A rerun skips every member; the review reads each kind's member back from its archive.
    summary = run_scan(store, "c", [str(folder)])
    assert summary.files == 0
    with store.session() as s:
        records = s.query(FileRecord).filter(FileRecord.verdict == "known").all()
        s.expunge_all()
    assert len(records) == 10
    assert all(read_record(r) == KNOWN for r in records)


@needs_conformance(HOPPER / "hopper.tar")
def test_hopper_in_a_pre_posix_tar_is_known(store: Store, tmp_path: Path) -> None:
    tar = HOPPER / "hopper.tar"
    jsonl = tmp_path / "scan.jsonl"
    listing = tmp_path / "known.txt"
    listing.write_text(f"md5 {hashlib.md5((HOPPER / 'hopper.jpg').read_bytes()).hexdigest()}\n")
    import_hashset(store, listing, "hopper", category=1)
    run_scan(store, "c", [str(tar)], jsonl_path=jsonl)
    rows = {json.loads(x)["path"]: json.loads(x) for x in jsonl.read_text().splitlines()}
    assert rows[f"{tar}!/hopper.jpg"]["verdict"] == "known"
    assert rows[f"{tar}!/hopper.png"]["verdict"] == "new"
    assert rows[str(tar)]["media_type"] == magic.TAR


@needs_conformance(DFVFS / "syslog.gz")
def test_dfvfs_compressed_files_and_cpio_are_opened(store: Store, tmp_path: Path) -> None:
    names = ["syslog.gz", "syslog.bz2", "syslog.xz", "syslog.tgz", "syslog.bin.cpio",
             "syslog.newc.cpio", "corrupt1.gz"]  # fmt: skip
    syslog = archive.read_member(
        next(m for m in archive.list_members(str(DFVFS / "syslog.tgz")))  # type: ignore[arg-type]
    )
    jsonl = tmp_path / "scan.jsonl"
    run_scan(store, "c", [str(DFVFS / n) for n in names], jsonl_path=jsonl)
    rows = {
        json.loads(x)["path"].removeprefix(f"{DFVFS}/"): json.loads(x)
        for x in jsonl.read_text().splitlines()
    }
    members = {p: r for p, r in rows.items() if "!/" in p and not p.startswith("corrupt1")}
    assert sorted(members) == [
        "syslog.bin.cpio!/syslog",
        "syslog.bz2!/syslog",
        "syslog.gz!/syslog.1",  # the name the gzip header carries
        "syslog.newc.cpio!/syslog",
        "syslog.tgz!/syslog",
        "syslog.xz!/syslog",
    ]
    for row in members.values():
        assert row["verdict"] == "other" and row["error"] is None
        assert row["md5"] == hashlib.md5(syslog).hexdigest()
    # The genuinely corrupt gzip stays a clear recorded error.
    assert rows["corrupt1.gz!/"]["verdict"] == "unreadable"
    assert rows["corrupt1.gz!/"]["error"].startswith("corrupt-archive")
