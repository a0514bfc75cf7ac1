"""The feed protocol against a publisher that signs what it should not, and a sync whose later
page is bad: every such page is refused with its reason, and nothing of the sync is applied.

In-process (no servers): a publisher store signs real pages; ``fetch`` stands for the network.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from hashsieve.config import Settings
from hashsieve.exchange import feeds
from hashsieve.exchange.identity import init_identity, signing_key
from hashsieve.exchange.models import Subscription
from hashsieve.exchange.protocol import (
    FeedRefused,
    Position,
    canonical,
    genesis,
    sign_page,
    verify_page,
)
from hashsieve.exchange.subscriber import subscribe, sync
from hashsieve.store import Store
from hashsieve.store.models import HashSet

FEED = "shared"


def md5(i: int) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


@pytest.fixture
def publisher(tmp_path: Path) -> tuple[Store, SigningKey]:
    store = Store(Settings(home=tmp_path / "a"))
    init_identity(store.settings)
    feeds.ensure_feed(store, FEED, agency="Agency A")
    feeds.append(
        store, FEED, [{"algorithm": "md5", "value": md5(i), "category": 1} for i in range(5)], []
    )
    return store, signing_key(store.settings)


def _page(publisher: tuple[Store, SigningKey], after: int = 0, limit: int = 100) -> dict[str, Any]:
    store, key = publisher
    return feeds.page(store, key, FEED, after, limit)


def _verify(page: dict[str, Any], key: SigningKey, at: Position | None = None) -> Any:
    return verify_page(
        page,
        feed=FEED,
        publisher=key.verify_key.encode().hex(),
        at=at or Position(0, genesis(FEED)),
    )


def test_a_good_page_verifies_and_moves_the_position(
    publisher: tuple[Store, SigningKey],
) -> None:
    page = _page(publisher, limit=3)
    entries, at, head = _verify(page, publisher[1])
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert (at.seq, head) == (3, 5)
    rest, end, _ = _verify(_page(publisher, after=3), publisher[1], at)
    assert [e["seq"] for e in rest] == [4, 5] and end.seq == 5
    # The canonical form is what was signed: a re-encoding with spaces verifies the same.
    _verify(json.loads(json.dumps(page, indent=2)), publisher[1])
    # The served bytes, assembled from the log's stored entries, are that canonical form.
    served = feeds.signed_page(publisher[0], publisher[1], FEED, 0, 3).body
    assert served == canonical(json.loads(served))


def _resigned(page: dict[str, Any], key: SigningKey, change: Callable[[dict[str, Any]], None]):
    """A page the publisher's own key signs after ``change``: what the chain must catch."""
    body = copy.deepcopy(page)
    change(body)
    return sign_page(key, body)


def _swap(p: dict[str, Any]) -> None:
    p["entries"][0], p["entries"][1] = p["entries"][1], p["entries"][0]


def _renumbered_swap(p: dict[str, Any]) -> None:
    _swap(p)
    p["entries"][0]["seq"], p["entries"][1]["seq"] = 1, 2


def _drop(p: dict[str, Any]) -> None:
    p["entries"].pop()


def _drop_and_claim_less(p: dict[str, Any]) -> None:
    p["entries"].pop()
    p["last"] -= 1


def _alter_value(p: dict[str, Any]) -> None:
    p["entries"][2]["value"] = md5(99)


def _other_feed(p: dict[str, Any]) -> None:
    p["feed"] = "other"


def _extra_field(p: dict[str, Any]) -> None:
    p["entries"][0]["content"] = "aGVsbG8="


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_swap, "out of order"),
        (_renumbered_swap, "do not hash to the page's chain"),
        (_drop, "truncated page"),
        (_drop_and_claim_less, "do not hash to the page's chain"),
        (_alter_value, "do not hash to the page's chain"),
        (_other_feed, "is of feed 'other'"),
        (_extra_field, "unexpected fields"),
    ],
)
def test_a_signed_but_wrong_page_is_refused_by_the_chain(
    publisher: tuple[Store, SigningKey], change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    page = _resigned(_page(publisher), publisher[1], change)
    with pytest.raises(FeedRefused, match=reason):
        _verify(page, publisher[1])


def test_a_page_that_does_not_start_where_the_copy_stands_is_refused(
    publisher: tuple[Store, SigningKey],
) -> None:
    first = _page(publisher, limit=3)
    _, at, _ = _verify(first, publisher[1])
    with pytest.raises(FeedRefused, match="replayed or reordered"):
        _verify(first, publisher[1], at)  # the same page again
    forked = Position(at.seq, "00" * 32, at.issued_at)  # a history the publisher rewrote
    with pytest.raises(FeedRefused, match="history was rewritten"):
        _verify(_page(publisher, after=3), publisher[1], forked)


def test_a_page_issued_before_the_last_accepted_is_a_replay(
    publisher: tuple[Store, SigningKey],
) -> None:
    page = _page(publisher, limit=3)
    _, at, _ = _verify(page, publisher[1])
    later = Position(at.seq, at.chain, "9999-01-01T00:00:00.000000Z")
    with pytest.raises(FeedRefused, match="issued before"):
        _verify(_page(publisher, after=3), publisher[1], later)


def test_another_key_is_refused(publisher: tuple[Store, SigningKey]) -> None:
    page = _page(publisher)
    with pytest.raises(FeedRefused, match="bad signature"):
        _verify(page, SigningKey.generate())
    forged = sign_page(SigningKey.generate(), {k: v for k, v in page.items() if k != "signature"})
    with pytest.raises(FeedRefused, match="bad signature"):
        _verify(forged, publisher[1])


def test_a_bad_later_page_leaves_the_whole_sync_unapplied(
    publisher: tuple[Store, SigningKey], tmp_path: Path
) -> None:
    store_a, key = publisher
    b = Store(Settings(home=tmp_path / "b"))
    sub = subscribe(b, "http://127.0.0.1:9", FEED, key.verify_key.encode().hex(), "t", "from-a")
    calls: list[int] = []

    def fetch(_sub: Subscription, feed: str, after: int) -> bytes:
        calls.append(after)
        body = canonical(feeds.page(store_a, key, feed, after, 2))
        if after == 2:  # the second page: one flipped bit
            at = body.index(b'"value":"') + 12
            body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
        return body

    [result] = sync(b, fetch=fetch)
    assert calls == [0, 2] and not result.ok and "bad signature" in (result.error or "")
    with b.session() as s:
        row = s.get_one(Subscription, sub.id)
        assert (row.seq, s.get_one(HashSet, row.hashset_id).entries) == (0, 0)

    [result] = sync(
        b, fetch=lambda _s, feed, after: canonical(feeds.page(store_a, key, feed, after, 2))
    )
    assert result.ok and (result.added, result.seq) == (5, 5)


def test_a_republished_set_becomes_removals_and_additions(tmp_path: Path) -> None:
    from hashsieve.hashsets.catalogue import import_hashset

    store = Store(Settings(home=tmp_path / "a"))
    (tmp_path / "v1.md5").write_text("".join(f"{md5(i)}\n" for i in range(4)))
    (tmp_path / "v2.md5").write_text("".join(f"{md5(i)}\n" for i in range(2, 6)))
    import_hashset(store, tmp_path / "v1.md5", "v1", category=1, algorithm="md5")
    import_hashset(store, tmp_path / "v2.md5", "v2", category=1, algorithm="md5")
    first = feeds.publish_hashset(store, "v1", "list")
    assert (first.added, first.removed, first.seq) == (4, 0, 4)
    again = feeds.publish_hashset(store, "v1", "list")
    assert (again.added, again.removed, again.seq) == (0, 0, 4)  # nothing changed: nothing new
    live = {f["name"]: f["entries"] for f in feeds.list_feeds(store)}
    assert live == {"list": 4}
    feeds.publish_hashset(store, "v2", "list")
    ops = [
        (e["op"], e["value"])
        for e in feeds.page(store, SigningKey.generate(), "list", 4)["entries"]
    ]
    # Entries of lines 2 and 3 moved to other lines of v2 ("v2.md5:1"): removed and added again.
    assert ("remove", md5(0)) in ops and ("remove", md5(1)) in ops
    assert ("add", md5(4)) in ops and ("add", md5(5)) in ops
    assert {f["name"]: f["entries"] for f in feeds.list_feeds(store)} == {"list": 4}


def test_a_sensor_alert_on_a_shared_entry_says_who_else_holds_it(
    publisher: tuple[Store, SigningKey], tmp_path: Path
) -> None:
    from sqlalchemy import select

    from hashsieve.sensors.console import add_sensor, authenticate, record_alert
    from hashsieve.store.models import HashEntry

    store_a, key = publisher
    origin = {"agency": "Agency A", "case_ref": "A-1", "contact": "desk 7"}
    value = md5(42)
    feeds.append(store_a, FEED, [{"algorithm": "md5", "value": value, "origin": origin}], [])
    b = Store(Settings(home=tmp_path / "b"))
    subscribe(b, "http://127.0.0.1:9", FEED, key.verify_key.encode().hex(), "t", "from-a")
    [result] = sync(
        b, fetch=lambda _s, feed, after: canonical(feeds.page(store_a, key, feed, after))
    )
    assert result.ok
    with b.session() as s:
        entry_id = s.scalar(select(HashEntry.id).where(HashEntry.value == bytes.fromhex(value)))
    sensor = authenticate(b, add_sensor(b, "laptop-1"))
    assert sensor is not None
    alert = record_alert(
        b,
        sensor,
        {
            "alert_id": "alert-0001",
            "hashes": {"md5": value},
            "matches": [{"entry_id": entry_id, "algorithm": "md5", "distance": 0}],
        },
    ).alert
    assert alert["hashset"] == "from-a"
    assert alert["detail"]["matches"][0]["seen_by"] == origin
