from __future__ import annotations

from pathlib import Path

import pytest

from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.nsrl import NsrlRds3Format, NsrlTextFormat

from .samples import NSRL_FILES, md5, sha1, sha256, write_nsrl, write_nsrl_txt


@pytest.mark.parametrize("layout", ["minimal", "full"])
def test_rds3_reads_each_file_once_as_non_pertinent(tmp_path: Path, layout: str) -> None:
    path = write_nsrl(tmp_path / "RDS_modern.db", layout)
    items = list(NsrlRds3Format().read(path))
    assert all(isinstance(i, HashRecord) for i in items)
    expected = {
        (algorithm, digest(stem))
        for stem, _ in NSRL_FILES
        for algorithm, digest in (("md5", md5), ("sha1", sha1), ("sha256", sha256))
    }
    pairs = [(i.algorithm, i.value) for i in items if isinstance(i, HashRecord)]
    assert sorted(pairs) == sorted(expected)  # DISTINCT_HASH / METADATA: no package repeats
    assert {i.category for i in items if isinstance(i, HashRecord)} == {0}
    assert all(i.entry.startswith("RDS_modern.db:") for i in items)


def test_rds3_is_opened_read_only(tmp_path: Path) -> None:
    path = write_nsrl(tmp_path / "rds.db", "minimal")
    before = path.stat().st_mtime_ns, path.read_bytes()
    list(NsrlRds3Format().read(path))
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert NsrlRds3Format.always_known_good


@pytest.mark.parametrize("header", ["rdsv2", "older"])
def test_nsrlfile_txt_by_header_name(tmp_path: Path, header: str) -> None:
    path = write_nsrl_txt(tmp_path / "NSRLFile.txt", header)
    items = list(NsrlTextFormat().read(path))
    assert [(i.algorithm, i.value) for i in items if isinstance(i, HashRecord)] == [
        pair for stem, _ in NSRL_FILES for pair in (("sha1", sha1(stem)), ("md5", md5(stem)))
    ]
    assert items[0].entry == "NSRLFile.txt:2 setup.exe"


def test_nsrlfile_txt_bad_row_reported_with_line(tmp_path: Path) -> None:
    path = write_nsrl_txt(tmp_path / "NSRLFile.txt", "rdsv2", bad_row=True)
    problems = [i for i in NsrlTextFormat().read(path) if isinstance(i, ParseProblem)]
    assert [p.entry for p in problems] == ["NSRLFile.txt:3 readme.txt"]
