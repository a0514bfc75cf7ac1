"""The publishing side: feeds (append-only logs of additions and removals), peers, signed pages.

A feed is made equal to a source — a hash set, or a reviewed series of a case — by appending
the difference: an addition for each entry the feed lacks, a removal for each it no longer has.
Nothing in the log is rewritten (only the ``live`` flag of an addition that a later removal took
away), so a sequence number means the same entry forever and every page a peer fetched stays
verifiable. Entries carry hashes, categories and provenance, never content nor evidence paths.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import func, insert, select, update

from hashsieve.errors import HashsieveError
from hashsieve.exchange.models import Feed, Grant, LogEntry, Peer
from hashsieve.exchange.protocol import (
    ADD,
    KEY_FIELDS,
    ORIGIN_FIELDS,
    PAGE_DOMAIN,
    PAGE_FORMAT,
    REMOVE,
    canonical,
    genesis,
    link,
    now_iso,
    parse_public_key,
)
from hashsieve.hashsets.base import STORED_HEX_LENGTHS
from hashsieve.review.models import Decision
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, HashEntry, HashSet, utcnow

#: Entries per page unless the peer asks for fewer; the most a page holds.
PAGE_DEFAULT = 20_000
PAGE_MAX = 100_000
_CHUNK = 500  # values per IN (...) query
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

Key = tuple[Any, ...]


class FeedError(HashsieveError):
    """A feed, peer or source that does not exist, exists already, or cannot be published."""


def entry_key(entry: dict[str, Any]) -> Key:
    """Which entry of a feed an addition is, and a removal takes away."""
    return tuple(entry.get(f) for f in KEY_FIELDS)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None and v != {}}


def entry_record(row: Any, origin: dict[str, str] | None = None) -> dict[str, Any]:
    """A hash entry (a HashEntry-like row) as a feed carries it: hashes, category, provenance."""
    stored_origin = json.loads(row.origin) if getattr(row, "origin", None) else None
    return _clean(
        {
            "algorithm": row.algorithm,
            "value": row.value.hex(),
            "category": row.category,
            "series": row.series,
            "entry": row.entry,
            "victim": row.victim_identified,
            "item": row.item,
            "seconds": repr(float(row.seconds)) if row.seconds is not None else None,
            "frame": row.frame,
            "quality": row.quality,
            "part": row.part,
            "origin": origin or stored_origin,
        }
    )


# --- feeds -------------------------------------------------------------------------------------


def _check_name(name: str, what: str) -> str:
    import re

    if not re.match(NAME_PATTERN, name):
        raise FeedError(f"a {what} name is 1-100 letters, digits, '_', '.' or '-': {name!r}")
    return name


def ensure_feed(store: Store, name: str, *, agency: str | None = None) -> Feed:
    _check_name(name, "feed")
    with store.session() as s:
        feed = s.scalar(select(Feed).where(Feed.name == name))
        if feed is None:
            feed = Feed(name=name, agency=agency, last_seq=0, head=genesis(name))
            s.add(feed)
            s.flush()
        elif agency is not None:
            feed.agency = agency
        return feed


def get_feed(store: Store, name: str) -> Feed:
    with store.session() as s:
        feed = s.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        raise FeedError(f"no feed named {name!r}")
    return feed


def list_feeds(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        live = dict(
            s.execute(
                select(LogEntry.feed_id, func.count())
                .where(LogEntry.live.is_(True))
                .group_by(LogEntry.feed_id)
            ).all()
        )
        return [
            {"name": f.name, "agency": f.agency, "seq": f.last_seq, "entries": live.get(f.id, 0)}
            for f in s.scalars(select(Feed).order_by(Feed.name))
        ]


def _live(store: Store, feed_id: int) -> dict[Key, tuple[int, dict[str, Any]]]:
    """The feed's current content: key -> (seq of its addition, the entry without seq/op)."""
    out: dict[Key, tuple[int, dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(LogEntry.seq, LogEntry.record)
            .where((LogEntry.feed_id == feed_id) & LogEntry.live.is_(True))
            .execution_options(yield_per=50_000)
        )
        for seq, text in rows:
            entry = json.loads(text)
            del entry["seq"], entry["op"]
            out[entry_key(entry)] = (seq, entry)
    return out


@dataclass(frozen=True, slots=True)
class Published:
    feed: str
    added: int
    removed: int
    seq: int


def append(
    store: Store, feed_name: str, additions: Iterable[dict[str, Any]], removals: Iterable[Key]
) -> Published:
    """Append removals (of live entries, by key) then additions to a feed, in one transaction.

    A removal of a key the feed does not hold is ignored; so is an addition equal to a live
    entry. The fast path of a publisher that knows its changes (the bench, a withdrawn hash).
    """
    feed = get_feed(store, feed_name)
    removals = list(dict.fromkeys(removals))
    additions = list(additions)
    for record in additions:
        _check_record(record)
    with store.session() as s:
        feed = s.get_one(Feed, feed.id)
        live = _live_of(
            s, feed.id, [k[:2] for k in removals] + [entry_key(r)[:2] for r in additions]
        )
        seq, chain = feed.last_seq, feed.head
        rows: list[dict[str, Any]] = []
        dead: list[int] = []
        removed = 0
        for key in removals:
            found = live.pop(key, None)
            if found is None:
                continue
            dead.append(found[0])
            seq += 1
            entry = _clean({"seq": seq, "op": REMOVE, **dict(zip(KEY_FIELDS, key, strict=True))})
            chain = link(chain, entry)
            rows.append(_row(feed.id, entry, chain, live=False))
            removed += 1
        added = 0
        for record in additions:
            key = entry_key(record)
            if key in live and live[key][1] == record:
                continue
            if key in live:  # the same hash with other facts: replace it
                dead.append(live.pop(key)[0])
                seq += 1
                entry = _clean(
                    {"seq": seq, "op": REMOVE, **dict(zip(KEY_FIELDS, key, strict=True))}
                )
                chain = link(chain, entry)
                rows.append(_row(feed.id, entry, chain, live=False))
                removed += 1
            seq += 1
            entry = {"seq": seq, "op": ADD, **record}
            chain = link(chain, entry)
            rows.append(_row(feed.id, entry, chain, live=True))
            live[key] = (seq, record)
            added += 1
        for start in range(0, len(dead), _CHUNK):
            s.execute(
                update(LogEntry)
                .where(
                    (LogEntry.feed_id == feed.id) & LogEntry.seq.in_(dead[start : start + _CHUNK])
                )
                .values(live=False)
            )
        if rows:
            s.execute(insert(LogEntry), rows)
        feed.last_seq, feed.head = seq, chain
    return Published(feed_name, added, removed, seq)


def _live_of(
    s: Any, feed_id: int, pairs: list[tuple[Any, ...]]
) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Live entries of the feed among (algorithm, value hex) pairs (indexed lookups)."""
    out: dict[Key, tuple[int, dict[str, Any]]] = {}
    by_algo: dict[str, set[bytes]] = {}
    for algorithm, value in pairs:
        by_algo.setdefault(algorithm, set()).add(bytes.fromhex(value))
    for algorithm, values in by_algo.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), _CHUNK):
            for seq, text in s.execute(
                select(LogEntry.seq, LogEntry.record).where(
                    (LogEntry.feed_id == feed_id)
                    & (LogEntry.algorithm == algorithm)
                    & LogEntry.value.in_(ordered[start : start + _CHUNK])
                    & LogEntry.live.is_(True)
                )
            ):
                entry = json.loads(text)
                del entry["seq"], entry["op"]
                out[entry_key(entry)] = (seq, entry)
    return out


def _row(feed_id: int, entry: dict[str, Any], chain: str, *, live: bool) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "seq": entry["seq"],
        "op": entry["op"],
        "algorithm": entry["algorithm"],
        "value": bytes.fromhex(entry["value"]),
        "record": canonical(entry).decode(),
        "chain": chain,
        "live": live,
    }


def _check_record(record: dict[str, Any]) -> None:
    algorithm, value = record.get("algorithm"), record.get("value")
    if algorithm not in STORED_HEX_LENGTHS or not isinstance(value, str):
        raise FeedError(f"not a hash a feed can carry: {algorithm!r}")
    if len(value) != STORED_HEX_LENGTHS[algorithm]:
        raise FeedError(f"{algorithm} needs {STORED_HEX_LENGTHS[algorithm]} hex digits")


def sync_feed(
    store: Store,
    feed_name: str,
    records: Iterable[dict[str, Any]],
    *,
    scope: Any = None,
    agency: str | None = None,
) -> Published:
    """Make the feed hold exactly ``records`` (among the live entries ``scope`` selects, all by
    default): removals for what is gone, additions for what is new or changed."""
    feed = ensure_feed(store, feed_name, agency=agency)
    live = _live(store, feed.id)
    wanted: dict[Key, dict[str, Any]] = {}
    for record in records:
        _check_record(record)
        wanted.setdefault(entry_key(record), record)
    gone = [k for k, (_, e) in live.items() if k not in wanted and (scope is None or scope(e))]
    new = [r for k, r in wanted.items() if k not in live or live[k][1] != r]
    return append(store, feed_name, new, gone)


def publish_hashset(
    store: Store, set_names: str | Sequence[str], feed_name: str, *, agency: str | None = None
) -> Published:
    """Publish stored hash sets as ``feed_name``: the feed holds their union from now on (their
    reference parts too: peers match crops)."""
    ids = []
    with store.session() as s:
        for set_name in [set_names] if isinstance(set_names, str) else set_names:
            hs = s.scalar(select(HashSet).where(HashSet.name == set_name))
            if hs is None:
                raise FeedError(f"no hash set named {set_name!r}")
            if not hs.complete:
                raise FeedError(f"hash set {set_name!r} is not completely imported")
            ids.append(hs.id)
    records = (r for hashset_id in ids for r in _set_records(store, hashset_id))
    return sync_feed(store, feed_name, records, agency=agency)


def _set_records(store: Store, hashset_id: int) -> Iterator[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                HashEntry.algorithm,
                HashEntry.value,
                HashEntry.category,
                HashEntry.series,
                HashEntry.entry,
                HashEntry.victim_identified,
                HashEntry.item,
                HashEntry.seconds,
                HashEntry.frame,
                HashEntry.quality,
                HashEntry.part,
                HashEntry.origin,
            )
            .where(HashEntry.hashset_id == hashset_id)
            .order_by(HashEntry.id)
            .execution_options(yield_per=50_000)
        )
        for row in rows:
            yield entry_record(row)


def series_records(
    store: Store, case_name: str, series: str, origin: dict[str, str]
) -> list[dict[str, Any]]:
    """The hashes of every file of ``case_name`` that reviewers put in ``series``: digests and
    the PDQ code (when its quality allows matching), the reviewers' category, ``origin`` (agency,
    case reference, contact). No path, no content."""
    from hashsieve.config import PDQ_MIN_QUALITY

    with store.session() as s:
        case = s.scalar(select(Case).where(Case.name == case_name))
        if case is None:
            raise FeedError(f"no case named {case_name!r}")
        rows = s.execute(
            select(
                FileRecord.md5,
                FileRecord.sha1,
                FileRecord.sha256,
                FileRecord.pdq,
                FileRecord.quality,
                Decision.category,
                Decision.victim_identified,
            )
            .join(
                Decision,
                (Decision.case_id == FileRecord.case_id) & (Decision.sha256 == FileRecord.sha256),
            )
            .where((FileRecord.case_id == case.id) & (Decision.series == series))
            .order_by(FileRecord.sha256)
        ).all()
    if not rows:
        raise FeedError(f"no file of case {case_name!r} is in series {series!r}")
    origin = {k: v for k, v in origin.items() if k in ORIGIN_FIELDS and v}
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for md5, sha1, sha256, pdq, quality, category, victim in rows:
        hashes = [("md5", md5), ("sha1", sha1), ("sha256", sha256)]
        if pdq and (quality or 0) >= PDQ_MIN_QUALITY:
            hashes.append(("pdq", pdq))
        for algorithm, value in hashes:
            if not value or (algorithm, value) in seen:
                continue
            seen.add((algorithm, value))
            out.append(
                _clean(
                    {
                        "algorithm": algorithm,
                        "value": value.lower(),
                        "category": category,
                        "series": series,
                        "entry": f"series {series}",
                        "victim": victim,
                        "quality": quality if algorithm == "pdq" else None,
                        "origin": origin,
                    }
                )
            )
    return out


def publish_series(
    store: Store,
    case_name: str,
    series: str,
    feed_name: str,
    *,
    case_ref: str,
    contact: str,
    agency: str | None = None,
) -> Published:
    """Publish a reviewed series as part of ``feed_name`` (deconfliction): its entries replace
    the feed's earlier entries of the same series; other series in the feed stay."""
    feed = ensure_feed(store, feed_name, agency=agency)
    origin = {"agency": agency or feed.agency or "", "case_ref": case_ref, "contact": contact}
    records = series_records(store, case_name, series, origin)
    return sync_feed(
        store, feed_name, records, scope=lambda e: e.get("series") == series, agency=agency
    )


def withdraw(store: Store, feed_name: str, algorithm: str, value: str) -> Published:
    """Remove every live entry of one hash from a feed (a hash shared by mistake)."""
    feed = get_feed(store, feed_name)
    with store.session() as s:
        live = _live_of(s, feed.id, [(algorithm, value.lower())])
    return append(store, feed_name, [], list(live))


# --- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedPage:
    """A page as served: its canonical bytes (signature included), its last sequence number
    and how many entries it holds."""

    body: bytes
    last: int
    entries: int


def page(
    store: Store, key: SigningKey, feed_name: str, after: int, limit: int = PAGE_DEFAULT
) -> dict[str, Any]:
    """The signed page of the entries after ``after`` (at most ``limit``), as a dict."""
    result: dict[str, Any] = json.loads(signed_page(store, key, feed_name, after, limit).body)
    return result


def signed_page(
    store: Store, key: SigningKey, feed_name: str, after: int, limit: int = PAGE_DEFAULT
) -> SignedPage:
    """The signed page of the entries after ``after`` (at most ``limit``), in canonical bytes.

    The log keeps each entry in its canonical form, so the page is assembled from them as they
    are (no entry is parsed or encoded again): the same bytes as ``canonical(page)``, whose keys
    ``entries`` sits among in sorted order and ``signature`` sorts last.
    """
    limit = max(1, min(limit, PAGE_MAX))
    with store.session() as s:
        feed = s.scalar(select(Feed).where(Feed.name == feed_name))
        if feed is None:
            raise FeedError(f"no feed named {feed_name!r}")
        if after > feed.last_seq:
            raise FeedError(
                f"feed {feed_name!r} ends at {feed.last_seq}; after={after} is beyond it"
            )
        prev = (
            genesis(feed.name)
            if after == 0
            else s.scalar(
                select(LogEntry.chain).where(
                    (LogEntry.feed_id == feed.id) & (LogEntry.seq == after)
                )
            )
        )
        rows = s.execute(
            select(LogEntry.record, LogEntry.chain)
            .where((LogEntry.feed_id == feed.id) & (LogEntry.seq > after))
            .order_by(LogEntry.seq)
            .limit(limit)
        ).all()
        head, agency = feed.last_seq, feed.agency
    body: dict[str, Any] = {
        "format": PAGE_FORMAT,
        "feed": feed_name,
        "publisher": key.verify_key.encode().hex(),
        "agency": agency,
        "after": after,
        "last": after + len(rows),
        "head": head,
        "prev": prev,
        "chain": rows[-1].chain if rows else prev,
        "issued_at": now_iso(),
        "entries": [],
    }
    text = canonical(body)
    marker = b'"entries":[]'  # a string value cannot hold it: its quotes would be escaped
    at = text.index(marker) + len(marker) - 1
    text = text[:at] + b",".join(r.record.encode() for r in rows) + text[at:]
    signature = key.sign(PAGE_DOMAIN + text).signature.hex().encode()
    return SignedPage(
        text[:-1] + b',"signature":"' + signature + b'"}', after + len(rows), len(rows)
    )


# --- peers -------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_peer(store: Store, name: str, public_key: str, feeds: Iterable[str] = ()) -> str:
    """Admit peer ``name`` (its public key pinned); returns its bearer token, shown only now
    and stored hashed. ``feeds`` are given to it at once."""
    _check_name(name, "peer")
    key = parse_public_key(public_key).encode().hex()
    token = secrets.token_urlsafe(32)
    with store.session() as s:
        if s.scalar(select(Peer.id).where(Peer.name == name)) is not None:
            raise FeedError(f"a peer named {name!r} exists")
        s.add(Peer(name=name, public_key=key, token_hash=_token_hash(token)))
    for feed in feeds:
        grant(store, name, feed)
    return token


def grant(store: Store, peer_name: str, feed_name: str) -> None:
    """Give a peer one feed (idempotent)."""
    feed = get_feed(store, feed_name)
    with store.session() as s:
        peer = s.scalar(select(Peer).where(Peer.name == peer_name))
        if peer is None:
            raise FeedError(f"no peer named {peer_name!r}")
        if s.get(Grant, (peer.id, feed.id)) is None:
            s.add(Grant(peer_id=peer.id, feed_id=feed.id))


def revoke_peer(store: Store, name: str) -> None:
    with store.session() as s:
        peer = s.scalar(select(Peer).where(Peer.name == name))
        if peer is None:
            raise FeedError(f"no peer named {name!r}")
        peer.revoked_at = peer.revoked_at or utcnow()


def list_peers(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        feeds: dict[int, list[str]] = {}
        for peer_id, feed in s.execute(
            select(Grant.peer_id, Feed.name).join(Feed, Feed.id == Grant.feed_id)
        ):
            feeds.setdefault(peer_id, []).append(feed)
        return [
            {
                "name": p.name,
                "public_key": p.public_key,
                "feeds": sorted(feeds.get(p.id, [])),
                "revoked": p.revoked_at is not None,
                "last_seen": p.last_seen.isoformat(timespec="seconds") if p.last_seen else None,
            }
            for p in s.scalars(select(Peer).order_by(Peer.name))
        ]


def authenticate(store: Store, token: str | None) -> Peer | None:
    """The live peer holding ``token``, or None (unknown or revoked)."""
    if not token:
        return None
    digest = _token_hash(token)
    with store.session() as s:
        peer = s.scalar(select(Peer).where(Peer.token_hash == digest))
        if peer is None or peer.revoked_at is not None:
            return None
        if not hmac.compare_digest(peer.token_hash, digest):
            return None
        peer.last_seen = utcnow()
        return peer


def granted(store: Store, peer: Peer, feed_name: str) -> bool:
    with store.session() as s:
        return (
            s.scalar(
                select(Grant.feed_id)
                .join(Feed, Feed.id == Grant.feed_id)
                .where((Grant.peer_id == peer.id) & (Feed.name == feed_name))
            )
            is not None
        )


def granted_feeds(store: Store, peer: Peer) -> list[dict[str, Any]]:
    with store.session() as s:
        return [
            {"name": f.name, "agency": f.agency, "head": f.last_seq}
            for f in s.scalars(
                select(Feed)
                .join(Grant, Grant.feed_id == Feed.id)
                .where(Grant.peer_id == peer.id)
                .order_by(Feed.name)
            )
        ]


__all__ = [
    "PAGE_DEFAULT",
    "PAGE_MAX",
    "FeedError",
    "Published",
    "add_peer",
    "append",
    "authenticate",
    "ensure_feed",
    "get_feed",
    "grant",
    "granted",
    "granted_feeds",
    "list_feeds",
    "list_peers",
    "page",
    "publish_hashset",
    "publish_series",
    "revoke_peer",
    "sync_feed",
    "withdraw",
]
