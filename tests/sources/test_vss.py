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
from tests.sources.vss_writer import add_stores, damage

pytest.importorskip("pyvshadow")
pytestmark = needs_tools

OLD = b"the benign file as it was when the first snapshot was taken\n" * 80
MIDDLE = b"the benign file as it was at the second snapshot\n" * 90
NEW = b"the benign file as it is now, rewritten after the snapshot\n" * 80
OTHER = b"a file nobody changed\n" * 100


def _rewrite(fs: Path, name: str, data: bytes) -> None:
    staged = fs.with_suffix(".staged")
    staged.write_bytes(data)
    subprocess.run(["ntfscp", "-f", str(fs), str(staged), f"/{name}"], check=True)
    staged.unlink()


def _ntfs(tmp_path: Path) -> tuple[Path, list[tuple[int, int]]]:
    """An NTFS volume whose ``notes.txt`` is now NEW, with two shadow copies: the oldest of it
    as OLD, the next as MIDDLE; returns the volume and its stores' record offsets."""
    fs = ntfs_fs(tmp_path / "ntfs.img", {"notes.txt": OLD, "other.txt": OTHER}, {})
    first = fs.read_bytes()
    _rewrite(fs, "notes.txt", MIDDLE)
    second = fs.read_bytes()
    _rewrite(fs, "notes.txt", NEW)
    return fs, add_stores(fs, [first, second])


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
    image = partitioned(tmp_path / "disk.raw", [(_ntfs(tmp_path)[0], "7")])
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
    newer = members["p1/vss2/notes.txt"]
    assert dict(newer.details)["shadow_copy_created"].startswith("2020-01-02")
    assert archive.read_member(newer) == MIDDLE
    # Unchanged files are listed from the store too: content decides, as for every file.
    assert archive.read_member(members["p1/vss1/other.txt"]) == OTHER
    assert members["p1/notes.txt"].recovered is None
    assert archive.read_member(members["p1/notes.txt"]) == NEW
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before


def test_a_damaged_store_is_recorded_and_the_live_volume_still_read(tmp_path: Path) -> None:
    fs, stores = _ntfs(tmp_path)
    # The oldest store's block list broken: that store alone is lost.
    damage(fs, stores[0][1])
    members, problems = _listing(fs, shadow_copies=True)
    assert problems == {"vss1/": "unreadable-shadow-copy"}
    assert archive.read_member(members["vss2/notes.txt"]) == MIDDLE
    assert archive.read_member(members["notes.txt"]) == NEW
    # A store header broken: libvshadow reads no catalog, the live volume is still read.
    damage(fs, stores[1][0])
    members, problems = _listing(fs, shadow_copies=True)
    assert problems == {"vss/": "unreadable-shadow-copy"}
    assert archive.read_member(members["notes.txt"]) == NEW
    assert not [name for name in members if name.startswith("vss")]


def test_scan_with_shadow_copies_matches_the_old_version(tmp_path: Path) -> None:
    image = partitioned(tmp_path / "disk.raw", [(_ntfs(tmp_path)[0], "7")])
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
