"""Contracts every registered plugin keeps: hash-set formats, evidence sources, hash algorithms.

One test per registry, parametrised over its names (python-threatexchange's auto-test mixins,
perception's one integrity function over every hasher). Each registry has a dict of samples keyed
by its names, and a test that the keys are exactly the registry's: registering a format, source or
algorithm without a sample here fails.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hashsieve import config
from hashsieve.hashing import reference
from hashsieve.hashing.algorithms import (
    ALGORITHMS,
    CRYPTO_ALGORITHMS,
    PART_ALGORITHMS,
    Algorithm,
)
from hashsieve.hashsets import FORMATS, detect_format
from hashsieve.hashsets.base import (
    HEX_LENGTHS,
    STORED_HEX_LENGTHS,
    HashRecord,
    ParseProblem,
)
from hashsieve.hashsets.catalogue import EXPORT_FORMATS
from hashsieve.hashsets.categories import DEFAULT_UNCATEGORISED, UNCATEGORISED_POLICIES
from hashsieve.hashsets.export import write_plain, write_vics_media
from hashsieve.hashsets.hashdeep import write_hashdeep
from hashsieve.hashsets.sums import SUM_TOOLS, write_sums
from hashsieve.hashsets.vpdq import write_vpdq_folder
from hashsieve.index.store_index import PDQ_ALGORITHMS, WIDTHS
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sources import SOURCES, SourceFile, SourceProblem, open_source

from .hashsets.samples import (
    encase_bytes,
    hashdeep_text,
    hashkeeper_text,
    md5,
    pdq,
    sha1,
    sha256,
    vics_media,
    write_nsrl,
    write_nsrl_txt,
    write_vics,
)

# --- hash-set formats ---------------------------------------------------------------------------


def _text(text: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_text(text)
        return path

    return make


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def _vpdq_folder(path: Path) -> Path:
    # Two benign stand-in videos of three frames each (64 hex digits standing in for PDQ codes).
    for video in ("a", "b"):
        lines = [f"{n},{90 + n},{pdq(video + str(n))},{n / 30:.3f}" for n in range(3)]
        (path / "videos").mkdir(parents=True, exist_ok=True)
        (path / "videos" / f"{video}.txt").write_text("\n".join(lines) + "\n")
    return path / "videos"


def _media_folder(path: Path) -> Path:
    folder = path / "originals"
    folder.mkdir()
    (folder / "one.jpg").write_bytes(jpeg_bytes(photo_like(7, (320, 240))))
    return folder


def _vics(path: Path) -> Path:
    alternatives = [
        {"HashName": "PDQ", "HashValue": pdq("a")},
        {"HashName": "SHA256", "HashValue": sha256("a")},
    ]
    media = [
        vics_media(1, "a", AlternativeHashes=alternatives, Series="S1", VictimIdentified="true"),
        vics_media(2, "b", Category=2),
    ]
    return write_vics(path / "hashset.dat", media)


#: A sample of every registered format, written into a fresh folder; returns the set's path.
#: Files are named "hashset.dat" so that detection can only go by content.
FORMAT_SAMPLES: dict[str, Callable[[Path], Path]] = {
    "vics": _vics,
    "nsrl-rds3": lambda p: write_nsrl(p / "hashset.dat", "minimal"),
    "nsrl-txt": lambda p: write_nsrl_txt(p / "hashset.dat", "rdsv2"),
    "vpdq": _vpdq_folder,
    "media": _media_folder,
    "csv": lambda p: _text(f"md5,sha1,category\n{md5('a')},{sha1('a')},1\n{md5('b')},,2\n")(
        p / "hashset.dat"
    ),
    "md5sum": lambda p: _text(
        f"{md5('a')}  a.jpg\n{sha1('b')} *b c.jpg\nSHA256 (c.jpg) = {sha256('c')}\n"
    )(p / "hashset.dat"),
    "hashdeep": lambda p: _text(hashdeep_text(["a", "b"]))(p / "hashset.dat"),
    "hashkeeper": lambda p: _text(hashkeeper_text(["a", "b"]))(p / "hashset.dat"),
    "encase": lambda p: _bytes(encase_bytes([md5("a"), md5("b")]))(p / "hashset.dat"),
    "threatexchange": lambda p: _text(f"pdq {pdq('a')}\nvideo_md5 {md5('b')}\n")(p / "hashset.dat"),
    # 16 SHA-256s: enough for their bits to tell them from PDQ codes (hashsets/hex64.py).
    "plain": lambda p: _text(
        f"{md5('a')}\n{sha1('b')}\n" + "".join(f"{sha256(str(i))}\n" for i in range(16))
    )(p / "hashset.dat"),
}


def _write_vics(records: list[HashRecord], folder: Path) -> Path:
    path = folder / "written.json"
    with path.open("w", encoding="utf-8") as out:
        write_vics_media(records, out, "contract")
    return path


def _write_plain(records: list[HashRecord], folder: Path) -> list[Path]:
    # A plain list holds one algorithm: one file each, as `hashset export --format ALGO` writes.
    paths = []
    for algorithm in sorted({r.algorithm for r in records}):
        path = folder / f"written-{algorithm}.txt"
        with path.open("w", encoding="utf-8") as out:
            write_plain(records, out, algorithm)
        paths.append(path)
    return paths


def _write_sums(records: list[HashRecord], folder: Path) -> list[Path]:
    paths = []
    for tool, algorithm in SUM_TOOLS.items():
        if any(r.algorithm == algorithm for r in records):
            path = folder / f"written.{tool}"
            with path.open("w", encoding="utf-8") as out:
                write_sums(records, out, tool)
            paths.append(path)
    return paths


def _write_hashdeep(records: list[HashRecord], folder: Path) -> list[Path]:
    paths = []
    for algorithm in sorted({r.algorithm for r in records}):
        path = folder / f"written-{algorithm}.hashdeep"
        with path.open("w", encoding="utf-8") as out:
            write_hashdeep(records, out, algorithm)
        paths.append(path)
    return paths


def _write_vpdq(records: list[HashRecord], folder: Path) -> Path:
    write_vpdq_folder(records, folder / "written")
    return folder / "written"


def _record_key(r: HashRecord) -> tuple[object, ...]:
    return (r.algorithm, r.value, r.category, r.series, r.victim_identified)


#: Formats hashsieve writes (`hashset export`): the writer, and what of a record survives the trip
#: (a plain list keeps only hashes; VICS renumbers MediaIDs; vPDQ keeps the frame entries).
FORMAT_WRITERS: dict[str, tuple[Callable[..., Path | list[Path]], Callable[..., object]]] = {
    "vics": (_write_vics, _record_key),
    "plain": (_write_plain, lambda r: (r.algorithm, r.value)),
    "vpdq": (_write_vpdq, lambda r: (r.algorithm, r.value, r.entry)),
    "md5sum": (_write_sums, lambda r: (r.algorithm, r.value)),
    "hashdeep": (_write_hashdeep, lambda r: (r.algorithm, r.value)),
}


def test_every_format_has_a_sample() -> None:
    assert set(FORMAT_SAMPLES) == set(FORMATS.names())
    assert set(FORMAT_WRITERS) <= set(FORMATS.names())


def _read(path: Path) -> tuple[list[HashRecord], list[ParseProblem]]:
    items = list(detect_format(path).read(path))
    return (
        [i for i in items if isinstance(i, HashRecord)],
        [i for i in items if isinstance(i, ParseProblem)],
    )


@pytest.mark.parametrize("name", FORMATS.names())
def test_format_contract(tmp_path: Path, name: str) -> None:
    fmt = FORMATS.get(name)
    assert fmt.name == name and fmt.description
    path = FORMAT_SAMPLES[name](tmp_path)
    assert detect_format(path) is fmt
    records, problems = _read(path)
    assert records and not problems, problems
    for record in records:
        algorithm = ALGORITHMS.get(record.algorithm)
        assert algorithm.stored
        assert algorithm.format(algorithm.parse(record.value)) == record.value
        assert record.entry
        if fmt.always_known_good:
            assert record.category == 0
    if name not in FORMAT_WRITERS:
        return
    write, key = FORMAT_WRITERS[name]
    written = write(records, tmp_path)
    again: list[HashRecord] = []
    for out in written if isinstance(written, list) else [written]:
        back, back_problems = _read(out)
        assert detect_format(out) is fmt and not back_problems
        again += back
    assert sorted(map(key, again)) == sorted(map(key, records))  # type: ignore[type-var]


def test_export_choices_that_are_formats_have_writers() -> None:
    from hashsieve.cli.hashsets import EXPORT_CHOICES, hashset_export

    (option,) = [p for p in hashset_export.params if p.name == "format_name"]
    choices = set(option.type.choices)  # type: ignore[attr-defined]
    formats = choices & set(FORMATS.names())
    assert formats and formats <= set(FORMAT_WRITERS)
    # The rest: a plain list of one algorithm, and the checksum tools md5sum's writer serves.
    assert choices - formats == set(HEX_LENGTHS) | set(SUM_TOOLS) - {"md5sum"}
    assert set(EXPORT_CHOICES) == set(EXPORT_FORMATS) and set(SUM_TOOLS) <= set(EXPORT_FORMATS)


def test_import_choices_are_the_librarys() -> None:
    from hashsieve.cli.hashsets import UNCATEGORISED_CHOICES, hashset_import

    assert UNCATEGORISED_CHOICES == UNCATEGORISED_POLICIES
    assert UNCATEGORISED_CHOICES[0] == DEFAULT_UNCATEGORISED
    params = {p.name: p for p in hashset_import.params}
    assert set(params["algorithm"].type.choices) == set(HEX_LENGTHS)  # type: ignore[attr-defined]


# --- evidence sources ---------------------------------------------------------------------------


def _folder_source(path: Path) -> tuple[str, dict[str, int], set[str]]:
    """A folder with two files (one nested), a symbolic link and a FIFO: (location, expected
    files by path with their sizes, paths expected as problems)."""
    root = path / "evidence"
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(b"a" * 10)
    (root / "sub" / "b.bin").write_bytes(b"b" * 3)
    (root / "link").symlink_to(root / "a.bin")
    os.mkfifo(root / "pipe")
    files = {str(root / "a.bin"): 10, str(root / "sub" / "b.bin"): 3}
    return str(root), files, {str(root / "link"), str(root / "pipe")}


#: A sample of every registered evidence source.
SOURCE_SAMPLES: dict[str, Callable[[Path], tuple[str, dict[str, int], set[str]]]] = {
    "folder": _folder_source,
}


def test_every_source_has_a_sample() -> None:
    assert set(SOURCE_SAMPLES) == set(SOURCES.names())


@pytest.mark.parametrize("name", SOURCES.names())
def test_source_contract(tmp_path: Path, name: str) -> None:
    location, files, problems = SOURCE_SAMPLES[name](tmp_path)
    source = open_source(location, name)
    assert source.name == name
    items = list(source.files())
    assert {i.path: i.size for i in items if isinstance(i, SourceFile)} == files
    assert {i.path for i in items if isinstance(i, SourceProblem)} == problems
    assert list(source.files()) == items  # a stable order: a resumed scan walks the same way


def test_unknown_source_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown evidence source"):
        open_source("/", "e01")


# --- hash algorithms ----------------------------------------------------------------------------

#: A value of every registered algorithm, as hex (what a hash list or the store holds).
ALGORITHM_SAMPLES: dict[str, str] = {
    "md5": md5("a"),
    "sha1": sha1("a"),
    "sha256": sha256("a"),
    "pdq": pdq("a"),
    "pdq-crop": pdq("crop"),
    "pdq-top": pdq("top"),
    "vpdq": pdq("frame"),  # one frame's code
    "vpdq-contains": pdq("frame"),
}


def test_every_algorithm_has_a_sample() -> None:
    assert set(ALGORITHM_SAMPLES) == set(ALGORITHMS.names())


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_algorithm_contract(name: str) -> None:
    algorithm: Algorithm = ALGORITHMS.get(name)
    assert algorithm.name == name and algorithm.description
    assert len(name) <= 16  # the store's algorithm columns are String(16)
    text = ALGORITHM_SAMPLES[name]
    assert algorithm.hex_length == 2 * algorithm.width == len(text)
    value = algorithm.parse(text)
    assert len(value) == algorithm.width and algorithm.format(value) == text
    assert algorithm.parse(f" {text.upper()}\n") == value
    for bad in (text[:-1], text + "0", "g" + text[1:], text[:2] + " " + text[3:]):
        with pytest.raises(ValueError):
            algorithm.parse(bad)
    with pytest.raises(ValueError):
        algorithm.format(value[:-1])
    if algorithm.kind == "crypto":
        assert hashlib.new(name).digest_size == algorithm.width
        assert algorithm.threshold is None and algorithm.min_quality is None
    else:
        assert algorithm.threshold is not None and 0 <= algorithm.threshold < 8 * algorithm.width
        assert algorithm.min_quality is not None and 0 < algorithm.min_quality <= 100
    # Every consumer sees it: the store's indexes, the import's width check, the lists' readers.
    assert (name in WIDTHS) is algorithm.stored
    if algorithm.stored:
        assert WIDTHS[name] == algorithm.width
        assert STORED_HEX_LENGTHS[name] == algorithm.hex_length
        assert (name in PDQ_ALGORITHMS) is (algorithm.kind == "perceptual")
    assert (name in HEX_LENGTHS) is algorithm.listed


def test_algorithm_figures_are_the_measured_ones() -> None:
    assert CRYPTO_ALGORITHMS == ("md5", "sha1", "sha256")
    plain = ALGORITHMS.get("pdq")
    assert (plain.threshold, plain.min_quality) == (
        config.PDQ_MATCH_THRESHOLD,
        config.PDQ_MIN_QUALITY,
    )
    # The parts' figures measured on the robustness benchmark (hashing/algorithms.py), and
    # hashing/reference.py takes them from the registry rather than writing them again.
    assert PART_ALGORITHMS == ("pdq-crop", "pdq-top")
    for name in PART_ALGORITHMS:
        part = ALGORITHMS.get(name)
        assert (part.threshold, part.min_quality) == (31, 65)
        assert (part.threshold, part.min_quality) == (
            reference.PART_THRESHOLD,
            reference.PART_MIN_QUALITY,
        )
    assert set(PART_ALGORITHMS) == {
        n for n, a in ALGORITHMS if a.kind == "perceptual" and not a.listed
    }
    assert {part.algorithm for part in reference.reference_parts(photo_like(3, (96, 96)))} == set(
        PART_ALGORITHMS
    )


def test_plain_export_covers_every_listed_algorithm() -> None:
    records = [HashRecord(n, ALGORITHM_SAMPLES[n], f"x:{i}") for i, n in enumerate(HEX_LENGTHS)]
    for name in HEX_LENGTHS:
        out = io.StringIO()
        assert write_plain(records, out, name) == 1
        assert out.getvalue().splitlines()[1] == ALGORITHM_SAMPLES[name]
