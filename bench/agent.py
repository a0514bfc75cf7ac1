"""Endpoint agent footprint: CPU and memory of a real ``hashsieve agent`` process while idle and
while 1,000 image files arrive in a watched folder (console on loopback, one known file).

    .venv/bin/python bench/agent.py [--files 1000] [--cpu 25]

Results: bench/results/agent.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procs import cpu_seconds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sensors.conftest import LiveConsole  # noqa: E402

from hashsieve import import_hashset  # noqa: E402
from hashsieve.config import Settings  # noqa: E402
from hashsieve.samples.images import jpeg_bytes, photo_like  # noqa: E402
from hashsieve.sensors import console  # noqa: E402
from hashsieve.store import Store  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--cpu", type=float, default=25.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(Settings(home=root / "console", workers=1))
        known = jpeg_bytes(photo_like(7, (640, 480)))
        import hashlib

        (root / "md5.txt").write_text("# algorithm: md5\n" + hashlib.md5(known).hexdigest() + "\n")
        import_hashset(store, root / "md5.txt", "known", category=1)
        token = console.add_sensor(store, "bench-agent")
        live = LiveConsole(store).start()
        watched = root / "watched"
        watched.mkdir()
        env = {**os.environ, "HASHSIEVE_HOME": str(root / "agent-home")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashsieve.cli",
                "agent",
                "--console",
                live.url,
                "--token",
                token,
                "--cpu",
                str(args.cpu),
                str(watched),
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(5)  # start-up: imports, list pull, first scan
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.idle_seconds)
            idle_cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
            idle_rss = rss_mb(proc.pid)
            bases = [jpeg_bytes(photo_like(100 + i, (640, 480)), 85) for i in range(25)]
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            peak = idle_rss
            for i in range(args.files):
                data = known if i == args.files // 2 else bases[i % 25] + i.to_bytes(4, "big")
                (watched / f"f{i:05d}.jpg").write_bytes(data)
            alerts: list[dict[str, object]] = []
            agent_db = root / "agent-home" / "agent" / "agent.db"
            import sqlite3

            def hashed() -> int:
                try:
                    with sqlite3.connect(agent_db) as db:
                        return int(db.execute("SELECT count(*) FROM seen").fetchone()[0])
                except sqlite3.Error:
                    return 0

            while hashed() < args.files and time.monotonic() - t0 < args.timeout:
                peak = max(peak, rss_mb(proc.pid))
                time.sleep(0.5)
            busy_wall = time.monotonic() - t0
            busy_cpu = cpu_seconds(proc.pid) - c0
            alerts = console.list_alerts(store)
        finally:
            proc.terminate()
            proc.wait(20)
            live.stop()
        result = {
            "files": args.files,
            "cpu_limit_percent": args.cpu,
            "idle": {"cpu_percent": round(idle_cpu, 2), "rss_mb": round(idle_rss, 1)},
            "arrival": {
                "files_done": hashed(),
                "seconds": round(busy_wall, 1),
                "cpu_seconds": round(busy_cpu, 1),
                "cpu_percent": round(busy_cpu / busy_wall * 100, 1),
                "peak_rss_mb": round(peak, 1),
                "files_per_second": round(hashed() / busy_wall, 1),
            },
            "alerts": len(alerts),
        }
        out = REPO / "bench" / "results" / "agent.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
