"""Review at case scale: the dense grid over a generated case of a million files, in Chromium.

    .venv/bin/python bench/review_scale.py [--files 1000000] [--home DIR] [--keep]
        [--db sqlite|postgresql] [--pg-root DIR]

1. Generates a case of ``--files`` file rows (``tests/review/synthetic.py``: bulk inserts; the
   first file of each group of 30 or more is a real generated picture, so the first screen
   shows thumbnails) and fills the grid's facets (camera, time, GPS) from their EXIF JSON.
2. Starts ``hashsieve serve`` (its own process) and drives Debian's Chromium with Playwright:
   - first screen: navigation start to the grid's tiles in the page (``readyAt``) and to every
     visible thumbnail loaded (5 loads; the thumbnails were made on an earlier run or the
     first load), then to the tile count in the page (asked for after the thumbnails);
   - dashboard and case list: navigation start to the page loaded (5 loads each);
   - window fetches while scrolling: every ``/api/cases/{case}/grid`` window the page fetched
     (request to parsed JSON, in the page), following cursors (60 screens down) and jumping
     (20 random places in the case: offset windows);
   - a scripted reviewer categorising 1,000 tiles by keyboard (a digit then an arrow key, per
     tile) and 1,000 tiles by bulk selection (Shift+PageDown to 1,000, then one digit):
     seconds per picture until the last key press and until the server saved everything.
3. Server-side, the same window queries without a browser (p50/p95 of 50 each).

With ``--db postgresql`` the same case is copied from the SQLite store in ``--home`` into a
private PostgreSQL server under ``--pg-root`` (initdb, Unix socket only) by COPY, once (it is
kept for later runs), and the server and in-process queries use that database. Every phase
reports the server process's CPU seconds next to the wall-clock figures.

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

from procs import cpu_seconds, free_port

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
    """The window queries in-process (no HTTP, no browser): where the time goes.

    Per filter: the first count (one walk of the filter, kept for later counts and jumps),
    then 50 windows; wall-clock and this process's CPU (a PostgreSQL server's is not in it).
    """
    store = Store(Settings(home=home, workers=1))
    out: dict[str, Any] = {}
    try:
        case = store.get_case(CASE)
        cases = {
            "group (default), next window by cursor": (grid.GridFilter(), "cursor"),
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
            "size, offset jump": (grid.GridFilter(sort="size"), "offset"),
        }
        rnd = random.Random(5)
        for name, (flt, how) in cases.items():
            t, c = time.perf_counter(), time.process_time()
            first = grid.window(store, case, flt, limit=200, count=True)
            counted = {
                "count_ms": round((time.perf_counter() - t) * 1000),
                "count_cpu_ms": round((time.process_time() - c) * 1000),
            }
            total = first["total"] or 0
            cursors = [first["next"]]
            for _ in range(60):
                if cursors[-1] is None:
                    break
                cursors.append(grid.window(store, case, flt, after=cursors[-1], limit=200)["next"])
            cursors = [x for x in cursors if x]
            if how == "cursor" and not cursors:
                out[name] = {"tiles": total, **counted, "note": "fits one window"}
                continue
            timings = []
            c = time.process_time()
            for i in range(50):
                t = time.perf_counter()
                if how == "cursor":
                    grid.window(store, case, flt, after=cursors[i % len(cursors)], limit=200)
                else:
                    depth = rnd.randrange(max(1, total)) // 200 * 200
                    grid.window(store, case, flt, offset=depth, limit=200)
                timings.append((time.perf_counter() - t) * 1000)
            cpu = round((time.process_time() - c) / 50 * 1000, 1)
            out[name] = {"tiles": total, **counted, **summary(timings), "cpu_ms_mean": cpu}
            log(f"{name}: {out[name]}")
    finally:
        store.close()
    return out


#: The tables the PostgreSQL copy of the case needs, in foreign-key order.
COPIED = ("cases", "scans", "files", "review_facets", "review_decisions")


def load_postgres(home: Path, pg: Any) -> tuple[str, dict[str, Any]]:
    """The SQLite case in ``home`` copied into the private PostgreSQL server by COPY (once:
    the cluster keeps it for later runs)."""
    import sqlite3

    pg.start()
    url = f"postgresql+psycopg://postgres@/review_scale?host={pg.socket}"
    done = pg.root / "loaded"
    if done.exists():
        return url, json.loads(done.read_text())
    url = pg.database("review_scale")
    os.environ["HASHSIEVE_DATABASE_URL"] = url
    started = time.perf_counter()
    store = Store(Settings(home=home, workers=1))  # the schema, by the store's migrations
    source = sqlite3.connect(f"file:{home / 'hashsieve.db'}?mode=ro", uri=True)
    raw = store.engine.raw_connection()
    rows: dict[str, int] = {}
    try:
        cur = raw.cursor()
        for table in COPIED:
            names = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
            columns = ", ".join(f'"{name}"' for name in names)  # "offset" is a keyword
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                n = 0
                for row in source.execute(f"SELECT {columns} FROM {table}"):
                    copy.write_row(row)
                    n += 1
            rows[table] = n
            if "id" in names:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce(max(id), 1)) FROM {table}"
                )
        raw.commit()
        copied = time.perf_counter() - started
        driver = raw.driver_connection
        assert driver is not None
        driver.autocommit = True
        started = time.perf_counter()
        cur.execute("VACUUM ANALYZE")  # the visibility map for index-only scans; statistics
        vacuumed = time.perf_counter() - started
    finally:
        raw.close()
        source.close()
    add_user(store, "alice", PASSWORD, "reviewer")
    store.close()
    info = {"rows": rows, "copy_s": round(copied, 1), "vacuum_analyze_s": round(vacuumed, 1)}
    done.write_text(json.dumps(info))
    return url, info


def browser(home: Path, only: list[str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}  # HASHSIEVE_DATABASE_URL passes through
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
            # Logged in through the login page, as a reviewer is before opening the grid (the
            # browser's renderer and the shared style sheet are then warm, as they are for one).
            page.goto(base + "/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
            if "/login" in page.url:
                raise RuntimeError("login failed")
            url = f"{base}/cases/{CASE}/grid"
            for name, phase in PHASES.items():
                if only and name not in only:
                    continue
                log(f"browser: {name}")
                cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
                out[name] = phase(page, url)
                out[name]["server_cpu_s"] = round(cpu_seconds(proc.pid) - cpu, 2)
                out[name]["wall_s"] = round(time.perf_counter() - wall, 1)
                log(f"browser: {name}: {out[name]}")
            chrome.close()
    finally:
        proc.terminate()
        proc.wait(30)
    return out


#: performance.now() once every thumbnail in view has loaded (an <img> without a src counts
#: as complete, so the src is asked for too); false until then.
VISIBLE_LOADED_AT = """() => {
  const h = window.innerHeight;
  const imgs = Array.from(document.querySelectorAll('#dense .tile img')).filter((i) => {
    const r = i.getBoundingClientRect(); return r.bottom > 0 && r.top < h; });
  const done = imgs.length > 0 && imgs.every((i) => i.src && i.complete && i.naturalWidth > 0);
  return done ? performance.now() : false;
}"""


def first_screen(page: Any, url: str) -> dict[str, Any]:
    ready, loaded, counted, tiles = [], [], [], 0
    for _ in range(5):
        page.goto(url, wait_until="commit")
        at = page.wait_for_function(VISIBLE_LOADED_AT, polling=5, timeout=120_000)
        loaded.append(at.json_value())
        page.wait_for_selector("body[data-grid-ready]")
        ready.append(page.evaluate("() => window.hashsieveGrid.readyAt"))
        page.wait_for_selector("body[data-counted]", timeout=120_000)
        counted.append(page.evaluate("() => performance.now()"))
        tiles = page.evaluate(
            "() => Array.from(document.querySelectorAll('#dense .tile')).filter(t => {"
            " const r = t.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight;"
            " }).length"
        )
    return {
        "tiles_in_page_ms": [round(x) for x in ready],
        "thumbnails_loaded_ms": [round(x) for x in loaded],
        "counted_ms": [round(x) for x in counted],
        "whole_tiles_on_screen": tiles,
        "total_tiles": page.evaluate("() => window.hashsieveGrid.total"),
    }


LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"


def dashboard(page: Any, url: str) -> dict[str, Any]:
    """The case's dashboard and the case list: navigation start to the page loaded."""
    base = url.rsplit("/cases/", 1)[0]
    out: dict[str, Any] = {}
    for name, target in (("dashboard", url.rsplit("/grid", 1)[0]), ("case_list", base + "/cases")):
        times = []
        for _ in range(5):
            page.goto(target, wait_until="load")
            times.append(page.evaluate(LOADED))
        out[name + "_ms"] = [round(x) for x in times]
    return out


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
    page.wait_for_selector("body[data-grid-ready][data-counted]", timeout=120_000)
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
    "dashboard": dashboard,
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
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-root", type=Path, help="the private PostgreSQL server's folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hashsieve-review-scale-"))
    home = args.home or work / "home"
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    pg = None
    if args.db == "postgresql":
        from lists import PrivatePostgres

        pg = PrivatePostgres(args.pg_root or home.parent / "pg")
    try:
        if not (home / "hashsieve.db").exists():
            result["generate"] = generate(home, args.files)
        log(f"generated: {result.get('generate')}")
        if pg is not None:
            url, result["postgresql"] = load_postgres(home, pg)
            os.environ["HASHSIEVE_DATABASE_URL"] = url
            log(f"postgresql: {result['postgresql']}")
        if not args.no_server_side:
            result["server_side"] = server_side(home)
            log(f"server side: {result['server_side']}")
        if not args.no_browser:
            result["browser"] = browser(home, args.only)
        result["load_after"] = os.getloadavg()
    finally:
        if pg is not None:
            pg.stop()
        if not args.keep and args.home is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
