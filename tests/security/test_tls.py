"""The console over TLS (``hashsieve serve --tls-cert --tls-key``) and sensors that verify it:
a private CA and the console's certificate made in the test, a real serve process, a real agent.

Sensors send their token only to a console whose certificate they trust (``--ca`` pins a private
CA), and never over plain HTTP except to a loopback address.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from hashsieve.exchange.subscriber import SyncError, subscribe
from hashsieve.sensors.client import ConsoleClient, InsecureConsoleError, new_alert_id
from hashsieve.store import Store
from tests.conftest import run_cli
from tests.security.certs import Pki, make_pki
from tests.security.conftest import PASSWORD, Home, Served, copy_home, hashsieve_env, serve


@dataclass
class TlsConsole:
    server: Served
    home: Home
    pki: Pki
    wrong: Pki  # another CA, with a console certificate of its own

    def alerts(self) -> list[dict[str, Any]]:
        ca = str(self.pki.ca)  # per request: a Session's verify gives way to REQUESTS_CA_BUNDLE
        with requests.Session() as s:
            login = {"username": "rita", "password": PASSWORD}
            r = s.post(f"{self.server.url}/api/login", json=login, verify=ca)
            assert r.status_code == 200, r.text
            alerts: list[dict[str, Any]] = s.get(f"{self.server.url}/api/alerts", verify=ca).json()[
                "alerts"
            ]
            return alerts


@pytest.fixture(scope="module")
def tls_console(
    security_home: Home, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsConsole]:
    folder = tmp_path_factory.mktemp("tls")
    pki, wrong = make_pki(folder / "pki"), make_pki(folder / "other-pki", "another CA")
    home = copy_home(security_home, folder / "home")
    server = serve(
        home.path, "--tls-cert", str(pki.cert), "--tls-key", str(pki.key), scheme="https"
    )
    try:
        yield TlsConsole(server, home, pki, wrong)
    finally:
        server.stop()


def alert(location: str) -> dict[str, Any]:
    return {
        "alert_id": new_alert_id(),
        "source": "file",
        "host": "laptop-1",
        "location": location,
        "matches": [{"algorithm": "md5", "distance": 0}],
    }


def test_alert_delivered_over_tls_with_the_pinned_ca(tls_console: TlsConsole) -> None:
    client = ConsoleClient(tls_console.server.url, tls_console.home.token, ca=tls_console.pki.ca)
    client.check()
    assert client.hashlist("0")["version"] == client.version()
    client.send_alert(alert("/home/pat/over-tls.jpg"))
    assert "/home/pat/over-tls.jpg" in {a["location"] for a in tls_console.alerts()}


def test_session_cookie_is_secure_over_tls(tls_console: TlsConsole) -> None:
    r = requests.post(
        f"{tls_console.server.url}/api/login",
        json={"username": "rita", "password": PASSWORD},
        verify=str(tls_console.pki.ca),
    )
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


@pytest.mark.parametrize("trust", ["system CAs", "another CA"])
def test_untrusted_console_certificate_is_refused(tls_console: TlsConsole, trust: str) -> None:
    ca = tls_console.wrong.ca if trust == "another CA" else None
    client = ConsoleClient(tls_console.server.url, tls_console.home.token, ca=ca)
    with pytest.raises(InsecureConsoleError, match="certificate is not trusted"):
        client.check()
    with pytest.raises(InsecureConsoleError):
        client.send_alert(alert("/home/pat/never-sent.jpg"))
    assert "/home/pat/never-sent.jpg" not in {a["location"] for a in tls_console.alerts()}


@pytest.mark.parametrize(
    "url", ["http://console.example:8642", "http://192.0.2.10:8642", "ftp://console.example"]
)
def test_token_is_never_sent_over_plain_http_to_another_machine(url: str) -> None:
    with pytest.raises(InsecureConsoleError, match=r"refusing|not an http\(s\) URL"):
        ConsoleClient(url, "a-token")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8642", "http://localhost:8642", "http://[::1]:1"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ConsoleClient(url, "a-token").url == url


def test_agent_refuses_console_signed_by_another_ca(
    tls_console: TlsConsole, tmp_path: Path
) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    proc = run_cli(
        tmp_path / "home",
        "agent",
        str(watched),
        "--console",
        tls_console.server.url,
        "--token",
        tls_console.home.token,
        "--ca",
        str(tls_console.wrong.ca),
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "certificate is not trusted" in proc.stdout + proc.stderr


def test_agent_alerts_a_tls_console_it_verifies(
    tls_console: TlsConsole, sample_case: tuple[Path, Path], tmp_path: Path
) -> None:
    """The real agent, with --ca, pulls the list over TLS and delivers its alert."""
    evidence, _sets = sample_case
    watched = tmp_path / "watched"
    watched.mkdir()
    known = watched / "copy-of-known.jpg"
    shutil.copy(evidence / "DCIM" / "IMG_0003.jpg", known)  # listed by MD5, category 1
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashsieve.cli",
            "agent",
            str(watched),
            "--console",
            tls_console.server.url,
            "--token",
            tls_console.home.token,
            "--ca",
            str(tls_console.pki.ca),
            "--state",
            str(tmp_path / "state"),
            "--watcher",
            "inotify",
            "--cpu",
            "100",
        ],
        env=hashsieve_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while not found and agent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            found = [a for a in tls_console.alerts() if a["location"] == str(known)]
    finally:
        agent.terminate()
        output = agent.communicate(timeout=30)[0].decode(errors="replace")
    assert len(found) == 1, output
    assert found[0]["sensor"] == "laptop-1" and found[0]["category"] == 1


def test_exchange_never_sends_a_peer_token_over_plain_http_to_another_machine(
    store: Store,
) -> None:
    with pytest.raises(SyncError, match="refusing to send the peer token over plain HTTP"):
        subscribe(store, "http://agency-a.example:8642", "shared", "11" * 32, "t", "from-a")
    sub = subscribe(store, "http://127.0.0.1:9", "shared", "11" * 32, "t", "from-a")
    assert sub.url == "http://127.0.0.1:9"


def test_icap_service_refuses_console_signed_by_another_ca(
    tls_console: TlsConsole, tmp_path: Path
) -> None:
    proc = run_cli(
        tmp_path / "home",
        "icap",
        "--listen",
        "127.0.0.1:0",
        "--console",
        tls_console.server.url,
        "--token",
        tls_console.home.token,
        "--ca",
        str(tls_console.wrong.ca),
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "certificate is not trusted" in proc.stdout + proc.stderr
