"""The console unreachable for an endpoint agent: known files found meanwhile are alerted into
the agent's on-disk outbox; the agent is killed (SIGKILL) with them waiting, the console comes
back, the agent is started again and delivers each alert exactly once."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hashsieve.config import Settings
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.sensors import console
from hashsieve.sensors.console import add_sensor
from hashsieve.store import Store
from tests.faults.conftest import kill_session, start_cli, wait_until
from tests.sensors.conftest import LiveConsole

KNOWN = 12


@pytest.fixture
def console_store(tmp_path: Path) -> Iterator[tuple[Store, list[bytes]]]:
    pictures = [jpeg_bytes(photo_like(2000 + i, (80, 60))) for i in range(KNOWN)]
    listed = tmp_path / "known.txt"
    listed.write_text("".join(hashlib.md5(p).hexdigest() + "\n" for p in pictures))
    store = Store(Settings(home=tmp_path / "console"))
    import_hashset(store, listed, "known", category=1)
    yield store, pictures
    store.close()


def _queued(state: Path) -> list[str]:
    path = state / "outbox.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT alert_id FROM outbox ORDER BY queued")]


def _alerts(store: Store) -> list[dict[str, object]]:
    return console.list_alerts(store, limit=1000)


def test_console_unreachable_then_agent_killed(
    console_store: tuple[Store, list[bytes]],
    tmp_path: Path,
    fault_table: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, pictures = console_store
    token = add_sensor(store, "laptop-1")
    live = LiveConsole(store).start()
    watched, state = tmp_path / "watched", tmp_path / "state"
    watched.mkdir()
    args: tuple[str, ...] = ("agent", str(watched), "--console", live.url, "--state", str(state))
    args += ("--watcher", "inotify", "--cpu", "100", "--no-robust")
    home = tmp_path / "home"
    agent = start_cli(home, *args, HASHSIEVE_SENSOR_TOKEN=token)
    try:
        assert wait_until(lambda: (state / "list.db").exists(), agent), "the agent did not start"
        time.sleep(0.5)  # its watcher is set up
        live.stop()  # the console goes away
        for i, data in enumerate(pictures):
            (watched / f"k{i:02}.jpg").write_bytes(data)
        assert wait_until(lambda: len(_queued(state)) == KNOWN, agent), _queued(state)
        waiting = _queued(state)
        assert _alerts(store) == []
    finally:
        kill_session(agent)  # SIGKILL, with every alert still waiting
    assert _queued(state) == waiting  # on disk, intact
    live = LiveConsole(store, port=live.port).start()  # back, same address
    agent = start_cli(home, *args, HASHSIEVE_SENSOR_TOKEN=token)
    try:
        assert wait_until(lambda: _queued(state) == [] and len(_alerts(store)) >= KNOWN, agent)
        time.sleep(1.0)  # its rescan of the watched folder must add nothing
    finally:
        agent.terminate()
        try:
            agent.wait(15)
        except subprocess.TimeoutExpired:
            kill_session(agent)
        live.stop()
    alerts = _alerts(store)
    assert sorted(str(a["alert_id"]) for a in alerts) == sorted(waiting)  # each once
    assert sorted(Path(str(a["location"])).name for a in alerts) == [
        f"k{i:02}.jpg" for i in range(KNOWN)
    ]
    # What the client logs for each alert it could not deliver (sensors/client.py).
    with caplog.at_level(logging.INFO, logger="hashsieve.sensors.client"):
        from hashsieve.sensors.client import ConsoleClient, Outbox

        spool = Outbox(tmp_path / "probe" / "outbox.db", ConsoleClient(live.url, token, timeout=1))
        spool.put({"alert_id": "probe-0001"})
        assert spool.flush() == 0 and spool.pending() == 1
        spool.close()
    assert any("queued: console unreachable" in r.getMessage() for r in caplog.records)
    fault_table(
        "agent-console-down",
        user_sees="the agent logs `alert ID queued: console unreachable: ...` and keeps "
        "watching; the console shows them once it is back",
        stored=f"{KNOWN} alerts waited in the agent's outbox (SQLite) through a SIGKILL",
        rerun="the restarted agent delivers each alert once (same alert ids); its rescan adds none",
    )


def test_an_alert_the_console_refuses_does_not_hold_back_the_rest(
    console_store: tuple[Store, list[bytes]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An alert answered 422 (malformed for this console) is kept aside in the outbox's
    ``refused`` table; the alerts queued behind it are delivered (they waited forever before)."""
    from hashsieve.sensors.client import ConsoleClient, Outbox

    store, _ = console_store
    token = add_sensor(store, "laptop-2")
    live = LiveConsole(store).start()
    match = [{"hashset": "known", "category": 1, "algorithm": "md5", "distance": 0}]
    good = [{"alert_id": f"good-{i:04}", "matches": match, "location": f"/x/{i}"} for i in (1, 2)]
    bad = {"alert_id": "bad-0001", "matches": []}  # at least one match is required: 422
    spool = Outbox(tmp_path / "spool" / "outbox.db", ConsoleClient(live.url, token, timeout=5))
    try:
        for alert in (good[0], bad, good[1]):
            spool.put(alert)
            time.sleep(0.01)  # queued in this order
        with caplog.at_level(logging.ERROR, logger="hashsieve.sensors.client"):
            assert spool.flush() == 2
        assert spool.pending() == 0
    finally:
        spool.close()
        live.stop()
    assert sorted(str(a["alert_id"]) for a in _alerts(store)) == ["good-0001", "good-0002"]
    with sqlite3.connect(tmp_path / "spool" / "outbox.db") as db:
        assert db.execute("SELECT alert_id, status FROM refused").fetchall() == [("bad-0001", 422)]
    assert any("alert bad-0001 refused" in r.getMessage() for r in caplog.records)
