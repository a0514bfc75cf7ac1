"""End to end on the generated sample case: every verdict, every kind of match, review order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashsieve import import_hashset, run_scan
from hashsieve.store import Store


@pytest.fixture
def scanned(store: Store, sample_case: tuple[Path, Path], tmp_path: Path) -> dict[str, dict]:
    evidence, sets = sample_case
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "NSRLFile.txt", "nsrl")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    jsonl = tmp_path / "results.jsonl"
    run_scan(store, "sample", [str(evidence)], jsonl_path=jsonl)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return {
        str(Path(r["path"]).relative_to(evidence)): r | {"_rank": i} for i, r in enumerate(lines)
    }


def test_exact_copies_of_known_material_are_known_with_their_category(scanned: dict) -> None:
    img = scanned["DCIM/IMG_0001.jpg"]
    assert img["verdict"] == "known"
    assert img["category"] == 1
    algos = {(m["hashset"], m["algorithm"]) for m in img["matches"]}
    assert {("vic", "md5"), ("vic", "sha1"), ("vic", "pdq")} <= algos
    assert {m["entry"] for m in img["matches"] if m["hashset"] == "vic"} == {"MediaID 1"}


def test_a_list_match_names_its_file_and_line(scanned: dict) -> None:
    img = scanned["DCIM/IMG_0003.jpg"]
    ncmec = [m for m in img["matches"] if m["hashset"] == "ncmec"]
    assert ncmec == [
        {
            "hashset": "ncmec",
            "entry": "ncmec-md5.txt:1",
            "algorithm": "md5",
            "distance": 0,
            "category": 1,
        }
    ]
    assert img["category"] == 1  # the most serious category among its matches


def test_altered_copies_match_by_pdq(scanned: dict) -> None:
    resaved = scanned["Downloads/resaved.jpg"]
    assert resaved["verdict"] == "known"
    assert [m["algorithm"] for m in resaved["matches"]] == ["pdq"]
    assert 0 < resaved["matches"][0]["distance"] <= 31


def test_rotated_copy_matches_through_a_dihedral_variant(scanned: dict) -> None:
    rotated = scanned["Downloads/rotated.png"]
    assert rotated["verdict"] == "known"
    assert rotated["category"] == 2
    assert rotated["matches"][0]["variant"] != "r0"


def test_known_good_other_and_unreadable(scanned: dict) -> None:
    assert scanned["Program Files/readme.txt"]["verdict"] == "known-good"
    assert scanned["notes.txt"]["verdict"] == "other"
    broken = scanned["broken.jpg"]
    assert broken["verdict"] == "unreadable"
    assert broken["error"].startswith("truncated")
    assert broken["md5"] is not None  # the bytes were still hashed


def test_new_material_comes_first_largest_group_first(scanned: dict) -> None:
    new = sorted((r for r in scanned.values() if r["verdict"] == "new"), key=lambda r: r["_rank"])
    assert [r["_rank"] for r in new] == list(range(len(new)))
    sizes = [r["group_size"] for r in new]
    assert sizes == sorted(sizes, reverse=True)
    series = {scanned[f"Camera/series-{i}.jpg"]["group"] for i in (1, 2, 3)}
    assert len(series) == 1 and scanned["Camera/series-1.jpg"]["group_size"] == 3
    copies = {
        scanned["Camera/other-1.jpg"]["group"],
        scanned["Backup/copy-of-other-1.jpg"]["group"],
    }
    assert len(copies) == 1 and scanned["Camera/other-1.jpg"]["group_size"] == 2
    assert scanned["Camera/other-2.jpg"]["group_size"] == 1
    ranks = {
        v: min(r["_rank"] for r in scanned.values() if r["verdict"] == v)
        for v in ("new", "known", "known-good", "other", "unreadable")
    }
    assert (
        ranks["new"] < ranks["known"] < ranks["known-good"] < ranks["other"] < ranks["unreadable"]
    )


def test_camera_metadata_is_extracted(scanned: dict) -> None:
    meta = scanned["Camera/series-1.jpg"]["metadata"]
    assert meta["Make"] == "ExampleCam"
    assert meta["BodySerialNumber"] == "SN-0042"
    assert meta["DateTimeOriginal"] == "2026:05:01 10:00:00"
    assert meta["GPSLatitude"] == pytest.approx(52.3731, abs=1e-4)
    assert meta["GPSLongitude"] == pytest.approx(4.8922, abs=1e-4)


def test_every_line_has_the_documented_fields(scanned: dict) -> None:
    fields = {
        "path",
        "size",
        "md5",
        "sha1",
        "sha256",
        "media_type",
        "pdq",
        "quality",
        "verdict",
        "matches",
        "error",
    }
    assert scanned
    for record in scanned.values():
        assert fields <= record.keys()
