"""The command line as a user runs it: real subprocesses, real files, real store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import run_cli


def test_hash_prints_one_json_line_per_file_and_stores_nothing(
    tmp_path: Path, sample_case: tuple[Path, Path]
) -> None:
    evidence, _ = sample_case
    files = [evidence / "DCIM" / "IMG_0001.jpg", evidence / "notes.txt"]
    home = tmp_path / "home"
    out = run_cli(home, "hash", *map(str, files)).stdout.splitlines()
    records = [json.loads(line) for line in out]
    assert [r["path"] for r in records] == [str(f) for f in files]
    assert len(records[0]["pdq"]) == 64 and records[0]["quality"] >= 50
    assert records[1]["pdq"] is None and len(records[1]["sha256"]) == 64
    assert not (home / "hashsieve.db").exists()


def test_the_documented_workflow(tmp_path: Path, sample_case: tuple[Path, Path]) -> None:
    evidence, sets = sample_case
    home = tmp_path / "home"
    imported = run_cli(home, "hashset", "import", str(sets / "projectvic.json"), "--name", "vic")
    assert "(vics, known)" in imported.stdout
    run_cli(home, "hashset", "import", str(sets / "NSRLFile.txt"), "--name", "nsrl")
    run_cli(
        home, "hashset", "import", str(sets / "ncmec-md5.txt"), "--name", "ncmec", "--category", "1"
    )
    listed = [
        json.loads(line) for line in run_cli(home, "hashset", "list", "--json").stdout.splitlines()
    ]
    assert {(h["name"], h["kind"]) for h in listed} == {
        ("vic", "known"),
        ("nsrl", "known-good"),
        ("ncmec", "known"),
    }
    scan = run_cli(
        home, "scan", str(evidence), "--case", "op-test", "--jsonl", str(tmp_path / "r.jsonl")
    )
    assert "files/s" in scan.stdout and "new" in scan.stdout
    for fmt in ("csv", "vics", "jsonl"):
        run_cli(
            home,
            "report",
            "--case",
            "op-test",
            "--format",
            fmt,
            "-o",
            str(tmp_path / f"report.{fmt}"),
        )
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert rows[0]["verdict"] == "new"
    assert len(rows) == len((tmp_path / "r.jsonl").read_text().splitlines())
    vics = json.loads((tmp_path / "report.vics").read_text())
    assert vics["@odata.context"].endswith("$metadata#Cases")
    media = vics["value"][0]["Media"]
    assert {m["Category"] for m in media if "Category" in m} >= {0, 1, 2}
    assert sum(len(m["MediaFiles"]) for m in media) == len(rows)


def test_a_report_reimports_as_a_hash_set(tmp_path: Path, sample_case: tuple[Path, Path]) -> None:
    """Share what was learned: the case's VICS export is a hash set another agency imports."""
    evidence, sets = sample_case
    home = tmp_path / "home"
    run_cli(home, "hashset", "import", str(sets / "projectvic.json"), "--name", "vic")
    run_cli(home, "scan", str(evidence), "--case", "a")
    run_cli(home, "report", "--case", "a", "--format", "vics", "-o", str(tmp_path / "a.json"))
    other = tmp_path / "other-agency"
    out = run_cli(other, "hashset", "import", str(tmp_path / "a.json"), "--name", "shared")
    # The case's new media carry no Category: refused unless the importer says what they are.
    assert "records had no Category: refused" in out.stdout
    out = run_cli(
        other, "hashset", "import", str(tmp_path / "a.json"), "--name", "shared-all",
        "--uncategorised", "known",
    )  # fmt: skip
    assert "0 refused" in out.stdout and "needs review" in out.stdout


def test_bad_usage_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = run_cli(home, "scan", str(tmp_path / "nope"), "--case", "x", check=False)
    assert missing.returncode != 0 and "no such file or folder" in missing.stderr
    unknown = run_cli(home, "report", "--case", "nope", check=False)
    assert unknown.returncode == 2 and "no case named 'nope'" in unknown.stderr
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 10)
    bad_set = run_cli(home, "hashset", "import", str(garbage), "--name", "g", check=False)
    assert bad_set.returncode == 2 and "error:" in bad_set.stderr
    absent = run_cli(
        home, "hashset", "import", str(tmp_path / "absent.txt"), "--name", "a", check=False
    )
    assert absent.returncode == 2 and "no such file" in absent.stderr


def test_malformed_lines_are_refused_with_their_line_number(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        "d41d8cd98f00b204e9800998ecf8427e\nnot-a-hash\nda39a3ee5e6b4b0d3255bfef95601890afd80709\n"
    )
    out = run_cli(tmp_path / "home", "hashset", "import", str(listing), "--name", "l").stdout
    assert "2 taken" in out and "1 refused" in out
    assert "list.txt:2" in out
