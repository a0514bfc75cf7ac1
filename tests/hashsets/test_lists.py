from __future__ import annotations

from pathlib import Path

import pytest

from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.lists import CsvFormat, PlainListFormat, ThreatExchangeFormat

from .samples import md5, pdq, sha1, sha256


def split(items: list[HashRecord | ParseProblem]) -> tuple[list[HashRecord], list[ParseProblem]]:
    return (
        [i for i in items if isinstance(i, HashRecord)],
        [i for i in items if isinstance(i, ParseProblem)],
    )


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_plain_mixed_lengths_comments_and_a_bad_line(tmp_path: Path, newline: str) -> None:
    lines = [
        "# a benign test list",
        md5("a").upper(),
        "",
        f"  {sha1('b')}  ",
        "not-a-hash",
        "# algorithm: sha256",  # one 64-digit line: its bits cannot tell SHA-256 from PDQ
        sha256("c"),
    ]
    path = tmp_path / "list.txt"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    records, problems = split(list(PlainListFormat().read(path)))
    assert [(r.algorithm, r.value, r.entry) for r in records] == [
        ("md5", md5("a"), "list.txt:2"),
        ("sha1", sha1("b"), "list.txt:4"),
        ("sha256", sha256("c"), "list.txt:7"),
    ]
    assert [p.entry for p in problems] == ["list.txt:5"]


@pytest.mark.parametrize(
    ("fmt", "header", "expected"),
    [
        (PlainListFormat(default_64="sha256"), "", "sha256"),
        (PlainListFormat(default_64="pdq"), "", "pdq"),
        (PlainListFormat(algorithm="pdq"), "", "pdq"),
        (PlainListFormat(), "# algorithm: pdq\n", "pdq"),
        (PlainListFormat(), "# algorithm: sha256\n", "sha256"),
    ],
)
def test_plain_64_digits_as_the_set_or_the_caller_says(
    tmp_path: Path, fmt: PlainListFormat, header: str, expected: str
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{header}{pdq('a')}\n")
    assert [r.algorithm for r in fmt.read(path) if isinstance(r, HashRecord)] == [expected]


def test_plain_fast_path_line_numbers_across_blocks(tmp_path: Path) -> None:
    # Large enough to span several read blocks; the bad line sits deep inside.
    values = [md5(str(i)) for i in range(200_000)]
    values[150_000] = "zz" * 16
    path = tmp_path / "big.txt"
    path.write_text("\n".join(values) + "\n")
    records, problems = split(list(PlainListFormat().read(path)))
    assert len(records) == 199_999
    assert records[-1].entry == "big.txt:200000" and records[-1].value == values[-1]
    assert [p.entry for p in problems] == ["big.txt:150001"]


def test_threatexchange_local_file(tmp_path: Path) -> None:
    path = tmp_path / "tx.txt"
    path.write_text(
        f"pdq {pdq('a')}\nvideo_md5 {md5('v')}\nmd5 {md5('m').upper()}\nurl example.com\npdq 12\n"
    )
    records, problems = split(list(ThreatExchangeFormat().read(path)))
    assert [(r.algorithm, r.value) for r in records] == [
        ("pdq", pdq("a")),
        ("md5", md5("v")),
        ("md5", md5("m")),
    ]
    assert [p.entry for p in problems] == ["tx.txt:4", "tx.txt:5"]


def test_csv_named_columns_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(
        "Name,MD5,SHA-1,Category,Series\n"
        f"one,{md5('a').upper()},{sha1('a')},1,Series X\n"
        f"two,{md5('b')},,0,\n"
        "three,bad,,,\n"
    )
    records, problems = split(list(CsvFormat().read(path)))
    assert [(r.algorithm, r.value, r.entry, r.category, r.series) for r in records] == [
        ("md5", md5("a"), "set.csv:2", 1, "Series X"),
        ("sha1", sha1("a"), "set.csv:2", 1, "Series X"),
        ("md5", md5("b"), "set.csv:3", 0, None),
    ]
    assert [p.entry for p in problems] == ["set.csv:4"]


def test_csv_threatexchange_dataset(tmp_path: Path) -> None:
    path = tmp_path / "dataset.csv"
    path.write_text(
        "signal_type,signal_str,collab,category,tags\n"
        f"pdq,{pdq('a')},file.txt,INVESTIGATION_SEED,\n"
        f"video_md5,{md5('v')},file.txt,,\n"
    )
    records, problems = split(list(CsvFormat().read(path)))
    assert problems == []
    assert [(r.algorithm, r.value, r.category) for r in records] == [
        ("pdq", pdq("a"), None),
        ("md5", md5("v"), None),
    ]


def test_csv_semicolon_icse_style(tmp_path: Path) -> None:
    path = tmp_path / "icse.csv"
    path.write_text(
        "MD5;SHA1;PhotoDNA;Image ID;Victim identified;Series name\n"
        f"{md5('a')};{sha1('a')};;17;Yes;Series Y\n"
    )
    records = [r for r in CsvFormat().read(path) if isinstance(r, HashRecord)]
    assert {(r.victim_identified, r.series) for r in records} == {(True, "Series Y")}
    assert len(records) == 2
