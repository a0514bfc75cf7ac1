"""The grid's JSON API: every filter against a plain-Python oracle, every sort walked window by
window (keyset cursors and offsets agree), the query plans use the indexes, bulk decisions
(file ids, groups, "all in the filter") are audited per file and undone in one step, and bad
parameters are 422s."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hashsieve.access.models import AuditEvent
from hashsieve.config import Settings
from hashsieve.review import facets, grid
from hashsieve.review.decisions import apply_changes
from hashsieve.review.models import Decision, Facet
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from hashsieve.web.app import create_app
from tests.review.conftest import GRID_CASE, Api

URL = f"/api/cases/{GRID_CASE}/grid"


@pytest.fixture(scope="module")
def reader(
    grid_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, Store]]:
    """One copy of the generated case and a logged-in client for the tests that only read."""
    home = tmp_path_factory.mktemp("grid-reader") / "home"
    shutil.copytree(grid_home, home)
    store = Store(Settings(home=home, workers=1))
    with TestClient(create_app(store, case=GRID_CASE)) as client:
        yield Api(client).login("alice"), store
    store.close()


def _all(api: Api, limit: int = 400, **params: Any) -> list[dict[str, Any]]:
    """Every tile of the filter, window after window by cursor."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = {**params, "limit": limit, **({"after": after} if after else {})}
        r = api.client.get(URL, params=query)
        assert r.status_code == 200, r.text
        data = r.json()
        items += data["items"]
        after = data["next"]
        if after is None:
            return items


_ORACLE: dict[int, list[dict[str, Any]]] = {}


def _rows(store: Store, *, cached: bool = False) -> list[dict[str, Any]]:
    """Every file with its facets and decision, read plainly (``cached``: once per store)."""
    if cached and id(store) in _ORACLE:
        return _ORACLE[id(store)]
    facets.refresh(store, store.get_case(GRID_CASE).id)
    with store.session() as s:
        fac = {f.file_id: f for f in s.scalars(select(Facet))}
        dec = {d.sha256: d.category for d in s.scalars(select(Decision))}
        out = []
        for f in s.scalars(select(FileRecord)):
            x = fac[f.id]
            out.append(
                {
                    "f": f,
                    "make": x.make,
                    "serial": x.serial,
                    "taken": x.taken_at,
                    "gps": x.gps,
                    "review": dec.get(f.sha256 or ""),
                }
            )
    if cached:
        _ORACLE[id(store)] = out
    return out


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1e9)


FILTERS: dict[str, tuple[dict[str, Any], Any]] = {
    "verdict known": ({"verdict": "known"}, lambda r: r["f"].verdict == "known"),
    "hash-set category 2": ({"verdict": "known", "category": "2"}, lambda r: r["f"].category == 2),
    "no hash-set category": (
        {"verdict": "all", "category": "none"},
        lambda r: r["f"].category is None,
    ),
    "videos": ({"verdict": "all", "kind": "video"}, lambda r: r["f"].media_kind == "video"),
    "size range": (
        {"verdict": "all", "size_min": 1_000_000, "size_max": 2_000_000},
        lambda r: r["f"].size is not None and 1_000_000 <= r["f"].size <= 2_000_000,
    ),
    "dimensions": (
        {"width_min": 1600, "height_max": 1200},
        lambda r: (
            (r["f"].width or 0) >= 1600 and r["f"].height is not None and r["f"].height <= 1200
        ),
    ),
    "path prefix": (
        {"verdict": "all", "path": "/evidence/dir0001/"},
        lambda r: r["f"].path_text.startswith("/evidence/dir0001/"),
    ),
    "path glob": (
        {"verdict": "all", "path": "/evidence/*/sub03/IMG_00011??.jpg"},
        lambda r: (
            r["f"].path_text.startswith("/evidence/dir0001/sub03/IMG_00011")
            and len(r["f"].path_text) == len("/evidence/dir0001/sub03/IMG_0001100.jpg")
        ),
    ),
    "camera make": ({"make": "Canon"}, lambda r: r["make"] == "Canon"),
    "camera serial": ({"verdict": "all", "serial": "SN0007"}, lambda r: r["serial"] == "SN0007"),
    "picture time": (
        {"verdict": "all", "taken_from": "2019-01-01T00:00:00", "taken_to": "2020-06-30T00:00"},
        lambda r: (
            r["taken"] is not None and "2019-01-01T00:00:00" <= r["taken"] <= "2020-06-30T00:00:00"
        ),
    ),
    "file time": (
        {"verdict": "all", "mtime_from": "2018-01-01T00:00:00", "mtime_to": "2019-01-01T00:00:00"},
        lambda r: _ns("2018-01-01T00:00:00") <= r["f"].mtime_ns <= _ns("2019-01-01T00:00:00"),
    ),
    "gps present": ({"verdict": "all", "gps": "true"}, lambda r: r["gps"]),
    "gps absent": ({"gps": "false"}, lambda r: not r["gps"]),
    "recovered deleted": (
        {"verdict": "all", "recovered": "deleted"},
        lambda r: r["f"].recovered == "deleted",
    ),
    "recovered any": ({"verdict": "all", "recovered": "any"}, lambda r: r["f"].recovered),
    "group size": (
        {"group_min": 3, "group_max": 10},
        lambda r: 3 <= (r["f"].group_size or 1) <= 10,
    ),
}
REVIEW_FILTERS: dict[str, tuple[dict[str, Any], Any]] = {
    "not reviewed": ({"review": "none"}, lambda r: r["review"] is None),
    "reviewed as 2": ({"verdict": "all", "review": "2"}, lambda r: r["review"] == 2),
}


@pytest.mark.parametrize("name", FILTERS)
def test_each_filter_selects_what_the_oracle_selects(reader: tuple[Api, Store], name: str) -> None:
    _check_filter(*reader, *FILTERS[name], cached=True)


@pytest.mark.parametrize("name", ["camera make", "camera serial", "gps absent"])
def test_facet_filters_probed_from_the_sort_index_select_the_same(
    reader: tuple[Api, Store], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A facet filter matching many files (here: any) is checked per row of the sort's index,
    a primary-key probe of its facet row, with no sort of the matches."""
    monkeypatch.setattr(grid, "FACET_PROBE", 0)
    _check_filter(*reader, *FILTERS[name], cached=True)
    grid_store = reader[1]
    plan = " | ".join(
        grid.query_plan(grid_store, grid_store.get_case(GRID_CASE), grid.GridFilter(make="Canon"))
    )
    assert "review_facets USING INTEGER PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("name", REVIEW_FILTERS)
def test_reviewers_category_filters(grid_alice: Api, grid_store: Store, name: str) -> None:
    some = _all(grid_alice, verdict="all", collapse="false", sort="id")[::7]
    r = grid_alice.post(
        f"/api/cases/{GRID_CASE}/decisions",
        {"sha256": [t["sha256"] for t in some], "set": {"category": 2}},
    )
    assert r.status_code == 200, r.text
    _check_filter(grid_alice, grid_store, *REVIEW_FILTERS[name])


def _check_filter(
    api: Api, store: Store, params: dict[str, Any], keep: Any, *, cached: bool = False
) -> None:
    grid_alice, grid_store = api, store
    verdict = params.get("verdict", "new")
    expected = {
        r["f"].id
        for r in _rows(grid_store, cached=cached)
        if (verdict == "all" or r["f"].verdict == verdict) and keep(r)
    }
    got = [t["file_id"] for t in _all(grid_alice, **params, collapse="false")]
    assert expected, "the generated case has files of every kind"
    assert len(got) == len(set(got)) and set(got) == expected
    counted = grid_alice.client.get(URL, params={**params, "collapse": "false", "count": "true"})
    assert counted.json()["total"] == len(expected)


def test_collapsed_lists_each_group_once_with_its_size(reader: tuple[Api, Store]) -> None:
    grid_alice, grid_store = reader
    tiles = _all(grid_alice, limit=500)
    with grid_store.session() as s:
        groups = dict(
            s.execute(
                select(FileRecord.group_id, func.count())
                .where(FileRecord.verdict == "new")
                .group_by(FileRecord.group_id)
            ).all()
        )
    assert {t["group"] for t in tiles} == set(groups)
    assert all(t["group_size"] == groups[t["group"]] for t in tiles)
    assert any(t["group_size"] > 1 for t in tiles)


SORTS = [(sort, order) for sort in grid.DEFAULT_ORDER for order in ("asc", "desc")]
SORTS = [s for s in SORTS if s not in (("id", "asc"), ("path", "desc"))]  # the cheap ones once


def _key(sort: str, row: dict[str, Any]) -> Any:
    f = row["f"]
    return {
        "group": f.group_size,
        "size": f.size,
        "mtime": f.mtime_ns,
        "path": f.path_key,
        "taken": row["taken"],
        "id": f.id,
    }[sort]


@pytest.mark.parametrize(("sort", "order"), SORTS)
def test_each_sort_walks_in_order_by_cursor_and_by_offset(
    reader: tuple[Api, Store], sort: str, order: str
) -> None:
    grid_alice, grid_store = reader
    rows = _rows(grid_store, cached=True)  # the reader's store: nothing changes it
    desc = order == "desc"

    def rank(r: dict[str, Any]) -> tuple[Any, ...]:
        value = _key(sort, r)
        nulls_first = not desc  # NULL is the smallest key, as SQLite orders
        null_rank = (0 if value is None else 1) if nulls_first else (1 if value is None else 0)
        return (null_rank, value if value is not None else 0, r["f"].id)

    expected = [r["f"].id for r in sorted(rows, key=rank, reverse=False)]
    if desc:  # descending: values and ties reversed, NULLs still last
        values = sorted((r for r in rows if _key(sort, r) is not None), key=rank, reverse=True)
        expected = [r["f"].id for r in values] + sorted(
            (r["f"].id for r in rows if _key(sort, r) is None), reverse=True
        )
    got = [
        t["file_id"]
        for t in _all(grid_alice, verdict="all", collapse="false", sort=sort, order=order)
    ]
    assert got == expected
    jumped = grid_alice.client.get(
        URL,
        params={
            "verdict": "all",
            "collapse": "false",
            "sort": sort,
            "order": order,
            "offset": 300,
            "limit": 50,
        },
    ).json()
    assert [t["file_id"] for t in jumped["items"]] == expected[300:350]


PLANS = {
    "group (default)": {},
    "group ascending": {"order": "asc"},
    "size": {"sort": "size"},
    "file time": {"sort": "mtime", "order": "desc"},
    "path": {"sort": "path"},
    "picture time": {"sort": "taken"},
    "path prefix": {"sort": "path", "path": "/evidence/dir0000/"},
    "camera": {"make": "Canon"},
    "not reviewed": {"review": "none", "sort": "size"},
    "every verdict by time": {"verdict": "all", "sort": "taken", "collapse": False},
}


@pytest.mark.parametrize("name", PLANS)
def test_grid_queries_use_indexes(reader: tuple[Api, Store], name: str) -> None:
    grid_store = reader[1]
    flt = grid.GridFilter(**PLANS[name])
    case = grid_store.get_case(GRID_CASE)
    first = grid.window(grid_store, case, flt, limit=50)  # also fills the facets
    for after in (None, first["next"]):
        plan = grid.query_plan(grid_store, case, flt, after=after)
        text = " | ".join(plan)
        assert "USING" in text and "INDEX" in text, text
        assert not any(step.startswith("SCAN files") for step in plan), text
        assert "SCAN review_facets" not in text, text
        if name not in ("camera",):  # a selective filter may sort its few rows
            assert "TEMP B-TREE" not in text, text
        if after is not None and flt.sort in ("group", "size", "mtime"):
            # the window after a cursor starts inside its key: an index range on the id too,
            # not every entry of that key (a quarter of a million singletons at case scale)
            assert "=? AND id<?" in text or "=? AND id>?" in text, text


@pytest.mark.parametrize("sort", ["group", "size", "mtime", "path"])
def test_counting_walks_a_covering_index(reader: tuple[Api, Store], sort: str) -> None:
    """The walk behind the count and jump marks reads the sort's index alone, in order."""
    grid_store = reader[1]
    case = grid_store.get_case(GRID_CASE)
    plan = grid.query_plan(grid_store, case, grid.GridFilter(sort=sort), walk=True)  # type: ignore[arg-type]
    text = " | ".join(plan)
    assert "COVERING INDEX ix_files_grid_" in text, text
    assert "TEMP B-TREE" not in text, text


def test_jumps_from_marks_land_where_the_cursor_walk_does(
    reader: tuple[Api, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    grid_api = reader[0]
    monkeypatch.setattr(grid, "STRIDE", 7)  # marks every 7th tile: most jumps skip a few
    monkeypatch.setattr(grid, "_KEPT", grid.kept.Kept(8))
    walked = [t["file_id"] for t in _all(grid_api, sort="size")]
    for offset in (0, 6, 7, 50, 699, len(walked) - 3, len(walked)):
        got = grid_api.client.get(URL, params={"sort": "size", "offset": offset, "limit": 40})
        assert [t["file_id"] for t in got.json()["items"]] == walked[offset : offset + 40]
    counted = grid_api.client.get(URL, params={"sort": "size", "count": "true", "limit": 1})
    assert counted.json()["total"] == len(walked)


def test_kept_counts_follow_decisions_and_new_files(grid_alice: Api, grid_store: Store) -> None:
    def total(**params: Any) -> int:
        r = grid_alice.client.get(URL, params={**params, "count": "true", "limit": 1})
        return int(r.json()["total"])

    before = total(review="none", collapse="false")
    files = total(verdict="all", collapse="false")
    dashboard = grid_alice.client.get(f"/api/cases/{GRID_CASE}").json()
    tiles = _all(grid_alice, review="none", collapse="false", limit=500)[:3]
    r = _post(grid_alice, {"file_ids": [t["file_id"] for t in tiles], "set": {"category": 2}})
    assert r.status_code == 200
    assert total(review="none", collapse="false") < before  # its kept count was dropped
    # the same decisions cleared elsewhere (another server process, no new decision row)
    case_id = grid_store.get_case(GRID_CASE).id
    apply_changes(grid_store, case_id, [t["sha256"] for t in tiles], {"category": None}, "bob")
    assert total(review="none", collapse="false") == before
    with grid_store.session() as s:  # a file added to the case (as a scan would)
        row = s.get(FileRecord, tiles[0]["file_id"])
        assert row is not None
        s.add(
            FileRecord(
                case_id=row.case_id,
                scan_id=row.scan_id,
                path_key=b"/evidence/late.jpg",
                path_text="/evidence/late.jpg",
                media_kind="image",
                verdict="new",
            )
        )
    assert total(verdict="all", collapse="false") == files + 1
    again = grid_alice.client.get(f"/api/cases/{GRID_CASE}").json()
    assert again["files"] == dashboard["files"] + 1
    assert again["verdicts"]["new"] == dashboard["verdicts"]["new"] + 1
    listed = grid_alice.client.get("/api/cases").json()["cases"][0]
    assert listed["files"] == again["files"]


# --- bulk decisions ------------------------------------------------------------------------------


def _post(api: Api, body: dict[str, Any]) -> Any:
    return api.post(f"/api/cases/{GRID_CASE}/decisions", body)


def test_bulk_by_file_ids_and_groups_is_audited_per_file_and_undone_at_once(
    grid_alice: Api, grid_store: Store
) -> None:
    tiles = _all(grid_alice, limit=500)
    singles = [t for t in tiles if t["group_size"] == 1][:30]
    stacks = [t for t in tiles if t["group_size"] > 1][:5]
    r = _post(
        grid_alice,
        {
            "file_ids": [t["file_id"] for t in singles],
            "groups": [t["group"] for t in stacks],
            "set": {"category": 3, "series": "beach"},
        },
    )
    assert r.status_code == 200, r.text
    with grid_store.session() as s:
        members = set(
            s.scalars(
                select(FileRecord.sha256).where(
                    FileRecord.group_id.in_([t["group"] for t in stacks])
                )
            )
        )
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "set")))
    shas = {t["sha256"] for t in singles} | members
    assert r.json()["files"] == len(shas) > len(singles) + len(stacks)
    assert {e.sha256 for e in events} == shas
    assert len(events) == 2 * len(shas)  # category and series, per file
    assert len({e.batch for e in events}) == 1  # one request, one batch

    r = grid_alice.post(f"/api/cases/{GRID_CASE}/undo")
    assert r.status_code == 200 and r.json()["files"] == len(shas)
    with grid_store.session() as s:
        left = s.scalar(select(func.count()).where(Decision.category.is_not(None)))
    assert left == 0


def test_bulk_all_in_filter(grid_alice: Api, grid_store: Store) -> None:
    flt = {"make": "Canon", "gps": "true", "verdict": "all", "collapse": "false"}
    expected = {t["sha256"] for t in _all(grid_alice, **flt) if t["sha256"]}
    r = _post(grid_alice, {"filter": flt, "set": {"category": 0}})
    assert r.status_code == 200, r.text
    assert r.json()["files"] == len(expected) > 0
    assert {t["sha256"] for t in _all(grid_alice, **{**flt, "review": "0"})} == expected


def test_bulk_refuses_more_than_the_limit(grid_alice: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grid, "MAX_SELECTION", 10)
    r = _post(grid_alice, {"filter": {"verdict": "all"}, "set": {"category": 1}})
    assert r.status_code == 422 and "narrow" in r.text


def test_bulk_needs_the_writer_role(grid_store: Store) -> None:
    with TestClient(create_app(grid_store, case=GRID_CASE)) as client:
        rita = Api(client).login("rita")
        r = _post(rita, {"filter": {"verdict": "new"}, "set": {"category": 1}})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "size_min=9223372036854775808",
        "offset=-1",
        "limit=0",
        "limit=1001",
        "verdict=maybe",
        "sort=colour",
        "review=7",
        "category=12345",
        "taken_from=yesterday",
        "gps=perhaps",
        "after=not-a-cursor",
        f"after={grid._encode('value', 2**70, 1)}",
        f"after={grid._encode('value', [1, 2], 1)}",
        "path=/evidence/%00",
        "make=Can%00on",
    ],
)
def test_bad_parameters_are_422(reader: tuple[Api, Store], query: str) -> None:
    """Out of range, unknown, malformed or NUL-carrying values: 422, never a server error."""
    assert reader[0].client.get(f"{URL}?{query}").status_code == 422


@pytest.mark.parametrize(
    "query", ["taken_from=0001-01-01T00:00:00%2B14:00", "mtime_to=9999-12-31T23:59:59-14:00"]
)
def test_extreme_times_are_answered(reader: tuple[Api, Store], query: str) -> None:
    assert reader[0].client.get(f"{URL}?{query}&verdict=all").status_code == 200


def test_bulk_ids_are_bounded(reader: tuple[Api, Store]) -> None:
    r = _post(reader[0], {"file_ids": [2**63], "set": {"category": 1}})
    assert r.status_code == 422


def test_page_and_json_twin_carry_the_same_filter(reader: tuple[Api, Store]) -> None:
    grid_alice = reader[0]
    query = {"make": "Canon", "sort": "taken", "order": "desc", "review": "", "kind": "image"}
    page = grid_alice.client.get(f"/cases/{GRID_CASE}/grid", params=query)
    assert page.status_code == 200
    assert '<option value="shadow"' in page.text  # the recovered kinds, from sources.readers
    embedded = page.text.split('id="grid-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(embedded)
    twin = grid_alice.client.get(URL, params={**query, "count": "true"}).json()
    assert (
        data["filter"]
        == twin["filter"]
        == {
            "kind": "image",
            "make": "Canon",
            "sort": "taken",
            "order": "desc",
        }
    )
    assert data["items"] == twin["items"]
    assert data["total"] is None and twin["total"] > 0  # the page counts after its first screen
    assert 'value="Canon"' in page.text  # the form shows the filter


def test_case_list_and_dashboard_show_counts_reviewers_and_scans(
    grid_alice: Api, grid_store: Store
) -> None:
    tiles = _all(grid_alice, verdict="all", collapse="false", sort="id")[:12]
    r = _post(grid_alice, {"sha256": [t["sha256"] for t in tiles], "set": {"category": 1}})
    assert r.status_code == 200
    with grid_store.session() as s:
        counts = dict(
            s.execute(select(FileRecord.verdict, func.count()).group_by(FileRecord.verdict)).all()
        )
    listed = grid_alice.client.get("/api/cases").json()["cases"]
    assert [c["name"] for c in listed] == [GRID_CASE]
    case = listed[0]
    assert case["files"] == sum(counts.values())
    assert case["verdicts"]["new"] == counts["new"] and case["verdicts"]["known"] == counts["known"]
    assert case["reviewed"] == len({t["sha256"] for t in tiles})
    assert case["reviewers"] == [{"username": "alice", "categorised": case["reviewed"]}]
    assert case["scans"] == 1 and case["last_scan"]["status"] == "completed"
    page = grid_alice.client.get("/cases").text
    assert f"alice ({case['reviewed']})" in page and str(counts["new"]) in page
    dashboard = grid_alice.client.get(f"/api/cases/{GRID_CASE}").json()
    assert dashboard["reviewers"] == case["reviewers"]


def test_thumbnails_in_one_request_are_audited_per_file(grid_alice: Api, grid_store: Store) -> None:
    tiles = _all(grid_alice, verdict="all", collapse="false", sort="id")[:5]
    ids = [t["file_id"] for t in tiles]
    r = grid_alice.client.get(
        f"/api/cases/{GRID_CASE}/thumbs", params={"ids": [*ids, 10**9], "size": 128}
    )
    assert r.status_code == 200, r.text
    thumbs = r.json()["thumbs"]
    assert sorted(thumbs) == sorted(str(i) for i in ids)  # not in the case: left out
    assert thumbs[str(ids[0])].startswith("data:image/jpeg;base64,")  # a real picture
    with grid_store.session() as s:
        seen = list(s.scalars(select(AuditEvent.file_id).where(AuditEvent.action == "thumbnail")))
    assert sorted(seen) == sorted(ids)
    too_many = grid_alice.client.get(
        f"/api/cases/{GRID_CASE}/thumbs", params={"ids": list(range(1, 200))}
    )
    assert too_many.status_code == 422
