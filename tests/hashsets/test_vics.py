from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.vics import VicsFormat

from .samples import md5, pdq, sha1, sha256, vics_media, write_vics


def read(path: Path) -> tuple[list[HashRecord], list[ParseProblem]]:
    items = list(VicsFormat().read(path))
    return (
        [i for i in items if isinstance(i, HashRecord)],
        [i for i in items if isinstance(i, ParseProblem)],
    )


@pytest.mark.parametrize(
    ("version", "entity"), [("1.x", "Media"), ("2.0", "Media"), ("2.0", "Cases"), ("1.x", "Cases")]
)
@pytest.mark.parametrize("bom", [False, True])
def test_variants_yield_md5_and_sha1_per_media(
    tmp_path: Path, version: str, entity: str, bom: bool
) -> None:
    media = [vics_media(1, "a"), vics_media(2, "b", Category=0)]
    path = write_vics(tmp_path / "set.json", media, version=version, entity=entity, bom=bom)
    records, problems = read(path)
    assert problems == []
    assert [(r.algorithm, r.value, r.entry, r.category) for r in records] == [
        ("md5", md5("a"), "MediaID 1", 1),
        ("sha1", sha1("a"), "MediaID 1", 1),
        ("md5", md5("b"), "MediaID 2", 0),
        ("sha1", sha1("b"), "MediaID 2", 0),
    ]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("true", True), ("false", False), ("True", True), (True, True), (False, False), (None, None)],
)
def test_victim_identified_string_or_json_boolean(
    tmp_path: Path, flag: object, expected: bool | None
) -> None:
    path = write_vics(tmp_path / "s.json", [vics_media(1, "a", VictimIdentified=flag)])
    records, _ = read(path)
    assert {r.victim_identified for r in records} == {expected}


@pytest.mark.parametrize("category", [None, "absent"])
def test_null_or_absent_category_is_uncategorised(tmp_path: Path, category: object) -> None:
    media = vics_media(1, "a", Category=category)
    if category == "absent":
        del media["Category"]
    records, problems = read(write_vics(tmp_path / "s.json", [media]))
    assert problems == []
    assert {r.category for r in records} == {None}


def test_pdq_and_sha256_in_alternative_hashes_share_the_entry(tmp_path: Path) -> None:
    media = vics_media(
        7,
        "a",
        Series="Series X",
        AlternativeHashes=[
            {"MD5": md5("a").upper(), "HashName": "pdq", "HashValue": pdq("a").upper()},
            {"MD5": md5("a").upper(), "HashName": "SHA256", "HashValue": sha256("a")},
            {"MD5": md5("a").upper(), "HashName": "SHA1", "HashValue": sha1("a")},  # duplicate
            {"MD5": md5("a").upper(), "HashName": "PhotoDNA", "HashValue": "AAAA"},  # skipped
        ],
    )
    records, problems = read(write_vics(tmp_path / "s.json", [media]))
    assert problems == []
    assert sorted((r.algorithm, r.value) for r in records) == [
        ("md5", md5("a")),
        ("pdq", pdq("a")),
        ("sha1", sha1("a")),
        ("sha256", sha256("a")),
    ]
    assert {(r.entry, r.category, r.series) for r in records} == {("MediaID 7", 1, "Series X")}


def test_malformed_record_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    media: list[Any] = [
        vics_media(1, "a"),
        vics_media(2, "b", MD5="XYZ", SHA1=sha1("b")[:-2]),
        vics_media(3, "c", Category="not a number"),
        "not an object",
        vics_media(5, "e"),
    ]
    records, problems = read(write_vics(tmp_path / "s.json", media))
    assert {r.entry for r in records} == {"MediaID 1", "MediaID 3", "MediaID 5"}
    assert {r.category for r in records if r.entry == "MediaID 3"} == {None}
    assert [p.entry for p in problems] == ["MediaID 2", "MediaID 2", "MediaID 3", "Media #4"]


def test_truncated_json_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    path = write_vics(tmp_path / "s.json", [vics_media(1, "a"), vics_media(2, "b")])
    text = path.read_text()
    path.write_text(text[: text.index('"MediaID": 2')])
    records, problems = read(path)
    assert {r.entry for r in records} == {"MediaID 1"}
    assert len(problems) == 1 and "invalid JSON" in problems[0].message
