"""The same store on a real PostgreSQL server: migrations, import, scan, report.

A private cluster is started in a temporary folder (initdb + pg_ctl as the ``postgres`` user,
listening on a Unix socket only) and removed afterwards. Skips with a clear message where the
PostgreSQL server or the psycopg driver is not installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashsieve import Settings, Store, import_hashset, run_scan
from hashsieve.report.writers import write_jsonl

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not BINDIRS:
        pytest.skip("PostgreSQL server not installed (Debian package 'postgresql')")
    pytest.importorskip("psycopg", reason="psycopg not installed")
    bindir = BINDIRS[-1]
    # Not under pytest's tmp folder: that is private to root and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="hashsieve-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    _as_postgres(f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
    _as_postgres(
        f"{bindir}/pg_ctl",
        "-D",
        str(data),
        "-w",
        "-l",
        str(root / "log"),
        "-o",
        f"-c listen_addresses='' -c unix_socket_directories={sock}",
        "start",
    )
    try:
        _as_postgres(f"{bindir}/createdb", "-h", str(sock), "-U", "postgres", "hashsieve")
        yield f"postgresql+psycopg://postgres@/hashsieve?host={sock}"
    finally:
        _as_postgres(f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_scan_and_report_on_postgresql(
    postgres_url: str,
    tmp_path: Path,
    sample_case: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HASHSIEVE_DATABASE_URL", postgres_url)
    store = Store(Settings(home=tmp_path / "home", workers=2))
    assert store.engine.dialect.name == "postgresql"
    evidence, sets = sample_case
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    summary = run_scan(store, "pg", [str(evidence)])
    assert summary.verdicts["known"] == 6 and summary.verdicts["new"] == 6

    class Sink(list[str]):
        def write(self, text: str) -> None:
            self.append(text)

    sink = Sink()
    case = store.get_case("pg")
    write_jsonl(store, case.id, case.name, sink)  # type: ignore[arg-type]
    records = [json.loads(line) for line in "".join(sink).splitlines()]
    assert records[0]["verdict"] == "new"
    assert {r["verdict"] for r in records} >= {"new", "known", "unreadable", "other"}
    store.close()
