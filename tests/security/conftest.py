"""A store with two scanned cases, users of every role, a sensor and an alert; the real
``hashsieve serve`` in a subprocess on a free loopback port (plain or TLS)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hashsieve import import_hashset, run_scan
from hashsieve.access.auth import add_user
from hashsieve.config import Settings
from hashsieve.exchange import feeds
from hashsieve.sensors import console
from hashsieve.store import Store

CASE = "op-alpha"
OTHER_CASE = "op-beta"
PASSWORD = "correct horse battery"
USERS = {"alice": "reviewer", "bob": "reviewer", "root": "admin", "rita": "read-only"}
SENSOR = "laptop-1"
FEED = "shared-list"


@dataclass(frozen=True)
class Home:
    """A prepared store folder: its path, the sensor's token and an exchange peer's token."""

    path: Path
    token: str
    peer_token: str = ""


@pytest.fixture(scope="session")
def security_home(sample_case: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Two cases scanned from the sample evidence, a user of each role, one sensor alert."""
    evidence, sets = sample_case
    home = tmp_path_factory.mktemp("security-home") / "home"
    store = Store(Settings(home=home, workers=1))
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    run_scan(store, CASE, [str(evidence)])
    # Known pictures and a camera folder of new ones, also in CASE: linked across the cases.
    run_scan(store, OTHER_CASE, [str(evidence / "DCIM"), str(evidence / "Camera")])
    for name, role in USERS.items():
        add_user(store, name, PASSWORD, role)
    token = console.add_sensor(store, SENSOR)
    sensor = console.authenticate(store, token)
    assert sensor is not None
    console.record_alert(
        store,
        sensor,
        {
            "alert_id": "seed-alert-0001",
            "source": "file",
            "host": "laptop-1",
            "location": "/home/pat/x.jpg",
            "matches": [{"algorithm": "md5", "distance": 0}],
        },
    )
    feeds.ensure_feed(store, FEED)
    peer_token = feeds.add_peer(store, "peer-1", "11" * 32, [FEED])
    store.close()
    return Home(home, token, peer_token)


def copy_home(home: Home, target: Path) -> Home:
    shutil.copytree(home.path, target)
    return Home(target, home.token, home.peer_token)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hashsieve_env(home: Path) -> dict[str, str]:
    return {**os.environ, "HASHSIEVE_HOME": str(home), "COLUMNS": "200"}


@dataclass
class Served:
    """``hashsieve serve`` running in a subprocess."""

    home: Path
    port: int
    scheme: str = "http"
    process: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> Served:
        log = (self.home.parent / f"serve-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hashsieve.cli", "serve", "--port", str(self.port), *self.args],
            env=hashsieve_env(self.home),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start: {self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.home.parent / f"serve-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def serve(home: Path, *args: str, scheme: str = "http") -> Served:
    return Served(home, free_port(), scheme, args=list(args)).start()


def tls_context(ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    return context


@pytest.fixture
def home_copy(security_home: Home, tmp_path: Path) -> Home:
    return copy_home(security_home, tmp_path / "home")


@pytest.fixture
def served(home_copy: Home) -> Iterator[Served]:
    server = serve(home_copy.path)
    yield server
    server.stop()
