"""The evidence changing under a scan: files deleted after the walk listed them, a file cut short
while a worker reads it (injected in the workers: inject/sitecustomize.py). Each is recorded with
its reason, the rest of the scan goes on, and a rerun settles what can be read again."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import (
    SLOW,
    Evidence,
    one_line,
    run_cli,
    start_cli,
    store_files,
)

DELETED = ("p003.jpg", "n010.txt")
TRUNCATED = "p007.jpg"


def _copy(evidence: Evidence, folder: Path) -> Evidence:
    shutil.copytree(evidence.folder, folder)
    paths = frozenset(str(folder / Path(p).name) for p in evidence.paths)
    return Evidence(folder, paths, evidence.known_list, evidence.known)


def _scan(home: Path, evidence: Evidence, **faults: str) -> tuple[int, str, str]:
    args = ("scan", str(evidence.folder), "--case", "c1", "--workers", "2")
    proc = start_cli(home, *args, HASHSIEVE_FAULT_SLOW=SLOW, **faults)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def test_evidence_deleted_after_the_walk(
    evidence: Evidence, tmp_path: Path, fault_table: Callable[..., None]
) -> None:
    mine = _copy(evidence, tmp_path / "evidence")
    home = tmp_path / "home"
    code, out, err = _scan(home, mine, HASHSIEVE_FAULT_DELETE=",".join(DELETED))
    assert code == 0, err[-2000:]
    counts = dict(re.findall(r"│ (\w[\w-]*) +│ ([\d,]+) +│", out))
    assert counts.get("unreadable") == str(len(DELETED)), out
    files = dict(store_files(home, "c1"))
    assert len(store_files(home, "c1")) == len(files) and set(files) == mine.paths
    for name in DELETED:
        assert not (mine.folder / name).exists()
        assert files[str(mine.folder / name)] == "unreadable: No such file or directory"
    assert sum(1 for e in files.values() if e) == len(DELETED)
    done = run_cli(home, "scan", str(mine.folder), "--case", "c1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(mine.paths) - len(DELETED):,} already done by an earlier run" in one_line(
        done.stdout
    )
    again = store_files(home, "c1")
    assert dict(again) == files and len(again) == len(files)  # kept as found, nothing twice
    fault_table(
        "scan-evidence-deleted",
        user_sees="the scan completes; the summary counts them `unreadable`; each file's "
        "reason: `unreadable: No such file or directory`",
        stored="every listed file once: the vanished ones with their reason",
        rerun="the vanished files' records stay as found (they are not walked again); "
        "the others are done",
    )


def test_evidence_truncated_while_read(
    evidence: Evidence, tmp_path: Path, fault_table: Callable[..., None]
) -> None:
    mine = _copy(evidence, tmp_path / "evidence")
    home = tmp_path / "home"
    victim = mine.folder / TRUNCATED
    size = victim.stat().st_size
    code, _, err = _scan(home, mine, HASHSIEVE_FAULT_TRUNCATE=TRUNCATED)
    assert code == 0, err[-2000:]
    assert os.path.getsize(victim) == size // 2
    files = dict(store_files(home, "c1"))
    assert set(files) == mine.paths
    reason = f"changed-while-read: read {size // 2:,} bytes of the {size:,} it had when opened"
    assert files[str(victim)] == reason
    assert [p for p, e in files.items() if e] == [str(victim)]
    done = run_cli(home, "scan", str(mine.folder), "--case", "c1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(mine.paths) - 1:,} already done by an earlier run" in one_line(done.stdout)
    again = store_files(home, "c1")
    assert len(again) == len(mine.paths) and set(dict(again)) == mine.paths
    now = dict(again)[str(victim)]  # its first half: a JPEG cut short, hashed as it is now
    assert now is None or now.startswith("truncated")
    fault_table(
        "scan-evidence-truncated",
        user_sees="the file's reason: `changed-while-read: read N bytes of the M it had when "
        "opened` (no digests of a half-read file)",
        stored="every file once; that one without hashes",
        rerun="hashes it again as it is now; its record is replaced, not duplicated",
    )
