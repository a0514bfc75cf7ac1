"""Scanning a seized disk's image directly: every file of its file systems (and the deleted ones
still described) is hashed in the workers and matched like a folder's, the image untouched."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from hashsieve import run_scan
from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from tests.conftest import run_cli
from tests.sources.disk_builders import ewf, ext4_fs, fat_fs, needs_tools, partitioned

pytestmark = needs_tools

ALLOCATED = jpeg_bytes(photo_like(11, (640, 480)))
ORIGINAL = photo_like(12, (800, 600))  # known by PDQ only; the disk holds it resized
RESIZED = jpeg_bytes(ORIGINAL.resize((400, 300)))
ZIPPED = jpeg_bytes(photo_like(13, (640, 480)))
DELETED = jpeg_bytes(photo_like(14, (640, 480)))
#: Written into the ext4 partition's free blocks: no file entry left, only carving finds it.
CARVED_ONLY = jpeg_bytes(photo_like(17, (640, 480)))
UNRELATED = [jpeg_bytes(photo_like(seed, (640, 480))) for seed in (15, 16)]

#: What each member of the image should be, by its path inside the image.
EXPECTED = {
    "p1/DCIM/keep.jpg": ("new", None),
    "p1/DCIM/deleted picture.jpg": ("known", "deleted"),
    "p2/Users/x/Pictures/a.jpg": ("known", None),
    "p2/Users/x/Pictures/small.jpg": ("known", None),
    "p2/Users/x/Pictures/other.jpg": ("new", None),
    "p2/Users/x/archive.zip!/inner/z.jpg": ("known", None),
    "p2/Users/x/archive.zip": ("other", None),
    "p2/noise.bin": ("other", None),
}


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One disk (FAT p1 with a deleted picture, ext4 p2), as raw and as a split E01."""
    work = tmp_path_factory.mktemp("disk")
    fat = fat_fs(
        work / "fat.img", {"DCIM/keep.jpg": UNRELATED[0]}, {"DCIM/deleted picture.jpg": DELETED}
    )
    ext = ext4_fs(
        work / "ext.img",
        {
            "Users/x/Pictures/a.jpg": ALLOCATED,
            "Users/x/Pictures/small.jpg": RESIZED,
            "Users/x/Pictures/other.jpg": UNRELATED[1],
            "Users/x/archive.zip": _zip("inner/z.jpg", ZIPPED),
            # Incompressible, so the E01 needs several 1 MiB segments.
            "noise.bin": os.urandom(3 * 1024 * 1024),
        },
    )
    raw_dir, ewf_dir = work / "raw", work / "ewf"
    raw_dir.mkdir()
    ewf_dir.mkdir()
    raw = partitioned(raw_dir / "disk.dd", [(fat, "c"), (ext, "83")])
    _write_in_free_space(raw, CARVED_ONLY)
    e01 = ewf(raw, ewf_dir / "disk", segment_bytes=1024 * 1024)
    return {"raw": raw, "ewf": e01}


def _write_in_free_space(raw: Path, data: bytes) -> None:
    """``data`` in the middle of the disk's largest free run (the second partition's free
    blocks; the run's middle stays clear of any metadata the runs may include)."""
    from hashsieve.sources.disk import unallocated_runs

    offset, length = max(unallocated_runs(str(raw)), key=lambda run: run[1])
    assert length > 4 * len(data)
    with open(raw, "r+b") as disk:
        disk.seek((offset + length // 2) // 4096 * 4096)
        disk.write(data)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _known_list(tmp_path: Path) -> Path:
    listing = tmp_path / "known.txt"
    known = (ALLOCATED, ZIPPED, DELETED, CARVED_ONLY)
    lines = [f"md5 {hashlib.md5(b).hexdigest()}" for b in known]
    lines.append(f"pdq {pdq_hash(ORIGINAL).hex}")
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _rows(jsonl: Path, image: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return {r["path"].removeprefix(f"{image}!/"): r for r in rows}


@pytest.mark.parametrize("kind", ["ewf", "raw"])
def test_every_picture_of_the_image_is_found(
    store: Store, images: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    image = images[kind]
    before = _digests(image.parent)
    import_hashset(store, _known_list(tmp_path), "known", category=1)
    jsonl = tmp_path / "scan.jsonl"
    summary = run_scan(store, "disk", [str(image)], jsonl_path=jsonl)
    rows = _rows(jsonl, image)
    got = {p: (r["verdict"], r["recovered"]) for p, r in rows.items() if p in EXPECTED}
    assert got == EXPECTED
    # The image is the one evidence file (its other segments read through it).
    assert [r["path"] for r in rows.values() if "!/" not in r["path"]] == [str(image)]
    assert not [p for p, r in rows.items() if r["error"] and "lost+found" not in p]
    # How the file was found, and its file system's own times, are in the row.
    deleted = rows["p1/DCIM/deleted picture.jpg"]
    assert deleted["md5"] == hashlib.md5(DELETED).hexdigest()
    assert {"inode", "modified", "created"} <= set(deleted["metadata"]["filesystem"])
    assert rows["p2/Users/x/Pictures/small.jpg"]["matches"][0]["algorithm"].startswith("pdq")
    # The deleted picture's blocks are free: carved from unallocated space too (sources/carve.py);
    # the picture left only in free blocks is found by carving alone.
    carved = {r["md5"]: r["verdict"] for r in rows.values() if r["recovered"] == "carved"}
    assert carved == {hashlib.md5(b).hexdigest(): "known" for b in (DELETED, CARVED_ONLY)}
    assert summary.verdicts["known"] == 6
    # The evidence is byte for byte what it was.
    assert _digests(image.parent) == before
    with store.session() as s:
        stored = (
            s.query(FileRecord).filter(FileRecord.path_text.endswith("deleted picture.jpg")).one()
        )
        assert stored.recovered == "deleted"


def test_a_rerun_after_an_interrupted_scan_redoes_nothing(
    store: Store, images: dict[str, Path], tmp_path: Path
) -> None:
    image = str(images["ewf"])
    first = run_scan(store, "again", [image])
    second = run_scan(store, "again", [image])
    assert first.files > len(EXPECTED)
    assert second.files == 0 and second.skipped == first.files


def test_images_are_hashed_as_files_only_when_turned_off(
    store: Store, settings: Settings, images: dict[str, Path], tmp_path: Path
) -> None:
    import dataclasses

    off = dataclasses.replace(settings, disk_images=False)
    jsonl = tmp_path / "off.jsonl"
    run_scan(store, "off", [str(images["raw"])], settings=off, jsonl_path=jsonl)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(images["raw"])]
    assert rows[0]["media_type"] == "application/x-raw-disk-image"


def test_a_damaged_or_false_image_is_a_recorded_error_and_the_scan_goes_on(
    store: Store, images: dict[str, Path], tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    segments = sorted(images["ewf"].parent.iterdir())
    assert len(segments) >= 3
    # A set whose last segment was cut short, and one whose second segment is missing.
    for name, cut in (("cut", True), ("gap", False)):
        for i, segment in enumerate(segments):
            data = segment.read_bytes()
            if not cut and i == 1:
                continue
            if cut and i == len(segments) - 1:
                data = data[: len(data) // 2]
            (evidence / f"{name}{segment.suffix}").write_bytes(data)
    (evidence / "random.E01").write_bytes(os.urandom(64 * 1024))
    (evidence / "photo.jpg").write_bytes(ALLOCATED)
    jsonl = tmp_path / "bad.jsonl"
    run_scan(store, "bad", [str(evidence)], jsonl_path=jsonl)
    rows = _rows(jsonl, evidence)
    rows = {p.removeprefix(f"{evidence}/"): r for p, r in rows.items()}
    assert rows["random.E01!/"]["error"].startswith("not-a-disk-image")
    assert rows["gap.E01!/"]["error"].startswith("corrupt-image")
    # The cut set opens; what lay in the lost part is an error of its own, the rest is read.
    assert rows["cut.E01!/p2/noise.bin"]["error"].startswith("corrupt-image")
    assert rows["cut.E01!/p1/DCIM/keep.jpg"]["error"] is None
    assert rows["photo.jpg"]["verdict"] == "new" and rows["photo.jpg"]["error"] is None


def _rows_in(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_inside_an_image_then_resume(tmp_path: Path) -> None:
    total = 1500
    tiny = [jpeg_bytes(photo_like(i, (48, 48)), quality=70) for i in range(total)]
    ext = ext4_fs(tmp_path / "many.img", {f"d{i % 10}/{i}.jpg": b for i, b in enumerate(tiny)})
    (tmp_path / "ewf").mkdir()
    image = ewf(ext, tmp_path / "ewf" / "many")
    home = tmp_path / "home"
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    args = [sys.executable, "-m", "hashsieve.cli", "scan", str(image), "--case", "k"]
    proc = subprocess.Popen(
        [*args, "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = home / "hashsieve.db"
    deadline = time.monotonic() + 180
    # The image's own row first, then its files in batches: kill once some files are stored.
    while _rows_in(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the scanner and its workers, inside the image
    proc.wait()
    done_before = _rows_in(db)
    assert 1 < done_before < total + 1, "the kill should land inside the image"

    result = run_cli(home, "scan", str(image), "--case", "k", "--workers", "2")
    assert "already done by an earlier run" in result.stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT path_key) FROM files").fetchone()
        rehashed = conn.execute(
            "SELECT files FROM scans WHERE status = 'completed' ORDER BY id DESC"
        ).fetchone()[0]
    assert rows == (total + 1, total + 1)  # the image and each of its files once
    assert rehashed <= total + 1 - done_before  # finished work was not redone


def test_the_vics_report_carries_file_times_and_the_deleted_flag(
    store: Store, images: dict[str, Path], tmp_path: Path
) -> None:
    from hashsieve.report.writers import REPORTS

    image = images["raw"]
    jsonl = tmp_path / "scan.jsonl"
    run_scan(store, "disk", [str(image)], jsonl_path=jsonl)
    rows = _rows(jsonl, image)
    times = rows["p1/DCIM/deleted picture.jpg"]["metadata"]["filesystem"]
    out = io.StringIO()
    REPORTS.get("vics")(store, store.get_case("disk").id, "disk", out)
    media = json.loads(out.getvalue())["value"][0]["Media"]
    copies = {
        f"{f['FilePath']}/{f['FileName']}".removeprefix(f"{image}!/"): f
        for m in media
        for f in m["MediaFiles"]
    }
    deleted = copies["p1/DCIM/deleted picture.jpg"]
    assert deleted["MD5"] == hashlib.md5(DELETED).hexdigest().upper()
    assert deleted["Deleted"] == "true" and deleted["Unallocated"] == "false"
    assert deleted["Created"] == times["created"] and deleted["Written"] == times["modified"]
    assert ("Accessed" in deleted) == ("accessed" in times)
    live = copies["p2/Users/x/Pictures/a.jpg"]
    assert live["Deleted"] == "false" and live["Written"].startswith("20")
    # The same picture carved from unallocated space: one Media, two copies, one unallocated.
    (carved,) = [
        f for p, f in copies.items() if p.startswith("$Unallocated/") and f["MD5"] == deleted["MD5"]
    ]
    assert carved["MD5"] == deleted["MD5"] and carved["Unallocated"] == "true"
    assert "Created" not in carved and carved["Deleted"] == "false"
    # The evidence file itself is no file system's copy: no flags.
    assert "Deleted" not in copies[str(image)] and "Created" not in copies[str(image)]
