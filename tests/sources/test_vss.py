"""Volume Shadow Copies (sources/vss.py through sources/disk.py): an NTFS volume made with
``mkntfs``/``ntfscp`` whose file was rewritten after a snapshot; the snapshot's store written by
:mod:`tests.sources.vss_writer` (no Linux tool writes VSS). The old version is found only with
``--shadow-copies``, a damaged store is a recorded error, and the image is never changed."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hashsieve.cli import main
from hashsieve.sources import archive
from hashsieve.sources.archive import Member, SourceProblem
from tests.sources.disk_builders import needs_tools, ntfs_fs, partitioned
from tests.sources.vss_writer import add_stores, damage_store

pytest.importorskip("pyvshadow")
pytestmark = needs_tools

OLD = b"the benign file as it was when the snapshot was taken\n" * 80
NEW = b"the benign file as it is now, rewritten after the snapshot\n" * 80
OTHER = b"a file nobody changed\n" * 100


def _volume(tmp_path: Path) -> tuple[Path, list[int]]:
    """A disk whose NTFS partition holds ``notes.txt`` (now NEW) and one shadow copy of it
    (OLD); returns the disk and its store header offsets within the partition."""
    fs = ntfs_fs(tmp_path / "ntfs.img", {"notes.txt": OLD, "other.txt": OTHER}, {})
    snapshot = fs.read_bytes()
    staged = tmp_path / "new.txt"
    staged.write_bytes(NEW)
    subprocess.run(["ntfscp", "-f", str(fs), str(staged), "/notes.txt"], check=True)
    headers = add_stores(fs, [snapshot])
    return partitioned(tmp_path / "disk.raw", [(fs, "7")]), headers


def _listing(path: Path, shadow_copies: bool) -> tuple[dict[str, Member], dict[str, str]]:
    members: dict[str, Member] = {}
    problems: dict[str, str] = {}
    for item in archive.list_members(str(path), unallocated=False, shadow_copies=shadow_copies):
        if isinstance(item, SourceProblem):
            problems[item.path.removeprefix(f"{path}!/")] = item.reason
        else:
            members[item.names[-1]] = item
    return members, problems


def test_a_shadow_copys_files_are_listed_only_with_the_flag(tmp_path: Path) -> None:
    image, _ = _volume(tmp_path)
    before = hashlib.sha256(image.read_bytes()).hexdigest()

    live, problems = _listing(image, shadow_copies=False)
    assert not problems
    assert not [name for name in live if "vss" in name]
    assert archive.read_member(live["p1/notes.txt"]) == NEW

    members, problems = _listing(image, shadow_copies=True)
    assert not problems
    old = members["p1/vss1/notes.txt"]
    assert old.recovered == "shadow"
    details = dict(old.details)
    assert details["shadow_copy"] == "1"
    assert details["shadow_copy_created"].startswith("2020-01-01")
    assert archive.read_member(old) == OLD
    # Unchanged files are listed from the store too: content decides, as for every file.
    assert archive.read_member(members["p1/vss1/other.txt"]) == OTHER
    assert members["p1/notes.txt"].recovered is None
    assert archive.read_member(members["p1/notes.txt"]) == NEW
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before


def test_a_damaged_store_is_recorded_and_the_live_volume_still_read(tmp_path: Path) -> None:
    fs = ntfs_fs(tmp_path / "ntfs.img", {"notes.txt": OLD}, {})
    (header,) = add_stores(fs, [fs.read_bytes()])  # a snapshot of the volume as it is
    assert "vss1/notes.txt" in _listing(fs, shadow_copies=True)[0]
    damage_store(fs, header)
    members, problems = _listing(fs, shadow_copies=True)
    assert archive.read_member(members["notes.txt"]) == OLD
    assert problems == {"vss/": "unreadable-shadow-copy"}
    assert not [name for name in members if name.startswith("vss")]


def test_scan_with_shadow_copies_matches_the_old_version(tmp_path: Path) -> None:
    image, _ = _volume(tmp_path)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    known = tmp_path / "known.txt"
    known.write_text(f"md5 {hashlib.md5(OLD).hexdigest()}\n")
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    result = runner.invoke(
        main, [*home, "hashset", "import", str(known), "--name", "known", "--category", "1"]
    )
    assert result.exit_code == 0, result.output

    def scan(case: str, *flags: str) -> dict[str, dict]:
        jsonl = tmp_path / f"{case}.jsonl"
        args = [*home, "scan", "--case", case, "--workers", "1", "--jsonl", str(jsonl)]
        outcome = runner.invoke(main, [*args, *flags, str(image)])
        assert outcome.exit_code == 0, outcome.output
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
        return {r["path"].removeprefix(f"{image}!/"): r for r in rows}

    plain = scan("plain")
    assert plain["p1/notes.txt"]["verdict"] == "other"
    assert not [p for p in plain if "vss" in p]
    assert not [r for r in plain.values() if r["verdict"] == "known"]

    rows = scan("shadow", "--shadow-copies")
    old = rows["p1/vss1/notes.txt"]
    assert (old["verdict"], old["recovered"]) == ("known", "shadow")
    assert old["md5"] == hashlib.md5(OLD).hexdigest()
    assert rows["p1/notes.txt"]["verdict"] == "other"
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
