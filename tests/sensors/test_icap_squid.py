"""End to end: curl-like fetches through a real Squid that adapts responses via our ICAP service.

The known picture is blocked (403) and alerted; the unknown one, a text page and a picture listed
only as non-pertinent (category 0) arrive identical.
"""

from __future__ import annotations

import http.client
import http.server
import io
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from hashsieve.samples.images import jpeg_bytes
from hashsieve.sensors import console
from hashsieve.sensors.icap import IcapOptions, IcapService
from hashsieve.sensors.listcopy import ListCopy
from hashsieve.store import Store
from tests.sensors.conftest import Media, list_non_pertinent, non_pertinent_pictures
from tests.sensors.icap_fixture import RunningIcap, start_icap
from tests.sensors.squid import SQUID, Squid

pytestmark = pytest.mark.skipif(
    SQUID is None, reason="squid is not installed (apt-get install -y squid): ICAP e2e skipped"
)


@pytest.fixture
def web(tmp_path: Path, media: Media) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "known.jpg").write_bytes(media.known_md5)
    (root / "similar.jpg").write_bytes(media.known_pdq)
    (root / "unknown.jpg").write_bytes(media.unknown)
    big = jpeg_bytes(Image.open(io.BytesIO(media.known_pdq)).convert("RGB"), quality=98)
    assert len(big) > 80_000  # over Squid's buffer: answered early, cut off on a match
    (root / "big-known.jpg").write_bytes(big)
    big_unknown = jpeg_bytes(Image.open(io.BytesIO(media.unknown)).convert("RGB"), quality=98)
    (root / "big-unknown.jpg").write_bytes(big_unknown)
    (root / "page.html").write_bytes(b"<html><body>" + b"hello " * 2000 + b"</body></html>")
    for i, picture in enumerate(non_pertinent_pictures()):
        (root / f"non-pertinent-{i}.jpg").write_bytes(picture)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def squid_icap(console_store: Store) -> Iterator[tuple[Squid, RunningIcap]]:
    icap = start_icap(console_store, mode="block", pool="process", workers=2)
    try:
        squid = Squid(icap.port)
    except BaseException:
        icap.close()
        raise
    yield squid, icap
    squid.stop()
    icap.close()


def fetch(proxy: str, url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    try:
        with opener.open(url, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (http.client.IncompleteRead, ConnectionError) as exc:  # cut off mid-body
        return -1, getattr(exc, "partial", b"")


def test_squid_blocks_known_and_passes_unknown(
    squid_icap: tuple[Squid, RunningIcap], web: str, media: Media
) -> None:
    squid, icap = squid_icap
    status, body = fetch(squid.proxy, f"{web}/unknown.jpg")
    assert status == 200 and body == media.unknown
    status, body = fetch(squid.proxy, f"{web}/page.html")
    assert status == 200 and body.startswith(b"<html><body>hello")
    assert icap.alerts == []
    status, body = fetch(squid.proxy, f"{web}/known.jpg")
    assert status == 403 and b"blocked" in body
    status, _ = fetch(squid.proxy, f"{web}/similar.jpg")
    assert status == 403
    assert [a["location"] for a in icap.alerts] == [f"{web}/known.jpg", f"{web}/similar.jpg"]
    assert [a["matches"][0]["algorithm"] for a in icap.alerts] == ["md5", "pdq"]
    assert icap.alerts[0]["client"] == "127.0.0.1"
    assert icap.service.stats["errors"] == 0


def test_squid_large_images(
    squid_icap: tuple[Squid, RunningIcap], web: str, tmp_path: Path
) -> None:
    squid, icap = squid_icap
    root = tmp_path / "www"
    status, body = fetch(squid.proxy, f"{web}/big-unknown.jpg")
    assert status == 200 and body == (root / "big-unknown.jpg").read_bytes()
    status, body = fetch(squid.proxy, f"{web}/big-known.jpg")
    big = (root / "big-known.jpg").read_bytes()
    assert body != big and len(body) < 1024, status  # never delivered
    assert [a["location"] for a in icap.alerts] == [f"{web}/big-known.jpg"]


@pytest.mark.parametrize("non_pertinent", [True, False], ids=["copy-with-cat0", "console-default"])
def test_squid_passes_a_non_pertinent_picture_untouched(
    console_store: Store, web: str, tmp_path: Path, non_pertinent: bool
) -> None:
    """A picture listed only as category 0 is innocent: delivered byte for byte, no alert,
    whether the sensor's list copy holds such entries or (the console's default) not."""
    pictures = non_pertinent_pictures()
    assert len(pictures[1]) > 80_000  # over Squid's buffer: the path that used to cut it off
    list_non_pertinent(console_store, tmp_path / "np", pictures)
    copy = ListCopy()
    copy.apply(console.hashlist(console_store, non_pertinent=non_pertinent))
    assert any(e[1] == 0 for e in copy.pdq.values()) == non_pertinent
    icap = RunningIcap(IcapService(copy, IcapOptions(mode="block", pool="process", workers=2)))
    try:
        squid = Squid(icap.port)
        try:
            for i, picture in enumerate(pictures):
                status, body = fetch(squid.proxy, f"{web}/non-pertinent-{i}.jpg")
                assert status == 200 and body == picture
            assert icap.alerts == []
            status, body = fetch(squid.proxy, f"{web}/known.jpg")  # category 1: still blocked
            assert status == 403 and b"blocked" in body
        finally:
            squid.stop()
    finally:
        icap.close()
    [alert] = icap.alerts
    assert alert["action"] == "blocked" and alert["location"] == f"{web}/known.jpg"
    assert [m["category"] for m in alert["matches"]] == [1]
