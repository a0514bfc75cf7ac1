"""Hash lists laid out the way examiners' tools write them (#18): ambiguous 64-digit lists,
VICS records without a usable Category, mislabelled and UTF-16 VICS files, imports that take
nothing, and the formats other tools exchange (md5sum, hashdeep, HashKeeper, EnCase)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from hashsieve.errors import HashSetFormatError
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashsets import detect_format, hex64
from hashsieve.hashsets.base import HashRecord, ParseProblem
from hashsieve.hashsets.catalogue import (
    NothingImportedError,
    export_hashset,
    import_hashset,
    iter_records,
)
from hashsieve.hashsets.encase import EncaseFormat
from hashsieve.hashsets.hashdeep import HashdeepFormat, write_hashdeep
from hashsieve.hashsets.hashkeeper import HashKeeperFormat
from hashsieve.hashsets.lists import CsvFormat, PlainListFormat
from hashsieve.hashsets.sums import ChecksumFormat, write_sums
from hashsieve.hashsets.vics import VicsFormat
from hashsieve.samples.images import photo_like
from hashsieve.store import Store

from ..conftest import run_cli
from .samples import (
    encase_bytes,
    hashdeep_text,
    hashkeeper_text,
    md5,
    sha1,
    sha256,
    vics_media,
    write_vics,
)

CONFORMANCE = Path(
    os.environ.get("HASHSIEVE_CONFORMANCE")
    or Path(__file__).resolve().parents[3] / "shared" / "conformance"
)
HAYSTACK = CONFORMANCE / "pdq" / "haystack.txt"


def split(items: list[HashRecord | ParseProblem]) -> tuple[list[HashRecord], list[ParseProblem]]:
    return (
        [i for i in items if isinstance(i, HashRecord)],
        [i for i in items if isinstance(i, ParseProblem)],
    )


@pytest.fixture(scope="module")
def generated_pdqs() -> list[str]:
    """PDQ codes of 20 generated pictures: real PDQ output, benign input."""
    return [pdq_hash(photo_like(900 + i, (128, 96))).hex for i in range(20)]


def sha256s(n: int) -> list[str]:
    return [sha256(f"file {i}") for i in range(n)]


# --- SHA-256 or PDQ ------------------------------------------------------------------------------


@pytest.mark.skipif(not HAYSTACK.exists(), reason="shared/conformance/pdq is not here")
def test_threatexchange_haystack_is_read_as_pdq(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "haystack.txt"
    path.write_bytes(HAYSTACK.read_bytes())  # 1,350 PDQ codes, no header, no type
    summary = import_hashset(store, path, "haystack")
    assert summary.by_algorithm == {"pdq": 1350} and summary.refused == 0


def test_generated_pdq_list_is_read_as_pdq(tmp_path: Path, generated_pdqs: list[str]) -> None:
    assert all(int(h, 16).bit_count() == 128 for h in generated_pdqs)  # by construction
    path = tmp_path / "pdq.txt"
    path.write_text("\n".join(generated_pdqs) + "\n")
    records, problems = split(list(PlainListFormat().read(path)))
    assert {r.algorithm for r in records} == {"pdq"} and len(records) == 20 and not problems


def test_sha256_list_is_read_as_sha256(tmp_path: Path) -> None:
    path = tmp_path / "sha256.txt"
    path.write_text("\n".join(sha256s(100)) + "\n")
    records, _ = split(list(PlainListFormat().read(path)))
    assert {r.algorithm for r in records} == {"sha256"} and len(records) == 100


def _mixed(pdqs: list[str]) -> list[str]:
    return [v for pair in zip(pdqs, sha256s(20), strict=True) for v in pair]


@pytest.mark.parametrize("kind", ["few", "mixed"])
def test_undecidable_64_digit_lists_are_refused_asking_for_algorithm(
    store: Store, tmp_path: Path, generated_pdqs: list[str], kind: str
) -> None:
    values = sha256s(3) if kind == "few" else _mixed(generated_pdqs)
    assert hex64.classify(values) is None
    path = tmp_path / "list.txt"
    path.write_text("\n".join(values) + "\n")
    with pytest.raises(HashSetFormatError, match="--algorithm sha256 or --algorithm pdq"):
        import_hashset(store, path, "ambiguous")
    summary = import_hashset(store, path, "told", algorithm="sha256")
    assert summary.by_algorithm == {"sha256": len(values)}


def test_csv_hash_column_follows_the_same_rule(tmp_path: Path, generated_pdqs: list[str]) -> None:
    path = tmp_path / "list.csv"
    path.write_text("hash,name\n" + "".join(f"{h},x.jpg\n" for h in generated_pdqs))
    assert {r.algorithm for r in CsvFormat().read(path) if isinstance(r, HashRecord)} == {"pdq"}
    few = tmp_path / "few.csv"
    few.write_text(f"hash\n{sha256('a')}\n")
    with pytest.raises(HashSetFormatError, match="--algorithm"):
        list(CsvFormat().read(few))
    told = [r.algorithm for r in CsvFormat(algorithm="sha256").read(few)]
    assert told == ["sha256"]


def test_algorithm_is_refused_for_sets_that_name_their_hashes(store: Store, tmp_path: Path) -> None:
    path = write_vics(tmp_path / "v.json", [vics_media(1, "a")])
    with pytest.raises(HashSetFormatError, match="names the algorithm of each hash"):
        import_hashset(store, path, "v", algorithm="md5")


# --- VICS categories ----------------------------------------------------------------------------


def _vics_categories(path: Path) -> Path:
    """Records the way writers seen in the wild leave Category: absent (C4All for 0, RECON LAB
    1.1 always), null (a common template), 8 (NIST's CAID JSON), and two ordinary ones."""
    media = [
        vics_media(1, "a", Category=1),
        vics_media(2, "b", Category=0),
        vics_media(3, "c"),
        vics_media(4, "d", Category=None),
        vics_media(5, "e", Category=8),
    ]
    del media[2]["Category"]
    return write_vics(path, media)


def _stored_categories(store: Store, name: str) -> dict[str, int | None]:
    return {r.entry: r.category for r in iter_records(store, name) if r.algorithm == "md5"}


def test_uncategorised_records_are_refused_by_default_and_the_summary_says_so(
    store: Store, tmp_path: Path
) -> None:
    summary = import_hashset(store, _vics_categories(tmp_path / "v.json"), "v")
    assert _stored_categories(store, "v") == {"MediaID 1": 1, "MediaID 2": 0}
    assert summary.no_category == 2 and summary.outside_profile == {8: 1}
    assert summary.refused == 3  # one per record, not one per hash
    notes = " ".join(summary.notes())
    assert "2 records had no Category: refused" in notes
    assert "1 records had a category outside the us profile (8: 1): refused" in notes


@pytest.mark.parametrize(
    ("policy", "expected", "says"),
    [
        ("non-pertinent", {3: 0, 4: 0, 5: 0}, "category 0, non-pertinent"),
        ("known", {3: None, 4: None, 5: 8}, "known material that needs review"),
    ],
)
def test_uncategorised_policy_chooses(
    store: Store, tmp_path: Path, policy: str, expected: dict[int, int | None], says: str
) -> None:
    path = _vics_categories(tmp_path / "v.json")
    summary = import_hashset(store, path, "v", uncategorised=policy)
    stored = _stored_categories(store, "v")
    assert stored == {
        "MediaID 1": 1,
        "MediaID 2": 0,
        **{f"MediaID {k}": v for k, v in expected.items()},
    }
    assert summary.refused == 0 and says in " ".join(summary.notes())


def test_category_option_names_what_uncategorised_records_are(store: Store, tmp_path: Path) -> None:
    summary = import_hashset(store, _vics_categories(tmp_path / "v.json"), "v", category=0)
    assert _stored_categories(store, "v")["MediaID 3"] == 0
    assert "2 records had no Category: given category 0 (--category)" in summary.notes()[0]


def test_a_list_without_categories_says_what_its_entries_become(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "md5.txt"
    path.write_text(f"{md5('a')}\n{md5('b')}\n")
    summary = import_hashset(store, path, "l")
    assert summary.no_category == 2 and "known, uncategorised" in summary.notes()[0]
    assert not import_hashset(store, path, "l1", category=1).notes()


# --- VICS layouts and encodings -----------------------------------------------------------------


def test_media_context_over_a_cases_layout_is_read(tmp_path: Path) -> None:
    path = write_vics(tmp_path / "v.json", [vics_media(1, "a"), vics_media(2, "b")], entity="Cases")
    data = json.loads(path.read_text())
    data["@odata.context"] = data["@odata.context"].replace("#Cases", "#Media")
    path.write_text(json.dumps(data))
    records, problems = split(list(VicsFormat().read(path)))
    assert {r.value for r in records if r.algorithm == "md5"} == {md5("a"), md5("b")}
    assert not problems


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8-sig", "utf-16"])
def test_utf16_and_bom_vics_are_read(tmp_path: Path, encoding: str) -> None:
    text = write_vics(tmp_path / "src.json", [vics_media(1, "a", Series="Émilie")]).read_text()
    boms = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
    path = tmp_path / "v.json"
    path.write_bytes(boms.get(encoding, b"") + text.encode(encoding))
    assert detect_format(path).name == "vics"
    records, problems = split(list(VicsFormat().read(path)))
    assert not problems and {r.series for r in records} == {"Émilie"}
    assert {(r.algorithm, r.value) for r in records} == {("md5", md5("a")), ("sha1", sha1("a"))}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("kind", ["plain", "csv", "md5sum"])
def test_utf16_text_lists_are_read(tmp_path: Path, encoding: str, kind: str) -> None:
    text = {
        "plain": f"{md5('a')}\r\n{md5('b')}\r\n",
        "csv": f"md5,category\r\n{md5('a')},1\r\n{md5('b')},2\r\n",
        "md5sum": f"{md5('a')} *a.jpg\r\n{md5('b')} *b.jpg\r\n",
    }[kind]
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    path = tmp_path / "list.txt"
    path.write_bytes(bom + text.encode(encoding))
    fmt = detect_format(path)
    assert fmt.name == kind
    records, problems = split(list(fmt.read(path)))
    assert [r.value for r in records] == [md5("a"), md5("b")] and not problems


# --- imports that take nothing ------------------------------------------------------------------


def test_an_import_that_takes_nothing_fails_and_keeps_no_set(store: Store, tmp_path: Path) -> None:
    path = write_vics(tmp_path / "v.json", [])
    with pytest.raises(NothingImportedError, match="nothing imported"):
        import_hashset(store, path, "empty")
    summary = import_hashset(store, _vics_categories(tmp_path / "c.json"), "empty")
    assert summary.taken  # the failed import left no set named "empty" behind


def test_cli_import_of_nothing_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    media = [vics_media(1, "a"), vics_media(2, "b")]
    for record in media:
        del record["Category"]  # RECON LAB 1.1: never a Category
    path = write_vics(tmp_path / "recon.json", media)
    home = tmp_path / "home"
    out = run_cli(home, "hashset", "import", str(path), "--name", "r", check=False)
    assert out.returncode == 2
    assert "nothing imported" in out.stderr and "--uncategorised" in out.stderr
    assert "b'" not in out.stderr + out.stdout
    ok = run_cli(home, "hashset", "import", str(path), "--name", "r", "--uncategorised", "known")
    assert "2 records had no Category: imported as known material" in ok.stdout
    pdq_list = tmp_path / "three.txt"
    pdq_list.write_text("".join(f"{sha256(str(i))}\n" for i in range(3)))
    refused = run_cli(home, "hashset", "import", str(pdq_list), "--name", "t", check=False)
    assert refused.returncode == 2 and "--algorithm" in refused.stderr
    told = run_cli(home, "hashset", "import", str(pdq_list), "--name", "t", "--algorithm", "sha256")
    assert "sha256 3" in told.stdout


# --- formats other tools exchange ---------------------------------------------------------------


def test_md5sum_gnu_bsd_and_escaped_names(tmp_path: Path) -> None:
    path = tmp_path / "hashes.md5"
    path.write_text(
        f"{md5('a')}  DCIM/a b.jpg\n"
        f"{sha1('b').upper()} *b.jpg\n"
        f"\\{md5('c')}  back\\\\slash\\nnewline.jpg\n"
        f"SHA256 (c.jpg) = {sha256('c')}\n"
        f"MD5(d.jpg)= {md5('d')}\n"
        f"{md5('e')[:20]}  short.jpg\n"
    )
    assert detect_format(path).name == "md5sum"
    records, problems = split(list(ChecksumFormat().read(path)))
    assert [(r.algorithm, r.value) for r in records] == [
        ("md5", md5("a")),
        ("sha1", sha1("b")),
        ("md5", md5("c")),
        ("sha256", sha256("c")),
        ("md5", md5("d")),
    ]
    assert records[0].entry == "hashes.md5:1 DCIM/a b.jpg"
    assert records[2].entry == "hashes.md5:3 back\\slash\nnewline.jpg"
    assert [p.entry for p in problems] == ["hashes.md5:6"]


def test_sha256sum_written_reads_back_as_sha256(tmp_path: Path) -> None:
    # Three lines: as bare GNU lines their bits could not tell SHA-256 from PDQ; the tag says.
    records = [HashRecord("sha256", sha256(str(i)), f"f{i}.jpg") for i in range(3)]
    out = io.StringIO()
    assert write_sums(records, out, "sha256sum") == 3
    path = tmp_path / "written.sha256"
    path.write_text(out.getvalue())
    back, problems = split(list(ChecksumFormat().read(path)))
    assert [(r.algorithm, r.value) for r in back] == [(r.algorithm, r.value) for r in records]
    assert not problems


def test_hashdeep_read_and_written(tmp_path: Path) -> None:
    path = tmp_path / "known.hashdeep"
    path.write_text(hashdeep_text(["a", "b"]))
    assert detect_format(path).name == "hashdeep"
    records, problems = split(list(HashdeepFormat().read(path)))
    assert not problems
    assert [(r.algorithm, r.value) for r in records] == [
        ("md5", md5("a")),
        ("sha256", sha256("a")),
        ("md5", md5("b")),
        ("sha256", sha256("b")),
    ]
    assert records[0].entry.endswith("/home/examiner/benign/a, copy.jpg")  # commas in names
    out = io.StringIO()
    assert write_hashdeep(records, out, "sha256") == 2
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["%%%% HASHDEEP-1.0", "%%%% size,sha256,filename"]
    assert lines[-1].startswith(f"0,{sha256('b')},")


def test_hashkeeper_read(tmp_path: Path) -> None:
    path = tmp_path / "set.hke"
    path.write_text(hashkeeper_text(["a", "b"]) + '3,1,"bad.jpg","C:\\","XYZ",1,,,,,,\r\n')
    assert detect_format(path).name == "hashkeeper"
    records, problems = split(list(HashKeeperFormat().read(path)))
    assert [(r.algorithm, r.value) for r in records] == [("md5", md5("a")), ("md5", md5("b"))]
    assert records[0].entry == "set.hke:2 C:\\Benign\\a.jpg"
    assert [p.entry for p in problems] == ["set.hke:4"]


def test_encase_read(tmp_path: Path) -> None:
    path = tmp_path / "known.hash"
    path.write_bytes(encase_bytes([md5("a"), md5("b")], name="Benign set"))
    assert detect_format(path).name == "encase"
    records, problems = split(list(EncaseFormat().read(path)))
    assert [(r.algorithm, r.value, r.entry) for r in records] == [
        ("md5", md5("a"), "Benign set #1"),
        ("md5", md5("b"), "Benign set #2"),
    ]
    assert not problems
    cut = tmp_path / "cut.hash"
    cut.write_bytes(encase_bytes([md5("a"), md5("b")], count=3)[:-5])
    records, problems = split(list(EncaseFormat().read(cut)))
    assert len(records) == 1 and len(problems) == 2  # a partial entry; a count that disagrees


@pytest.mark.parametrize("tool", ["md5sum", "sha1sum", "sha256sum", "hashdeep"])
def test_export_writes_what_import_reads(store: Store, tmp_path: Path, tool: str) -> None:
    path = write_vics(tmp_path / "v.json", [vics_media(1, "a", AlternativeHashes=[
        {"HashName": "SHA256", "HashValue": sha256("a")}])])  # fmt: skip
    import_hashset(store, path, "v")
    algorithm = {"md5sum": "md5", "sha1sum": "sha1", "sha256sum": "sha256"}.get(tool, "sha1")
    out = tmp_path / f"out.{tool}"
    with out.open("w", encoding="utf-8") as stream:
        assert export_hashset(store, "v", tool, stream, algorithm=algorithm) == 1
    summary = import_hashset(store, out, "again")
    assert summary.format == ("hashdeep" if tool == "hashdeep" else "md5sum")
    assert summary.by_algorithm == {algorithm: 1}
