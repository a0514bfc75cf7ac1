"""Faults of the store's machine during a scan and an import: its disk full, a hashing worker or
the whole command killed. Each: the message the user gets, nothing stored lost or twice, and
the same command run again completes (docs/reliability.md)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import (
    SLOW,
    Evidence,
    Tmpfs,
    assert_scanned_once,
    hashsets,
    kill_session,
    one_line,
    run_cli,
    start_cli,
    store_files,
    stored_count,
    wait_until,
)

NO_SPACE = "error: no space left to write the store"
RERUN = "rerun the same command (a scan resumes where it stopped, an import starts over)"


def _scan(home: Path, evidence: Evidence) -> list[str]:
    return ["scan", str(evidence.folder), "--case", "c1", "--workers", "2"]


def _rerun_scan(home: Path, evidence: Evidence, before: int) -> str:
    done = run_cli(home, *_scan(home, evidence))
    assert done.returncode == 0, done.stderr[-2000:]
    out = one_line(done.stdout)
    assert f"{before:,} already done by an earlier run" in out
    assert_scanned_once(store_files(home, "c1"), evidence)
    return out


def test_store_disk_full_during_a_scan(
    evidence: Evidence, tmpfs: Callable[[str], Tmpfs], fault_table: Callable[..., None]
) -> None:
    fs = tmpfs("64m")
    home = fs.path / "home"
    proc = start_cli(home, *_scan(home, evidence), HASHSIEVE_FAULT_SLOW=SLOW)
    assert wait_until(lambda: stored_count(home, "c1") > 0, proc), "the scan ended too soon"
    filler = fs.fill()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-2000:]
    message = one_line(err)
    assert NO_SPACE in message and RERUN in message and "Traceback" not in err
    files = store_files(home, "c1")
    assert len(files) == len({p for p, _ in files}) and {p for p, _ in files} <= evidence.paths
    filler.unlink()
    _rerun_scan(home, evidence, len(files))
    fault_table(
        "scan-disk-full",
        user_sees=f"exit 3: `{NO_SPACE} (...); free space, then {RERUN}`",
        stored="the files stored before stay, once each",
        rerun="after space is freed: the rest is scanned; every file once, none in error",
    )


def test_store_disk_full_during_an_import(
    big_list: tuple[Path, int], tmpfs: Callable[[str], Tmpfs], fault_table: Callable[..., None]
) -> None:
    path, rows = big_list
    fs = tmpfs("64m")
    home = fs.path / "home"
    proc = start_cli(home, "hashset", "import", str(path), "--name", "big")
    assert wait_until(lambda: "big" in hashsets(home), proc), "the import ended too soon"
    filler = fs.fill()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-2000:]
    assert NO_SPACE in one_line(err) and "Traceback" not in err
    left = hashsets(home).get("big")
    assert left is None or not left[0], "a half import must never look complete"
    filler.unlink()
    done = run_cli(home, "hashset", "import", str(path), "--name", "big")
    assert done.returncode == 0, done.stderr[-2000:]
    assert hashsets(home) == {"big": (True, rows, rows)}
    fault_table(
        "import-disk-full",
        user_sees=f"exit 3: `{NO_SPACE} (...); free space, then {RERUN}`",
        stored="no set, or the set marked incomplete (never matched)",
        rerun="imports the whole set once (an incomplete one is replaced)",
    )


def _descendants(pid: int) -> dict[int, int]:
    """pid -> parent pid of every process below ``pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    below: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in below:
                below[child] = ppid
                frontier.append(child)
    return below


def _workers(pid: int) -> list[int]:
    """The hashing workers: the forkserver's children (grandchildren of the command)."""
    below = _descendants(pid)
    return [p for p, parent in below.items() if parent != pid and parent in below]


def test_worker_killed_during_a_scan(
    evidence: Evidence, tmp_path: Path, fault_table: Callable[..., None]
) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, *_scan(home, evidence), HASHSIEVE_FAULT_SLOW=SLOW)
    assert wait_until(lambda: bool(_workers(proc.pid)) and stored_count(home, "c1") > 0, proc)
    victim = _workers(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "scanned" in out and "Traceback" not in err
    assert_scanned_once(store_files(home, "c1"), evidence)  # the chunks in flight were redone
    _rerun_scan(home, evidence, len(evidence.paths))
    fault_table(
        "scan-worker-killed",
        user_sees="nothing: the scan completes (exit 0)",
        stored="every file once, none in error: the items in flight are hashed again, one by one",
        rerun="finds every file done",
    )


def test_scan_killed(evidence: Evidence, tmp_path: Path, fault_table: Callable[..., None]) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, *_scan(home, evidence), HASHSIEVE_FAULT_SLOW=SLOW)
    assert wait_until(lambda: stored_count(home, "c1") > 0, proc), "the scan ended too soon"
    kill_session(proc)
    files = store_files(home, "c1")
    assert 0 < len(files) == len({p for p, _ in files}) and {p for p, _ in files} <= evidence.paths
    out = _rerun_scan(home, evidence, len(files))
    assert "scanned" in out
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'hashsieve.db'}")
    with engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(text("SELECT status FROM scans ORDER BY id"))]
    engine.dispose()
    assert statuses == ["interrupted", "completed"]
    fault_table(
        "scan-main-killed",
        user_sees="the rerun says `N already done by an earlier run`; the killed scan is "
        "listed as interrupted",
        stored="the files committed before the kill, once each",
        rerun="scans the rest; every file once, none in error",
    )


def test_import_killed(
    big_list: tuple[Path, int], tmp_path: Path, fault_table: Callable[..., None]
) -> None:
    path, rows = big_list
    home = tmp_path / "home"
    proc = start_cli(home, "hashset", "import", str(path), "--name", "big")
    assert wait_until(lambda: hashsets(home)["big"][2] > 0, proc), "the import ended too soon"
    kill_session(proc)
    complete, _, partial = hashsets(home)["big"]
    assert not complete and 0 < partial <= rows
    done = run_cli(home, "hashset", "import", str(path), "--name", "big")
    assert done.returncode == 0, done.stderr[-2000:]
    replaced = (
        f"replacing the incomplete set 'big' left by an interrupted import ({partial:,} rows)"
    )
    assert replaced in one_line(done.stderr)
    assert hashsets(home) == {"big": (True, rows, rows)}
    fault_table(
        "import-main-killed",
        user_sees="`hashset list` shows the set incomplete; the rerun says `replacing the "
        "incomplete set 'big' left by an interrupted import (N rows)`",
        stored="the rows committed so far, in a set marked incomplete (never matched)",
        rerun="replaces it: the whole set once",
    )
