"""Two agencies' instances on loopback: homes, served apps, a tampering proxy between them.

Agency A publishes a hash set (``shared``) and a reviewed series (``series-a``); agency B
subscribes through its own ``hashsieve serve`` (which also syncs on its timer). The proxy stands
where a network attacker would: it passes pages on, or alters them by the mode named in the
first part of its path (``/flip/api/exchange/...``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hashsieve.config import Settings
from hashsieve.store import Store
from tests.conftest import run_cli

SERIES = "S-17"
CASE_REF = "A-2026-0017"
CONTACT = "det. Ines Varga, +36 1 555 0117"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``hashsieve serve`` on a free loopback port (wait with :func:`ready`)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hashsieve.cli", "serve", "--port", str(port), *args],
        env={**os.environ, "HASHSIEVE_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, f"http://127.0.0.1:{port}"


def ready(proc: subprocess.Popen[bytes], url: str) -> tuple[subprocess.Popen[bytes], str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            urllib.request.urlopen(f"{url}/login", timeout=2).close()
            return proc, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("serve did not start")


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Tamper(http.server.BaseHTTPRequestHandler):
    """Forwards to agency A; the first path part names what to do to the answer."""

    upstream = ""
    replayed: dict[str, bytes] = {}  # noqa: RUF012 (one proxy per test session)

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        mode, _, rest = self.path.lstrip("/").partition("/")
        status, body = get(
            f"{self.upstream}/{rest}",
            self.headers.get("Authorization", "").removeprefix("Bearer ") or None,
        )
        if status == 200:
            body = self.altered(mode, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def altered(self, mode: str, body: bytes) -> bytes:
        if mode == "flip":  # one bit of one hash value
            at = body.index(b'"value":"') + len(b'"value":"') + 3
            return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
        if mode == "truncate":  # the answer cut short
            return body[: len(body) // 2]
        if mode == "drop-last":  # the last entry left out, the rest untouched
            page = json.loads(body)
            page["entries"] = page["entries"][:-1]
            return json.dumps(page).encode()
        if mode == "reorder":  # two entries swapped
            page = json.loads(body)
            page["entries"][0], page["entries"][1] = page["entries"][1], page["entries"][0]
            return json.dumps(page).encode()
        if mode == "replay":  # the first page this mode saw, whatever is asked later
            return self.replayed.setdefault(mode, body)
        return body


@dataclass
class Agencies:
    root: Path
    a_home: Path
    b_home: Path
    a_key: str
    b_key: str
    a_url: str
    b_url: str
    token: str
    nosy_token: str
    proxy: str
    md5s: list[str]
    pdq: str
    series_file: bytes
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def a_store(self) -> Store:
        return Store(Settings(home=self.a_home))

    def b_store(self) -> Store:
        return Store(Settings(home=self.b_home))

    def cli_b(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.b_home, *args, check=check)


def _case_with_series(home: Path, folder: Path) -> bytes:
    """Agency A's case: one new picture (bytes stand in for it) that reviewers put in a series."""
    from hashsieve.review.decisions import apply_changes
    from hashsieve.scan.pipeline import run_scan

    content = b"not a picture: a stand-in for new material " + secrets.token_bytes(64)
    folder.mkdir()
    (folder / "IMG_0001.jpg").write_bytes(content)
    store = Store(Settings(home=home, workers=1))
    run_scan(store, "op-a", [str(folder)])
    case = store.get_case("op-a")
    apply_changes(
        store,
        case.id,
        [hashlib.sha256(content).hexdigest()],
        {"category": 1, "series": SERIES},
        "alice",
    )
    store.close()
    return content


@pytest.fixture(scope="session")
def agencies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agencies]:
    root = tmp_path_factory.mktemp("agencies")
    a_home, b_home = root / "a", root / "b"
    from hashsieve.exchange import feeds
    from hashsieve.exchange.identity import init_identity

    # The library where the command line is not what is tested (test_cli.py runs these
    # commands, and what they print): each command start costs seconds on a loaded machine.
    a_key = init_identity(Settings(home=a_home))
    b_key = init_identity(Settings(home=b_home))

    # Agency A's known set: MD5s of three files, and one PDQ code.
    files = [secrets.token_bytes(200) for _ in range(3)]
    md5s = [hashlib.md5(f).hexdigest() for f in files]
    for i, content in enumerate(files):
        (root / f"known-{i}.bin").write_bytes(content)
    pdq = secrets.token_hex(32)
    (root / "known.md5").write_text("".join(f"{h}\n" for h in md5s))
    (root / "known.pdq").write_text(f"{pdq}\n")
    from hashsieve.hashsets.catalogue import import_hashset

    store = Store(Settings(home=a_home))
    import_hashset(store, root / "known.md5", "a-known", category=1, algorithm="md5")
    import_hashset(store, root / "known.pdq", "a-pdq", category=1, algorithm="pdq")
    store.close()
    series_file = _case_with_series(a_home, root / "a-evidence")

    store = Store(Settings(home=a_home))
    feeds.publish_hashset(store, ["a-known", "a-pdq"], "shared", agency="Agency A")
    token = feeds.add_peer(store, "agency-b", b_key, ["shared"])
    feeds.publish_series(
        store, "op-a", SERIES, "series-a", case_ref=CASE_REF, contact=CONTACT, agency="Agency A"
    )
    feeds.grant(store, "agency-b", "series-a")
    nosy_token = feeds.add_peer(store, "nosy", a_key)
    store.close()

    a_started = serve(a_home, "--exchange-sync", "0")  # both start at once
    b_started = serve(b_home, "--exchange-sync", "1")
    a_proc, a_url = ready(*a_started)
    b_proc, b_url = ready(*b_started)
    Tamper.upstream = a_url
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tamper)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    result = Agencies(
        root,
        a_home,
        b_home,
        a_key,
        b_key,
        a_url,
        b_url,
        token,
        nosy_token,
        f"http://127.0.0.1:{proxy.server_address[1]}",
        md5s,
        pdq,
        series_file,
        [a_proc, b_proc],
    )
    try:
        yield result
    finally:
        proxy.shutdown()
        for proc in result.procs:
            proc.terminate()
            proc.wait(timeout=30)
