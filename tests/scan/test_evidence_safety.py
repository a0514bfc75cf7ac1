"""Evidence is read-only, and a scan killed mid-way resumes without loss or duplicates."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hashsieve import run_scan
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from tests.conftest import run_cli


def _snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[str(path)] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_mode,
            )
    return out


def test_scanned_files_are_never_changed(store: Store, sample_case: tuple[Path, Path]) -> None:
    evidence, _ = sample_case
    before = _snapshot(evidence)
    names_before = sorted(p.name for p in evidence.rglob("*"))
    run_scan(store, "readonly", [str(evidence)])
    assert _snapshot(evidence) == before  # bytes, mtime, ctime (no metadata write) and mode
    assert sorted(p.name for p in evidence.rglob("*")) == names_before


def _make_many(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    base = photo_like(11, (256, 192))
    for i in range(n):
        img = base.rotate(i * 0.7)  # distinct bytes, cheap to make
        (root / f"img-{i:04d}.jpg").write_bytes(jpeg_bytes(img, quality=80))


def _count_files(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_mid_scan_then_resume(tmp_path: Path) -> None:
    evidence, home = tmp_path / "evidence", tmp_path / "home"
    total = 1200
    _make_many(evidence, total)
    env = {**os.environ, "HASHSIEVE_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashsieve.cli",
            "scan",
            str(evidence),
            "--case",
            "k",
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = home / "hashsieve.db"
    deadline = time.monotonic() + 120
    while _count_files(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the scanner and its workers, mid-scan
    proc.wait()
    done_before = _count_files(db)
    assert 0 < done_before < total, "the kill should land mid-scan"

    result = run_cli(home, "scan", str(evidence), "--case", "k", "--workers", "2")
    assert "already done by an earlier run" in result.stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT path_key) FROM files").fetchone()
        rehashed = conn.execute(
            "SELECT files FROM scans WHERE status = 'completed' ORDER BY id DESC"
        ).fetchone()[0]
    assert rows == (total, total)  # every file once: nothing lost, nothing doubled
    assert rehashed <= total - done_before  # finished work was not redone
