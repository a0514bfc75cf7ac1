from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hashsieve.errors import HashSetFormatError
from hashsieve.hashsets import FORMATS, detect_format

from .samples import md5, pdq, sha1, vics_media, write_nsrl, write_nsrl_txt, write_vics


def _text(text: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_text(text)
        return path

    return make


# Every file is named "hashset.dat": detection must not look at the extension.
SAMPLES: dict[str, Callable[[Path], Path]] = {
    "vics-1.x": lambda p: write_vics(p, [vics_media(1, "a")], version="1.x"),
    "vics-2.0-cases-bom": lambda p: write_vics(p, [vics_media(1, "a")], entity="Cases", bom=True),
    "nsrl-rds3-minimal": lambda p: write_nsrl(p, "minimal"),
    "nsrl-rds3-full": lambda p: write_nsrl(p, "full"),
    "nsrl-txt": lambda p: write_nsrl_txt(p, "rdsv2"),
    "nsrl-txt-older": lambda p: write_nsrl_txt(p, "older"),
    "threatexchange": _text(f"pdq {pdq('a')}\nvideo_md5 {md5('b')}\n"),
    "csv": _text(f"md5,category\n{md5('a')},1\n"),
    "csv-tx-dataset": _text(f"signal_type,signal_str,collab,category,tags\npdq,{pdq('a')},c,,\n"),
    "plain": _text(f"# list\n{md5('a')}\n{sha1('b')}\nbad line\n{md5('c')}\n"),
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_detects_format_from_content(tmp_path: Path, sample: str) -> None:
    path = SAMPLES[sample](tmp_path / "hashset.dat")
    expected = next(name for name in FORMATS.names() if sample.startswith(name))
    assert detect_format(path).name == expected


def test_registry_names_are_stable() -> None:
    assert sorted(FORMATS.names()) == sorted(
        [
            "vics",
            "nsrl-rds3",
            "nsrl-txt",
            "vpdq",
            "media",
            "threatexchange",
            "csv",
            "plain",
            "encase",
            "hashdeep",
            "hashkeeper",
            "md5sum",
        ]
    )
    assert all(name == fmt.name for name, fmt in FORMATS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 4, "not a hash set"),
        (b"hello world\nthis is a shopping list\n", "not a hash set"),
        (b'{"value": []}', "not a hash set"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "not a hash set"),
    ],
)
def test_unknown_content_raises(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "hashset.txt"
    path.write_bytes(content)
    with pytest.raises(HashSetFormatError, match=message):
        detect_format(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(HashSetFormatError, match="cannot read"):
        detect_format(tmp_path / "nope.json")
