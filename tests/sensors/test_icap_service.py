"""The ICAP service over loopback with a client that speaks like Squid (no proxy needed)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashsieve.sensors import console
from hashsieve.store import Store
from tests.sensors.conftest import Media
from tests.sensors.icap_client import IcapClient
from tests.sensors.icap_fixture import RunningIcap, start_icap


@pytest.fixture(params=["block", "monitor"])
def icap(request: pytest.FixtureRequest, console_store: Store) -> Iterator[RunningIcap]:
    running = start_icap(console_store, mode=request.param, pool="thread", workers=2)
    yield running
    running.close()


@pytest.fixture
def block(console_store: Store) -> Iterator[RunningIcap]:
    running = start_icap(console_store, mode="block", pool="thread", workers=2)
    yield running
    running.close()


def test_options_has_stable_istag(block: RunningIcap, console_store: Store) -> None:
    client = IcapClient(block.port)
    first, second = client.options(), client.options()  # keep-alive: two on one connection
    client.close()
    assert first.status == 200 and first.headers["methods"] == "RESPMOD"
    assert first.headers["istag"] == second.headers["istag"]
    assert first.headers["istag"] == f'"{console.istag(console.list_version(console_store))}"'
    assert first.headers["preview"] == "1024" and first.headers["encapsulated"] == "null-body=0"


def test_non_media_is_waved_through_in_preview(block: RunningIcap) -> None:
    client = IcapClient(block.port)
    page = b"<html>" + b"x" * 5000 + b"</html>"
    answer = client.respmod(page, ctype="text/html", preview=1024)
    assert answer.status == 204 and not answer.continued
    # octet-stream that is not media by its first bytes: also 204 in the preview
    answer = client.respmod(
        b"PK\x03\x04" + b"z" * 3000, ctype="application/octet-stream", preview=1024
    )
    assert answer.status == 204 and not answer.continued
    client.close()
    assert block.alerts == []


@pytest.mark.parametrize("preview", [None, 1024, 0], ids=["no-preview", "preview", "preview-0"])
def test_unknown_image_passes_unchanged(
    block: RunningIcap, media: Media, preview: int | None
) -> None:
    client = IcapClient(block.port)
    answer = client.respmod(media.unknown, preview=preview)
    assert answer.status == 200 and answer.body == media.unknown  # echoed: no Allow: 204
    assert answer.http_head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg")
    answer = client.respmod(media.unknown, preview=preview, allow_204=True)
    assert answer.status == 204
    client.close()
    assert block.alerts == []


@pytest.mark.parametrize("which", ["known_md5", "known_pdq"])
def test_known_image_is_blocked_or_seen(icap: RunningIcap, media: Media, which: str) -> None:
    data = getattr(media, which)
    client = IcapClient(icap.port)
    answer = client.respmod(data, preview=1024, allow_204=True, path="/k.jpg")
    client.close()
    assert answer.continued
    [alert] = icap.alerts
    if icap.service.options.mode == "block":
        assert answer.status == 200 and answer.http_head.startswith(b"HTTP/1.1 403 Forbidden")
        assert b"blocked" in (answer.body or b"") and alert["action"] == "blocked"
    else:
        assert answer.status == 204 and alert["action"] == "seen"
    assert alert["location"] == "http://web.test/k.jpg" and alert["client"] == "127.0.0.9"
    assert alert["matches"][0]["algorithm"] == ("md5" if which == "known_md5" else "pdq")
    assert set(alert) >= {"alert_id", "time", "host", "hashes", "matches"}
    assert data[:64].hex() not in str(alert)  # hashes only, never content


def test_reencoded_known_image_matches_by_pdq(block: RunningIcap, media: Media) -> None:
    import io

    from PIL import Image

    from hashsieve.samples.images import jpeg_bytes

    copy = jpeg_bytes(Image.open(io.BytesIO(media.known_pdq)).convert("RGB"), quality=60)
    client = IcapClient(block.port)
    answer = client.respmod(copy, preview=1024)
    client.close()
    assert answer.http_head.startswith(b"HTTP/1.1 403")
    assert block.alerts[0]["matches"][0]["algorithm"] == "pdq"


def test_malformed_request_gets_400_and_close(block: RunningIcap) -> None:
    client = IcapClient(block.port)
    client.send(b"RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nEncapsulated: bogus\r\n\r\n")
    answer = client.read_answer()
    assert answer.status == 400 and "istag" in answer.headers
    with pytest.raises((ConnectionError, socket.timeout)):
        client.read_answer()
    client.close()
    # the service is still there for others
    other = IcapClient(block.port)
    assert other.options().status == 200
    other.close()


def test_unknown_service_and_method(block: RunningIcap) -> None:
    client = IcapClient(block.port)
    client.send(b"OPTIONS icap://127.0.0.1/other ICAP/1.0\r\n\r\n")
    assert client.read_answer().status == 404
    client.close()
    client = IcapClient(block.port)
    client.send(b"REQMOD icap://127.0.0.1/respmod ICAP/1.0\r\nEncapsulated: null-body=0\r\n\r\n")
    assert client.read_answer().status == 405
    client.close()


def test_many_connections_at_once(block: RunningIcap, media: Media) -> None:
    clients = [IcapClient(block.port) for _ in range(50)]
    for c in clients:  # all open before any answer
        c.send(b"")
    answers = [c.respmod(media.unknown, preview=1024, allow_204=True) for c in clients]
    for c in clients:
        c.close()
    assert [a.status for a in answers] == [204] * 50


def test_cli_icap_serves_options(console_store: Store) -> None:
    import os
    import subprocess
    import sys
    import time

    from tests.sensors.squid import free_port

    port = free_port()
    env = {**os.environ, "HASHSIEVE_HOME": str(console_store.home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashsieve.cli",
            "icap",
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = IcapClient(port)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        answer = client.options()
        client.close()
        assert answer.status == 200
        assert answer.headers["istag"] == f'"{console.istag(console.list_version(console_store))}"'
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_body_served_again_is_matched_without_being_decoded_again(
    block: RunningIcap, media: Media
) -> None:
    client = IcapClient(block.port)
    for _ in range(3):
        assert client.respmod(media.unknown, preview=1024, allow_204=True).status == 204
        answer = client.respmod(media.known_pdq, preview=1024, path="/k.jpg")
        assert answer.http_head.startswith(b"HTTP/1.1 403")  # every time, from cached hashes
    client.close()
    assert block.service.stats["hashed"] == 2 and block.service.stats["cached"] == 4
    assert len(block.alerts) == 3  # one alert per response, cached or not


def test_sigterm_stops_the_service_and_its_hashing_processes(
    console_store: Store, media: Media, tmp_path: Path
) -> None:
    """As systemd stops it: no hashing process may outlive the service."""
    import signal
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HASHSIEVE_HOME": str(console_store.settings.home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hashsieve.cli", "icap", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: every child it starts is in it
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        client = IcapClient(port)
        assert client.respmod(media.unknown, preview=None).status in (200, 204)  # a worker hashed
        client.close()
        group = proc.pid
        assert len(_group_members(group)) >= 3  # the service, its forkserver, a worker or more
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while _group_members(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_members(group) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _group_members(group: int) -> list[int]:
    """Live processes of a process group, from /proc (no procps needed)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:  # state, ppid, pgrp
            members.append(int(entry))
    return members


@pytest.mark.parametrize("hold", [False, True], ids=["stream-large", "hold-large"])
def test_large_bodies_stream_or_are_held(console_store: Store, media: Media, hold: bool) -> None:
    """Over Squid's 64 KB buffer: streamed (a known one cut off) or, held, the 403 page."""
    import io

    from PIL import Image

    from hashsieve.samples.images import jpeg_bytes

    def big(data: bytes) -> bytes:
        return jpeg_bytes(Image.open(io.BytesIO(data)).convert("RGB"), quality=98)

    known, unknown = big(media.known_pdq), big(media.unknown)
    assert min(len(known), len(unknown)) > 80_000
    running = start_icap(console_store, mode="block", pool="thread", workers=2, hold_large=hold)
    try:
        client = IcapClient(running.port)
        answer = client.respmod(unknown, preview=1024, path="/u.jpg")
        assert answer.continued and answer.status == 200 and answer.body == unknown
        assert answer.http_head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg")
        if hold:
            answer = client.respmod(known, preview=1024, path="/k.jpg")
            assert answer.http_head.startswith(b"HTTP/1.1 403") and b"blocked" in answer.body
        else:  # the unchanged head went out early: the body is cut off, never delivered
            with pytest.raises(ConnectionError):
                client.respmod(known, preview=1024, path="/k.jpg")
        client.close()
        assert [a["location"] for a in running.alerts] == ["http://web.test/k.jpg"]
        assert running.alerts[0]["action"] == "blocked"
    finally:
        running.close()


def test_a_dead_hashing_process_costs_only_the_body_it_held(
    console_store: Store, media: Media
) -> None:
    """A decoder crash kills one worker: that body is still matched by its digests, a new worker
    takes over, and the service goes on hashing in full."""
    import signal
    import time

    running = start_icap(console_store, mode="block", pool="process", workers=1)
    try:
        [pid] = running.service.worker_pids()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            with open(f"/proc/{pid}/stat") as stat:  # a zombie until its parent reaps it
                if stat.read().split(") ")[1].startswith("Z"):
                    break
            time.sleep(0.05)
        client = IcapClient(running.port)
        answer = client.respmod(media.known_md5, preview=1024, path="/k.jpg")
        assert answer.http_head.startswith(b"HTTP/1.1 403")  # by its MD5, hashed in the loop
        [new] = running.service.worker_pids()
        assert new != pid and running.service.stats["errors"] == 1
        answer = client.respmod(media.known_pdq, preview=1024, path="/p.jpg")
        assert answer.http_head.startswith(b"HTTP/1.1 403")  # by PDQ: decoded by the new worker
        answer = client.respmod(media.unknown, preview=1024, allow_204=True)
        assert answer.status == 204
        client.close()
        assert [a["matches"][0]["algorithm"] for a in running.alerts] == ["md5", "pdq"]
    finally:
        running.close()


@pytest.mark.parametrize("preview", [None, 1024], ids=["no-preview", "preview"])
def test_a_non_pertinent_picture_passes_unchanged(
    console_store: Store, media: Media, tmp_path: Path, preview: int | None
) -> None:
    """Listed only as category 0 (in the sensor's copy too): echoed byte for byte, no alert; a
    category-1 picture on the same connection is still blocked."""
    from hashsieve.sensors.icap import IcapOptions, IcapService
    from hashsieve.sensors.listcopy import ListCopy
    from tests.sensors.conftest import list_non_pertinent, non_pertinent_pictures

    pictures = non_pertinent_pictures()
    list_non_pertinent(console_store, tmp_path / "np", pictures)
    copy = ListCopy()
    copy.apply(console.hashlist(console_store, non_pertinent=True))
    running = RunningIcap(IcapService(copy, IcapOptions(mode="block", pool="thread", workers=2)))
    try:
        client = IcapClient(running.port)
        for picture in pictures:
            answer = client.respmod(picture, preview=preview)
            assert answer.status == 200 and answer.body == picture
            assert answer.http_head.startswith(b"HTTP/1.1 200 OK")
        assert running.alerts == []
        answer = client.respmod(media.known_md5, preview=preview)
        client.close()
        assert answer.http_head.startswith(b"HTTP/1.1 403 Forbidden")
    finally:
        running.close()
    [alert] = running.alerts
    assert alert["action"] == "blocked" and [m["category"] for m in alert["matches"]] == [1]
    assert running.service.stats["matched"] == 1
