"""Load on the HMA-shaped match API: one ``hashsieve serve`` on loopback, many peers at once.

    .venv/bin/python bench/lookup_load.py [--entries 1000000] [--peers 50] [--seconds 15]
                                          [--rate 1100] [--home DIR] [--hit-share 0.5]

Builds (or reuses, with ``--home``) a store holding one PDQ list of ``--entries`` random codes,
imported the ordinary way (``import_hashset``, the path ``hashsieve hashset import`` takes), adds
a sensor token, starts ``hashsieve serve`` on 127.0.0.1 as a child process, and sends
``GET /m/raw_lookup?signal_type=pdq`` from ``--peers`` keep-alive connections at once (asyncio,
one process) for ``--seconds``, then stops by itself: ``--rate`` lookups/s offered in all, each
latency counted from when its lookup was due (``--rate 0``: back to back, the most the server
gives; with 50 peers each waiting for its answer, latency is then 50 / rate by Little's law).
Half the queries (``--hit-share``) are a listed code with 1-20 bits flipped, which must come
back matched; the rest random codes, which must not. Prints and saves
(``bench/results/lookup_load.json``) the rate, the latency percentiles, the errors, the CPU time
per lookup of the server and of the client, and the load average (``uptime``) before and after.
The bar (issue #15): at least 1,000 lookups/s with p95 under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

from procs import cpu_seconds, free_port

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "lookup_load.json"
SET_NAME = "bench-pdq"
BAR_RATE = 1000.0
BAR_P95_MS = 20.0
#: The feed the exchange peers poll (``--feed-peers``), and how many changes each poll gets.
FEED_ENTRIES = 2_000
FEED_CHANGES = 10


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def codes_of(entries: int, seed: int = 15) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(entries, 32), dtype=np.uint8)


def prepare(home: Path, entries: int) -> tuple[str, float | None]:
    """The store with the list (imported once per home), and a fresh sensor token."""
    from hashsieve import import_hashset
    from hashsieve.config import Settings
    from hashsieve.sensors.console import add_sensor
    from hashsieve.store import Store

    store = Store(Settings(home=home, workers=1))
    marker = home / f"bench-{entries}.done"
    seconds = None
    if not marker.exists():
        listing = home / "bench-pdq.txt"
        with open(listing, "w", encoding="ascii") as out:
            out.write("# algorithm: pdq\n")
            codes = codes_of(entries)
            for start in range(0, entries, 100_000):
                chunk = codes[start : start + 100_000]
                out.write("\n".join(bytes(c).hex() for c in chunk) + "\n")
        started = time.perf_counter()
        import_hashset(store, listing, SET_NAME, category=1)
        seconds = time.perf_counter() - started
        listing.unlink()
        marker.write_text(json.dumps({"entries": entries, "import_seconds": seconds}))
    else:
        seconds = json.loads(marker.read_text()).get("import_seconds")
    token = add_sensor(store, f"bench-{os.getpid()}-{time.time_ns()}")
    store.close()
    return token, seconds


def queries(entries: int, n: int, hit_share: float, seed: int = 7) -> list[tuple[str, bool]]:
    """(hex code, whether it must match): listed codes 1-20 bits away, or random codes."""
    codes = codes_of(entries)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < hit_share:
            value = int.from_bytes(bytes(codes[rng.randrange(entries)]), "big")
            for bit in rng.sample(range(256), rng.randint(1, 20)):
                value ^= 1 << bit
            out.append((f"{value:064x}", True))
        else:
            out.append((f"{rng.getrandbits(256):064x}", False))
    return out


class Peer(asyncio.Protocol):
    """One keep-alive connection, one lookup in flight, driven by callbacks (no task or
    future per lookup: the client must cost far less than the server it measures). With
    ``interval``, a lookup is due every ``interval`` seconds and its latency counts from when
    it was due, so a server that falls behind is charged for the wait (no coordinated
    omission); without, back to back, each counted from its send."""

    def __init__(self, run: Run, offset: int, first_due: float) -> None:
        self.run = run
        self.i = offset
        self.due = first_due
        self.started = 0.0
        self.buffer = b""
        self.length = -1  # body length once the head is read
        self.status_ok = False
        self.transport: Any = None
        self.finished = run.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.run.errors.append(f"connection lost: {exc}")
            self.finished.set_result(None)

    def schedule(self) -> None:
        run = self.run
        late = run.loop.time() >= run.deadline + run.seconds
        if run.interval and self.due < run.deadline and late:
            # So far behind that the run would last more than twice its time: what is still
            # due is left unsent, and counted (a run stops by itself, whatever the server does).
            run.unsent += math.ceil((run.deadline - self.due) / run.interval)
            self.due = run.deadline
        if self.due >= run.deadline:
            self.finished.set_result(None)
            return
        if run.interval and self.due > run.loop.time():
            run.loop.call_at(self.due, self.send)
        else:
            self.send()

    def send(self) -> None:
        run = self.run
        self.started = self.due if run.interval else run.loop.time()
        self.transport.write(run.requests[self.i % len(run.requests)])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.length < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.status_ok = head.startswith(b"HTTP/1.1 200")
            self.length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    self.length = int(line[15:])
            if not self.status_ok:
                self.run.errors.append(head.split(b"\r\n", 1)[0].decode())
        if len(self.buffer) < self.length:
            return
        body, self.buffer = self.buffer[: self.length], self.buffer[self.length :]
        self.length = -1
        run = self.run
        run.latencies.append(run.loop.time() - self.started)
        if self.status_ok and run.listed is None:  # a feed page
            if not body.startswith(b"{") or b'"signature"' not in body:
                run.errors.append(f"feed page {body[:80]!r}")
        elif self.status_ok and run.listed is not None:
            matched = body != EMPTY_ANSWER
            listed = run.listed[self.i % len(run.requests)]
            if matched != listed or not body.startswith(b'{"matches":['):
                run.errors.append(f"{body[:80]!r}: listed={listed}")
        self.i += 1
        self.due = self.due + run.interval if run.interval else run.loop.time()
        self.schedule()


#: A raw lookup that matched nothing.
EMPTY_ANSWER = b'{"matches":[]}'


class Run:
    """One bounded load: ``peers`` connections for ``seconds`` at ``rate`` lookups/s in all
    (0: each peer back to back, as fast as the server answers)."""

    def __init__(
        self,
        port: int,
        requests: list[bytes],
        listed: list[bool] | None,
        rate: float,
        seconds: float,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.requests = requests
        self.listed = listed
        self.rate = rate
        self.seconds = seconds
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.unsent = 0
        self.interval = 0.0
        self.deadline = 0.0

    async def go(self, peers: int) -> float:
        self.interval = peers / self.rate if self.rate else 0.0
        step = max(1, len(self.requests) // peers)
        started = self.loop.time() + 0.2  # every connection open before the first is due
        self.deadline = started + self.seconds
        rng = random.Random(peers)
        made: list[Peer] = []
        for n in range(peers):
            first = started + (rng.random() * self.interval if self.interval else 0.0)
            made.append(Peer(self, n * step, first))
            await self.loop.create_connection(
                functools.partial(made.__getitem__, n), "127.0.0.1", self.port
            )
        await asyncio.gather(*(peer.finished for peer in made))
        for peer in made:
            if peer.transport is not None:
                peer.transport.close()
        return self.loop.time() - started


def request_bytes(port: int, token: str, work: list[tuple[str, bool]]) -> list[bytes]:
    """Every request, built once (the client's own cost stays out of the figures)."""
    return [
        (
            f"GET /m/raw_lookup?signal_type=pdq&signal={signal} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        for signal, _ in work
    ]


@dataclass
class Feeds:
    """Exchange peers polling a feed while the lookups run: each asks for the last
    ``FEED_CHANGES`` changes once a second (a subscribed peer's incremental sync)."""

    peers: int
    request: bytes
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_load(
    port: int,
    token: str,
    work: list[tuple[str, bool]],
    peers: int,
    seconds: float,
    rate: float = 0.0,
    feeds: Feeds | None = None,
) -> tuple[list[float], list[str], float]:
    """(latencies in seconds, errors, seconds taken) of one bounded load, on uvloop; with
    ``feeds``, its peers poll at the same time (their figures go into ``feeds``)."""
    requests = request_bytes(port, token, work)
    listed = [is_listed for _, is_listed in work]

    async def main() -> tuple[list[float], list[str], float]:
        run = Run(port, requests, listed, rate, seconds)
        if feeds is not None and feeds.peers:
            polls = Run(port, [feeds.request], None, float(feeds.peers), seconds)
            wall, _ = await asyncio.gather(run.go(peers), polls.go(feeds.peers))
            feeds.latencies += polls.latencies
            feeds.errors += polls.errors
        else:
            wall = await run.go(peers)
        if run.unsent:
            run.errors.insert(0, f"{run.unsent} lookups left unsent: the server fell behind")
        return run.latencies, run.errors, wall

    return uvloop.run(main())


def prepare_feed(home: Path, port: int) -> bytes:
    """A feed of ``FEED_ENTRIES`` PDQ codes (published once per home) and a peer given it: the
    request for the feed's last FEED_CHANGES changes."""
    from hashsieve import import_hashset
    from hashsieve.config import Settings
    from hashsieve.exchange import feeds
    from hashsieve.exchange.identity import init_identity
    from hashsieve.store import Store

    settings = Settings(home=home, workers=1)
    key = init_identity(settings)
    store = Store(settings)
    marker = home / "bench-feed.done"
    if not marker.exists():
        listing = home / "bench-feed.txt"
        codes = np.random.default_rng(16).integers(0, 256, size=(FEED_ENTRIES, 32), dtype=np.uint8)
        listing.write_text("# algorithm: pdq\n" + "\n".join(bytes(c).hex() for c in codes) + "\n")
        import_hashset(store, listing, "bench-feed", category=1)
        listing.unlink()
        feeds.publish_hashset(store, "bench-feed", "bench-feed", agency="bench")
        marker.write_text("published\n")
    last = next(f for f in feeds.list_feeds(store) if f["name"] == "bench-feed")["seq"]
    token = feeds.add_peer(store, f"bench-{os.getpid()}-{time.time_ns()}", key, ["bench-feed"])
    store.close()
    after = max(0, int(last) - FEED_CHANGES)
    return (
        f"GET /api/exchange/feeds/bench-feed?after={after} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def wait_ready(port: int, token: str, proc: subprocess.Popen[bytes], limit: float = 120) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + limit
    url = f"http://127.0.0.1:{port}/m/raw_lookup?signal_type=pdq&signal={'0' * 64}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("hashsieve serve exited")
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=60) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("hashsieve serve did not answer")


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (``serve --workers N`` forks N - 1)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_cpu(int(child))
    return total


def phase(
    port: int,
    token: str,
    work: list[tuple[str, bool]],
    pid: int,
    peers: int,
    seconds: float,
    rate: float,
    feed_request: bytes | None = None,
    feed_peers: int = 0,
) -> dict[str, Any]:
    """One bounded load at ``rate`` (0: saturating), with the CPU both sides spent on it."""
    before = uptime()
    polls = Feeds(feed_peers, feed_request) if feed_request else None
    server0, client0 = tree_cpu(pid), time.process_time()
    latencies, errors, wall = run_load(port, token, work, peers, seconds, rate, polls)
    server, client = tree_cpu(pid) - server0, time.process_time() - client0
    ms = np.asarray(latencies) * 1000
    n = max(len(latencies), 1)

    def pct(q: float) -> float | None:
        return round(float(np.percentile(ms, q)), 2) if ms.size else None

    result: dict[str, Any] = {
        "offered_per_s": rate or "saturating",
        "peers": peers,
        "seconds": round(wall, 2),
        "lookups": len(latencies),
        "lookups_per_s": round(len(latencies) / wall, 1),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "errors": len(errors),
        "first_errors": errors[:5],
        "server_cpu_s": round(server, 2),
        "client_cpu_s": round(client, 2),
        "server_cpu_ms_per_lookup": round(server / n * 1000, 3),
        "client_cpu_ms_per_lookup": round(client / n * 1000, 3),
        "uptime_before": before,
        "uptime_after": uptime(),
    }
    if polls is not None:
        feed_ms = np.asarray(polls.latencies) * 1000
        result["feed_peers"] = polls.peers
        result["feed_pages"] = len(polls.latencies)
        result["feed_p95_ms"] = (
            round(float(np.percentile(feed_ms, 95)), 2) if feed_ms.size else None
        )
        result["feed_errors"] = len(polls.errors)
        result["feed_first_errors"] = polls.errors[:5]
    result["bar_met"] = (
        result["lookups_per_s"] >= BAR_RATE
        and (result["p95_ms"] or 1e9) < BAR_P95_MS
        and not errors
        and not (polls is not None and (polls.errors or not polls.latencies))
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0, help="per rate")
    parser.add_argument(
        "--rates",
        default="800,1000,1200,0",
        help="lookups/s offered in all, one bounded run each, comma-separated (0: saturate)",
    )
    parser.add_argument("--workers", type=int, default=1, help="hashsieve serve --workers")
    parser.add_argument(
        "--feed-peers",
        type=int,
        default=0,
        help="exchange peers polling a feed at the same time, once a second each",
    )
    parser.add_argument("--hit-share", type=float, default=0.5)
    parser.add_argument("--home", type=Path, help="reuse this store between runs")
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    home = args.home or Path(tempfile.mkdtemp(prefix="hashsieve-lookup-load-"))
    print(f"store {home}; preparing {args.entries:,} PDQ entries ...", flush=True)
    token, import_seconds = prepare(home, args.entries)
    work = queries(args.entries, 20_000, args.hit_share)
    port = free_port()
    feed_request = prepare_feed(home, port) if args.feed_peers else None
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("hashsieve")), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if args.workers > 1:
        command += ["--workers", str(args.workers)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    phases = []
    try:
        started = time.perf_counter()
        wait_ready(port, token, proc)
        ready = time.perf_counter() - started
        # Warm-up: every worker builds its lookup service on its first lookups.
        run_load(port, token, work, args.peers, 3.0, 0.0)
        for rate in rates:
            phases.append(
                phase(
                    port,
                    token,
                    work,
                    proc.pid,
                    args.peers,
                    args.seconds,
                    rate,
                    feed_request,
                    args.feed_peers,
                )
            )
            print(json.dumps(phases[-1]), flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    result: dict[str, Any] = {
        "entries": args.entries,
        "peers": args.peers,
        "workers": args.workers,
        "feed_peers": args.feed_peers,
        "import_seconds": round(import_seconds, 1) if import_seconds else None,
        "serve_ready_seconds": round(ready, 1),
        "cpus": os.cpu_count(),
        "phases": phases,
        "bar_met": any(p["bar_met"] for p in phases),
    }
    print(
        f"\n{'offered/s':>10} {'lookups/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'server ms/lookup':>16} {'client ms/lookup':>16}  load"
    )
    for p in phases:
        print(
            f"{p['offered_per_s']!s:>10} {p['lookups_per_s']:>10} {p['p50_ms']!s:>8} "
            f"{p['p95_ms']!s:>8} {p['p99_ms']!s:>8} {p['errors']:>6} "
            f"{p['server_cpu_ms_per_lookup']:>16} {p['client_cpu_ms_per_lookup']:>16}  "
            f"{p['uptime_before'].rsplit('average:', 1)[-1].strip()}"
        )
    for p in phases:
        if "feed_pages" in p:
            print(
                f"{p['offered_per_s']!s:>10}: {p['feed_peers']} feed peers, {p['feed_pages']} "
                f"pages, p95 {p['feed_p95_ms']} ms, {p['feed_errors']} errors"
            )
    print(
        f"bar (>= {BAR_RATE:.0f}/s, p95 < {BAR_P95_MS:.0f} ms, no error): "
        f"{'met' if result['bar_met'] else 'not met'}"
    )
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["bar_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
