"""Two agencies on loopback: A publishes, B subscribes and syncs, B's scan knows what A shares.

Real ``hashsieve serve`` processes and the real command line; a proxy in between plays the
network attacker for the tampering tests, and the real ``threatexchange`` CLI fetches a feed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from hashsieve.access.models import AuditEvent
from hashsieve.exchange import feeds
from hashsieve.exchange.models import Subscription
from hashsieve.exchange.subscriber import subscribe, sync
from hashsieve.index.store_index import StoreIndex
from hashsieve.matching.matcher import Matcher
from hashsieve.store.models import HashEntry, HashSet
from tests.exchange.conftest import CASE_REF, CONTACT, SERIES, Agencies, get

pytestmark = pytest.mark.slow


def _set_values(agencies: Agencies, name: str) -> set[tuple[str, str]]:
    store = agencies.b_store()
    with store.session() as s:
        rows = s.execute(
            select(HashEntry.algorithm, HashEntry.value)
            .join(HashSet, HashSet.id == HashEntry.hashset_id)
            .where(HashSet.name == name)
        ).all()
    store.close()
    return {(a, v.hex()) for a, v in rows}


@pytest.fixture(scope="module")
def subscribed(agencies: Agencies) -> subprocess.CompletedProcess[str]:
    store = agencies.b_store()  # = hashsieve exchange subscribe URL --feed ... (test_cli.py)
    subscribe(store, agencies.a_url, "shared", agencies.a_key, agencies.token, "from-a")
    subscribe(store, agencies.a_url, "series-a", agencies.a_key, agencies.token, "a-series")
    store.close()
    return agencies.cli_b("exchange", "sync", "from-a", "a-series")


def test_init_keeps_the_private_key_private(agencies: Agencies) -> None:
    assert len(agencies.a_key) == 64 and int(agencies.a_key, 16) >= 0
    key_file = agencies.a_home / "exchange" / "ed25519.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert key_file.read_bytes().hex() != agencies.a_key  # the file is the private half


def test_sync_brings_the_feed_over(
    agencies: Agencies, subscribed: subprocess.CompletedProcess[str]
) -> None:
    assert subscribed.returncode == 0, subscribed.stderr
    values = _set_values(agencies, "from-a")
    assert {("md5", h) for h in agencies.md5s} <= values
    assert ("pdq", agencies.pdq) in values
    series = _set_values(agencies, "a-series")
    digest = hashlib.sha256(agencies.series_file).hexdigest()
    assert ("sha256", digest) in series and len(series) == 3  # md5, sha1, sha256; no content


def test_the_pdq_index_learns_the_synced_codes(agencies: Agencies, subscribed: Any) -> None:
    store = agencies.b_store()
    rows, _ids, distances = Matcher(store).query(
        "pdq", np.frombuffer(bytes.fromhex(agencies.pdq), np.uint8).reshape(1, 32), 0
    )
    store.close()
    assert rows.tolist() == [0] and distances.tolist() == [0]


def test_b_scan_knows_what_a_shared_and_who_holds_the_series(
    agencies: Agencies, subscribed: Any
) -> None:
    evidence = agencies.root / "b-evidence"
    evidence.mkdir()
    (evidence / "copy.bin").write_bytes((agencies.root / "known-0.bin").read_bytes())
    (evidence / "holiday.jpg").write_bytes(agencies.series_file)
    (evidence / "other.bin").write_bytes(secrets.token_bytes(300))
    out = agencies.root / "b-scan.jsonl"
    agencies.cli_b("scan", "--case", "b-case", "--workers", "1", "--jsonl", str(out), str(evidence))
    lines = {Path(d["path"]).name: d for d in map(json.loads, out.read_text().splitlines())}
    assert lines["copy.bin"]["verdict"] == "known"
    assert lines["copy.bin"]["matches"][0]["hashset"] == "from-a"
    assert "seen_by" not in lines["copy.bin"]["matches"][0]
    assert lines["other.bin"]["verdict"] == "other"  # matches nothing (not media)
    seen = {m["hashset"]: m.get("seen_by") for m in lines["holiday.jpg"]["matches"]}
    assert {m["hashset"]: m.get("series") for m in lines["holiday.jpg"]["matches"]} == {
        "a-series": SERIES
    }
    assert seen["a-series"] == {"agency": "Agency A", "case_ref": CASE_REF, "contact": CONTACT}

    # The stored rows say it too: the report and the review's file JSON are made from them.
    from hashsieve.report.ordering import file_line, iter_review
    from hashsieve.report.writers import seen_by_text

    store = agencies.b_store()
    rows = {
        Path(f.path_text).name: (file_line(f, m), m)
        for f, m in iter_review(store, store.get_case("b-case").id)
    }
    store.close()
    line, matches = rows["holiday.jpg"]
    assert {m["hashset"]: m.get("seen_by") for m in line["matches"]}["a-series"]["case_ref"] == (
        CASE_REF
    )
    texts = [seen_by_text(m.origin) for m in matches if m.origin]
    assert len(texts) == 3  # its MD5, SHA-1 and SHA-256 all matched
    assert set(texts) == {f"seen by Agency A, case ref {CASE_REF}, contact {CONTACT}"}
    assert line["matches"][0].get("category") == 1


def test_a_removal_upstream_is_gone_downstream_after_sync(
    agencies: Agencies, subscribed: Any
) -> None:
    from hashsieve.sensors.console import hashlist
    from hashsieve.sensors.listcopy import ListCopy

    gone = agencies.md5s[2]
    assert ("md5", gone) in _set_values(agencies, "from-a")
    sensor_copy = ListCopy()  # what B's sensors hold
    store = agencies.b_store()
    sensor_copy.apply(hashlist(store))
    store.close()
    assert sensor_copy.lookup("md5", [bytes.fromhex(gone)])
    store = agencies.a_store()
    feeds.withdraw(store, "shared", "md5", gone)  # = hashsieve exchange withdraw md5 ...
    store.close()
    store = agencies.b_store()
    [result] = sync(store, ["from-a"])  # = hashsieve exchange sync from-a
    store.close()
    assert result.ok
    values = _set_values(agencies, "from-a")
    assert ("md5", gone) not in values
    assert ("md5", agencies.md5s[0]) in values
    store = agencies.b_store()
    with store.session() as s:
        set_id = s.scalar(select(HashSet.id).where(HashSet.name == "from-a"))
    md5_rows = sum(1 for a, _ in values if a == "md5")
    # The MD5 index was updated in place and knows it: no rebuild pending.
    assert (StoreIndex(store, "md5")._saved_state() or {}).get(str(set_id)) == md5_rows
    assert Matcher(store).lookup("md5", [bytes.fromhex(gone)]) == []
    changes = hashlist(store, sensor_copy.version)
    store.close()
    assert changes["remove"]  # the changed set goes, and comes again without the hash
    sensor_copy.apply(changes)
    assert sensor_copy.lookup("md5", [bytes.fromhex(gone)]) == []
    assert sensor_copy.lookup("md5", [bytes.fromhex(agencies.md5s[0])])


def test_serve_syncs_on_its_timer(agencies: Agencies, subscribed: Any) -> None:
    added = secrets.token_hex(16)
    store = agencies.a_store()
    feeds.append(store, "shared", [{"algorithm": "md5", "value": added, "category": 2}], [])
    store.close()
    deadline = time.monotonic() + 90  # B serves with --exchange-sync 1
    while ("md5", added) not in _set_values(agencies, "from-a") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ("md5", added) in _set_values(agencies, "from-a")


def test_a_peer_without_the_feed_is_refused_and_every_page_is_audited(
    agencies: Agencies, subscribed: Any
) -> None:
    feed = f"{agencies.a_url}/api/exchange/feeds/shared"
    assert get(feed, agencies.nosy_token)[0] == 403
    assert get(f"{agencies.a_url}/api/exchange/feeds/nothing-here", agencies.token)[0] == 403
    assert get(feed)[0] == 401
    assert get(feed, "not-a-token")[0] == 401
    assert get(f"{feed}?after=-1", agencies.token)[0] == 422
    assert get(f"{feed}?after={2**63}", agencies.token)[0] == 422
    assert get(f"{feed}?after=999999", agencies.token)[0] == 422  # beyond the feed's end
    status, body = get(f"{agencies.a_url}/api/exchange/feeds", agencies.token)
    assert status == 200
    assert [f["name"] for f in json.loads(body)["feeds"]] == ["series-a", "shared"]

    store = agencies.a_store()
    with store.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action.like("feed-%"))).all()
    store.close()
    pages = [e for e in events if e.action == "feed-page" and e.username == "peer:agency-b"]
    assert pages and all(json.loads(e.new_value or "{}")["feed"] for e in pages)
    refused = [e for e in events if e.action == "feed-refused"]
    assert {e.username for e in refused} >= {"peer:nosy", "peer:agency-b"}
    logged = " ".join(f"{e.username} {e.old_value} {e.new_value}" for e in events)
    assert agencies.token not in logged and agencies.nosy_token not in logged


# --- tampering ---------------------------------------------------------------------------------

#: proxy mode -> what the refusal says
TAMPERING = {
    "flip": "bad signature",
    "truncate": "not JSON",
    "drop-last": "bad signature",
    "reorder": "bad signature",
    "replay": "replayed or reordered",
    "wrong-key": "bad signature",
}


@pytest.fixture(scope="module")
def tampered(agencies: Agencies, subscribed: Any) -> tuple[str, dict[str, tuple[int, int]]]:
    """Subscriptions through the proxy, one per kind of tampering, then one ``sync``; returns its
    stderr and each subscription's (position, entries) before it."""
    store = agencies.b_store()
    for mode in TAMPERING:
        key = agencies.b_key if mode == "wrong-key" else agencies.a_key
        url = f"{agencies.proxy}/{'pass' if mode == 'wrong-key' else mode}"
        subscribe(store, url, "shared", key, agencies.token, f"t-{mode}")
    sync(store, ["t-replay"])  # honest: the first page the replaying proxy sees
    a_store = agencies.a_store()
    fresh = {"algorithm": "md5", "value": secrets.token_hex(16), "category": 1}
    feeds.append(a_store, "shared", [fresh], [])  # something new for the replay to hide
    a_store.close()
    before = {}
    with store.session() as s:
        for sub in s.scalars(select(Subscription).where(Subscription.name.like("t-%"))):
            before[sub.name] = (sub.seq, s.get_one(HashSet, sub.hashset_id).entries)
    store.close()
    result = agencies.cli_b("exchange", "sync", *(f"t-{m}" for m in TAMPERING), check=False)
    assert result.returncode == 1
    return result.stderr, before


@pytest.mark.parametrize("mode", sorted(TAMPERING))
def test_a_tampered_page_is_refused_and_nothing_applied(
    agencies: Agencies, tampered: tuple[str, dict[str, tuple[int, int]]], mode: str
) -> None:
    stderr, before = tampered
    said = " ".join(stderr.split())  # rich wraps long lines
    assert f"t-{mode}: refused:" in said
    assert TAMPERING[mode] in said.split(f"t-{mode}: refused:")[1]
    store = agencies.b_store()
    with store.session() as s:
        sub = s.scalar(select(Subscription).where(Subscription.name == f"t-{mode}"))
        assert sub is not None
        entries = s.get_one(HashSet, sub.hashset_id).entries
        assert (sub.seq, entries) == before[sub.name]
        assert sub.error and TAMPERING[mode] in sub.error
    store.close()
    if mode == "replay":
        assert before[f"t-{mode}"][0] > 0  # it had synced honestly first
    else:
        assert before[f"t-{mode}"] == (0, 0)


# --- python-threatexchange ---------------------------------------------------------------------


def test_threatexchange_cli_fetches_a_feed(agencies: Agencies, subscribed: Any) -> None:
    tx = Path(sys.executable).with_name("threatexchange")
    state = agencies.root / "tx-state"
    env = {
        **os.environ,
        "TX_STATEDIR": str(state),
        "HOME": str(agencies.root / "tx-home"),
        "HASHSIEVE_EXCHANGE_TOKEN": agencies.token,
    }

    def run(*args: str) -> str:
        proc = subprocess.run([str(tx), *args], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    run("config", "extensions", "add", "hashsieve.exchange.pytx")
    run(
        *("config", "collab", "edit", "hashsieve_feed", "agency-a", "--create"),
        *("--url", agencies.a_url, "--feed", "shared", "--publisher-key", agencies.a_key),
    )
    run("fetch")
    signals = run("dataset", "-P")
    assert agencies.pdq in signals
