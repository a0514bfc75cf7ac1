"""Across cases of one store: a new picture already in another case says so in its row, the
report and the review, found through one index, never a query per file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, select

from hashsieve import run_scan
from hashsieve.config import MAX_IMAGE_PIXELS, Settings
from hashsieve.hashing.content import FileResult
from hashsieve.matching.crosscase import CrossCaseIndex
from hashsieve.report.writers import write_csv, write_jsonl
from hashsieve.review.decisions import apply_changes
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.scan.worker import HashOptions, hash_evidence_file
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, Scan


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _near(data: bytes) -> bytes:
    """A resized, recompressed copy: other bytes, the same picture."""
    import io

    picture = Image.open(io.BytesIO(data)).convert("RGB")
    return jpeg_bytes(picture.resize((500, 375), Image.Resampling.LANCZOS), quality=70)


@pytest.fixture(scope="module")
def pictures() -> dict[str, bytes]:
    return {
        "shared": jpeg_bytes(photo_like(501, (640, 480))),
        "near": jpeg_bytes(photo_like(502, (640, 480))),
        "only-a": jpeg_bytes(photo_like(503, (640, 480))),
        "only-b": jpeg_bytes(photo_like(504, (640, 480))),
    }


@pytest.fixture(scope="module")
def two_cases(
    tmp_path_factory: pytest.TempPathFactory, pictures: dict[str, bytes]
) -> Iterator[tuple[Store, dict[str, FileRecord]]]:
    """Case A (examiner ann) scanned and categorised; then case B (examiner ben) holding an
    exact copy, a near-duplicate and an unrelated picture."""
    root = tmp_path_factory.mktemp("crosscase")
    settings = Settings(home=root / "home", workers=1, robust=False, examiner="ann")
    store = Store(settings)
    a = root / "evidence-a"
    _write(a / "dcim/shared.jpg", pictures["shared"])
    _write(a / "dcim/near.jpg", pictures["near"])
    _write(a / "dcim/only-a.jpg", pictures["only-a"])
    run_scan(store, "case-a", [str(a)], settings=settings)
    case_a = store.get_case("case-a")
    shared_sha = _sha(store, "case-a", "shared.jpg")
    apply_changes(store, case_a.id, [shared_sha], {"category": 2, "series": "beach"}, "rev-ann")
    b = root / "evidence-b"
    _write(b / "phone/copy-of-shared.jpg", pictures["shared"])
    _write(b / "phone/near-small.jpg", _near(pictures["near"]))
    _write(b / "phone/only-b.jpg", pictures["only-b"])
    run_scan(store, "case-b", [str(b)], settings=replace(settings, examiner="ben"))
    with store.session() as s:
        rows = {
            Path(f.path_text).name: f
            for f in s.scalars(select(FileRecord).join(Case, Case.id == FileRecord.case_id))
        }
    yield store, rows
    store.close()


def _sha(store: Store, case: str, name: str) -> str:
    with store.session() as s:
        for f in s.scalars(
            select(FileRecord).join(Case, Case.id == FileRecord.case_id).where(Case.name == case)
        ):
            if f.path_text.endswith(name):
                return str(f.sha256)
    raise AssertionError(name)


def _links(row: FileRecord) -> list[dict[str, object]]:
    return json.loads(row.crosscase_json) if row.crosscase_json else []


def test_an_exact_copy_names_the_other_case_its_examiner_time_and_category(
    two_cases: tuple[Store, dict[str, FileRecord]],
) -> None:
    store, rows = two_cases
    row = rows["copy-of-shared.jpg"]
    assert row.verdict == "new"
    [link] = _links(row)
    assert link["case"] == "case-a"
    assert link["examiner"] == "ann"
    assert link["category"] == 2
    assert link["series"] == "beach"
    assert link["algorithm"] == "sha256"
    assert link["distance"] == 0
    assert link["file_id"] == rows["shared.jpg"].id
    with store.session() as s:
        started = s.scalar(select(Scan.started_at).where(Scan.id == rows["shared.jpg"].scan_id))
    assert started is not None
    assert link["at"] == started.isoformat(timespec="seconds")


def test_a_near_duplicate_is_linked_by_pdq(
    two_cases: tuple[Store, dict[str, FileRecord]],
) -> None:
    _, rows = two_cases
    row = rows["near-small.jpg"]
    assert row.sha256 != rows["near.jpg"].sha256  # other bytes
    [link] = _links(row)
    assert link["case"] == "case-a"
    assert link["examiner"] == "ann"
    assert link["algorithm"] == "pdq"
    assert 0 < int(str(link["distance"])) <= 31
    assert link["category"] is None  # not categorised in case A


def test_unrelated_pictures_and_the_first_case_are_not_flagged(
    two_cases: tuple[Store, dict[str, FileRecord]],
) -> None:
    _, rows = two_cases
    assert rows["only-b.jpg"].crosscase_json is None
    # Case A was scanned first: nothing was in another case then.
    assert all(rows[n].crosscase_json is None for n in ("shared.jpg", "near.jpg", "only-a.jpg"))


def test_the_reports_carry_the_links(
    two_cases: tuple[Store, dict[str, FileRecord]], tmp_path: Path
) -> None:
    import io

    store, _rows = two_cases
    case_b = store.get_case("case-b")
    out = io.StringIO()
    write_jsonl(store, case_b.id, "case-b", out)
    lines = {Path(d["path"]).name: d for d in map(json.loads, out.getvalue().splitlines())}
    assert lines["copy-of-shared.jpg"]["crosscase"][0]["case"] == "case-a"
    assert lines["near-small.jpg"]["crosscase"][0]["algorithm"] == "pdq"
    assert "crosscase" not in lines["only-b.jpg"]
    out = io.StringIO()
    write_csv(store, case_b.id, "case-b", out)
    text = out.getvalue()
    assert "case-a (ann" in text


def _counting(store: Store) -> list[str]:
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    return statements


@pytest.mark.parametrize("copies", [1, 12])
def test_links_cost_one_query_per_batch_not_one_per_file(
    two_cases: tuple[Store, dict[str, FileRecord]],
    tmp_path: Path,
    copies: int,
    pictures: dict[str, bytes],
) -> None:
    store, _rows = two_cases
    # Hash (outside the count) a batch holding `copies` copies of each linked picture and as
    # many unrelated ones.
    results: list[FileResult] = []
    options = HashOptions(max_image_pixels=MAX_IMAGE_PIXELS, robust=False)
    for i in range(copies):
        for name, data in (
            ("shared", pictures["shared"]),
            ("near", _near(pictures["near"])),
            ("other", jpeg_bytes(photo_like(600 + i, (320, 240)))),
        ):
            path = _write(tmp_path / f"{name}-{i}.jpg", data)
            results.append(hash_evidence_file(str(path), options))
    index = CrossCaseIndex.open(store)
    statements = _counting(store)
    third = store.ensure_case("case-c").id
    statements.clear()
    links = index.links(third, results)
    assert len(statements) == 1  # the details of every hit, in one query
    linked = [bool(ls) for ls in links]
    assert linked == [True, True, False] * copies
    # Case B's copies were new there too: each linked picture names both earlier cases.
    assert all({link.case for link in ls} == {"case-a", "case-b"} for ls in links if ls)


def test_the_review_shows_the_link_with_the_category_decided_since(
    two_cases: tuple[Store, dict[str, FileRecord]],
) -> None:
    from fastapi.testclient import TestClient

    from hashsieve.access.auth import add_user
    from hashsieve.web.app import create_app

    store, rows = two_cases
    # Case A's reviewers categorise the near-duplicate's original after case B was scanned.
    apply_changes(
        store, store.get_case("case-a").id, [str(rows["near.jpg"].sha256)], {"category": 3}, "x"
    )
    add_user(store, "viewer", "correct horse battery", "read-only")
    with TestClient(create_app(store)) as client:
        r = client.post(
            "/api/login", json={"username": "viewer", "password": "correct horse battery"}
        )
        assert r.status_code == 200
        file_id = rows["near-small.jpg"].id
        data = client.get(f"/api/cases/case-b/files/{file_id}").json()
        [link] = data["crosscase"]
        assert (link["case"], link["examiner"], link["category"]) == ("case-a", "ann", 3)
        page = client.get(f"/cases/case-b/files/{file_id}").text
        assert "also in case <strong>case-a</strong>: scanned by ann" in page
        assert "category 3" in page
        other = client.get(f"/api/cases/case-b/files/{rows['only-b.jpg'].id}").json()
        assert "crosscase" not in other


def test_case_index_rebuilds_the_index_from_the_store(
    two_cases: tuple[Store, dict[str, FileRecord]],
) -> None:
    from click.testing import CliRunner

    from hashsieve.cli import main

    store, rows = two_cases
    new = sum(1 for f in rows.values() if f.verdict == "new")
    assert new == 6
    result = CliRunner().invoke(main, ["--home", str(store.home), "case", "index"])
    assert result.exit_code == 0, result.output
    assert f"indexed {new:,} new files of every case" in result.output
    index = CrossCaseIndex.open(store)
    assert len(index) == new
    assert set(index.case_of(index.file_ids).tolist()) == {
        store.get_case("case-a").id,
        store.get_case("case-b").id,
    }
