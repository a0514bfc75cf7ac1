"""The console's sensor API: bearer tokens, idempotent alerts, the keyed list, alerts page,
webhook and CEF syslog outputs (received by listeners on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from hashsieve import delete_hashset, import_hashset
from hashsieve.config import Settings
from hashsieve.sensors import console
from hashsieve.sensors.client import ConsoleClient
from hashsieve.sensors.models import Sensor
from hashsieve.sensors.outputs import Forwarder, cef_line, cef_syslog, webhook
from hashsieve.sensors.writer import AlertWriter
from hashsieve.store import Store
from hashsieve.web.app import create_app
from tests.conftest import run_cli
from tests.sensors.conftest import PASSWORD, LiveConsole, Media, write_sets

SENSOR_ROUTES = [
    ("post", "/api/sensors/alerts"),
    ("get", "/api/sensors/hashlist"),
    ("get", "/api/sensors/version"),
]


def alert(alert_id: str = "a-0000000001", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "alert_id": alert_id,
        "time": "2026-01-02T03:04:05+00:00",
        "source": "file",
        "host": "laptop-1",
        "user": "pat",
        "location": "/home/pat/Downloads/x.jpg",
        "hashes": {"md5": "0" * 32, "sha256": "1" * 64},
        "matches": [{"entry_id": 1, "algorithm": "md5", "distance": 0}],
    }
    body.update(extra)
    return body


@pytest.fixture
def client(console_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(console_store)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    if method == "post":
        return client.post(url, json=alert(), headers=headers)
    return client.get(url, headers=headers)


@pytest.mark.parametrize(("method", "url"), SENSOR_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}],
    ids=["none", "wrong", "basic"],
)
def test_sensor_routes_need_a_token(
    client: TestClient, token: str, method: str, url: str, headers: dict[str, str]
) -> None:
    r = call(client, method, url, headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "url"), SENSOR_ROUTES)
def test_revoked_token_is_refused(
    client: TestClient, console_store: Store, token: str, method: str, url: str
) -> None:
    assert call(client, method, url, bearer(token)).status_code in (200, 201)
    console.revoke_sensor(console_store, "laptop-1")
    assert call(client, method, url, bearer(token)).status_code == 401


def test_token_is_stored_hashed(console_store: Store, token: str) -> None:
    [sensor] = console.list_sensors(console_store)
    assert sensor.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in sensor.token_hash


def test_duplicate_alert_is_ignored(client: TestClient, token: str) -> None:
    first = client.post("/api/sensors/alerts", json=alert(), headers=bearer(token))
    again = client.post("/api/sensors/alerts", json=alert(), headers=bearer(token))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    listed = client.post("/api/login", json={"username": "root", "password": PASSWORD})
    assert listed.status_code == 200
    alerts = client.get("/api/alerts").json()["alerts"]
    assert len(alerts) == 1
    a = alerts[0]
    # the console resolves the sensor's entry id to its own hash set, entry and category
    assert (a["sensor"], a["hashset"], a["category"], a["algorithm"]) == (
        "laptop-1",
        "known-md5",
        1,
        "md5",
    )
    assert a["location"] == "/home/pat/Downloads/x.jpg" and a["user"] == "pat"


def test_alert_without_match_or_with_content_is_refused(client: TestClient, token: str) -> None:
    r = client.post("/api/sensors/alerts", json=alert(matches=[]), headers=bearer(token))
    assert r.status_code == 422
    r = client.post("/api/sensors/alerts", json=alert(alert_id="bad id!"), headers=bearer(token))
    assert r.status_code == 422


def test_alerts_page_needs_login_and_csrf(client: TestClient, token: str) -> None:
    client.post("/api/sensors/alerts", json=alert(), headers=bearer(token))
    assert client.get("/api/alerts").status_code == 401
    login = client.post("/api/login", json={"username": "root", "password": PASSWORD}).json()
    [a] = client.get("/api/alerts").json()["alerts"]
    url = f"/api/alerts/{a['id']}/status"
    assert client.post(url, json={"status": "acknowledged"}).status_code == 403  # no CSRF
    csrf = {"X-CSRF-Token": login["csrf_token"]}
    r = client.post(url, json={"status": "acknowledged"}, headers=csrf)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = client.post(url, json={"status": "resolved"}, headers=csrf)
    assert r.json()["status_by"] == "root"
    assert client.get("/api/alerts?status=resolved").json()["alerts"][0]["id"] == a["id"]
    page = client.get("/alerts")
    assert page.status_code == 200 and "/home/pat/Downloads/x.jpg" in page.text
    assert "known-md5" in page.text


def test_read_only_user_cannot_change_alerts(client: TestClient, token: str) -> None:
    client.post("/api/sensors/alerts", json=alert(), headers=bearer(token))
    login = client.post("/api/login", json={"username": "rita", "password": PASSWORD}).json()
    [a] = client.get("/api/alerts").json()["alerts"]
    r = client.post(
        f"/api/alerts/{a['id']}/status",
        json={"status": "resolved"},
        headers={"X-CSRF-Token": login["csrf_token"]},
    )
    assert r.status_code == 403


def test_hashlist_is_keyed_and_incremental(
    client: TestClient, console_store: Store, token: str, media: Media, tmp_path: Any
) -> None:
    full = client.get("/api/sensors/hashlist", headers=bearer(token)).json()
    assert full["since"] == "0" and set(full["hashsets"].values()) == {"known-md5", "known-pdq"}
    algos = sorted(e[2] for e in full["entries"])
    assert algos == ["md5", "pdq"]
    plain_md5 = hashlib.md5(media.known_md5).hexdigest()
    assert plain_md5 not in json.dumps(full)  # crypto digests travel keyed only
    md5_entry = next(e for e in full["entries"] if e[2] == "md5")
    key = bytes.fromhex(full["key"])
    assert md5_entry[3] == console.keyed_digest(key, "md5", bytes.fromhex(plain_md5)).hex()
    same = client.get(f"/api/sensors/hashlist?since={full['version']}", headers=bearer(token))
    assert same.json()["entries"] == [] and same.json()["remove"] == []
    no_pdq = client.get("/api/sensors/hashlist?pdq=false", headers=bearer(token)).json()
    assert [e[2] for e in no_pdq["entries"]] == ["md5"]
    # a new set arrives alone; a deleted one is named for removal
    more = tmp_path / "more"
    md5s, _ = write_sets(more, Media(media.unknown, media.unknown, media.unknown))
    import_hashset(console_store, md5s, "later")
    delete_hashset(console_store, "known-pdq")
    delta = client.get(f"/api/sensors/hashlist?since={full['version']}", headers=bearer(token))
    body = delta.json()
    assert len(body["entries"]) == 1 and body["hashsets"][str(body["entries"][0][1])] == "later"
    assert len(body["remove"]) == 1
    version = client.get("/api/sensors/version", headers=bearer(token)).json()
    assert version["version"] == body["version"] and len(version["istag"]) <= 32


# --- outputs ----------------------------------------------------------------------------------


@pytest.fixture
def webhook_listener() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    received: list[dict[str, Any]] = []
    got = threading.Event()
    failures = [1]  # the first POST fails: the forwarder must retry

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if failures:
                failures.pop()
                self.send_response(503)
                self.end_headers()
                return
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()
            got.set()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, got
    server.shutdown()
    server.server_close()


def test_webhook_and_cef_receive_each_alert(
    console_store: Store, token: str, webhook_listener: Any
) -> None:
    url, received, got = webhook_listener
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(10)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    tcp.settimeout(10)
    forwarder = Forwarder(
        [
            ("webhook", webhook(url)),
            ("cef-udp", cef_syslog(f"127.0.0.1:{udp.getsockname()[1]}")),
            ("cef-tcp", cef_syslog(f"127.0.0.1:{tcp.getsockname()[1]}", tcp=True)),
        ],
        backoff=0.05,
    )
    app = create_app(console_store)
    app.state.alert_forwarder = forwarder
    try:
        with TestClient(app) as client:
            body = alert(source="http", location="http://example.test/a.jpg", action="blocked")
            for _ in range(2):  # the duplicate is not forwarded again
                client.post("/api/sensors/alerts", json=body, headers=bearer(token))
            assert got.wait(10)
            datagram = udp.recv(65536).decode()
            conn, _ = tcp.accept()
            with conn:
                conn.settimeout(10)
                stream = conn.recv(65536).decode()
        forwarder.close()
    finally:
        udp.close()
        tcp.close()
    assert len(received) == 1
    assert received[0]["alert"]["location"] == "http://example.test/a.jpg"
    assert received[0]["alert"]["hashset"] == "known-md5"
    assert "CEF:0|hashsieve|hashsieve|" in datagram and "Known material blocked" in datagram
    assert "request=http://example.test/a.jpg" in datagram and "cs1=known-md5" in datagram
    length, _, frame = stream.partition(" ")
    assert int(length) == len(frame.encode()) and "CEF:0|hashsieve" in frame


def test_cef_escapes_separators() -> None:
    line = cef_line({"source": "file", "location": "C:\\a=b|c\nd", "hashset": "x|y"})
    assert "filePath=C:\\\\a\\=b|c\\nd" in line
    assert line.startswith("CEF:0|hashsieve|hashsieve|")


def test_cli_sensor_add_list_revoke(tmp_path: Any) -> None:
    home = tmp_path / "home"
    token = run_cli(home, "sensor", "add", "proxy-1").stdout.strip()
    assert len(token) >= 40
    assert "proxy-1\tactive" in run_cli(home, "sensor", "list").stdout
    assert run_cli(home, "sensor", "add", "proxy-1", check=False).returncode == 2
    run_cli(home, "sensor", "revoke", "proxy-1")
    assert "proxy-1\trevoked" in run_cli(home, "sensor", "list").stdout


def test_store_has_one_migration_head(console_store: Store) -> None:
    from alembic.script import ScriptDirectory

    from hashsieve.store import db

    script = ScriptDirectory.from_config(db.alembic_config(console_store.engine))
    newest = max(revision.revision for revision in script.walk_revisions())
    assert script.get_heads() == [newest]  # every migration joins one line: no second head
    assert {newest} == db.HEADS  # a store at it opens without loading Alembic


def test_hashlist_pages_join_into_the_whole_list(
    client: TestClient, console_store: Store, token: str, tmp_path: Any
) -> None:
    listing = tmp_path / "many.txt"
    listing.write_text("".join(f"{i:032x}\n" for i in range(1, 12)))
    import_hashset(console_store, listing, "many", category=1)
    whole = client.get("/api/sensors/hashlist", headers=bearer(token)).json()
    assert whole["next"] is None and len(whole["entries"]) == 13
    pages, after = [], 0
    while True:
        url = f"/api/sensors/hashlist?limit=4&after={after}&version={whole['version']}"
        page = client.get(url, headers=bearer(token)).json()
        pages.append(page)
        if page["next"] is None:
            break
        after = page["next"]
    assert [len(p["entries"]) for p in pages] == [4, 4, 4, 1]
    assert [e for p in pages for e in p["entries"]] == whole["entries"]
    # a page for a version whose sets are gone is refused: the sensor starts over
    delete_hashset(console_store, "many")
    stale = client.get(
        f"/api/sensors/hashlist?limit=4&after=4&version={whole['version']}", headers=bearer(token)
    )
    assert stale.status_code == 422


def test_the_client_follows_every_page(live_console: LiveConsole, token: str) -> None:
    paged = ConsoleClient(live_console.url, token).hashlist("0", page=1)
    whole = ConsoleClient(live_console.url, token).hashlist("0")
    assert paged["entries"] == whole["entries"] and len(whole["entries"]) == 2
    assert paged["next"] is None


def test_hashlist_leaves_non_pertinent_entries_on_the_console(
    console_store: Store, tmp_path: Any
) -> None:
    from tests.sensors.conftest import list_non_pertinent, non_pertinent_pictures

    list_non_pertinent(console_store, tmp_path / "np", non_pertinent_pictures())
    default = console.hashlist(console_store)
    everything = console.hashlist(console_store, non_pertinent=True)
    assert default["version"] == everything["version"]  # the same sets: the same list
    assert {e[4] for e in everything["entries"]} == {0, 1, 2}
    assert {e[4] for e in default["entries"]} == {1, 2}
    assert len(everything["entries"]) - len(default["entries"]) == 4  # 2 MD5 + 2 PDQ


def test_the_alert_columns_show_the_most_serious_match_not_a_non_pertinent_one(
    client: TestClient, token: str
) -> None:
    matches = [
        {"hashset": "np", "algorithm": "pdq", "distance": 0, "category": 0},
        {"hashset": "bad", "algorithm": "pdq", "distance": 9, "category": 2},
    ]
    sent = client.post("/api/sensors/alerts", json=alert(matches=matches), headers=bearer(token))
    assert sent.status_code == 201
    client.post("/api/login", json={"username": "root", "password": PASSWORD})
    [shown] = client.get("/api/alerts").json()["alerts"]
    assert (shown["hashset"], shown["category"]) == ("bad", 2)


# --- alerts under load: the fast path and group commit (bench/alerts_load.py) ------------------


def test_the_fast_path_answers_as_the_route_does(
    client: TestClient, console_store: Store, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a token is verified its well-formed alerts skip the routing; the answers (status,
    body, security headers) are the route's, and anything the fast path does not take — a bad
    alert, a revoked token — gets the route's refusal."""
    fast: list[bool] = []
    verified = console.verified

    def spy(store: Store, t: str) -> Any:
        sensor = verified(store, t)
        fast.append(sensor is not None)
        return sensor

    monkeypatch.setattr(console, "verified", spy)
    url = "/api/sensors/alerts"
    by_route = client.post(url, json=alert("a-0000000001"), headers=bearer(token))
    by_fast = client.post(url, json=alert("a-0000000002"), headers=bearer(token))
    again = client.post(url, json=alert("a-0000000002"), headers=bearer(token))
    assert fast == [False, True, True]
    assert (by_route.status_code, by_fast.status_code, again.status_code) == (201, 201, 200)
    assert by_fast.json() == {"id": by_route.json()["id"] + 1, "duplicate": False}
    assert again.json() == {"id": by_fast.json()["id"], "duplicate": True}
    security = ("content-security-policy", "x-frame-options", "cache-control", "content-type")
    assert [by_fast.headers[h] for h in security] == [by_route.headers[h] for h in security]

    bad = client.post(url, json=alert("a-0000000003", matches=[]), headers=bearer(token))
    assert bad.status_code == 422 and "matches" in json.dumps(bad.json()["detail"])
    assert fast[-1] is True  # the token was known: the body sent it on to the route
    # A file name that is not UTF-8 (os.fsdecode's lone surrogates): stored, kept readable.
    odd = json.dumps(alert("a-0000000005", location="/tmp/\udc80x\ud800")).encode()
    sent = client.post(
        url, content=odd, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert sent.status_code == 201, sent.text
    console.revoke_sensor(console_store, "laptop-1")
    assert client.post(url, json=alert("a-0000000004"), headers=bearer(token)).status_code == 401
    client.post("/api/login", json={"username": "root", "password": PASSWORD})
    stored = [a["alert_id"] for a in client.get("/api/alerts").json()["alerts"]]
    assert stored == ["a-0000000005", "a-0000000002", "a-0000000001"]
    assert client.get("/api/alerts").json()["alerts"][0]["location"] == "/tmp/\\x80x\\ud800"


@dataclass
class Held:
    """A writer held in its first transaction (the alert ``first``) until ``release``: what is
    submitted meanwhile is one batch; ``sizes`` lists the sizes of the batches written."""

    writer: AlertWriter
    first: Future[console.Recorded]
    release: threading.Event
    sizes: list[int]


def held_writer(store: Store, monkeypatch: pytest.MonkeyPatch, sensor: Sensor) -> Held:
    holding, release, sizes = threading.Event(), threading.Event(), list[int]()
    record = console.record_alerts

    def held(s: Store, alerts: Any) -> Any:
        if not sizes:
            holding.set()
            release.wait(30)
        sizes.append(len(alerts))
        return record(s, alerts)

    monkeypatch.setattr(console, "record_alerts", held)
    writer = AlertWriter(store)
    first = writer.submit(sensor, alert("first-000"))
    assert holding.wait(30)
    return Held(writer, first, release, sizes)


def test_alerts_that_arrive_together_are_committed_together_once_each(
    console_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensors = [
        console.authenticate(console_store, console.add_sensor(console_store, f"s-{i}"))
        for i in range(3)
    ]
    assert all(sensors)
    stored = console.record_alert(console_store, sensors[0], alert("sent-before"))
    held = held_writer(console_store, monkeypatch, sensors[0])
    batch = [(s, f"s{i}-{n:04}") for n in range(10) for i, s in enumerate(sensors)] + [
        (sensors[0], "s0-0003"),
        (sensors[0], "sent-before"),
    ]  # a retry within, one from before
    futures = [held.writer.submit(s, alert(a)) for s, a in batch]
    held.release.set()
    results = [f.result(30) for f in [held.first, *futures]]
    assert held.sizes == [1, len(batch)]
    assert [r.created for r in results] == [True] * 31 + [False, False]
    assert results[-2].alert["id"] == results[1 + 3 * 3].alert["id"]  # s0-0003's own id
    assert results[-1].alert["id"] == stored.alert["id"]
    listed = console.list_alerts(console_store, limit=1000)
    assert sorted(a["alert_id"] for a in listed) == sorted(
        {"sent-before", "first-000", *(a for _, a in batch)}
    )


def test_one_bad_alert_fails_only_its_own_sender(
    console_store: Store, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensor = console.authenticate(console_store, token)
    assert sensor is not None
    gone = Sensor(id=999_999, name="gone")  # no such sensor: its row breaks the foreign key
    held = held_writer(console_store, monkeypatch, sensor)
    futures = [held.first]
    futures += [
        held.writer.submit(s, alert(f"alert-{i:04}")) for i, s in enumerate([sensor, gone, sensor])
    ]
    held.release.set()
    assert [f.result(30).created for f in futures[:2]] == [True, True]
    with pytest.raises(IntegrityError):
        futures[2].result(30)
    assert futures[3].result(30).created
    assert held.sizes == [1, 3, 1, 1, 1]  # the failed batch, then each of its alerts alone
    stored = {a["alert_id"] for a in console.list_alerts(console_store)}
    assert stored == {"first-000", "alert-0000", "alert-0002"}


def test_an_acknowledged_alert_is_synced_to_disk(console_store: Store) -> None:
    """Alert transactions run with SQLite's synchronous=FULL (the sensor drops its copy on the
    answer), and give their connection back to the pool with the store's NORMAL."""
    with console_store.engine.connect() as conn:
        with console._synced(conn):
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_alert_batches_on_postgresql(
    postgres_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same batch on PostgreSQL (its own INSERT .. ON CONFLICT, no PRAGMA): each alert
    stored once, a retry within the batch and one from before answered as duplicates."""
    monkeypatch.setenv("HASHSIEVE_DATABASE_URL", postgres_url)
    store = Store(Settings(home=tmp_path / "pg", workers=1))
    try:
        assert store.engine.dialect.name == "postgresql"
        sensor = console.authenticate(store, console.add_sensor(store, "laptop-1"))
        assert sensor is not None
        before = console.record_alert(store, sensor, alert("a-0000000001"))
        ids = ["a-0000000002", "a-0000000003", "a-0000000002", "a-0000000001"]
        results = console.record_alerts(store, [(sensor, alert(a)) for a in ids])
        assert [r.created for r in results] == [True, True, False, False]
        assert results[2].alert["id"] == results[0].alert["id"]
        assert results[3].alert["id"] == before.alert["id"]
        listed = sorted(a["alert_id"] for a in console.list_alerts(store))
        assert listed == ["a-0000000001", "a-0000000002", "a-0000000003"]
    finally:
        store.close()
