"""A console store with a known hash set (MD5 + PDQ of generated benign pictures), users, a
sensor token, and helpers to run the console on a real loopback port."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from hashsieve import import_hashset
from hashsieve.access.auth import add_user
from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_with_dihedral
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sensors.console import add_sensor
from hashsieve.store import Store
from hashsieve.web.app import create_app

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Media:
    """Generated benign pictures: ``known`` are in the hash sets, ``unknown`` are not."""

    known_md5: bytes  # listed by MD5
    known_pdq: bytes  # listed by PDQ only (a re-encoded copy must match too)
    unknown: bytes


@pytest.fixture(scope="session")
def media() -> Media:
    return Media(
        known_md5=jpeg_bytes(photo_like(101, (640, 480))),
        known_pdq=jpeg_bytes(photo_like(102, (640, 480))),
        unknown=jpeg_bytes(photo_like(103, (640, 480))),
    )


def write_sets(folder: Path, media: Media) -> tuple[Path, Path]:
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    md5s = folder / "md5.txt"
    md5s.write_text("# algorithm: md5\n" + hashlib.md5(media.known_md5).hexdigest() + "\n")
    pdq, _ = pdq_with_dihedral(Image.open(io.BytesIO(media.known_pdq)).convert("RGB"))
    pdqs = folder / "pdq.txt"
    pdqs.write_text("# algorithm: pdq\n" + pdq.hex + "\n")
    return md5s, pdqs


@pytest.fixture
def console_store(tmp_path: Path, media: Media) -> Iterator[Store]:
    store = Store(Settings(home=tmp_path / "console", workers=1))
    md5s, pdqs = write_sets(tmp_path / "sets", media)
    import_hashset(store, md5s, "known-md5", category=1)
    import_hashset(store, pdqs, "known-pdq", category=2)
    add_user(store, "root", PASSWORD, "admin")
    add_user(store, "rita", PASSWORD, "read-only")
    yield store
    store.close()


@pytest.fixture
def token(console_store: Store) -> str:
    return add_sensor(console_store, "laptop-1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveConsole:
    """The console app served by uvicorn on 127.0.0.1 in a thread; can stop and start again."""

    def __init__(self, store: Store, port: int | None = None) -> None:
        self.store = store
        self.port = port or free_port()
        self.app = create_app(store)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveConsole:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("console did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = self._thread = None


@pytest.fixture
def live_console(console_store: Store) -> Iterator[LiveConsole]:
    console = LiveConsole(console_store).start()
    yield console
    console.stop()


def non_pertinent_pictures() -> list[bytes]:
    """Benign pictures a hash set lists only as category 0 (non-pertinent): a small one and one
    over Squid's buffer (about 100 KB, answered early), as on the web."""
    return [
        jpeg_bytes(photo_like(120, (640, 480))),
        jpeg_bytes(photo_like(121, (800, 600)), quality=98),
    ]


def list_non_pertinent(store: Store, folder: Path, pictures: list[bytes]) -> None:
    """List ``pictures`` by MD5 and by PDQ in two sets of category 0."""
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    md5s = folder / "np-md5.txt"
    md5s.write_text(
        "# algorithm: md5\n" + "".join(hashlib.md5(p).hexdigest() + "\n" for p in pictures)
    )
    pdqs = folder / "np-pdq.txt"
    codes = [pdq_with_dihedral(Image.open(io.BytesIO(p)).convert("RGB"))[0].hex for p in pictures]
    pdqs.write_text("# algorithm: pdq\n" + "".join(c + "\n" for c in codes))
    import_hashset(store, md5s, "non-pertinent-md5", category=0)
    import_hashset(store, pdqs, "non-pertinent-pdq", category=0)
