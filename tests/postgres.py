"""A private PostgreSQL server for the tests: initdb in a temporary folder, a Unix socket only.

Started once per test session by the ``postgres_server`` fixture (tests/conftest.py), as the
``postgres`` user when the tests run as root; each test that asks for ``postgres_url`` gets a
database of its own on it. Skips with a clear message where the server (Debian package
``postgresql``) or the psycopg driver is not installed.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=60)


class PostgresServer:
    """One running cluster; :meth:`new_database` hands out fresh, empty databases."""

    def __init__(self) -> None:
        if not BINDIRS:
            pytest.skip("PostgreSQL server not installed (Debian package 'postgresql')")
        pytest.importorskip("psycopg", reason="psycopg not installed")
        self.bindir = BINDIRS[-1]
        # Not under pytest's tmp folder: that is private to root and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="hashsieve-pg-"))
        self.data, self.socket = self.root / "data", self.root / "sock"
        self.socket.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        self._names = itertools.count(1)

    def start(self) -> None:
        _as_postgres(
            f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust"
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.socket}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _as_postgres(
            f"{self.bindir}/pg_ctl", "-D", str(self.data), "-w",
            "-l", str(self.root / "log"), "-o", options, "start",
        )  # fmt: skip

    def new_database(self) -> str:
        """A fresh database's SQLAlchemy URL."""
        name = f"hashsieve_{next(self._names)}"
        _as_postgres(f"{self.bindir}/createdb", "-h", str(self.socket), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@/{name}?host={self.socket}"

    def stop(self) -> None:
        try:
            _as_postgres(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
