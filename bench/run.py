"""The benchmark suite: our figures beside the anchors', measured in one run, in one table.

    make bench                                  # full: 1,000 photos, 10M-hash index, 100k files
    make bench-quick                            # about a minute (once .bench-venv exists)
    .venv/bin/python bench/run.py --only ingest [--only scale] [--quick]

Parts (each also runs alone, see its module): ``ingest`` (bench/ingest.py: hashsieve scan vs
python-threatexchange ``hash photo`` vs the read + hash + luma-decode limit), ``index``
(bench/index.py, run as a subprocess: our PDQ index vs FAISS flat and HMA's FAISS index), ``scale``
(bench/scale.py: a case of many small files, importing 1M / 10M-line MD5 lists, peak memory),
``cluster`` (bench/cluster.py: the scan on a Dask cluster on loopback vs the local pool, per-file
costs and the model for N machines in docs/deploy.md).
Results go to ``bench/results/<part>.json`` and ``summary.json`` (``-quick`` before ``.json`` for
--quick). A part left out by --only is shown from its latest saved result, marked with its date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import anchors
import cluster
import ingest
import scale

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PARTS = ("ingest", "index", "scale", "cluster")
#: Sizes per mode (False: full, True: --quick). anchor_queries: FAISS queries in bench/index.py.
CONFIG: dict[bool, dict[str, Any]] = {
    False: {
        "images": 1000,
        "hashes": 10_000_000,
        "queries": 100_000,
        "anchor_queries": None,  # index.py's default (2,000)
        "files": 100_000,
        "lines": [1_000_000, 10_000_000],
    },
    True: {  # about a minute once .bench-venv and the corpora exist
        "images": 150,
        "hashes": 200_000,
        "queries": 5_000,
        "anchor_queries": 500,
        "files": 2_000,
        "lines": [200_000],
    },
}
INGEST_BAR, LIMIT_BAR = 8.0, 1.5

ROW_KEYS = ("metric", "ours", "anchor", "anchor_value", "bar", "bar_met")
Row = tuple[str, float | None, str, float | None, str, bool | None]


def run_index(hashes: int, queries: int, anchor_queries: int | None) -> dict:
    """bench/index.py as a subprocess; its last JSON object on stdout."""
    script = BENCH / "index.py"
    if not script.exists():
        return {"error": "bench/index.py is not there"}
    cmd = [
        sys.executable,
        str(script),
        "--hashes",
        str(hashes),
        "--queries",
        str(queries),
        "--json",
    ]
    print(f"index: {' '.join(cmd[1:])}", flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    out = done.stdout.strip()
    for start in [0, *(i + 1 for i, c in enumerate(out) if c == "\n")][::-1]:
        if out[start : start + 1] == "{":
            try:
                return {"command": " ".join(cmd[1:]), "returncode": done.returncode} | json.loads(
                    out[start:]
                )
            except ValueError:
                continue
    return {"error": f"bench/index.py exited {done.returncode} with no JSON", "stdout": out[-2000:]}


def _ratio(ours: float | None, anchor: float | None) -> float | None:
    return ours / anchor if ours is not None and anchor else None


def ingest_rows(r: dict) -> list[Row]:
    if "error" in r:
        return [("ingest", None, f"missing: {r['error'][:60]}", None, "", None)]
    n, tx, lim = r["workers"], r["pytx"], r["limit"]
    ours, full = r["ours"]["files_per_s"], r["ours_full_decode"]["files_per_s"]
    vs_tx, vs_lim = ours / tx["files_per_s"], ours / lim["files_per_s"]
    files = r["corpus"]["count"]
    return [
        (
            f"ingest, files/s ({files:,} JPEGs; ours {n} procs, pytx 1)",
            ours,
            "pytx hash photo",
            tx["files_per_s"],
            f">= {INGEST_BAR:g}x",
            vs_tx >= INGEST_BAR,
        ),
        ("ingest per core, files/s", ours / n, "pytx hash photo", tx["files_per_s"], "", None),
        (
            "  scan's own rate (no start-up), files/s",
            r["ours"]["scan_files_per_s"],
            "pytx, no start-up",
            tx["files_per_s_without_startup"],
            "",
            None,
        ),
        (
            f"ingest vs limit, files/s ({n} procs)",
            ours,
            "read+3 hashes+luma decode",
            lim["files_per_s"],
            f">= 1/{LIMIT_BAR:g} = {1 / LIMIT_BAR:.2f}",
            vs_lim >= 1 / LIMIT_BAR,
        ),
        *(
            [("  vs RGB limit", ours, "read+3 hashes+RGB decode", lim_rgb, "", None)]
            if (lim_rgb := r.get("limit_rgb", {}).get("files_per_s"))
            else []
        ),
        (
            "  scan's own rate (no start-up), files/s",
            r["ours"]["scan_files_per_s"],
            "read+3 hashes+luma decode",
            lim["files_per_s"],
            "",
            None,
        ),
        (
            "ingest --full-decode (RGB), files/s",
            full,
            "pytx hash photo",
            tx["files_per_s"],
            "",
            None,
        ),
        *(
            [
                (
                    "ingest --no-robust (plain PDQ only), files/s",
                    r["ours_plain"]["files_per_s"],
                    "read+3 hashes+luma decode",
                    lim["files_per_s"],
                    f">= 1/{LIMIT_BAR:g} = {1 / LIMIT_BAR:.2f}",
                    r["ours_plain"]["files_per_s"] / lim["files_per_s"] >= 1 / LIMIT_BAR,
                ),
                (
                    "  vs pytx",
                    r["ours_plain"]["files_per_s"],
                    "pytx hash photo",
                    tx["files_per_s"],
                    f">= {INGEST_BAR:g}x",
                    r["ours_plain"]["files_per_s"] / tx["files_per_s"] >= INGEST_BAR,
                ),
            ]
            if "ours_plain" in r
            else []
        ),
        (
            "start-up and wind-down per command, s",
            r["ours"]["seconds"] - (r["ours"]["scan_seconds"] or 0),
            "pytx",
            tx["startup_s"],
            "",
            None,
        ),
    ]


INDEX_METRICS = (
    ("build_s", "index build, s"),
    ("qps", "query throughput, queries/s"),
    ("single_ms", "one query alone, ms"),
    ("bytes_per_hash", "memory per hash, bytes"),
    ("recall", "recall"),
)


def index_rows(r: dict, hashes: int) -> list[Row]:
    if "error" in r or "ours" not in r:
        return [("index (bench/index.py)", None, f"missing: {r.get('error', '?')}", None, "", None)]
    rows: list[Row] = []
    for key, label in INDEX_METRICS:
        for anchor, name in (("faiss_flat", "FAISS IndexBinaryFlat"), ("faiss_hma", "HMA (FAISS)")):
            a = r.get(anchor) or {}
            rows.append(
                (f"{label} ({hashes:,} PDQ)", r["ours"].get(key), name, a.get(key), "", None)
            )
    return rows


def scale_rows(r: dict) -> list[Row]:
    if "error" in r:
        return [("scale", None, f"missing: {r['error'][:60]}", None, "", None)]
    s = r["scan"]
    rows: list[Row] = [
        (f"scan of {s['files']:,} small files, files/s", s["files_per_s"], "", None, "", None),
        ("  peak memory, scan tree PSS, MB", s["peak_tree_pss_mb"], "", None, "", None),
        ("  peak memory, largest process, MB", s["peak_process_hwm_mb"], "", None, "", None),
    ]
    for imp in r["imports"]:
        n = imp["lines"]
        bar, ok = ("< 60 s", imp["seconds"] < 60) if n == 1_000_000 else ("", None)
        rows.append((f"import {n:,} MD5 lines, s", imp["seconds"], "", None, bar, ok))
        rows.append(("  peak RSS, MB", imp["peak_tree_rss_mb"], "", None, "bounded", None))
    return rows


def cluster_rows(r: dict) -> list[Row]:
    if "error" in r:
        return [("cluster", None, f"missing: {r['error'][:60]}", None, "", None)]
    t, m = r["throughput"], r["model"]
    local = t["runs"]["local"][0]["files"] / t["local_seconds"]
    remote = t["runs"]["cluster"][0]["files"] / t["cluster_seconds"]
    return [
        ("scan on Dask, 2 workers on loopback, files/s", remote, "local pool", local, "", None),
        ("  cluster overhead, %", 100 * t["overhead"], "", None, "<= 10 %", t["bar_met"]),
        (
            "  client saturates at N machines (16 cores)",
            m["client_saturates_at_machines"],
            "",
            None,
            "",
            None,
        ),
    ]


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3g}"


def table(rows: list[Row], title: str) -> tuple[Table, str]:
    t = Table(title=title)
    head = ("metric", "ours", "anchor", "anchor value", "ours / anchor", "bar")
    for h in head:
        t.add_column(
            h, justify="right" if h in ("ours", "anchor value", "ours / anchor") else "left"
        )
    md = ["| " + " | ".join(head) + " |", "|---|--:|---|--:|--:|---|"]
    for metric, ours, anchor, value, bar, ok in rows:
        ratio = _ratio(ours, value)
        verdict = "" if ok is None else (" (met)" if ok else " (NOT met)")
        cells = (metric, fmt(ours), anchor, fmt(value), fmt(ratio) + ("x" if ratio else ""))
        t.add_row(*cells, bar + verdict)
        md.append("| " + " | ".join([*cells, bar + verdict]) + " |")
    return t, "\n".join(md)


def meta(quick: bool) -> dict:
    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=BENCH).stdout.strip()

    with open("/proc/cpuinfo") as f:
        names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    cpu = names[0] if names else platform.processor()
    diff = sh("git", "diff", "HEAD", "--", "../src")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "git": sh("git", "describe", "--always", "--dirty"),
        # Uncommitted changes to the code measured: tells apart runs of one dirty revision.
        "src_diff_sha1": hashlib.sha1(diff.encode()).hexdigest(),
        "src_untracked": sh("git", "ls-files", "--others", "--exclude-standard", "../src").split(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the one-minute version (small sizes)")
    ap.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeat)")
    ap.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--report", action="store_true", help="run nothing: the table of saved results")
    args = ap.parse_args()
    cfg, suffix = CONFIG[args.quick], "-quick" if args.quick else ""
    selected = [] if args.report else args.only or list(PARTS)
    RESULTS.mkdir(exist_ok=True)
    info = meta(args.quick)
    if selected and info["load_at_start"][0] > 0.5:
        print(f"note: load average {info['load_at_start'][0]:.1f}: figures may be disturbed")
    if "ingest" in selected:
        anchors.ensure()
    jobs: dict[str, Callable[[], dict]] = {
        "ingest": lambda: ingest.run(cfg["images"], args.workers),
        "index": lambda: run_index(cfg["hashes"], cfg["queries"], cfg["anchor_queries"]),
        "scale": lambda: scale.run(cfg["files"], cfg["lines"]),
        # bench/cluster.py: Dask on loopback vs the local pool, per-file costs (issue #14)
        "cluster": lambda: cluster.run(min(cfg["images"], 300), rounds=1 if args.quick else 2),
    }
    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    for part in PARTS:
        path = RESULTS / f"{part}{suffix}.json"
        if part not in selected:
            if path.exists():
                results[part] = json.loads(path.read_text()) | {"from_earlier_run": True}
            continue
        started = time.perf_counter()
        try:
            results[part] = jobs[part]()
        except Exception as exc:  # a failing part is a missing row, not a lost run
            results[part] = {"error": f"{type(exc).__name__}: {exc}"}
        results[part] |= {"seconds_total": time.perf_counter() - started, "meta": info}
        path.write_text(json.dumps(results[part], indent=1))
    rows: list[Row] = []
    if "ingest" in results:
        rows += ingest_rows(results["ingest"])
    if "index" in results:
        rows += index_rows(results["index"], cfg["hashes"])
    if "scale" in results:
        rows += scale_rows(results["scale"])
    if "cluster" in results:
        rows += cluster_rows(results["cluster"])
    earlier = [
        f"{p} from {results[p]['meta']['date']}"
        for p in results
        if results[p].get("from_earlier_run") and "meta" in results[p]
    ]
    title = (
        f"hashsieve bench{' --quick' if args.quick else ''}, {info['cores']} cores, {info['cpu']}"
    )
    t, md = table(rows, title + (f" ({'; '.join(earlier)})" if earlier else ""))
    Console(width=160).print(t)
    if args.markdown:
        print(md)
    summary = {
        "meta": info,
        "seconds": time.perf_counter() - t0,
        "parts_run": selected,
        "earlier": earlier,
        "rows": [
            dict(
                zip(("metric", "ours", "anchor", "anchor_value", "bar", "bar_met"), r, strict=True)
            )
            | {"ratio": _ratio(r[1], r[3])}
            for r in rows
        ],
        "markdown": md,
    }
    if selected:
        (RESULTS / f"summary{suffix}.json").write_text(json.dumps(summary, indent=1))
    print(f"results: {RESULTS.relative_to(BENCH.parent)}/*{suffix}.json")


if __name__ == "__main__":
    main()
