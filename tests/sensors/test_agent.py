"""The endpoint agent against a live console on loopback: files dropped into a watched folder
(copied, moved, written in pieces) give exactly one alert per known file, none for others;
alerts made offline wait on disk and arrive once; payloads carry no file content."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hashsieve.sensors import console, fanotify
from hashsieve.sensors.agent import Agent, AgentOptions
from hashsieve.sensors.client import ConsoleClient
from hashsieve.sensors.listcopy import ListCopy
from hashsieve.store import Store
from tests.sensors.conftest import LiveConsole, Media

# watchdog warns (harmlessly) when a folder made with parents=True races its own watch; warnings
# are errors in this suite, and one raised in the observer thread would end it.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")

ALERT_KEYS = {
    "alert_id",
    "time",
    "source",
    "host",
    "user",
    "location",
    "action",
    "mime",
    "size",
    "hashes",
    "matches",
}


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def console_alerts(store: Store) -> list[dict[str, Any]]:
    return console.list_alerts(store, limit=1000)


@pytest.fixture
def make_agent(tmp_path: Path, token: str) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def make(url: str, **options: Any) -> Agent:
        watched = tmp_path / "watched"
        watched.mkdir(exist_ok=True)
        opts = AgentOptions(
            roots=[watched],
            state_dir=tmp_path / "state",
            settle=0.3,
            cpu_percent=100,
            retry_seconds=0.2,
            **options,
        )
        captured: list[dict[str, Any]] = []
        agent = Agent(opts, ConsoleClient(url, token, timeout=2), on_alert=captured.append)
        agent.captured = captured  # type: ignore[attr-defined]
        agents.append(agent)
        return agent.start()

    yield make
    for agent in agents:
        agent.stop()


@pytest.mark.parametrize(
    "watcher",
    [
        "inotify",
        pytest.param(
            "fanotify",
            marks=pytest.mark.skipif(not fanotify.available(), reason="fanotify needs root"),
        ),
    ],
)
def test_dropped_files_alert_once_each(
    make_agent: Callable[..., Agent],
    live_console: LiveConsole,
    media: Media,
    tmp_path: Path,
    watcher: str,
) -> None:
    agent = make_agent(live_console.url, watcher=watcher)
    assert agent.watcher == watcher
    assert len(agent.lists) == 2
    watched = tmp_path / "watched"
    outside = tmp_path / "outside"
    outside.mkdir()
    # copy: a known file copied in
    (outside / "a.jpg").write_bytes(media.known_md5)
    shutil.copy(outside / "a.jpg", watched / "copied.jpg")
    # move: a known-by-PDQ file renamed in from outside the tree
    (outside / "b.jpg").write_bytes(media.known_pdq)
    os.rename(outside / "b.jpg", watched / "moved.jpg")
    # pieces: a known file written in four appends with pauses, into a new subfolder
    sub = watched / "new" / "deep"
    sub.mkdir(parents=True)
    data = media.known_md5
    step = len(data) // 4 + 1
    for i in range(4):
        with open(sub / "pieces.jpg", "ab") as f:
            f.write(data[i * step : (i + 1) * step])
        time.sleep(0.05)
    # others: an unknown picture, a text file, an unknown picture moved in
    (watched / "unknown.jpg").write_bytes(media.unknown)
    (watched / "notes.txt").write_text("nothing to see")
    (outside / "c.jpg").write_bytes(media.unknown)
    os.rename(outside / "c.jpg", watched / "unknown-moved.jpg")

    assert wait_for(lambda: len(console_alerts(live_console.store)) >= 3)
    time.sleep(1.0)  # nothing more may arrive (a second event, the rescan)
    agent.rescan()
    assert agent.wait_idle(10)
    time.sleep(0.3)
    alerts = console_alerts(live_console.store)
    locations = sorted(a["location"] for a in alerts)
    assert locations == sorted(
        str(p) for p in (watched / "copied.jpg", watched / "moved.jpg", sub / "pieces.jpg")
    )
    by_path = {a["location"]: a for a in alerts}
    assert by_path[str(watched / "moved.jpg")]["algorithm"] == "pdq"
    assert by_path[str(watched / "copied.jpg")]["hashset"] == "known-md5"
    assert by_path[str(watched / "copied.jpg")]["sha256"] == hashlib.sha256(data).hexdigest()
    assert agent.outbox.pending() == 0


def test_offline_alerts_queue_and_arrive_once(
    make_agent: Callable[..., Agent], console_store: Store, media: Media, tmp_path: Path
) -> None:
    live = LiveConsole(console_store).start()
    agent = make_agent(live.url)
    live.stop()  # the console goes away
    (tmp_path / "watched" / "k.jpg").write_bytes(media.known_md5)
    assert wait_for(lambda: agent.outbox.pending() == 1)
    time.sleep(0.5)  # retries while offline change nothing
    assert agent.outbox.pending() == 1 and console_alerts(console_store) == []
    live = LiveConsole(console_store, port=live.port).start()  # back, same address
    try:
        assert wait_for(lambda: agent.outbox.pending() == 0)
        # a retry of the same alert (a lost 2xx) does not make a second one
        agent.outbox.put(agent.captured[0])  # type: ignore[attr-defined]
        assert wait_for(lambda: agent.outbox.pending() == 0)
        alerts = console_alerts(console_store)
        assert len(alerts) == 1 and alerts[0]["location"].endswith("k.jpg")
    finally:
        live.stop()


def test_alert_payload_has_no_content(
    make_agent: Callable[..., Agent], live_console: LiveConsole, media: Media, tmp_path: Path
) -> None:
    agent = make_agent(live_console.url)
    (tmp_path / "watched" / "k.jpg").write_bytes(media.known_md5)
    assert wait_for(lambda: len(agent.captured) == 1)  # type: ignore[attr-defined]
    [alert] = agent.captured  # type: ignore[attr-defined]
    assert set(alert) == ALERT_KEYS
    text = json.dumps(alert)
    assert len(text) < 2000
    for i in range(0, len(media.known_md5) - 32, 997):  # no run of the file's bytes, any form
        piece = media.known_md5[i : i + 32]
        assert piece.hex() not in text
    import base64

    assert base64.b64encode(media.known_md5[100:148]).decode() not in text


def test_list_copy_on_disk_holds_no_plain_digest(
    console_store: Store, media: Media, tmp_path: Path
) -> None:
    copy = ListCopy()
    copy.apply(console.hashlist(console_store))
    path = tmp_path / "list.db"
    copy.save(path)
    raw = path.read_bytes()
    md5 = hashlib.md5(media.known_md5).digest()
    assert md5 not in raw and md5.hex().encode() not in raw
    loaded = ListCopy.load(path)
    assert loaded.version == copy.version and len(loaded) == len(copy)


def test_changed_file_is_hashed_again_and_large_files_skipped(
    make_agent: Callable[..., Agent], live_console: LiveConsole, media: Media, tmp_path: Path
) -> None:
    limit = max(len(media.unknown), len(media.known_pdq)) + 10
    agent = make_agent(live_console.url, max_size=limit)
    target = tmp_path / "watched" / "x.jpg"
    target.write_bytes(media.unknown)
    assert wait_for(lambda: agent.stats["hashed"] == 1)
    target.write_bytes(media.known_pdq)  # the same name, new content
    assert wait_for(lambda: agent.stats["hashed"] == 2)
    assert wait_for(lambda: len(console_alerts(live_console.store)) == 1)
    (tmp_path / "watched" / "big.jpg").write_bytes(media.known_pdq + b"\0" * 1000)
    assert wait_for(lambda: agent.stats["skipped"] >= 1)


@pytest.mark.parametrize("non_pertinent", [True, False], ids=["copy-with-cat0", "console-default"])
def test_a_non_pertinent_picture_raises_no_alert(
    live_console: LiveConsole,
    console_store: Store,
    token: str,
    media: Media,
    tmp_path: Path,
    non_pertinent: bool,
) -> None:
    """A picture listed only as category 0 is innocent: no alert, whether the agent's copy holds
    such entries (an older console's list) or not; a known one beside it still alerts."""
    from tests.sensors.conftest import list_non_pertinent, non_pertinent_pictures

    pictures = non_pertinent_pictures()
    list_non_pertinent(console_store, tmp_path / "np", pictures)
    lists = ListCopy()
    lists.apply(console.hashlist(console_store, non_pertinent=non_pertinent))
    watched = tmp_path / "watched"
    watched.mkdir()
    options = AgentOptions(
        roots=[watched], state_dir=tmp_path / "state", watch=False, retry_seconds=0.2
    )
    captured: list[dict[str, Any]] = []
    client = ConsoleClient(live_console.url, token, timeout=2)
    agent = Agent(options, client, lists=lists, on_alert=captured.append)
    agent.outbox.start()  # files are handed to process() here, not by the watcher threads
    try:
        for i, picture in enumerate(pictures):
            (watched / f"np-{i}.jpg").write_bytes(picture)
            if non_pertinent:  # the copy matches it, and the rule says it is no news
                assert {h.category for h in lists.match(_hashed(watched / f"np-{i}.jpg"))} == {0}
            assert agent.process(str(watched / f"np-{i}.jpg")) is None
        (watched / "k.jpg").write_bytes(media.known_md5)
        alert = agent.process(str(watched / "k.jpg"))
        assert alert is not None and [m["category"] for m in alert["matches"]] == [1]
        assert wait_for(lambda: agent.outbox.pending() == 0)
    finally:
        agent.stop()
    assert [a["location"] for a in captured] == [str(watched / "k.jpg")]
    [stored] = console_alerts(console_store)
    assert (stored["location"], stored["category"]) == (str(watched / "k.jpg"), 1)


def _hashed(path: Path) -> Any:
    from hashsieve.hashing.content import HashOptions, hash_file

    return hash_file(str(path), HashOptions(max_image_pixels=100_000_000))
