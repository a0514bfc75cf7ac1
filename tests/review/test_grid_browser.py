"""The dense grid in a real browser (Debian's chromium, Playwright) on a generated case.

At the default thumbnail size a 1400x1000 screen shows at least 40 tiles; the list is
virtualised (only rows near the view are in the page) and scrolls to the last tile through
the JSON windows; keyboard categorisation is optimistic and ends in the database and the audit
log; shift/ctrl-click and keyboard ranges, select-all-in-filter, undo, and the thumbnail size
(saved in the user's settings) work as a reviewer uses them. Screenshots as test_browser.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hashsieve.access.models import AuditEvent
from hashsieve.access.preferences import get_preferences
from hashsieve.review.models import Decision
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from tests.review.conftest import GRID_CASE, PASSWORD
from tests.review.test_browser import ARGS, CHROMIUM, pytestmark, served  # noqa: F401

VISIBLE = """() => {
  const h = window.innerHeight, w = window.innerWidth;
  return Array.from(document.querySelectorAll('#dense .tile')).filter((t) => {
    const r = t.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= h + 0.5 && r.left >= 0 && r.right <= w + 0.5;
  }).length;
}"""


@pytest.fixture
def grid_server(grid_store: Store) -> Iterator[str]:
    with served(grid_store, GRID_CASE) as url:
        yield url


def _decided(store: Store) -> dict[str, int | None]:
    with store.session() as s:
        return {d.sha256: d.category for d in s.scalars(select(Decision))}


def _group_shas(store: Store, file_id: int) -> set[str]:
    with store.session() as s:
        gid = s.scalar(select(FileRecord.group_id).where(FileRecord.id == file_id))
        return {
            sha
            for sha in s.scalars(select(FileRecord.sha256).where(FileRecord.group_id == gid))
            if sha
        }


def _view(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot of the screen as the reviewer sees it (not the whole scrolled list)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    docs = os.environ.get("HASHSIEVE_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(docs) / path.name)


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => (document.body.dataset.inflight || '0') === '0'")


def test_dense_grid_in_a_real_browser(grid_server: str, grid_store: Store, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    base = f"{grid_server}/cases/{GRID_CASE}/grid"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{grid_server}/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**/cases/{GRID_CASE}")
            page.goto(f"{grid_server}/cases")
            assert page.locator(f'tr[data-case="{GRID_CASE}"]').count() == 1
            _view(page, tmp_path, "cases")
            page.goto(base)
            page.wait_for_selector("body[data-grid-ready][data-counted]")
            page.wait_for_load_state("networkidle")
            total = page.evaluate("() => window.hashsieveGrid.total")
            assert total > 200  # more than one window: the rest arrives by cursor

            # Density: the bar is 40 whole thumbnails on a 1400x1000 screen.
            visible = page.evaluate(VISIBLE)
            assert visible >= 40, visible
            _view(page, tmp_path, "grid-dense")

            # Wellness: blurred and greyscale; hovering does not reveal, Space reveals one.
            thumb = page.locator("#dense .tile img.thumb").first
            assert "blur(14px)" in thumb.evaluate("el => getComputedStyle(el).filter")
            thumb.evaluate("el => el.decode()")  # arrived in one batch request, as a data: URL
            assert thumb.evaluate("el => el.naturalWidth") > 0
            page.locator("#dense .tile").nth(3).hover()
            hovered = page.locator("#dense .tile").nth(3).locator("img.thumb")
            assert "blur(14px)" in hovered.evaluate("el => getComputedStyle(el).filter")
            page.mouse.move(1390, 990)
            page.keyboard.press("Space")
            page.wait_for_function(
                "() => getComputedStyle(document.querySelector('#dense .tile.current img')).filter"
                " === 'none'"
            )
            page.keyboard.press("ArrowRight")  # moving on blurs it again
            assert page.locator("#dense .tile.revealed").count() == 0

            # Virtualised: scrolled to the end, the last tile is there, the page holds few tiles.
            page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_function(
                f"() => !!document.querySelector('#dense .tile[data-index=\"{total - 1}\"]')"
            )
            rendered = page.locator("#dense .tile").count()
            assert rendered < total / 2, (rendered, total)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_selector('#dense .tile[data-index="0"]')

            # Keyboard: the first tile (a group when stacked) gets category 1 at once.
            page.evaluate("() => window.hashsieveGrid.select(0)")
            first_id = int(page.locator('#dense .tile[data-index="0"]').get_attribute("data-file"))
            held: list = []
            page.route(
                "**/decisions", lambda route: held.append(route)
            )  # the server's answer waits for us
            page.keyboard.press("Digit1")
            while not held:
                page.wait_for_timeout(20)
            # optimistic: the tile shows it before the server has answered
            assert (
                page.locator('#dense .tile[data-index="0"]').get_attribute("data-category") == "1"
            )
            assert page.evaluate("() => document.body.dataset.inflight") == "1"
            held[0].continue_()
            _settle(page)
            page.unroute("**/decisions")
            assert all(_decided(grid_store)[sha] == 1 for sha in _group_shas(grid_store, first_id))

            # Shift+arrows: a range of 4 tiles, category 2 in one request.
            page.evaluate("() => window.hashsieveGrid.select(10)")
            for _ in range(3):
                page.keyboard.press("Shift+ArrowRight")
            assert page.locator("#dense .tile.selected").count() == 4
            page.keyboard.press("Digit2")
            _settle(page)
            ranged = [
                int(page.locator(f'#dense .tile[data-index="{i}"]').get_attribute("data-file"))
                for i in range(10, 14)
            ]
            decided = _decided(grid_store)
            for fid in ranged:
                assert all(decided[sha] == 2 for sha in _group_shas(grid_store, fid))

            # Click, ctrl-click and shift-click.
            tiles = page.locator("#dense .tile")
            tiles.nth(20).click()
            tiles.nth(22).click(modifiers=["Control"])
            assert page.locator("#dense .tile.selected").count() == 2
            tiles.nth(25).click(modifiers=["Shift"])
            assert page.locator("#dense .tile.selected").count() == 4  # 22..25
            page.keyboard.press("Digit3")
            _settle(page)
            assert page.locator('#dense .tile[data-category="3"]').count() == 4

            # Undo the last change (the shift-click range): back to no category.
            page.keyboard.press("u")
            page.wait_for_function(
                "() => document.querySelectorAll('#dense .tile[data-category=\"3\"]').length === 0"
            )

            # Thumbnail size: '+' makes tiles bigger and the setting is saved.
            before = page.evaluate("() => window.hashsieveGrid.state().tileW")
            page.keyboard.press("+")
            page.wait_for_function("() => document.body.dataset.thumbSaved === '176'")
            assert page.evaluate("() => window.hashsieveGrid.state().tileW") > before
            _view(page, tmp_path, "grid-dense-categorised")

            # Select all in a filter (not yet reviewed, one folder) and categorise it at once.
            page.goto(base + "?review=none&path=/evidence/dir0000/sub08/")
            page.wait_for_selector("body[data-grid-ready][data-counted]")
            in_filter = page.evaluate("() => window.hashsieveGrid.total")
            assert in_filter > 0
            page.keyboard.press("Control+a")
            assert "all in the filter" in page.locator("#grid-selected").inner_text()
            page.keyboard.press("Digit4")
            _settle(page)
            page.reload()
            page.wait_for_selector("body[data-grid-ready][data-counted]")
            assert page.evaluate("() => window.hashsieveGrid.total") == 0
        finally:
            browser.close()

    with grid_store.session() as s:
        audited = s.scalar(
            select(func.count()).where((AuditEvent.action == "set") & (AuditEvent.new_value == "4"))
        )
        fours = s.scalar(select(func.count()).where(Decision.category == 4))
        in_folder = set(
            s.scalars(
                select(FileRecord.sha256).where(
                    FileRecord.path_text.like("/evidence/dir0000/sub08/%")
                    & (FileRecord.verdict == "new")
                    & (FileRecord.group_id == FileRecord.id)  # a tile: its group's first file
                )
            )
        )
    decided = _decided(grid_store)
    assert in_folder and all(decided.get(sha) is not None for sha in in_folder)
    assert audited == fours >= len(in_folder)  # one audit event per file
    assert get_preferences(grid_store, 1).thumb_size == 176
