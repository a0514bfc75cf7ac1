"""Review at case scale: the dense grid over a generated case of a million files, in Chromium.

    .venv/bin/python bench/review_scale.py [--files 1000000] [--home DIR] [--keep]

1. Generates a case of ``--files`` file rows (``tests/review/synthetic.py``: bulk inserts; the
   first file of each group of 30 or more is a real generated picture, so the first screen
   shows thumbnails) and fills the grid's facets (camera, time, GPS) from their EXIF JSON.
2. Starts ``hashsieve serve`` (its own process) and drives Debian's Chromium with Playwright:
   - first screen: navigation start to the grid's tiles in the page (``readyAt``) and to every
     visible thumbnail loaded, cold (5 loads, thumbnails rendered on the first);
   - window fetches while scrolling: every ``/api/cases/{case}/grid`` window the page fetched
     (request to parsed JSON, in the page), following cursors (60 screens down) and jumping
     (20 random places in the case: offset windows);
   - a scripted reviewer categorising 1,000 tiles by keyboard (a digit then an arrow key, per
     tile) and 1,000 tiles by bulk selection (Shift+PageDown to 1,000, then one digit):
     seconds per picture until the last key press and until the server saved everything.
3. Server-side, the same window queries without a browser (p50/p95 of 50 each).

Prints one JSON document; bench/README.md has the figures and the load they were taken at.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from procs import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.review.synthetic import add_case  # noqa: E402

from hashsieve.access.auth import add_user  # noqa: E402
from hashsieve.config import Settings  # noqa: E402
from hashsieve.review import facets, grid  # noqa: E402
from hashsieve.store import Store  # noqa: E402

CASE = "scale"
PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
HASHSIEVE = str(Path(sys.executable).parent / "hashsieve")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50), 1),
        "p95_ms": round(pct(values, 95), 1),
        "max_ms": round(max(values), 1) if values else float("nan"),
    }


def generate(home: Path, files: int) -> dict[str, Any]:
    store = Store(Settings(home=home, workers=1))
    try:
        started = time.perf_counter()
        made = add_case(store, CASE, files, pictures=home.parent / "evidence", real_groups=30)
        generated = time.perf_counter() - started
        case = store.get_case(CASE)
        started = time.perf_counter()
        facet_rows = facets.refresh(store, case.id)
        faceted = time.perf_counter() - started
        add_user(store, "alice", PASSWORD, "reviewer")
    finally:
        store.close()
    return {
        "files": made.files,
        "groups": made.groups,
        "generate_s": round(generated, 1),
        "facets_s": round(faceted, 1),
        "facet_rows": facet_rows,
    }


def server_side(home: Path) -> dict[str, Any]:
    """The window queries in-process (no HTTP, no browser): where the time goes."""
    store = Store(Settings(home=home, workers=1))
    out: dict[str, Any] = {}
    try:
        case = store.get_case(CASE)
        cases = {
            "group (default), first window + count": (grid.GridFilter(), "count"),
            "group, next window by cursor": (grid.GridFilter(), "cursor"),
            "picture time, by cursor": (grid.GridFilter(sort="taken"), "cursor"),
            "size, by cursor": (grid.GridFilter(sort="size"), "cursor"),
            "not reviewed + camera, by cursor": (
                grid.GridFilter(review="none", make="Canon"),
                "cursor",
            ),
            "path prefix, by cursor": (
                grid.GridFilter(sort="path", path="/evidence/dir0010/"),
                "cursor",
            ),
            "group, offset jump": (grid.GridFilter(), "offset"),
        }
        rnd = random.Random(5)
        for name, (flt, how) in cases.items():
            first = grid.window(store, case, flt, limit=200, count=True)
            total = first["total"] or 0
            cursors = [first["next"]]
            for _ in range(60):
                if cursors[-1] is None:
                    break
                cursors.append(grid.window(store, case, flt, after=cursors[-1], limit=200)["next"])
            cursors = [c for c in cursors if c]
            if how == "cursor" and not cursors:
                out[name] = {"tiles": total, "note": "fits one window"}
                continue
            timings = []
            for i in range(50):
                t = time.perf_counter()
                if how == "count":
                    grid.window(store, case, flt, limit=200, count=True)
                elif how == "cursor":
                    grid.window(store, case, flt, after=cursors[i % len(cursors)], limit=200)
                else:
                    grid.window(store, case, flt, offset=rnd.randrange(max(1, total)), limit=200)
                timings.append((time.perf_counter() - t) * 1000)
            out[name] = {"tiles": total, **summary(timings)}
            log(f"{name}: {out[name]}")
    finally:
        store.close()
    return out


def browser(home: Path, only: list[str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    proc = subprocess.Popen(
        [HASHSIEVE, "serve", "--case", CASE, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("hashsieve serve did not start") from None
                time.sleep(0.2)
        with sync_playwright() as pw:
            chrome = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = chrome.new_page(viewport={"width": 1400, "height": 1000})
            # The API login sets the session cookie without opening the dashboard.
            login = page.request.post(
                base + "/api/login", data={"username": "alice", "password": PASSWORD}
            )
            if not login.ok:
                raise RuntimeError(f"login failed: {login.status}")
            url = f"{base}/cases/{CASE}/grid"
            for name, phase in PHASES.items():
                if only and name not in only:
                    continue
                log(f"browser: {name}")
                out[name] = phase(page, url)
                log(f"browser: {name}: {out[name]}")
            chrome.close()
    finally:
        proc.terminate()
        proc.wait(30)
    return out


VISIBLE_LOADED = """() => {
  const h = window.innerHeight;
  const imgs = Array.from(document.querySelectorAll('#dense .tile img')).filter((i) => {
    const r = i.getBoundingClientRect(); return r.bottom > 0 && r.top < h; });
  return imgs.length > 0 && imgs.every((i) => i.complete);
}"""


def first_screen(page: Any, url: str) -> dict[str, Any]:
    ready, loaded, tiles = [], [], 0
    for _ in range(5):
        page.goto(url)
        page.wait_for_selector("body[data-grid-ready][data-counted]")
        page.wait_for_function(VISIBLE_LOADED, polling=10, timeout=120_000)
        done = page.evaluate("() => performance.now()")
        ready.append(page.evaluate("() => window.hashsieveGrid.readyAt"))
        loaded.append(done)
        tiles = page.evaluate(
            "() => Array.from(document.querySelectorAll('#dense .tile')).filter(t => {"
            " const r = t.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight;"
            " }).length"
        )
    return {
        "tiles_in_page_ms": [round(x) for x in ready],
        "thumbnails_loaded_ms": [round(x) for x in loaded],
        "whole_tiles_on_screen": tiles,
        "total_tiles": page.evaluate("() => window.hashsieveGrid.total"),
    }


SHOWN = """() => {
  const box = document.getElementById('dense');
  const s = window.hashsieveGrid.state();
  const top = window.scrollY - (box.getBoundingClientRect().top + window.scrollY);
  const first = Math.max(0, Math.floor(top / s.tileW) + 1) * s.cols;
  return first >= window.hashsieveGrid.total
    || !!document.querySelector('#dense .tile[data-index="' + first + '"]');
}"""


def scrolling(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_selector("body[data-grid-ready][data-counted]")
    for _ in range(60):  # one screen at a time, as a reviewer scrolls
        page.mouse.wheel(0, 900)
        page.wait_for_timeout(60)
    page.wait_for_load_state("networkidle")
    cursor = page.evaluate("() => window.hashsieveGrid.fetches.slice()")
    rnd = random.Random(7)
    height = page.evaluate("() => document.body.scrollHeight")
    for _ in range(20):  # the scroll bar dragged somewhere far, until its tiles are there
        page.evaluate(f"() => window.scrollTo(0, {rnd.randrange(height)})")
        page.wait_for_function(SHOWN, timeout=60_000)
    jumps = page.evaluate("() => window.hashsieveGrid.fetches.slice()")[len(cursor) :]
    return {"by_cursor": summary(cursor), "by_offset_jump": summary(jumps)}


def _saved(page: Any, timeout: float = 600_000) -> None:
    page.wait_for_function("() => (document.body.dataset.inflight || '0') === '0'", timeout=timeout)


def keyboard_reviewer(page: Any, url: str, n: int = 1000) -> dict[str, Any]:
    page.goto(url + "?review=none&sort=id")
    page.wait_for_selector("body[data-grid-ready][data-counted]")
    page.evaluate("() => window.hashsieveGrid.select(0)")
    started = time.perf_counter()
    for i in range(n):
        page.keyboard.press("Digit1" if i % 3 else "Digit2")
        page.keyboard.press("ArrowRight")
    typed = time.perf_counter() - started
    _saved(page)
    saved = time.perf_counter() - started
    held = page.evaluate("() => window.hashsieveGrid.keys.slice()")
    return {
        "key_handler_in_page": summary(held),
        "tiles": n,
        "s_per_picture_keys": round(typed / n, 4),
        "s_per_picture_saved": round(saved / n, 4),
        "total_s": round(saved, 1),
    }


def bulk_reviewer(page: Any, url: str, n: int = 1000) -> dict[str, Any]:
    page.goto(url + "?review=none&sort=id")
    page.wait_for_selector("body[data-grid-ready][data-counted]")
    page.evaluate("() => window.hashsieveGrid.select(0)")
    started = time.perf_counter()
    cols = page.evaluate("() => window.hashsieveGrid.state().cols")
    rows = -(-n // cols)
    for _ in range(rows - 1):
        page.keyboard.press("Shift+ArrowDown")
    selected = page.evaluate("() => window.hashsieveGrid.state().selected")
    page.keyboard.press("Digit3")
    _saved(page)
    saved = time.perf_counter() - started
    return {
        "tiles": selected,
        "s_per_picture": round(saved / selected, 5),
        "total_s": round(saved, 2),
    }


PHASES = {
    "first_screen": first_screen,
    "scroll": scrolling,
    "keyboard": keyboard_reviewer,
    "bulk": bulk_reviewer,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="reuse or create the store here")
    parser.add_argument("--keep", action="store_true", help="keep the generated store")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-server-side", action="store_true")
    parser.add_argument("--only", nargs="*", default=[], choices=list(PHASES))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hashsieve-review-scale-"))
    home = args.home or work / "home"
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        if not (home / "hashsieve.db").exists():
            result["generate"] = generate(home, args.files)
        log(f"generated: {result.get('generate')}")
        if not args.no_server_side:
            result["server_side"] = server_side(home)
            log(f"server side: {result['server_side']}")
        if not args.no_browser:
            result["browser"] = browser(home, args.only)
        result["load_after"] = os.getloadavg()
    finally:
        if not args.keep and args.home is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
