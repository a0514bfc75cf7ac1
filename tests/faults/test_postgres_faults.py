"""PostgreSQL restarted (``pg_ctl restart -m fast``: every connection cut) while a scan and an
import write to it. A private cluster in a temporary folder, as in tests/store/test_postgresql.py;
skipped where the server or psycopg is missing."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import (
    SLOW,
    Evidence,
    assert_scanned_once,
    hashsets,
    one_line,
    run_cli,
    start_cli,
    store_files,
    stored_count,
    wait_until,
)

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
LOST = "error: lost the connection to the database"
RERUN = "rerun the same command (a scan resumes where it stopped, an import starts over)"


def _as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=60)


class Cluster:
    def __init__(self) -> None:
        self.bindir = BINDIRS[-1]
        self.root = Path(tempfile.mkdtemp(prefix="hashsieve-pg-faults-"))
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        _as_postgres(
            f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust"
        )
        self._ctl("start")

    def _ctl(self, action: str) -> None:
        options = f"-c listen_addresses='' -c unix_socket_directories={self.sock}"
        log = str(self.root / "log")
        _as_postgres(
            f"{self.bindir}/pg_ctl", "-D", str(self.data), "-w", "-l", log, "-m", "fast",
            "-o", options, action,
        )  # fmt: skip

    def restart(self) -> None:
        self._ctl("restart")

    def database(self, name: str) -> str:
        _as_postgres(f"{self.bindir}/createdb", "-h", str(self.sock), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@/{name}?host={self.sock}"

    def close(self) -> None:
        self._ctl("stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not BINDIRS:
        pytest.skip("PostgreSQL server not installed (Debian package 'postgresql')")
    pytest.importorskip("psycopg", reason="psycopg not installed")
    found = Cluster()
    yield found
    found.close()


def test_postgres_restarted_during_a_scan(
    cluster: Cluster, evidence: Evidence, tmp_path: Path, fault_table: Callable[..., None]
) -> None:
    url = cluster.database("scan_restart")
    home = tmp_path / "home"
    args = ("scan", str(evidence.folder), "--case", "c1", "--workers", "2")
    env = {"HASHSIEVE_DATABASE_URL": url}
    proc = start_cli(home, *args, HASHSIEVE_FAULT_SLOW=SLOW, **env)
    assert wait_until(lambda: stored_count(home, "c1", url) > 0, proc), "the scan ended too soon"
    cluster.restart()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-3000:]
    message = one_line(err)
    assert LOST in message and RERUN in message and "Traceback" not in err
    files = store_files(home, "c1", url)
    assert len(files) == len({p for p, _ in files}) and {p for p, _ in files} <= evidence.paths
    done = run_cli(home, *args, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{len(files):,} already done by an earlier run" in one_line(done.stdout)
    assert_scanned_once(store_files(home, "c1", url), evidence)
    fault_table(
        "scan-postgres-restart",
        user_sees=f"exit 3: `{LOST} (terminating connection due to administrator command ...); "
        f"once it is back, {RERUN}`",
        stored="the files committed before the restart, once each",
        rerun="scans the rest; every file once, none in error",
    )


def test_postgres_restarted_during_an_import(
    cluster: Cluster,
    big_list: tuple[Path, int],
    tmp_path: Path,
    fault_table: Callable[..., None],
) -> None:
    path, rows = big_list
    url = cluster.database("import_restart")
    home = tmp_path / "home"
    env = {"HASHSIEVE_DATABASE_URL": url}
    proc = start_cli(home, "hashset", "import", str(path), "--name", "big", **env)
    assert wait_until(lambda: "big" in hashsets(home, url), proc), "the import ended too soon"
    cluster.restart()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-3000:]
    assert LOST in one_line(err) and "Traceback" not in err
    left = hashsets(home, url).get("big")
    assert left is None or not left[0]
    done = run_cli(home, "hashset", "import", str(path), "--name", "big", **env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert hashsets(home, url) == {"big": (True, rows, rows)}
    fault_table(
        "import-postgres-restart",
        user_sees=f"exit 3: `{LOST} (...); once it is back, {RERUN}`",
        stored="no set, or the set marked incomplete (never matched)",
        rerun="imports the whole set once (an incomplete one is replaced)",
    )
