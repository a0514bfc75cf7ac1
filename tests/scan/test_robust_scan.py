"""End to end: a letterboxed copy of a known picture is ``known`` through a candidate region."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from hashsieve import import_hashset
from hashsieve.config import Settings
from hashsieve.hashing.decode import open_image
from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from hashsieve.store.models import Match
from tests.conftest import scan_rows

ORIGINAL = photo_like(11, (800, 600))


def _letterboxed(colour: tuple[int, int, int]) -> bytes:
    w, h = ORIGINAL.size
    bar = round(0.15 * h)
    canvas = Image.new("RGB", (w, h + 2 * bar), colour)
    canvas.paste(ORIGINAL, (0, bar))
    return jpeg_bytes(canvas, quality=88)


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    original = jpeg_bytes(ORIGINAL, quality=92)
    known = pdq_hash(open_image(original, max_pixels=10**8).image)
    hashes = tmp_path / "known-pdq.txt"
    hashes.write_text(f"# algorithm: pdq\n{known.hex}\n")
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "letterboxed-black.jpg").write_bytes(_letterboxed((0, 0, 0)))
    (evidence / "letterboxed-white.jpg").write_bytes(_letterboxed((255, 255, 255)))
    (evidence / "unrelated.jpg").write_bytes(jpeg_bytes(photo_like(12, (800, 600))))
    buf = io.BytesIO()
    photo_like(13, (640, 480)).save(buf, "PNG")
    (evidence / "unrelated.png").write_bytes(buf.getvalue())
    return evidence, hashes


def _scan(store: Store, case: tuple[Path, Path], tmp_path: Path) -> dict[str, dict]:
    evidence, hashes = case
    import_hashset(store, hashes, "known", category=1)
    return scan_rows(store, "robust", evidence, tmp_path / "results.jsonl")


@pytest.mark.parametrize("name", ["letterboxed-black.jpg", "letterboxed-white.jpg"])
def test_a_letterboxed_copy_is_known_and_says_which_candidate_matched(
    store: Store, case: tuple[Path, Path], tmp_path: Path, name: str
) -> None:
    results = _scan(store, case, tmp_path)
    row = results[name]
    # Plain PDQ of the whole file is far from the known hash ...
    whole = bytes.fromhex(row["pdq"])
    known = bytes.fromhex(case[1].read_text().split()[-1])
    assert distance(whole, known) > 31
    # ... the trimmed region matches, and the match says so.
    assert row["verdict"] == "known"
    assert row["category"] == 1
    [match] = row["matches"]
    assert match["algorithm"] == "pdq"
    assert match["candidate"] == "trim"
    assert match["distance"] <= 31
    with store.session() as s:
        assert "trim" in set(s.scalars(select(Match.candidate)))


def test_unrelated_pictures_stay_new_and_plain_matches_name_no_candidate(
    store: Store, case: tuple[Path, Path], tmp_path: Path
) -> None:
    results = _scan(store, case, tmp_path)
    assert results["unrelated.jpg"]["verdict"] == "new"
    assert results["unrelated.png"]["verdict"] == "new"
    for row in results.values():
        for m in row["matches"]:
            assert m.get("candidate") != "image"  # the whole image is never named


def test_with_robust_matching_off_plain_pdq_misses_the_letterboxed_copy(
    settings: Settings, case: tuple[Path, Path], tmp_path: Path
) -> None:
    store = Store(dataclasses.replace(settings, robust=False))
    try:
        results = _scan(store, case, tmp_path)
    finally:
        store.close()
    assert results["letterboxed-black.jpg"]["verdict"] == "new"
