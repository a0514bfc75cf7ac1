"""The subscribing side: subscriptions, and a sync that verifies everything before it applies.

``sync`` fetches the pages after the subscription's position, checks each against the pinned
publisher key and the chain (:func:`hashsieve.exchange.protocol.verify_page`), and only then
applies the changes to the subscription's hash set in one transaction, together with the new
position (a compare-and-set: two syncs of one subscription never both apply). A refused page
leaves the set and the position as they were and is recorded as the subscription's error.

The set's entries change in place, so its ``revision`` moves (the sensors' list version names
it, and their copies refetch it) and the store's indexes are updated with the changed rows
only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, select, text, update

from hashsieve.errors import HashsieveError
from hashsieve.exchange.identity import exchange_dir
from hashsieve.exchange.models import Subscription
from hashsieve.exchange.protocol import (
    ADD,
    KEY_FIELDS,
    FeedRefused,
    Position,
    genesis,
    parse_public_key,
    verify_page,
)
from hashsieve.hashing.algorithms import PDQ_TABLES
from hashsieve.hashsets.base import STORED_HEX_LENGTHS
from hashsieve.hashsets.catalogue import KNOWN
from hashsieve.index.store_index import WIDTHS, StoreIndex
from hashsieve.sensors.client import InsecureConsoleError, NoRedirect, check_console_url
from hashsieve.store import Store
from hashsieve.store.bulk import lock_entry_ids
from hashsieve.store.models import HashEntry, HashSet, utcnow

log = logging.getLogger(__name__)

#: Verified changes applied per transaction at most: an initial sync of a very large feed is
#: applied in steps, each ending at a verified point of the chain.
APPLY_MAX = 500_000
FETCH_TIMEOUT = 60.0
_CHUNK = 500
_INSERT = (
    "INSERT INTO hash_entries (hashset_id, algorithm, value, entry, category, series,"
    " victim_identified, item, seconds, frame, quality, part, origin)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
)

#: (subscription, after) -> the raw answer body. Raises SyncError for an HTTP or network failure.
Fetch = Callable[[Subscription, str, int], bytes]


class SyncError(HashsieveError):
    """A subscription that cannot be made, or a publisher that did not answer with a page."""


class _Overtaken(SyncError):
    """Another sync of the same subscription applied first (serve's timer and the CLI)."""


# --- subscriptions -----------------------------------------------------------------------------


def _token_path(store: Store, sub_id: int) -> Path:
    return exchange_dir(store.settings) / "subscriptions" / f"{sub_id}.token"


def _save_token(store: Store, sub_id: int, token: str) -> None:
    path = _token_path(store, sub_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)


def _token(store: Store, sub: Subscription) -> str:
    try:
        return _token_path(store, sub.id).read_text().strip()
    except FileNotFoundError:
        raise SyncError(f"subscription {sub.name!r} has lost its token: subscribe again") from None


def subscribe(store: Store, url: str, feed: str, key: str, token: str, name: str) -> Subscription:
    """Subscribe to ``feed`` of the instance at ``url`` whose public key is ``key`` (pinned),
    into a new hash set ``name``. The token is kept in a 0600 file beside the store."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SyncError(f"not an http(s) base address: {url!r}")
    try:  # the peer token travels with every fetch: https, or loopback (docs/security.md)
        check_console_url(url, "the peer token", hint="")
    except InsecureConsoleError as exc:
        raise SyncError(str(exc)) from None
    public = parse_public_key(key).encode().hex()
    if not token.strip():
        raise SyncError("a subscription needs the token the publisher gave")
    with store.session() as s:
        if s.scalar(select(HashSet.id).where(HashSet.name == name)) is not None:
            raise SyncError(f"a hash set named {name!r} exists")
        hs = HashSet(
            name=name,
            kind=KNOWN,
            format="exchange",
            source=f"{url.rstrip('/')} feed {feed}",
            profile="us",
            entries=0,
            refused=0,
            complete=False,
        )
        s.add(hs)
        s.flush()
        sub = Subscription(
            name=name,
            url=url.rstrip("/"),
            feed=feed,
            publisher_key=public,
            hashset_id=hs.id,
            seq=0,
            chain=genesis(feed),
        )
        s.add(sub)
        s.flush()
        sub_id, hashset_id = sub.id, hs.id
    _save_token(store, sub_id, token.strip())
    for algorithm, width in WIDTHS.items():  # the indexes learn the (empty) set: no rebuild
        empty = np.empty((0, width), np.uint8)
        StoreIndex(store, algorithm).add_entries(hashset_id, np.empty(0, np.uint32), empty)
    with store.session() as s:
        s.get_one(HashSet, hashset_id).complete = True
    return sub


def list_subscriptions(store: Store) -> list[Subscription]:
    with store.session() as s:
        return list(s.scalars(select(Subscription).order_by(Subscription.name)))


# --- fetching ----------------------------------------------------------------------------------


def http_fetch(store: Store, limit: int | None = None) -> Fetch:
    # A redirect is refused, not followed: it would carry the peer token to another address.
    opener = urllib.request.build_opener(NoRedirect())

    def fetch(sub: Subscription, feed: str, after: int) -> bytes:
        query = {"after": str(after), **({"limit": str(limit)} if limit else {})}
        url = f"{sub.url}/api/exchange/feeds/{urllib.parse.quote(feed)}?" + (
            urllib.parse.urlencode(query)
        )
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {_token(store, sub)}"}
        )
        try:
            with opener.open(request, timeout=FETCH_TIMEOUT) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise SyncError(f"{sub.url} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SyncError(f"{sub.url} cannot be reached: {exc}") from None

    return fetch


# --- sync --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncResult:
    name: str
    added: int = 0
    removed: int = 0
    seq: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def sync(
    store: Store, names: Sequence[str] = (), *, fetch: Fetch | None = None
) -> list[SyncResult]:
    """Sync every subscription (or those named); a refused one does not stop the others."""
    fetch = fetch or http_fetch(store)
    subs = list_subscriptions(store)
    if names:
        unknown = set(names) - {s.name for s in subs}
        if unknown:
            raise SyncError(f"no subscription named {', '.join(sorted(unknown))}")
        subs = [s for s in subs if s.name in names]
    return [sync_one(store, sub, fetch) for sub in subs]


def sync_one(store: Store, sub: Subscription, fetch: Fetch) -> SyncResult:
    """Sync one subscription; when another sync of it applied first, start again from there."""
    for _ in range(5):
        try:
            return _sync_one(store, sub, fetch)
        except _Overtaken:
            with store.session() as s:
                sub = s.get_one(Subscription, sub.id)
    return _sync_one(store, sub, fetch)


def _sync_one(store: Store, sub: Subscription, fetch: Fetch) -> SyncResult:
    added = removed = 0
    at = applied = Position(sub.seq, sub.chain, sub.issued_at)
    try:
        while True:
            pending: list[dict[str, Any]] = []
            start = at
            while len(pending) < APPLY_MAX:
                body = fetch(sub, sub.feed, at.seq)
                try:
                    page = json.loads(body)
                except (ValueError, UnicodeDecodeError):
                    raise FeedRefused("the answer is not JSON: an altered page") from None
                entries, at, head = verify_page(
                    page, feed=sub.feed, publisher=sub.publisher_key, at=at
                )
                pending.extend(entries)
                if at.seq >= head or not entries:
                    break
            a, r = apply(store, sub, start, at, pending)
            added, removed, applied = added + a, removed + r, at
            if at.seq >= head or not pending:
                break
    except _Overtaken:
        raise
    except (FeedRefused, SyncError) as exc:
        _record_error(store, sub, str(exc))
        return SyncResult(sub.name, added, removed, applied.seq, str(exc))
    return SyncResult(sub.name, added, removed, applied.seq)


def _record_error(store: Store, sub: Subscription, error: str) -> None:
    with store.session() as s:
        row = s.get(Subscription, sub.id)
        if row is not None:
            row.error = error[:2000]


def _fold(
    entries: list[dict[str, Any]],
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], set[tuple[Any, ...]]]:
    """The net effect of entries in order: additions to make, keys to remove (of what the set
    held before them)."""
    adds: dict[tuple[Any, ...], dict[str, Any]] = {}
    removes: set[tuple[Any, ...]] = set()
    for entry in entries:
        key = tuple(entry.get(f) for f in KEY_FIELDS)
        if entry["op"] == ADD:
            _check_value(entry)
            adds[key] = entry
        elif key in adds:
            del adds[key]
        else:
            removes.add(key)
    return adds, removes


def _check_value(entry: dict[str, Any]) -> None:
    algorithm, value = entry["algorithm"], entry["value"]
    if algorithm not in STORED_HEX_LENGTHS or len(value) != STORED_HEX_LENGTHS[algorithm]:
        raise FeedRefused(f"entry {entry['seq']}: not a {algorithm!r} hash this store can hold")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise FeedRefused(f"entry {entry['seq']}: not a hex value") from None


def apply(
    store: Store, sub: Subscription, start: Position, end: Position, entries: list[dict[str, Any]]
) -> tuple[int, int]:
    """Apply verified entries and move the position from ``start`` to ``end``, in one
    transaction; returns (rows added, rows removed)."""
    adds, removes = _fold(entries)
    hs = sub.hashset_id
    if hs is None:
        raise SyncError(f"the hash set of subscription {sub.name!r} was deleted")
    placeholder = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
    with store.engine.begin() as conn:
        moved = conn.execute(
            text(
                "UPDATE exchange_subscriptions SET seq = :seq, chain = :chain,"
                " issued_at = :issued, synced_at = :now, error = NULL"
                " WHERE id = :id AND seq = :old AND chain = :old_chain"
            ),
            {
                "seq": end.seq,
                "chain": end.chain,
                "issued": end.issued_at,
                "now": utcnow(),
                "id": sub.id,
                "old": start.seq,
                "old_chain": start.chain,
            },
        )
        if moved.rowcount != 1:
            raise _Overtaken(f"subscription {sub.name!r} was synced meanwhile")
        gone = _matching_rows(conn, store, hs, removes)
        for i in range(0, len(gone), _CHUNK):
            conn.execute(
                delete(HashEntry).where(HashEntry.id.in_([g[0] for g in gone[i : i + _CHUNK]]))
            )
        before = conn.scalar(text("SELECT coalesce(max(id), 0) FROM hash_entries")) or 0
        rows = [_insert_row(hs, e) for e in adds.values()]
        if rows:
            lock_entry_ids(conn)  # no id drawn inside an import's reserved range
            conn.exec_driver_sql(_INSERT.format(p=placeholder), rows)
        # The rows just written: ids above the old maximum (this transaction holds the writer's
        # lock); by the id range alone, for the reason above.
        new = (
            [
                (i, a, v)
                for i, a, v, set_id in conn.execute(
                    select(
                        HashEntry.id, HashEntry.algorithm, HashEntry.value, HashEntry.hashset_id
                    ).where(HashEntry.id > before)
                )
                if set_id == hs
            ]
            if rows
            else []
        )
        conn.execute(
            update(HashSet)
            .where(HashSet.id == hs)
            .values(
                entries=HashSet.entries + len(new) - len(gone),
                revision=HashSet.revision + (1 if new or gone else 0),
            )
        )
    _update_indexes(store, hs, new, gone)
    return len(new), len(gone)


def _matching_rows(
    conn: Connection, store: Store, hashset_id: int, keys: set[tuple[Any, ...]]
) -> list[tuple[int, str, bytes]]:
    """(id, algorithm, value) of the set's rows that these keys name.

    Candidates come from the store's own indexes (the sorted digest arrays, the PDQ
    multi-index at distance 0), as every lookup of a hash does: the database keeps no B-tree
    over (algorithm, value) (migration 0009_lists). When the saved indexes do not hold exactly
    the set's rows (none saved yet, or a crash between a commit and an index update), the set's
    rows are read through ``ix_hash_entries_hashset`` instead.
    """
    indexed = sum(
        (StoreIndex(store, a)._saved_state() or {}).get(str(hashset_id), 0) for a in WIDTHS
    )
    held = conn.scalar(select(HashSet.entries).where(HashSet.id == hashset_id))
    by_algo: dict[str, set[bytes]] = {}
    for algorithm, value, *_ in keys:
        if algorithm in WIDTHS:
            by_algo.setdefault(algorithm, set()).add(bytes.fromhex(value))
    out: list[tuple[int, str, bytes]] = []
    for algorithm, values in by_algo.items():
        ordered = sorted(values)
        index = StoreIndex(store, algorithm)._current() if indexed == held else None
        if index is None:
            where: Any = (HashEntry.hashset_id == hashset_id) & (HashEntry.algorithm == algorithm)
            chunks = [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]
            queries = [where & HashEntry.value.in_(chunk) for chunk in chunks]
        else:
            codes = np.frombuffer(b"".join(ordered), np.uint8).reshape(len(ordered), -1)
            found = index.query(codes, 0) if algorithm in PDQ_TABLES else index.lookup(codes)
            ids = sorted({int(i) for i in found[1]})
            queries = [HashEntry.id.in_(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]
        for query in queries:
            for row in conn.execute(
                select(
                    HashEntry.id,
                    HashEntry.hashset_id,
                    HashEntry.algorithm,
                    HashEntry.value,
                    HashEntry.item,
                    HashEntry.frame,
                    HashEntry.part,
                ).where(query)
            ):
                key = (row.algorithm, row.value.hex(), row.item, row.frame, row.part)
                if row.hashset_id == hashset_id and key in keys:
                    out.append((row.id, row.algorithm, row.value))
    return out


def _insert_row(hashset_id: int, e: dict[str, Any]) -> tuple[object, ...]:
    seconds = e.get("seconds")
    origin = e.get("origin")
    return (
        hashset_id,
        e["algorithm"],
        bytes.fromhex(e["value"]),
        str(e.get("entry") or f"{e['algorithm']}:{e['value']}")[:1000],
        e.get("category") if isinstance(e.get("category"), int) else None,
        e.get("series") if isinstance(e.get("series"), str) else None,
        e.get("victim") if isinstance(e.get("victim"), bool) else None,
        e.get("item") if isinstance(e.get("item"), str) else None,
        float(seconds) if isinstance(seconds, str) and _is_number(seconds) else None,
        e.get("frame") if isinstance(e.get("frame"), int) else None,
        e.get("quality") if isinstance(e.get("quality"), int) else None,
        e.get("part") if isinstance(e.get("part"), str) else None,
        json.dumps(origin, sort_keys=True) if isinstance(origin, dict) and origin else None,
    )


def _is_number(text_: str) -> bool:
    try:
        float(text_)
    except ValueError:
        return False
    return True


def _update_indexes(
    store: Store, hashset_id: int, new: Sequence[Any], gone: list[tuple[int, str, bytes]]
) -> None:
    for algorithm, width in WIDTHS.items():
        added = [(i, v) for i, a, v in new if a == algorithm]
        removed = [i for i, a, _ in gone if a == algorithm]
        if not added and not removed:
            continue
        ids = np.asarray([i for i, _ in added], np.uint32)
        values = np.frombuffer(b"".join(v for _, v in added), np.uint8).reshape(-1, width)
        _update_index(
            StoreIndex(store, algorithm), hashset_id, ids, values, np.asarray(removed, np.uint32)
        )


def _update_index(
    index: StoreIndex, hashset_id: int, ids: np.ndarray, values: np.ndarray, removed: np.ndarray
) -> None:
    """Apply a change of one set's rows to a store index in place: no rebuild.

    The new state is the saved one with this set's count moved by the change; a saved state that
    was already stale is caught (and rebuilt from the database) by the next ``open``. (Through
    StoreIndex's own lock, state and save steps; a candidate for StoreIndex itself once the
    import rework there settles.)
    """
    with index._locked():
        saved = index._saved_state()
        if saved is None or (current := index._current()) is None:
            return  # rebuilt from the database on next open
        if len(removed):
            current.remove(removed)
        if len(ids):
            current.add(ids, values)
        # The state names every complete set (with its rows of this algorithm, maybe 0).
        count = saved.get(str(hashset_id), 0) + len(ids) - len(removed)
        index._save(current, {**saved, str(hashset_id): max(count, 0)})


# --- the timer inside serve --------------------------------------------------------------------


class SyncTimer:
    """Syncs every subscription every ``interval`` seconds in a daemon thread (``serve``)."""

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exchange-sync", daemon=True)

    def start(self) -> SyncTimer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:  # at once, then every interval
            try:
                for result in sync(self.store):
                    if result.error:
                        log.warning("exchange sync of %s refused: %s", result.name, result.error)
            except Exception:  # keep serving; the next round tries again
                log.exception("exchange sync failed")
            if self._stop.wait(self.interval):
                return
