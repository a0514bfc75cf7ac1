"""An EnCase 7 (EWF2) ``.Ex01`` set, split in two segments: scanned from its first segment,
its acquisition hashes and case notes shown, its media verified, a damaged copy recorded.

The set is committed (tests/data/ex01/README.md says how it was made): Debian's ewfacquire
writes EWF1 only, so no test builds one."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from hashsieve import run_scan
from hashsieve.cli import main
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.sources.disk import open_image
from hashsieve.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ex01"
SET = DATA / "card.Ex01"
MEDIA_MD5 = "565410835f28a8cca9d986b8f99cbbca"
MEDIA_SHA1 = "7e0b93c65ec3004d4ed285cbc1ec181ad5edce28"
#: Each member's verdict and how it was found (tests/data/ex01/make_sample.py).
EXPECTED = {
    "DCIM/IMG_0001.JPG": ("known", None),
    "Pictures/map.png": ("known", None),
    "DCIM/IMG_0002.JPG": ("new", None),
    "DCIM/_MG_0003.JPG": ("known", "deleted"),  # FAT loses a deleted name's first letter
    "$Unallocated/@0x10a00.jpg": ("known", "carved"),  # the same picture, from free clusters
}


def _digests() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(DATA.iterdir())}


def _scan(store: Store, root: Path, jsonl: Path) -> dict[str, dict]:
    import_hashset(store, DATA / "known.txt", "known", category=1)
    run_scan(store, "ex01", [str(root)], jsonl_path=jsonl)
    return {json.loads(line)["path"]: json.loads(line) for line in jsonl.read_text().splitlines()}


def test_an_ex01_set_is_scanned_from_its_first_segment(store: Store, tmp_path: Path) -> None:
    before = _digests()
    assert SET.read_bytes()[:8] == b"EVF2\r\n\x81\x00"  # EWF2, by content
    rows = _scan(store, SET, tmp_path / "scan.jsonl")
    got = {
        p.removeprefix(f"{SET}!/"): (r["verdict"], r["recovered"])
        for p, r in rows.items()
        if p.startswith(f"{SET}!/") and r["verdict"] != "other"
    }
    assert got == EXPECTED
    assert not [p for p, r in rows.items() if r["error"]]
    # One evidence file: the second segment is read through the first.
    assert [p for p in rows if "!/" not in p] == [str(SET)]
    assert rows[f"{SET}!/$Unallocated/@0x10a00.jpg"]["offset"] == 0x10A00
    assert _digests() == before  # the evidence is untouched


def test_image_info_and_verify_read_what_the_acquisition_stored() -> None:
    runner = CliRunner()
    info = runner.invoke(main, ["image", "info", "--json", str(SET)])
    assert info.exit_code == 0, info.output
    found = json.loads(info.output)
    assert found["kind"] == "ewf" and [Path(s).name for s in found["segments"]] == [
        "card.Ex01",
        "card.Ex02",
    ]
    assert found["media_size"] == 1024 * 1024
    assert found["stored_hashes"] == {"md5": MEDIA_MD5, "sha1": MEDIA_SHA1}
    assert found["case"]["case_number"] == "case-ex01"
    assert found["case"]["examiner_name"] == "examiner-b"
    assert found["case"]["notes"] == "benign generated pictures"
    assert [v["filesystem"] for v in found["volumes"]] == ["fat12"]
    verified = runner.invoke(main, ["image", "verify", str(SET)])
    assert verified.exit_code == 0, verified.output
    assert f"md5: {MEDIA_MD5} matches" in verified.output
    assert f"sha1: {MEDIA_SHA1} matches" in verified.output
    # Its chunks are read with zlib from EWF2's sector tables, not through libewf.
    media = open_image(str(SET))
    try:
        assert media.chunks is not None and len(media.chunks.chunks) == 32
        assert hashlib.md5(media.read(0, media.size)).hexdigest() == MEDIA_MD5
    finally:
        media.close()


def test_a_truncated_ex01_set_is_a_recorded_error(store: Store, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    shutil.copy(SET, evidence / SET.name)
    second = (DATA / "card.Ex02").read_bytes()
    (evidence / "card.Ex02").write_bytes(second[: len(second) // 2])
    rows = _scan(store, evidence, tmp_path / "cut.jsonl")
    image = f"{evidence}/card.Ex01!/"
    errors = {p.removeprefix(image): r["error"] for p, r in rows.items() if r["error"]}
    # What lay in the lost half is an error of its own; what the first segment holds is read.
    assert errors and all(e.startswith("corrupt-image") for e in errors.values())
    assert rows[image + "DCIM/IMG_0001.JPG"]["verdict"] == "known"
    runner = CliRunner()
    verified = runner.invoke(main, ["image", "verify", str(evidence / "card.Ex01")])
    assert verified.exit_code == 2 and "corrupt-image" in verified.output


def test_a_file_over_a_missing_segment_is_an_error_not_zeros(tmp_path: Path) -> None:
    """TSK caches the zeros given for an unreadable range: a file read later over that range
    (here the deleted picture, after the listing read its neighbourhood) is still an error."""
    from hashsieve.sources.disk import DiskReader
    from hashsieve.sources.readers import ArchiveError

    shutil.copy(SET, tmp_path / SET.name)  # card.Ex02 missing: media from 64 KiB on unreadable
    with open(tmp_path / SET.name, "rb") as stream:
        reader = DiskReader(stream, SET.name, str(tmp_path / SET.name))
        names = [e.name for e in reader.entries() if e.name in EXPECTED]
        assert "DCIM/_MG_0003.JPG" in names and "DCIM/IMG_0001.JPG" in names
        outcomes: dict[str, str] = {}
        for name in names:
            try:
                data = reader.open(name).read()
            except ArchiveError as exc:
                outcomes[name] = exc.reason
            else:
                outcomes[name] = "read" if data.strip(b"\0") else "zeros"
        reader.close()
    assert outcomes["DCIM/_MG_0003.JPG"] == "corrupt-image"
    assert outcomes["DCIM/IMG_0001.JPG"] == "read"  # wholly in the first segment
    assert "zeros" not in outcomes.values()
