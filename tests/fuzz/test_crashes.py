"""Every input a fuzzer crashed on, replayed through its target (tests/fuzz/crashes/<target>/):
each is answered within the library's contract now. The file name says what it broke."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

CRASHES = Path(__file__).resolve().parent / "crashes"
CASES = sorted(p for p in CRASHES.glob("*/*") if p.is_file())


def test_crash_inputs_are_kept() -> None:
    assert CASES, "no crash inputs"


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_crash_input_is_handled(case: Path) -> None:
    target = importlib.import_module(f"fuzz.{case.parent.name}")
    target.load()
    target.one_input(case.read_bytes())  # raises if the contract is broken


def test_corrupt_7z_member_ends_the_listing_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 7z whose LZMA stream breaks inside a member: that member and the rest get their
    'corrupt' reasons; the reader never waits on py7zr's ended thread (it waited 900 s)."""
    from hashsieve.hashing.content import HashOptions
    from hashsieve.scan.worker import hash_archive_job
    from hashsieve.sources import sevenzip
    from hashsieve.sources.archive import Member, list_members, plan_jobs

    monkeypatch.setattr(sevenzip, "WAIT_SECONDS", 5.0)  # a regression: a 'timeout' reason
    path = tmp_path / "broken.7z"
    path.write_bytes((CRASHES / "archive" / "7z-corrupt-lzma-hang.7z").read_bytes())
    members = [m for m in list_members(str(path)) if isinstance(m, Member)]
    assert [m.names[-1] for m in members] == ["a/photo.jpg", "notes.txt"]
    (job,) = plan_jobs(members)
    results = hash_archive_job(job, HashOptions(max_image_pixels=1_000_000, robust=False))
    assert [r.path for r in results] == [m.path for m in members]
    assert all(r.error and r.error.startswith("corrupt") for r in results), results
    assert not any("timeout" in (r.error or "") for r in results)


def test_damaged_avif_is_a_recorded_corrupt_picture() -> None:
    from hashsieve.hashing.content import HashOptions, hash_content

    data = (CRASHES / "content" / "avif-frame-decode-runtimeerror.avif").read_bytes()
    result = hash_content(data, HashOptions(max_image_pixels=1_000_000))
    assert result.md5 is not None and result.pdq is None
    assert result.error == "corrupt: Failed to decode frame 0: Decoding of color planes failed"


def test_heif_decoder_eoferror_is_a_recorded_corrupt_picture() -> None:
    from hashsieve.hashing.content import HashOptions, hash_content

    data = (CRASHES / "content" / "heif-decoder-eoferror.heic").read_bytes()
    result = hash_content(data, HashOptions(max_image_pixels=4_000_000))
    assert result.md5 is not None and result.pdq is None
    assert result.error == "corrupt: Decoder plugin generated an error: Unexpected end of file"


def test_an_exception_a_decoder_lets_through_is_the_items_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the AVIF fix, its RuntimeError left the worker and ended the whole scan: now any
    such bug costs one item, recorded as 'internal-error', and its chunk's other items stay."""
    import zipfile

    from hashsieve.hashing.content import HashOptions
    from hashsieve.scan import worker
    from hashsieve.sources.archive import Member, list_members, plan_jobs

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Failed to decode frame 0")

    options = HashOptions(max_image_pixels=1_000_000, robust=False)
    path = tmp_path / "a.bin"
    path.write_bytes(b"data")
    monkeypatch.setattr(worker, "hash_file", broken)
    result = worker.hash_evidence_file(str(path), options)
    assert result.path == str(path)
    assert result.error == "internal-error: RuntimeError: Failed to decode frame 0"

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("one.txt", b"1")
        z.writestr("two.txt", b"2")
    members = [m for m in list_members(str(archive)) if isinstance(m, Member)]
    monkeypatch.setattr(worker, "hash_member", broken)
    results = [r for job in plan_jobs(members) for r in worker.hash_archive_job(job, options)]
    assert [r.path for r in results] == [m.path for m in members]
    assert {r.error for r in results} == {"internal-error: RuntimeError: Failed to decode frame 0"}
