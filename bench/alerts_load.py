"""Load on the sensor console: many sensors alerting at once while a reviewer reads pages.

    .venv/bin/python bench/alerts_load.py [--sensors 50] [--rate 200] [--seconds 30]
                                          [--home DIR] [--pages-per-second 5]

Builds a store (a small scanned case, a reviewer, ``--sensors`` sensor tokens), starts a real
``hashsieve serve`` on 127.0.0.1 as a child process, and for ``--seconds`` (then it stops by
itself) sends ``POST /api/sensors/alerts`` from every sensor at once, each on its own keep-alive
connection: ``--rate`` alerts/s in all, each sensor's alerts due at a fixed interval and timed
from when due (a server that falls behind is charged for the wait). An alert that gets no 2xx
answer is sent again with the same ``alert_id``, as a sensor's outbox does. Meanwhile one
logged-in reviewer fetches the alerts page (``/alerts``) and a case's dashboard
(``/cases/CASE``) in turn, ``--pages-per-second`` pages a second, and their latencies are kept.

Afterwards the reviewer loads 20 pages alone (their server CPU, to tell the alerts' share of the
server's CPU from the pages'), and the store is counted: every alert sent must be there once
(``sensor_alerts`` by ``alert_id``), none lost, none twice. Prints and saves
(``bench/results/alerts_load.json``) the rates, the latency percentiles, the counts, the server's
CPU per alert (with and without the pages' share) and the load average (``uptime``) before and
after.
The bar (issue #16): 200 alerts/s from 50 sensors, none lost or duplicated, the reviewer's pages
under 200 ms at the 95th percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from procs import cpu_seconds, free_port

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "alerts_load.json"
CASE = "load-case"
REVIEWER, PASSWORD = "rita", "load-test-password-1"
BAR_RATE, BAR_PAGE_P95_MS = 200.0, 200.0
CALIBRATION_PAGES = 20  # loaded alone after the run, for the pages' share of the server's CPU


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def prepare(home: Path, sensors: int) -> list[str]:
    """A store with a small scanned case and a reviewer; ``sensors`` fresh sensor tokens."""
    from hashsieve import Settings, Store, run_scan
    from hashsieve.access.auth import add_user
    from hashsieve.samples.images import jpeg_bytes, photo_like
    from hashsieve.sensors.console import add_sensor

    store = Store(Settings(home=home, workers=2))
    if not store.list_cases():
        evidence = home / "evidence"
        evidence.mkdir(parents=True, exist_ok=True)
        for i in range(40):
            (evidence / f"p{i:02}.jpg").write_bytes(jpeg_bytes(photo_like(300 + i, (160, 120))))
        run_scan(store, CASE, [str(evidence)])
        add_user(store, REVIEWER, PASSWORD, role="reviewer")
    run = uuid.uuid4().hex[:8]
    tokens = [add_sensor(store, f"load-{run}-{i:02}") for i in range(sensors)]
    store.close()
    return tokens


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    writer.write(head.encode() + body)
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    cookies = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie":
            cookies.append(value.strip().split(";")[0])
        headers[name.lower()] = value.strip()
    headers["set-cookie"] = "; ".join(cookies)
    if headers.get("transfer-encoding") == "chunked":
        data = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            data += await reader.readexactly(size + 2)
            if size == 0:
                break
        return status, headers, data
    return status, headers, await reader.readexactly(int(headers.get("content-length", "0")))


def _alert(sensor: int, n: int, run: str) -> dict[str, Any]:
    return {
        "alert_id": f"load-{run}-{sensor:02}-{n:06}",
        "source": "file",
        "host": f"laptop-{sensor:02}",
        "location": f"/home/user/Downloads/picture-{n}.jpg",
        "mime": "image/jpeg",
        "size": 123_456,
        "hashes": {"md5": f"{random.getrandbits(128):032x}"},
        "matches": [{"hashset": "bench", "category": 1, "algorithm": "md5", "distance": 0}],
    }


async def sensor(
    port: int,
    token: str,
    index: int,
    run: str,
    deadline: float,
    interval: float,
    stats: dict[str, Any],
) -> None:
    """One sensor on one keep-alive connection, an alert due every ``interval`` seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due = time.perf_counter() + random.random() * interval
    n = 0
    try:
        while due < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = json.dumps(_alert(index, n, run)).encode()
            head = (
                f"POST /api/sensors/alerts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            for _attempt in range(10):
                try:
                    status, _, answer = await _request(reader, writer, head, body)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                    stats["retries"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                if status == 201:
                    break
                if status == 200 and json.loads(answer).get("duplicate"):
                    stats["duplicates_answered"] += 1
                    break
                stats["errors"].append(f"{status} {answer[:100]!r}")
                stats["retries"] += 1
            stats["latencies"].append(time.perf_counter() - due)
            stats["sent"].add(f"load-{run}-{index:02}-{n:06}")
            n += 1
            due += interval
    finally:
        writer.close()


async def reviewer(
    port: int, deadline: float, per_second: float, stats: dict[str, Any], count: int = 0
) -> None:
    """A logged-in reviewer reading the alerts page and the case's dashboard, in turn (at
    most ``count`` pages, if given)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"username": REVIEWER, "password": PASSWORD}).encode()
    status, headers, answer = await _request(
        reader,
        writer,
        f"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body)}\r\n\r\n",
        body,
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {answer[:200]!r}")
    cookie = headers["set-cookie"]
    pages = ["/alerts", f"/cases/{CASE}"]
    i = 0
    try:
        while time.perf_counter() < deadline and not (count and i == count):
            page = pages[i % len(pages)]
            i += 1
            started = time.perf_counter()
            status, _, html = await _request(
                reader,
                writer,
                f"GET {page} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
                "Accept: text/html\r\n\r\n",
            )
            took = time.perf_counter() - started
            if status != 200 or b"<html" not in html[:500].lower():
                stats["page_errors"].append(f"{page}: {status}")
            stats["pages"].setdefault(page, []).append(took)
            await asyncio.sleep(max(0.0, 1 / per_second - took))
    finally:
        writer.close()


async def load(
    port: int, tokens: list[str], rate: float, seconds: float, pages_per_second: float, run: str
) -> tuple[dict[str, Any], float]:
    stats: dict[str, Any] = {
        "latencies": [],
        "sent": set(),
        "retries": 0,
        "duplicates_answered": 0,
        "errors": [],
        "pages": {},
        "page_errors": [],
    }
    started = time.perf_counter()
    deadline = started + seconds
    interval = len(tokens) / rate
    await asyncio.gather(
        reviewer(port, deadline, pages_per_second, stats),
        *(sensor(port, t, i, run, deadline, interval, stats) for i, t in enumerate(tokens)),
    )
    return stats, time.perf_counter() - started


def wait_ready(port: int, proc: subprocess.Popen[bytes], limit: float = 120) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("hashsieve serve exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("hashsieve serve did not answer")


def count_stored(home: Path, run: str) -> tuple[int, int]:
    """(rows, distinct alert ids) of this run's alerts in the console's store."""
    import sqlite3

    with sqlite3.connect(home / "hashsieve.db") as db:
        rows, distinct = db.execute(
            "SELECT count(*), count(DISTINCT alert_id) FROM sensor_alerts WHERE alert_id LIKE ?",
            (f"load-{run}-%",),
        ).fetchone()
    return int(rows), int(distinct)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="alerts/s offered in all")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pages-per-second", type=float, default=5.0)
    parser.add_argument("--home", type=Path, help="reuse this store (default: a temporary one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="hashsieve-alerts-load-"))
    load_before = uptime()
    tokens = prepare(home, args.sensors)
    port = free_port()
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hashsieve"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    run = uuid.uuid4().hex[:8]
    try:
        wait_ready(port, proc)
        server0, client0 = cpu_seconds(proc.pid), time.process_time()
        stats, elapsed = asyncio.run(
            load(port, tokens, args.rate, args.seconds, args.pages_per_second, run)
        )
        server_cpu, client_cpu = cpu_seconds(proc.pid) - server0, time.process_time() - client0
        # The server's CPU above includes the reviewer's pages: the same pages alone, after,
        # give their share, so that what an alert costs can be told apart.
        alone: dict[str, Any] = {"pages": {}, "page_errors": []}
        pages0 = cpu_seconds(proc.pid)
        asyncio.run(reviewer(port, time.perf_counter() + 120, 1000, alone, CALIBRATION_PAGES))
        page_cpu = (cpu_seconds(proc.pid) - pages0) / CALIBRATION_PAGES
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    rows, distinct = count_stored(home, run)
    sent = len(stats["sent"])
    all_pages = [t for times in stats["pages"].values() for t in times]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "sensors": args.sensors,
        "offered_rate": args.rate,
        "seconds": round(elapsed, 1),
        "alerts_sent": sent,
        "achieved_rate": round(sent / elapsed, 1),
        "stored": rows,
        "stored_distinct": distinct,
        "lost": sent - distinct,
        "duplicated": rows - distinct,
        "retries": stats["retries"],
        "errors": stats["errors"][:10],
        "alert_ms": {q: round(percentile(stats["latencies"], q) * 1000, 1) for q in (50, 95, 99)},
        "page_ms": {
            page: {q: round(percentile(t, q) * 1000, 1) for q in (50, 95)} | {"n": len(t)}
            for page, t in stats["pages"].items()
        },
        "page_p95_ms": round(percentile(all_pages, 95) * 1000, 1),
        "page_errors": stats["page_errors"][:10],
        "server_cpu_s": round(server_cpu, 1),
        "server_cpu_ms_per_alert": round(server_cpu / max(sent, 1) * 1000, 2),
        "server_cpu_ms_per_page_alone": round(page_cpu * 1000, 1),
        "server_cpu_ms_per_alert_without_pages": round(
            (server_cpu - page_cpu * len(all_pages)) / max(sent, 1) * 1000, 2
        ),
        "client_cpu_s": round(client_cpu, 1),
        "uptime_before": load_before,
        "uptime_after": uptime(),
        "cpus": os.cpu_count(),
    }
    met = (
        result["achieved_rate"] >= BAR_RATE * 0.98
        and result["lost"] == 0
        and result["duplicated"] == 0
        and result["page_p95_ms"] < BAR_PAGE_P95_MS
        and not result["page_errors"]
    )
    result["bar_met"] = met
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
