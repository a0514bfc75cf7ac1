"""vPDQ text files as known video hash sets: detection, import (file or folder), export."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashsieve.hashing.video import FrameHash, read_vpdq
from hashsieve.hashsets import detect_format
from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.hashsets.entries import as_frame, frame_record
from hashsieve.hashsets.vpdq import VpdqFormat, export_vpdq
from hashsieve.store import Store

from ..conftest import run_cli

A = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"
B = "c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c"
C = B[::-1]  # another 64-digit hash


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_frame_record_carries_provenance_in_fields() -> None:
    frame = FrameHash(372, 87, bytes(32), 12.4)
    record = frame_record("dir/clip 1.txt", frame, 2, "s")
    assert record.entry == "dir/clip 1.txt @12.400s frame 372 q87"  # display text only
    assert (record.item, record.seconds, record.frame, record.quality) == (
        "dir/clip 1.txt",
        12.4,
        372,
        87,
    )
    assert as_frame(record) == ("dir/clip 1.txt", frame)
    # A text that looks like a frame is not one: provenance is never parsed back from it.
    assert as_frame(HashRecord("pdq", "00" * 32, "clip.txt @1.000s frame 30 q90")) is None


def test_detected_as_file_and_folder(tmp_path: Path) -> None:
    clip = _write(tmp_path / "set" / "a.txt", f"0,100,{A},0.000\n1,100,{B},0.033\n")
    assert detect_format(clip).name == "vpdq"
    assert detect_format(tmp_path / "set").name == "vpdq"
    plain = _write(tmp_path / "plain.txt", f"# algorithm: pdq\n{A}\n")
    assert detect_format(plain).name != "vpdq"


def test_read_skips_low_quality_and_repeats_and_reports_bad_lines(tmp_path: Path) -> None:
    clip = _write(
        tmp_path / "clip.txt",
        f"0,100,{A},0.000\n1,100,{A},0.033\n2,10,{B},0.067\nbad line\n4,90,{C},0.133\n",
    )
    items = list(VpdqFormat().read(clip))
    records = [i for i in items if isinstance(i, HashRecord)]
    problems = [i for i in items if isinstance(i, ParseProblem)]
    assert [r.value for r in records] == [A, C]
    assert records[1].entry == "clip.txt @0.133s frame 4 q90"
    assert [p.entry for p in problems] == ["clip.txt:4"]


def test_import_folder_and_export_round_trip(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    _write(folder / "one.txt", f"0,100,{A},0.000\n30,95,{B},1.000\n")
    _write(folder / "sub" / "two.txt", f"0,80,{C},0.000\n")
    summary = import_hashset(store, folder, "videos", category=1)
    assert (summary.format, summary.taken, summary.refused) == ("vpdq", 3, 0)
    written = export_vpdq(store, "videos", tmp_path / "out")
    assert written == {"one.txt": 2, "sub/two.txt": 1}
    assert read_vpdq(tmp_path / "out" / "one.txt") == read_vpdq(folder / "one.txt")
    assert read_vpdq(tmp_path / "out" / "sub" / "two.txt") == read_vpdq(folder / "sub" / "two.txt")


@pytest.mark.slow
def test_cli_import_and_export(tmp_path: Path) -> None:
    clip = _write(tmp_path / "clip.txt", f"0,100,{A},0.000\n30,95,{B},1.000\n")
    home = tmp_path / "home"
    run_cli(home, "hashset", "import", str(clip), "--name", "v", "--category", "1")
    run_cli(home, "hashset", "export", "v", "--format", "vpdq", "-o", str(tmp_path / "out"))
    assert read_vpdq(tmp_path / "out" / "clip.txt") == read_vpdq(clip)


def test_vics_export_keeps_a_video_as_one_media_and_reimports(store: Store, tmp_path: Path) -> None:
    import io
    import json

    from hashsieve.hashsets.catalogue import export_hashset, iter_records

    folder = tmp_path / "videos"
    _write(folder / "one.txt", f"0,100,{A},0.000\n30,95,{B},1.000\n")
    _write(folder / "two.txt", f"0,80,{C},0.000\n")
    import_hashset(store, folder, "videos", category=1)
    out = io.StringIO()
    export_hashset(store, "videos", "vics", out)
    media = json.loads(out.getvalue())["value"]
    assert len(media) == 2  # one Media per video, its frames as vPDQ alternative hashes
    lines = sorted(a["HashValue"] for m in media for a in m["AlternativeHashes"])
    assert lines == sorted([f"0,100,{A},0.000", f"30,95,{B},1.000", f"0,80,{C},0.000"])
    exported = tmp_path / "videos.json"
    exported.write_text(out.getvalue())
    import_hashset(store, exported, "again")
    before = sorted((r.value, r.entry) for r in iter_records(store, "videos"))
    after = sorted((r.value, r.entry) for r in iter_records(store, "again"))
    assert [v for v, _ in after] == [v for v, _ in before]
