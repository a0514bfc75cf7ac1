from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hashsieve.hashsets import detect_format
from hashsieve.hashsets.base import HashRecord
from hashsieve.hashsets.export import write_plain, write_vics_media

from .samples import md5, pdq, sha1, sha256

RECORDS = [
    HashRecord("md5", md5("a"), "MediaID 1", 1, "Series X", True),
    HashRecord("sha1", sha1("a"), "MediaID 1", 1, "Series X", True),
    HashRecord("pdq", pdq("a"), "MediaID 1", 1, "Series X", True),
    HashRecord("md5", md5("b"), "list.txt:2", None, None, None),
    HashRecord("sha256", sha256("c"), "list.txt:3", 0, None, False),
]


def _hashes(records: list[HashRecord]) -> set[tuple[str, str]]:
    return {(r.algorithm, r.value) for r in records}


def test_vics_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    with path.open("w") as stream:
        assert write_vics_media(RECORDS, stream, "test set") == 3
    document = json.loads(path.read_text())
    assert document["value"][0]["MD5"] == md5("a").upper()
    assert document["value"][0]["AlternativeHashes"][0]["HashName"] == "PDQ"
    fmt = detect_format(path)
    assert fmt.name == "vics"
    back = [r for r in fmt.read(path) if isinstance(r, HashRecord)]
    assert _hashes(back) == _hashes(RECORDS)
    by_value = {r.value: r for r in back}
    assert (by_value[pdq("a")].category, by_value[pdq("a")].series) == (1, "Series X")
    assert by_value[pdq("a")].victim_identified is True
    assert by_value[md5("b")].category is None
    assert len({r.entry for r in back}) == 3


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "pdq"])
def test_plain_round_trip(tmp_path: Path, algorithm: str) -> None:
    path = tmp_path / "out.txt"
    with path.open("w") as stream:
        count = write_plain(RECORDS, stream, algorithm)
    wanted = [r for r in RECORDS if r.algorithm == algorithm]
    assert count == len(wanted)
    back = [r for r in detect_format(path).read(path) if isinstance(r, HashRecord)]
    assert _hashes(back) == _hashes(wanted)


def test_plain_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        write_plain(RECORDS, io.StringIO(), "crc32")
