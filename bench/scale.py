"""Scale: a case of many small files, and importing long MD5 lists, with peak memory.

    .venv/bin/python bench/scale.py [--files 100000] [--lines 1000000 10000000]

1. ``hashsieve scan`` of ``--files`` small JPEGs (64-256 px, cut from the corpus photographs) with
   all cores: files/s and the peak memory of the scan's whole process tree (main process and
   workers), sampled from ``/proc`` every 0.2 s: the sum of RSS, the sum of PSS (shared pages
   counted once), and the largest single-process high-water mark (``VmHWM``).
2. ``hashsieve hashset import`` of plain lists of random MD5s, ``--lines`` each: seconds and the
   same peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import corpus

HASHSIEVE = str(Path(sys.executable).parent / "hashsieve")


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _kib(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    found = {}
    try:
        with open(path) as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in keys:
                    found[key] = int(line.split()[1])
    except OSError:
        pass
    return found


class TreeMemory:
    """Peak memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = self.peak_hwm = 0  # KiB
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            rss = pss = 0
            pids = _tree(self.pid)
            for pid in pids:
                status = _kib(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
                rss += status.get("VmRSS", 0)
                self.peak_hwm = max(self.peak_hwm, status.get("VmHWM", 0))
                pss += _kib(f"/proc/{pid}/smaps_rollup", ("Pss",)).get("Pss", 0)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.max_processes = max(self.max_processes, len(pids))
            self._stop.wait(self.interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {
            "peak_tree_rss_mb": self.peak_rss / 1024,
            "peak_tree_pss_mb": self.peak_pss / 1024,
            "peak_process_hwm_mb": self.peak_hwm / 1024,
            "max_processes": self.max_processes,
        }


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd``; wall seconds, its stdout tail and the peak memory of its process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    memory = mem.stop()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err[-2000:]}")
    return {
        "command": " ".join(["hashsieve", *cmd[1:]]),
        "seconds": wall,
        "output": out[-1000:],
    } | (memory)


def scan_small(files: int) -> dict:
    root = corpus.build("small", files)
    with tempfile.TemporaryDirectory(prefix="hashsieve-bench-") as home:
        env = os.environ | {"HASHSIEVE_HOME": home, "COLUMNS": "250"}
        workers = os.cpu_count() or 1
        r = timed([HASHSIEVE, "scan", str(root), "--case", "scale", "--workers", str(workers)], env)
    found = re.search(r"scanned ([\d,]+) files .*: ([\d,.]+) files/s", r["output"])
    scanned = int(found.group(1).replace(",", "")) if found else 0
    rate = float(found.group(2).replace(",", "")) if found else None
    return r | {"files": scanned, "files_per_s": scanned / r["seconds"], "scan_files_per_s": rate}


def import_list(lines: int) -> dict:
    path = corpus.md5_list(lines)
    with tempfile.TemporaryDirectory(prefix="hashsieve-bench-") as home:
        env = os.environ | {"HASHSIEVE_HOME": home, "COLUMNS": "250"}
        r = timed([HASHSIEVE, "hashset", "import", str(path), "--name", f"md5-{lines}"], env)
    found = re.search(r"([\d,]+) taken.* in ([\d.]+) s", r["output"])
    taken = int(found.group(1).replace(",", "")) if found else 0
    return r | {
        "lines": lines,
        "taken": taken,
        "import_seconds": float(found.group(2)) if found else None,
        "lines_per_s": lines / r["seconds"],
    }


def run(files: int, lines: list[int]) -> dict:
    result: dict = {"load_before": os.getloadavg()}
    print(f"scale: scanning {files:,} small JPEGs ...", flush=True)
    result["scan"] = scan_small(files) | {"corpus": corpus.describe(corpus.build("small", files))}
    s = result["scan"]
    print(f"  {s['files_per_s']:.0f} files/s, peak tree PSS {s['peak_tree_pss_mb']:.0f} MB")
    result["imports"] = []
    for n in lines:
        print(f"scale: importing {n:,} MD5 lines ...", flush=True)
        r = import_list(n)
        print(f"  {r['seconds']:.1f} s, peak RSS {r['peak_tree_rss_mb']:.0f} MB")
        result["imports"].append(r)
    result["load_after"] = os.getloadavg()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--lines", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = ap.parse_args()
    print(json.dumps(run(args.files, args.lines), indent=1))


if __name__ == "__main__":
    main()
