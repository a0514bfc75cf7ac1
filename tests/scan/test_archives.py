"""Archives in the evidence: what they hold is hashed in memory, never extracted, and matched."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from hashsieve import run_scan
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import archive
from hashsieve.store import Store
from hashsieve.store.models import FileRecord

KNOWN = jpeg_bytes(photo_like(5, (640, 480)))
OTHER = jpeg_bytes(photo_like(6, (640, 480)))


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def _tar_gz(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(link)
    return out.getvalue()


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    inner = _zip({"deep/known.jpg": KNOWN})
    (folder / "photos.zip").write_bytes(
        _zip(
            {
                "DCIM/known.jpg": KNOWN,
                "DCIM/other.jpg": OTHER,
                "../../outside.jpg": OTHER,  # a name that would escape an extraction folder
                "nested.zip": inner,
            }
        )
    )
    (folder / "backup.tgz").write_bytes(
        _tar_gz({"a/known.jpg": KNOWN, "a/notes.txt": b"hello"}, symlink="a/link")
    )
    (folder / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    return folder


def _scan(store: Store, evidence: Path, tmp_path: Path, case: str = "c") -> dict[str, dict]:
    known = tmp_path / "known.txt"
    if not known.exists():
        known.write_text(f"md5 {hashlib.md5(KNOWN).hexdigest()}\n")
        import_hashset(store, known, "known", category=1)
    jsonl = tmp_path / f"{case}.jsonl"
    run_scan(store, case, [str(evidence)], jsonl_path=jsonl)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return {r["path"].removeprefix(str(evidence) + "/"): r for r in rows}


def test_members_are_hashed_matched_and_named_inside_their_archive(
    store: Store, evidence: Path, tmp_path: Path
) -> None:
    before = {p.name: p.read_bytes() for p in evidence.iterdir()}
    rows = _scan(store, evidence, tmp_path)
    verdicts = {path: row["verdict"] for path, row in rows.items()}
    assert verdicts == {
        "photos.zip": "other",
        "photos.zip!/DCIM/known.jpg": "known",
        "photos.zip!/DCIM/other.jpg": "new",
        "photos.zip!/../../outside.jpg": "new",
        "photos.zip!/nested.zip": "other",
        "photos.zip!/nested.zip!/deep/known.jpg": "known",
        "backup.tgz": "other",
        "backup.tgz!/a/known.jpg": "known",
        "backup.tgz!/a/notes.txt": "other",
        "backup.tgz!/a/link": "other",
        "broken.zip": "other",
        "broken.zip!/": "unreadable",
    }
    known = rows["photos.zip!/nested.zip!/deep/known.jpg"]
    assert known["md5"] == hashlib.md5(KNOWN).hexdigest() and known["size"] == len(KNOWN)
    assert known["matches"][0]["algorithm"] == "md5" and known["category"] == 1
    assert rows["photos.zip!/DCIM/other.jpg"]["pdq"]  # media inside archives get PDQ too
    assert rows["backup.tgz!/a/link"]["error"].startswith("symlink")
    assert rows["broken.zip!/"]["error"].startswith("corrupt-archive")
    assert rows["photos.zip"]["media_type"] == "application/zip"
    # Evidence is read-only: nothing changed, nothing extracted anywhere near it.
    assert {p.name: p.read_bytes() for p in evidence.iterdir()} == before
    assert not (tmp_path / "outside.jpg").exists()


def test_a_rerun_skips_the_members_already_done(
    store: Store, evidence: Path, tmp_path: Path
) -> None:
    _scan(store, evidence, tmp_path)
    summary = run_scan(store, "c", [str(evidence)])
    assert summary.files == 0 and summary.skipped == 10  # 3 files, 7 members (problems stay)
    with store.session() as s:
        assert s.query(FileRecord).count() == 12


def test_review_reads_a_member_back_from_its_archive(
    store: Store, evidence: Path, tmp_path: Path
) -> None:
    from hashsieve.review.thumbs import read_record, thumbnail

    _scan(store, evidence, tmp_path)
    with store.session() as s:
        record = (
            s.query(FileRecord)
            .filter(FileRecord.path_text.endswith("nested.zip!/deep/known.jpg"))
            .one()
        )
        s.expunge(record)
    assert read_record(record) == KNOWN
    assert thumbnail(store, record, 128).media_type == "image/jpeg"


def test_a_zipped_disk_image_is_listed_whole_and_streamed(store: Store, tmp_path: Path) -> None:
    """A sparse image compresses ~1,000:1: ordinary evidence, not a bomb. Every member is
    listed and hashed; the big one is digested as it streams."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    zeros = hashlib.md5()
    with zipfile.ZipFile(folder / "disk.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.txt", b"partition image of the seized laptop\n")
        z.writestr("DCIM/known.jpg", KNOWN)
        with z.open("partition.img", "w") as image:
            block = bytes(1024 * 1024)
            for _ in range(160):
                image.write(block)
                zeros.update(block)
    assert (folder / "disk.zip").stat().st_size < 1024 * 1024  # ~1,000:1
    rows = _scan(store, folder, tmp_path)
    assert rows["disk.zip!/DCIM/known.jpg"]["verdict"] == "known"
    assert rows["disk.zip!/README.txt"]["verdict"] == "other"
    image = rows["disk.zip!/partition.img"]
    assert image["verdict"] == "other" and image["error"] is None
    assert image["md5"] == zeros.hexdigest() and image["size"] == 160 * 1024 * 1024
    assert "disk.zip!/" not in rows  # no error row for the archive
    assert [p.name for p in folder.iterdir()] == ["disk.zip"]  # nothing written beside it


def _job(path: Path) -> archive.ArchiveJob:
    members = [m for m in archive.list_members(str(path)) if isinstance(m, archive.Member)]
    [job] = archive.plan_jobs(members)
    return job


def test_over_the_memory_limit_a_member_gets_digests_and_a_bomb_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashsieve.scan.worker import HashOptions, hash_archive_job

    big = bytes(3_000_000)
    path = tmp_path / "a.zip"
    path.write_bytes(_zip({"big.bin": big, "photo.jpg": KNOWN, "small.txt": b"hi"}))
    options = HashOptions(max_image_pixels=50_000_000, robust=False)
    monkeypatch.setattr(archive, "MEMBER_LIMIT", 1_000_000)  # hashed in this process
    results = {r.path.rsplit("!/", 1)[1]: r for r in hash_archive_job(_job(path), options)}
    assert results["big.bin"].md5 == hashlib.md5(big).hexdigest()
    assert results["big.bin"].error is None and results["big.bin"].size == len(big)
    assert results["small.txt"].md5 == hashlib.md5(b"hi").hexdigest()
    # Media over the in-memory limit: digests (so an MD5 list still matches), no picture.
    assert results["photo.jpg"].md5 == hashlib.md5(KNOWN).hexdigest()
    assert results["photo.jpg"].pdq is not None  # under the limit: a picture
    monkeypatch.setattr(archive, "MEMBER_LIMIT", 10_000)
    results = {r.path.rsplit("!/", 1)[1]: r for r in hash_archive_job(_job(path), options)}
    photo = results["photo.jpg"]
    assert photo.md5 == hashlib.md5(KNOWN).hexdigest() and photo.pdq is None
    assert photo.error is not None and photo.error.startswith("too-large")
    # Output past the hard cap is a bomb by its effect: recorded, no partial digests.
    monkeypatch.setattr(archive, "STREAM_LIMIT", 2_000_000)
    results = {r.path.rsplit("!/", 1)[1]: r for r in hash_archive_job(_job(path), options)}
    assert results["big.bin"].error is not None
    assert results["big.bin"].error.startswith("decompression-bomb")
    assert results["big.bin"].md5 is None
    assert results["small.txt"].error is None  # the others go on
    # Past its time a member is given up the same way (a deadline already passed: no clock race).
    monkeypatch.setattr(archive, "MEMBER_SECONDS", -1.0)
    results = {r.path.rsplit("!/", 1)[1]: r for r in hash_archive_job(_job(path), options)}
    assert all(
        r.error and r.error.startswith("timeout") and r.md5 is None for r in results.values()
    )


def test_zip_members_sharing_compressed_data_are_refused(tmp_path: Path) -> None:
    """The "zip bomb without recursion": many entries over one kernel. Refused by structure."""
    data = bytearray(_zip({"a.bin": bytes(100_000)}))
    central = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    entry = bytes(data[central:end])
    copies = [entry.replace(b"a.bin", f"{i}.bin".encode()[-5:].rjust(5, b"x")) for i in range(3)]
    directory = b"".join(copies)
    eocd = bytearray(data[end:])
    eocd[8:10] = eocd[10:12] = (3).to_bytes(2, "little")
    eocd[12:16] = len(directory).to_bytes(4, "little")
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(data[:central]) + directory + bytes(eocd))
    [problem] = archive.list_members(str(path))
    assert isinstance(problem, archive.SourceProblem)
    assert problem.reason == "decompression-bomb" and "overlapping" in problem.detail


def test_encrypted_members_and_oversized_reads_are_recorded(tmp_path: Path) -> None:
    data = bytearray(_zip({"open.jpg": KNOWN, "secret.jpg": OTHER}))
    # Mark "secret.jpg" encrypted (general purpose flag bit 0) in its local and central headers.
    local = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("secret.jpg").header_offset
    data[local + 6] |= 0x1
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)  # the second entry
    data[central + 8] |= 0x1
    path = tmp_path / "locked.zip"
    path.write_bytes(bytes(data))
    listed = list(archive.list_members(str(path)))
    problems = [item for item in listed if isinstance(item, archive.SourceProblem)]
    members = [item for item in listed if isinstance(item, archive.Member)]
    assert [p.reason for p in problems] == ["encrypted"]
    assert [m.names for m in members] == [("open.jpg",)]
    assert archive.read_member(members[0]) == KNOWN
    with pytest.raises(archive.ArchiveError) as raised:
        archive.read_member(members[0], limit=1000)
    assert raised.value.reason == "too-large"


def test_nesting_is_followed_three_levels_deep(store: Store, tmp_path: Path) -> None:
    level3 = _zip({"known.jpg": KNOWN, "level4.zip": _zip({"known.jpg": KNOWN})})
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "level1.zip").write_bytes(_zip({"level2.zip": _zip({"level3.zip": level3})}))
    rows = _scan(store, folder, tmp_path)
    assert rows["level1.zip!/level2.zip!/level3.zip!/known.jpg"]["verdict"] == "known"
    deepest = rows["level1.zip!/level2.zip!/level3.zip!/level4.zip!/"]
    assert deepest["verdict"] == "unreadable" and deepest["error"].startswith("archive-depth")
    assert "level1.zip!/level2.zip!/level3.zip!/level4.zip!/known.jpg" not in rows
