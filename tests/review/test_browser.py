"""End to end in a real browser: Debian's chromium driven by Playwright against a real server.

Log in, see blurred thumbnails, reveal one, categorise a group with the keyboard, reload and see
it kept, check the database and the audit log, export VICS and import it into a second store
where a rescan finds those files known. Screenshots go to ``tmp_path`` (and to the folder named by
``HASHSIEVE_SCREENSHOTS``, e.g. ``docs/screenshots``, when set).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from hashsieve import import_hashset, run_scan
from hashsieve.access.models import AuditEvent
from hashsieve.config import Settings
from hashsieve.review.models import Decision
from hashsieve.store import Store
from hashsieve.web.app import create_app
from tests.review.conftest import CASE, PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"no {CHROMIUM}: install Debian's chromium (apt-get install -y chromium)",
    ),
]


@contextmanager
def served(store: Store, case: str) -> Iterator[str]:
    """The review app under uvicorn on 127.0.0.1 and a free port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        create_app(store, case=case), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the review server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def server(review_store: Store) -> Iterator[str]:
    with served(review_store, CASE) as url:
        yield url


def _shot(page, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = os.environ.get("HASHSIEVE_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(docs) / path.name)
    return path


def test_review_in_a_real_browser(
    server: str, review_store: Store, sample_case: tuple[Path, Path], tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    evidence, _ = sample_case
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            assert "/login" in page.url
            _shot(page, tmp_path, "login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**/cases/{CASE}")
            page.wait_for_load_state("networkidle")
            _shot(page, tmp_path, "dashboard")

            page.goto(f"{server}/cases/{CASE}/groups")
            page.wait_for_load_state("networkidle")
            first = page.locator(".tile").first
            thumb = first.locator("img.thumb")
            filter_of = "el => getComputedStyle(el).filter"
            assert "blur(14px)" in thumb.evaluate(filter_of)
            assert "grayscale(1)" in thumb.evaluate(filter_of)
            assert thumb.evaluate("el => el.naturalWidth") > 0  # the thumbnail really loaded
            _shot(page, tmp_path, "grid")

            page.mouse.move(0, 0)
            first_filter = "getComputedStyle(document.querySelector('.tile img.thumb')).filter"
            page.keyboard.press("Space")  # reveal the selected one...
            page.wait_for_function(f"() => {first_filter} === 'none'")
            page.keyboard.press("ArrowRight")  # ...and moving on blurs it again
            page.wait_for_function(f"() => {first_filter} === 'blur(14px) grayscale(1)'")
            page.keyboard.press("ArrowLeft")

            page.keyboard.press("Shift+Digit1")  # the whole series: category 1
            page.wait_for_selector("#status.show")
            page.locator(".tile").nth(1).wait_for()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Digit3")  # then one tile of it: category 3
            page.wait_for_function(
                "() => document.querySelectorAll('.tile')[1].dataset.category === '3'"
            )
            page.reload()
            page.wait_for_load_state("networkidle")
            badges = page.locator(".group").first.locator('[data-role="cat"]')
            assert badges.all_inner_texts() == ["C1", "C3", "C1"]
            _shot(page, tmp_path, "grid-categorised")

            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("u")  # undo the last change (the single tile)
            page.wait_for_function(
                "() => document.querySelectorAll('.tile')[1].dataset.category === '1'"
            )

            page.goto(f"{server}/cases/{CASE}/files/{first.get_attribute('data-file')}")
            page.wait_for_load_state("networkidle")
            assert page.locator("img.full").get_attribute("src") is None  # not fetched yet
            page.keyboard.press("Space")
            page.wait_for_function("() => document.querySelector('img.full').naturalWidth > 0")
            _shot(page, tmp_path, "detail")

            page.goto(f"{server}/cases/{CASE}/report")
            page.wait_for_load_state("networkidle")
            _shot(page, tmp_path, "report")

            response = page.request.get(f"{server}/api/cases/{CASE}/export/vics")
            assert response.ok
            exported = tmp_path / "reviewed.json"
            exported.write_bytes(response.body())
        finally:
            browser.close()

    with review_store.session() as s:
        decided = {d.sha256: d.category for d in s.scalars(select(Decision))}
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert sorted(decided.values()) == [1, 1, 1]
    actions = [e.action for e in events]
    assert {"login", "thumbnail", "view", "image", "set", "undo", "export"} <= set(actions)
    assert [e.new_value for e in events if e.action == "set"] == ["1", "1", "1", "3"]
    assert all(e.username == "alice" for e in events)

    other = Store(Settings(home=tmp_path / "agency-b", workers=2))
    try:
        import_hashset(other, exported, "shared")
        run_scan(other, "rescan", [str(evidence)])
        from hashsieve.report.summary import case_summary

        assert case_summary(other, "rescan").categories == {"1 Child abuse material (CAM)": 3}
    finally:
        other.close()
