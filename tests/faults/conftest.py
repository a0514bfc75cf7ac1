"""Shared by the fault tests: benign evidence, the command line in a child process, what the
store holds, tmpfs mounts for a full disk, and the collector of the fault table."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults import report

HASHSIEVE = str(Path(sys.executable).parent / "hashsieve")
#: Files of the evidence: pictures and notes (a scan of them takes a few seconds).
PICTURES = 48
NOTES = 48
#: Seconds each file takes to open in a scan that a fault interrupts (inject/sitecustomize.py):
#: about 3 s of waiting in all, so the fault lands while the scan runs, at no CPU cost.
SLOW = "0.06"
INJECT = Path(__file__).parent / "inject"


@dataclass(frozen=True)
class Evidence:
    folder: Path
    paths: frozenset[str]  # every file, as the scan stores it
    known_list: Path  # MD5s of some of the pictures
    known: int


@pytest.fixture(scope="session")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    from hashsieve.samples.images import jpeg_bytes, photo_like

    root = tmp_path_factory.mktemp("faults")
    folder = root / "evidence"
    folder.mkdir()
    known = []
    for i in range(PICTURES):
        data = jpeg_bytes(photo_like(1000 + i, (96, 72)))
        (folder / f"p{i:03}.jpg").write_bytes(data)
        if i % 6 == 0:
            known.append(hashlib.md5(data).hexdigest())
    for i in range(NOTES):
        (folder / f"n{i:03}.txt").write_text(f"note {i}\n" * (i + 1))
    listed = root / "known-md5.txt"
    listed.write_text("\n".join(known) + "\n")
    for path in folder.iterdir():
        path.chmod(0o444)  # evidence is read-only
    paths = frozenset(str(p) for p in folder.iterdir())
    return Evidence(folder, paths, listed, len(known))


@pytest.fixture(scope="session")
def big_list(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A plain MD5 list of 120,000 made-up values (an import of a second or two)."""
    rows = 120_000
    path = tmp_path_factory.mktemp("lists") / "big-md5.txt"
    path.write_text("".join(hashlib.md5(b"%d" % i).hexdigest() + "\n" for i in range(rows)))
    return path, rows


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHSIEVE_")}
    env.update(HASHSIEVE_HOME=str(home), HASHSIEVE_ROBUST="0", COLUMNS="200", **extra)
    if any(k.startswith("HASHSIEVE_FAULT_") for k in extra):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT), env.get("PYTHONPATH")]))
    return env


def run_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HASHSIEVE, *args], env=cli_env(home, **env), capture_output=True, text=True, timeout=300
    )


def start_cli(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """The command in a session of its own, so that it and its workers can be killed at once."""
    return subprocess.Popen(
        [HASHSIEVE, *args],
        env=cli_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def one_line(text: str) -> str:
    """Rich wraps long lines: the message as one line."""
    return " ".join(text.split())


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 60) -> bool:
    """Poll ``check`` while ``proc`` runs; False if it ended (or ``limit`` passed) first."""
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        try:
            if check():
                return True
        except Exception:  # the store is being created: not yet
            pass
        time.sleep(0.02)
    return False


def kill_session(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def store_files(home: Path, case: str, url: str | None = None) -> list[tuple[str, str | None]]:
    """(path, error) of every file record of ``case``, as stored."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url or f"sqlite:///{home / 'hashsieve.db'}")
    try:
        with engine.connect() as conn:
            return [
                (row[0], row[1])
                for row in conn.execute(
                    text(
                        "SELECT f.path_text, f.error FROM files f JOIN cases c ON c.id = f.case_id"
                        " WHERE c.name = :case"
                    ),
                    {"case": case},
                )
            ]
    finally:
        engine.dispose()


def stored_count(home: Path, case: str, url: str | None = None) -> int:
    return len(store_files(home, case, url))


def hashsets(home: Path, url: str | None = None) -> dict[str, tuple[bool, int, int]]:
    """name -> (complete, entries it says, entry rows it has)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url or f"sqlite:///{home / 'hashsieve.db'}")
    try:
        with engine.connect() as conn:
            return {
                row[0]: (bool(row[1]), row[2], row[3])
                for row in conn.execute(
                    text(
                        "SELECT h.name, h.complete, h.entries,"
                        " (SELECT count(*) FROM hash_entries e WHERE e.hashset_id = h.id)"
                        " FROM hashsets h"
                    )
                )
            }
    finally:
        engine.dispose()


def assert_scanned_once(files: list[tuple[str, str | None]], evidence: Evidence) -> None:
    """Every file of the evidence stored exactly once, hashed (no error)."""
    paths = [p for p, _ in files]
    assert len(paths) == len(set(paths)), "a file was stored twice"
    assert set(paths) == evidence.paths, "files lost or foreign"
    errors = [(p, e) for p, e in files if e]
    assert errors == []


class Tmpfs:
    """A tmpfs of ``size`` bytes mounted at ``path`` (we are root in CI); grown for the rerun."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)

    def fill(self) -> Path:
        """Write a filler file until the file system is full."""
        filler = self.path / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        return filler

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/hashsieve-tmpfs-probe-{os.getpid()}")
    try:
        fs = Tmpfs(probe, "64k")
    except (subprocess.CalledProcessError, OSError):
        return False
    fs.close()
    probe.rmdir()
    return True


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Tmpfs]]:
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root (and a container that allows it)")
    mounted: list[Tmpfs] = []

    def make(size: str) -> Tmpfs:
        fs = Tmpfs(tmp_path / f"fs{len(mounted)}", size)
        mounted.append(fs)
        return fs

    yield make
    for fs in mounted:
        fs.close()


_ROWS: dict[str, report.Row] = {}


@pytest.fixture(scope="session")
def fault_table() -> Iterator[Callable[..., None]]:
    """Record a fault's row (after its assertions); the table is rewritten when all are in."""

    def record(key: str, *, user_sees: str, stored: str, rerun: str) -> None:
        assert key in report.FAULTS
        _ROWS[key] = report.Row(user_sees, stored, rerun)

    yield record
    report.write(dict(_ROWS))
