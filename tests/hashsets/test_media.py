"""A folder of known originals as a hash set: digests, PDQ, reference parts; evidence untouched."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from hashsieve import import_hashset
from hashsieve.hashing.reference import CROP_SHARES
from hashsieve.hashsets import detect_format
from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.catalogue import export_hashset, iter_records
from hashsieve.hashsets.media import MediaFolderFormat
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store


@pytest.fixture
def originals(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    (folder / "series a").mkdir(parents=True)
    (folder / "series a" / "one.jpg").write_bytes(jpeg_bytes(photo_like(3, (800, 600))))
    buf = io.BytesIO()
    photo_like(4, (640, 480)).save(buf, "PNG")
    (folder / "two.png").write_bytes(buf.getvalue())
    (folder / "broken.jpg").write_bytes(jpeg_bytes(photo_like(5, (640, 480)))[:300])
    (folder / "notes.txt").write_text("not media\n")
    (folder / "loop").symlink_to(folder)  # a link back up: never followed
    return folder


def test_a_folder_of_pictures_is_detected_as_media(originals: Path) -> None:
    assert detect_format(originals).name == "media"


def test_every_file_gives_digests_pictures_pdq_and_reference_parts(originals: Path) -> None:
    items = list(MediaFolderFormat().read(originals))
    records = [r for r in items if isinstance(r, HashRecord)]
    problems = [p for p in items if isinstance(p, ParseProblem)]
    by_entry: dict[str, set[str]] = {}
    for r in records:
        by_entry.setdefault(r.entry, set()).add(r.algorithm)
    assert by_entry["series a/one.jpg"] == {"md5", "sha1", "sha256", "pdq"}
    assert by_entry["two.png"] == {"md5", "sha1", "sha256", "pdq"}
    assert by_entry["notes.txt"] == {"md5", "sha1", "sha256"}
    assert by_entry["broken.jpg"] == {"md5", "sha1", "sha256"}  # digests kept, the rest refused
    assert [p.entry for p in problems] == ["broken.jpg"]
    assert by_entry["series a/one.jpg (crop 4%)"] == {"pdq-crop"}
    assert by_entry["series a/one.jpg (top 60%)"] == {"pdq-top"}
    assert not any(e.startswith("loop/") for e in by_entry)


def test_import_leaves_the_originals_untouched(store: Store, originals: Path) -> None:
    before = {
        p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in originals.rglob("*") if p.is_file()
    }
    summary = import_hashset(store, originals, "reference", category=1)
    assert summary.format == "media"
    assert summary.by_algorithm["pdq"] == 2
    assert summary.by_algorithm["pdq-crop"] == 2 * len(CROP_SHARES)
    assert summary.by_algorithm["pdq-top"] == 2
    after = {
        p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in originals.rglob("*") if p.is_file()
    }
    assert after == before


def test_exports_leave_the_reference_parts_out(
    store: Store, originals: Path, tmp_path: Path
) -> None:
    import_hashset(store, originals, "reference", category=1)
    out = io.StringIO()
    export_hashset(store, "reference", "vics", out)
    media = json.loads(out.getvalue())["value"]
    assert "pdq-crop" not in out.getvalue() and "crop 4%" not in out.getvalue()
    assert {m["AlternativeHashes"][-1]["HashName"] for m in media if "AlternativeHashes" in m} <= {
        "SHA256",
        "PDQ",
    }
    algorithms = {r.algorithm for r in iter_records(store, "reference", parts=True)}
    assert {"pdq-crop", "pdq-top"} <= algorithms
