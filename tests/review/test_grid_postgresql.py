"""The grid on a real PostgreSQL server (the session's private cluster, tests/postgres.py):
the same windows as SQLite for every sort (cursor walks agree), and EXPLAIN shows an index
for each first-window query (with sequential scans priced out, as a tiny table would
otherwise be read whole)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from hashsieve.config import Settings
from hashsieve.review import grid
from hashsieve.store import Store
from tests.postgres import PostgresServer
from tests.review.synthetic import add_case

pytestmark = pytest.mark.slow
FILES = 600


def _walk(store: Store, flt: grid.GridFilter) -> list[int]:
    case = store.get_case("pg-grid")
    out: list[int] = []
    after = None
    while True:
        w = grid.window(store, case, flt, after=after, limit=250)
        out += [t["file_id"] for t in w["items"]]
        after = w["next"]
        if after is None:
            return out


@pytest.fixture(scope="module")
def stores(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Store, Store]:
    import os

    postgres_url = postgres_server.new_database()
    root = tmp_path_factory.mktemp("pg-grid")
    lite = Store(Settings(home=root / "lite", workers=1))
    os.environ["HASHSIEVE_DATABASE_URL"] = postgres_url
    try:
        pg = Store(Settings(home=root / "pg", workers=1))
    finally:
        del os.environ["HASHSIEVE_DATABASE_URL"]
    assert pg.engine.dialect.name == "postgresql"
    for store in (lite, pg):
        add_case(store, "pg-grid", FILES)
    return lite, pg


SORTS = ["group", "size", "mtime", "path", "taken", "id"]


@pytest.mark.parametrize("sort", ["group", "taken", "path"])
def test_postgresql_walks_every_sort_like_sqlite(stores: tuple[Store, Store], sort: str) -> None:
    lite, pg = stores
    for order in ("asc", "desc"):
        flt = grid.GridFilter(verdict="all", collapse=False, sort=sort, order=order)  # type: ignore[arg-type]
        on_pg, on_lite = _walk(pg, flt), _walk(lite, flt)
        assert len(on_pg) == FILES
        if sort == "taken":  # files without a picture time: first or last, as each index has them
            assert set(on_pg) == set(on_lite)
            with_time = set(
                _walk(lite, flt.model_copy(update={"taken_from": datetime(1900, 1, 1)}))
            )
            assert [i for i in on_pg if i in with_time] == [i for i in on_lite if i in with_time]
        else:
            assert on_pg == on_lite


def test_postgresql_filters_match_sqlite(stores: tuple[Store, Store]) -> None:
    lite, pg = stores
    flt = grid.GridFilter(
        path="/evidence/*/sub0?/*", make="Canon", gps=False, review="none", sort="taken"
    )
    assert _walk(pg, flt) == _walk(lite, flt) != []


@pytest.mark.parametrize("sort", SORTS)
def test_postgresql_plans_use_indexes(stores: tuple[Store, Store], sort: str) -> None:
    _, pg = stores
    case = pg.get_case("pg-grid")
    flt = grid.GridFilter(sort=sort)  # type: ignore[arg-type]
    first = grid.window(pg, case, flt, limit=50)
    with pg.engine.begin() as conn:  # planner settings for this check only
        conn.execute(text("ANALYZE"))
    for after in (None, first["next"]):
        plan = grid.query_plan(pg, case, flt, after=after, settings=("enable_seqscan = off",))
        joined = "\n".join(plan)
        assert "Index" in joined, joined
        assert "Seq Scan on files" not in joined, joined
        if after is not None and sort in ("group", "size", "mtime"):  # the id bounded too
            assert "AND (id < " in joined or "AND (id > " in joined, joined


@pytest.mark.parametrize("sort", ["group", "size"])
def test_postgresql_count_walks_an_index(stores: tuple[Store, Store], sort: str) -> None:
    """The count's walk can read the sort's index in order (a million rows choose it unasked:
    bench/README.md; a few hundred are cheaper sorted, hence the settings)."""
    _, pg = stores
    case = pg.get_case("pg-grid")
    flt = grid.GridFilter(sort=sort)  # type: ignore[arg-type]
    off = ("enable_seqscan = off", "enable_bitmapscan = off", "enable_sort = off")
    plan = "\n".join(grid.query_plan(pg, case, flt, walk=True, settings=off))
    assert f"Scan Backward using ix_files_grid_{sort}" in plan, plan
    assert "Sort" not in plan, plan
