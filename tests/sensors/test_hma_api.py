"""The HMA-shaped match API (OpenMediaMatch's ``/m/raw_lookup`` and ``/m/lookup``): sensor
tokens, planted hashes found exactly and near, unrelated ones missed, bad input a 422."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from hashsieve import import_hashset
from hashsieve.access.auth import add_user
from hashsieve.access.models import AuditEvent
from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_with_dihedral
from hashsieve.sensors import console, hma
from hashsieve.store import Store
from hashsieve.store.models import HashEntry, HashSet
from hashsieve.web.app import create_app
from tests.sensors.conftest import PASSWORD, Media, free_port, write_sets

ROUTES = ["/m/raw_lookup", "/m/lookup"]


@pytest.fixture(scope="module")
def console_store(tmp_path_factory: pytest.TempPathFactory, media: Media) -> Iterator[Store]:
    """One console for the module (the sensors' fixture, made once: users cost an argon2 hash)."""
    home = tmp_path_factory.mktemp("hma")
    store = Store(Settings(home=home / "console", workers=1))
    md5s, pdqs = write_sets(home / "sets", media)
    import_hashset(store, md5s, "known-md5", category=1)
    import_hashset(store, pdqs, "known-pdq", category=2)
    add_user(store, "root", PASSWORD, "admin")
    yield store
    store.close()


@pytest.fixture(scope="module")
def token(console_store: Store) -> str:
    return console.add_sensor(console_store, "laptop-1")


@pytest.fixture(scope="module")
def client(console_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(console_store)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def planted_pdq(media: Media) -> str:
    return pdq_with_dihedral(Image.open(io.BytesIO(media.known_pdq)).convert("RGB"))[0].hex


def entry_id(store: Store, hashset: str, algorithm: str) -> int:
    with store.session() as s:
        found = s.scalar(
            select(HashEntry.id)
            .join(HashSet, HashSet.id == HashEntry.hashset_id)
            .where((HashSet.name == hashset) & (HashEntry.algorithm == algorithm))
        )
    assert found is not None
    return int(found)


def flipped(code: str, bits: int) -> str:
    """``code`` with its first ``bits`` bits inverted: exactly that Hamming distance away."""
    value = int(code, 16) ^ ((1 << 256) - 1) ^ ((1 << (256 - bits)) - 1)
    return f"{value:064x}"


def get(client: TestClient, route: str, token: str, **params: Any) -> Any:
    return client.get(route, params=params, headers=bearer(token))


@pytest.mark.parametrize("distance", [0, 12, 31])
def test_raw_lookup_finds_the_planted_pdq_within_the_threshold(
    client: TestClient, console_store: Store, token: str, media: Media, distance: int
) -> None:
    signal = flipped(planted_pdq(media), distance)
    r = get(client, "/m/raw_lookup", token, signal=signal, signal_type="pdq")
    assert r.status_code == 200, r.text
    expected = entry_id(console_store, "known-pdq", "pdq")
    assert r.json() == {"matches": [expected]}
    r = get(
        client,
        "/m/raw_lookup",
        token,
        signal=signal,
        signal_type="pdq",
        include_distance="true",
    )
    assert r.json() == {"matches": [{"bank_content_id": expected, "distance": str(distance)}]}


def test_lookup_answers_banks_as_hma_does(
    client: TestClient, console_store: Store, token: str, media: Media
) -> None:
    signal = flipped(planted_pdq(media), 7)
    r = get(client, "/m/lookup", token, signal=signal, signal_type="pdq", seed="abc")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "known-pdq": [
            {"bank_content_id": entry_id(console_store, "known-pdq", "pdq"), "distance": "7"}
        ]
    }
    # Restricted to other banks: nothing.
    r = get(client, "/m/lookup", token, signal=signal, signal_type="pdq", banks="known-md5")
    assert r.json() == {}


@pytest.mark.parametrize("signal_type", ["video_md5", "md5"])
def test_a_listed_md5_is_found_by_hma_s_name_and_ours(
    client: TestClient, console_store: Store, token: str, media: Media, signal_type: str
) -> None:
    signal = hashlib.md5(media.known_md5).hexdigest().upper()
    r = get(client, "/m/lookup", token, signal=signal, signal_type=signal_type)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "known-md5": [
            {"bank_content_id": entry_id(console_store, "known-md5", "md5"), "distance": "0"}
        ]
    }


@pytest.mark.parametrize(
    ("signal", "signal_type"),
    [
        ("far", "pdq"),  # 32 bits from the planted code: past the threshold
        (hashlib.md5(b"unrelated").hexdigest(), "md5"),
        (hashlib.sha256(b"unrelated").hexdigest(), "sha256"),
    ],
)
def test_unrelated_hashes_are_missed(
    client: TestClient, token: str, media: Media, signal: str, signal_type: str
) -> None:
    if signal == "far":
        signal = flipped(planted_pdq(media), 32)
    r = get(client, "/m/raw_lookup", token, signal=signal, signal_type=signal_type)
    assert r.status_code == 200, r.text
    assert r.json() == {"matches": []}
    assert get(client, "/m/lookup", token, signal=signal, signal_type=signal_type).json() == {}


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}],
    ids=["none", "wrong", "basic"],
)
def test_a_token_is_needed(client: TestClient, url: str, headers: dict[str, str]) -> None:
    r = client.get(url, params={"signal": "0" * 64, "signal_type": "pdq"}, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_stops_working(
    client: TestClient, console_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = console.add_sensor(console_store, "laptop-2")
    params = {"signal": "0" * 64, "signal_type": "pdq"}
    assert client.get("/m/raw_lookup", params=params, headers=bearer(token)).status_code == 200
    console.revoke_sensor(console_store, "laptop-2")
    monkeypatch.setattr(hma, "TOKEN_TTL", 0.0)  # else trusted for up to TOKEN_TTL seconds
    assert client.get("/m/raw_lookup", params=params, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("url", ROUTES)
@pytest.mark.parametrize(
    ("signal", "signal_type", "says"),
    [
        ("zz" * 32, "pdq", "64 hexadecimal digits"),
        ("ab" * 31, "pdq", "64 hexadecimal digits"),
        ("0" * 31, "md5", "32 hexadecimal digits"),
        ("0" * 64, "photodna", "No such SignalType"),
        ("0x" + "0" * 62, "pdq", "64 hexadecimal digits"),
    ],
)
def test_a_malformed_signal_is_a_422_that_says_why(
    client: TestClient, token: str, url: str, signal: str, signal_type: str, says: str
) -> None:
    r = get(client, url, token, signal=signal, signal_type=signal_type)
    assert r.status_code == 422
    assert says in r.json()["detail"]


def test_missing_parameters_and_urls_are_refused(client: TestClient, token: str) -> None:
    assert get(client, "/m/raw_lookup", token, signal_type="pdq").status_code == 422
    assert get(client, "/m/lookup", token, signal="0" * 64).status_code == 422
    r = get(client, "/m/lookup", token, url="http://example.invalid/x.jpg")
    assert r.status_code == 403  # hashsieve fetches no content for a caller


def test_lookups_are_audited_with_the_sensor_and_the_hash(
    client: TestClient, console_store: Store, token: str, media: Media
) -> None:
    signal = planted_pdq(media)
    get(client, "/m/raw_lookup", token, signal=signal, signal_type="pdq")
    get(client, "/m/lookup", token, signal="1" * 32, signal_type="md5")
    service: hma.LookupService = client.app.state.hma  # type: ignore[attr-defined]
    service.flush()
    with console_store.session() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "hma-lookup")))
    seen = {(e.username, e.field, e.new_value) for e in events}
    assert ("sensor:laptop-1", "pdq", f'{{"signal": "{signal}", "matches": 1}}') in seen
    assert ("sensor:laptop-1", "md5", f'{{"signal": "{"1" * 32}", "matches": 0}}') in seen


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    r = client.post("/api/login", json={"username": "root", "password": PASSWORD})
    assert r.status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for url in ROUTES:
        params = {p["name"] for p in paths[url]["get"]["parameters"]}
        assert {"signal", "signal_type", "banks"} <= params
    assert "include_distance" in {p["name"] for p in paths["/m/raw_lookup"]["get"]["parameters"]}


def test_the_fast_path_answers_as_the_routes_do(
    client: TestClient, console_store: Store, token: str, media: Media
) -> None:
    from fastapi import FastAPI

    routes_only = FastAPI()
    routes_only.state.store = console_store
    routes_only.include_router(hma.router)
    pdq = planted_pdq(media)
    md5 = hashlib.md5(media.known_md5).hexdigest()
    cases = [
        ("/m/raw_lookup", {"signal": pdq, "signal_type": "pdq"}),
        (
            "/m/raw_lookup",
            {"signal": flipped(pdq, 9), "signal_type": "pdq", "include_distance": "1"},
        ),
        ("/m/raw_lookup", {"signal": flipped(pdq, 40), "signal_type": "pdq"}),
        ("/m/lookup", {"signal": flipped(pdq, 3), "signal_type": "pdq"}),
        ("/m/lookup", {"signal": md5, "signal_type": "video_md5", "banks": "known-md5,x"}),
        ("/m/lookup", {"signal": md5, "signal_type": "md5", "banks": "known-pdq"}),
    ]
    get(client, *cases[0][:1], token, **cases[0][1])  # the service starts on a first lookup
    with TestClient(routes_only) as plain:
        for route, params in cases:
            fast = get(client, route, token, **params)
            slow = get(plain, route, token, **params)
            assert fast.status_code == slow.status_code == 200
            assert fast.json() == slow.json()
            # Answered by the fast path (its own CSP), with the headers every answer has.
            assert fast.headers["content-security-policy"].startswith("default-src 'none'")
            assert fast.headers["cache-control"] == "no-store"
            assert fast.headers["x-content-type-options"] == "nosniff"


def test_a_hash_set_imported_later_is_found_after_the_refresh(
    client: TestClient, console_store: Store, token: str, tmp_path: Any
) -> None:
    code = flipped("0" * 64, 100)
    get(client, "/m/raw_lookup", token, signal=code, signal_type="pdq")  # the service is up
    listing = tmp_path / "later.txt"
    listing.write_text(f"# algorithm: pdq\n{code}\n")
    import_hashset(console_store, listing, "later-pdq", category=1)
    service: hma.LookupService = client.app.state.hma  # type: ignore[attr-defined]
    service._refresh()  # what the background check does every REFRESH_EVERY seconds
    r = get(client, "/m/lookup", token, signal=code, signal_type="pdq")
    assert r.json() == {
        "later-pdq": [
            {"bank_content_id": entry_id(console_store, "later-pdq", "pdq"), "distance": "0"}
        ]
    }


def test_serve_workers_share_the_port_audit_every_lookup_and_stop_together(
    console_store: Store, token: str, media: Media
) -> None:
    """``serve --workers 2``: two processes answer on one port (each connection to one of them),
    every lookup reaches the audit log, and the second process stops with the first."""
    signal = flipped(planted_pdq(media), 5)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hashsieve.cli", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, "HASHSIEVE_HOME": str(console_store.settings.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/m/raw_lookup?signal_type=pdq&signal={signal}"
    answers: list[Any] = []
    try:
        deadline = time.monotonic() + 120
        while not answers and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            with contextlib.suppress(OSError):
                answers.append(_fetch(url, token))
            time.sleep(0.2)
        answers += [_fetch(url, token) for _ in range(11)]  # a new connection each
        children = [
            int(pid)
            for task in Path(f"/proc/{proc.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    pdq_id = entry_id(console_store, "known-pdq", "pdq")
    assert answers == [{"matches": [pdq_id]}] * 12
    assert len(children) == 1
    assert not Path(f"/proc/{children[0]}").exists()  # reaped by the primary before it ended
    with console_store.session() as s:
        audited = s.scalars(
            select(AuditEvent.new_value).where(
                (AuditEvent.action == "hma-lookup") & AuditEvent.new_value.contains(signal)
            )
        ).all()
    assert len(audited) == 12


def _fetch(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers=bearer(token))
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)
