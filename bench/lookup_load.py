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
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from procs import cpu_seconds, free_port

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "lookup_load.json"
SET_NAME = "bench-pdq"
BAR_RATE = 1000.0
BAR_P95_MS = 20.0


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


async def peer(
    port: int,
    token: str,
    work: list[tuple[str, bool]],
    offset: int,
    deadline: float,
    interval: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    """One keep-alive connection, one lookup in flight. With ``interval``, a lookup is due every
    ``interval`` seconds and its latency counts from when it was due (a server that falls
    behind is charged for the wait: no coordinated omission); without, back to back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    due = time.perf_counter() + random.random() * interval
    try:
        while time.perf_counter() < deadline:
            signal, listed = work[i % len(work)]
            i += 1
            request = (
                f"GET /m/raw_lookup?signal_type=pdq&signal={signal} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                started = due
                due += interval
            else:
                started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode())
                continue
            matched = bool(json.loads(body)["matches"])
            if matched != listed:
                errors.append(f"{signal}: matched={matched}, listed={listed}")
    finally:
        writer.close()


async def load(
    port: int,
    token: str,
    work: list[tuple[str, bool]],
    peers: int,
    seconds: float,
    rate: float = 0.0,
) -> tuple[list[float], list[str], float]:
    """``peers`` connections for ``seconds``: at ``rate`` lookups/s in all (0: as fast as the
    server answers)."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    step = max(1, len(work) // peers)
    interval = peers / rate if rate else 0.0
    await asyncio.gather(
        *(
            peer(port, token, work, p * step, deadline, interval, latencies, errors)
            for p in range(peers)
        )
    )
    return latencies, errors, time.perf_counter() - started


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--rate", type=float, default=1100.0, help="lookups/s offered in all (0: saturate)"
    )
    parser.add_argument("--hit-share", type=float, default=0.5)
    parser.add_argument("--home", type=Path, help="reuse this store between runs")
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="hashsieve-lookup-load-"))
    print(f"store {home}; preparing {args.entries:,} PDQ entries ...", flush=True)
    token, import_seconds = prepare(home, args.entries)
    work = queries(args.entries, 20_000, args.hit_share)
    port = free_port()
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hashsieve")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        started = time.perf_counter()
        wait_ready(port, token, proc)
        ready = time.perf_counter() - started
        asyncio.run(load(port, token, work, min(args.peers, 10), 2.0))  # warm-up
        before = uptime()
        cpu0 = cpu_seconds(proc.pid)
        client0 = time.process_time()
        latencies, errors, wall = asyncio.run(
            load(port, token, work, args.peers, args.seconds, args.rate)
        )
        cpu = cpu_seconds(proc.pid) - cpu0
        client_cpu = time.process_time() - client0
        after = uptime()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    ms = np.asarray(latencies) * 1000
    result: dict[str, Any] = {
        "entries": args.entries,
        "peers": args.peers,
        "offered_per_s": args.rate or "saturating",
        "seconds": round(wall, 2),
        "lookups": len(latencies),
        "lookups_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if ms.size else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 2) if ms.size else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if ms.size else None,
        "errors": len(errors),
        "first_errors": errors[:5],
        "server_cpu_ms_per_lookup": round(cpu / max(len(latencies), 1) * 1000, 3),
        "client_cpu_ms_per_lookup": round(client_cpu / max(len(latencies), 1) * 1000, 3),
        "import_seconds": round(import_seconds, 1) if import_seconds else None,
        "serve_ready_seconds": round(ready, 1),
        "uptime_before": before,
        "uptime_after": after,
        "cpus": os.cpu_count(),
    }
    met = (
        result["lookups_per_s"] >= BAR_RATE
        and (result["p95_ms"] or 1e9) < BAR_P95_MS
        and not errors
    )
    result["bar_met"] = met
    print(json.dumps(result, indent=2))
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
