"""The console's side of the sensors: tokens, alerts, and the versioned hash list they pull.

Tokens are 32 random bytes (URL-safe base64) shown once; only their SHA-256 is stored. An alert
is keyed by (sensor, the sensor's own alert id), so a retried delivery is recognised and ignored,
and it is committed before the API answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hashsieve.errors import HashsieveError
from hashsieve.hashing.algorithms import CRYPTO_ALGORITHMS, PART_ALGORITHMS
from hashsieve.hashsets.catalogue import KNOWN
from hashsieve.hashsets.categories import NON_PERTINENT
from hashsieve.matching.rules import category_rank
from hashsieve.sensors.models import ALERT_STATUSES, Sensor, SensorAlert, SensorSetting
from hashsieve.store import Store
from hashsieve.store.models import HashEntry, HashSet, utcnow

#: How stale a sensor's ``last_seen`` may get before a request writes it again.
LAST_SEEN_EVERY = timedelta(minutes=1)

#: Bytes of HMAC-SHA256 kept per keyed digest: 128 bits, collisions out of reach.
KEYED_BYTES = 16
LIST_KEY_SETTING = "list-key"


class SensorError(HashsieveError):
    """A sensor that does not exist, exists already, or an alert that cannot be stored."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_sensor(store: Store, name: str) -> str:
    """Register sensor ``name``; returns its bearer token (stored hashed, shown only now)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise SensorError("a sensor name has 1 to 100 characters")
    token = secrets.token_urlsafe(32)
    with store.session() as s:
        if s.scalar(select(Sensor.id).where(Sensor.name == name)) is not None:
            raise SensorError(f"a sensor named {name!r} exists")
        s.add(Sensor(name=name, token_hash=_token_hash(token)))
    return token


def list_sensors(store: Store) -> list[Sensor]:
    with store.session() as s:
        return list(s.scalars(select(Sensor).order_by(Sensor.name)))


def revoke_sensor(store: Store, name: str) -> None:
    with store.session() as s:
        sensor = s.scalar(select(Sensor).where(Sensor.name == name))
        if sensor is None:
            raise SensorError(f"no sensor named {name!r}")
        sensor.revoked_at = sensor.revoked_at or utcnow()
    _verified.clear()  # revoked here: at once (elsewhere: within TOKEN_TTL seconds)


#: Seconds a verified token is taken without asking the database again (as the match API's,
#: sensors/hma.py): a sensor's alerts cost one transaction each, not two.
TOKEN_TTL = 5.0
_verified: dict[tuple[str, str], tuple[Sensor, float]] = {}


def authenticate(store: Store, token: str | None) -> Sensor | None:
    """The live sensor holding ``token``, or None (unknown or revoked)."""
    if not token:
        return None
    digest = _token_hash(token)
    key = (str(store.engine.url), digest)
    held = _verified.get(key)
    if held is not None and time.monotonic() - held[1] < TOKEN_TTL:
        return held[0]
    sensor = _authenticate(store, digest)
    if sensor is None:
        _verified.pop(key, None)
    else:
        _verified[key] = (sensor, time.monotonic())
    return sensor


def verified(store: Store, token: str) -> Sensor | None:
    """The sensor holding ``token`` if it was verified in the last TOKEN_TTL seconds, else
    None, without asking the database (the alert fast path: one that is not goes the whole way
    through :func:`authenticate`)."""
    held = _verified.get((str(store.engine.url), _token_hash(token)))
    if held is not None and time.monotonic() - held[1] < TOKEN_TTL:
        return held[0]
    return None


def _authenticate(store: Store, digest: str) -> Sensor | None:
    with store.session() as s:
        sensor = s.scalar(select(Sensor).where(Sensor.token_hash == digest))
        if sensor is None or sensor.revoked_at is not None:
            return None
        if not hmac.compare_digest(sensor.token_hash, digest):
            return None
        now = utcnow()
        seen = sensor.last_seen
        if seen is not None and seen.tzinfo is None:  # SQLite keeps no time zone
            seen = seen.replace(tzinfo=UTC)
        # Written at most once a minute: a write per request made every alert two commits
        # (bench/alerts_load.py).
        if seen is None or now - seen > LAST_SEEN_EVERY:
            sensor.last_seen = now
        return sensor


# --- alerts -----------------------------------------------------------------------------------


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _best(matches: list[dict[str, Any]]) -> dict[str, Any]:
    """The match shown in the alert's columns: the most serious category, then the closest
    (a non-pertinent one, which an older sensor may still send along, last)."""
    if not matches:
        return {}
    return min(
        matches,
        key=lambda m: (
            m.get("category") == NON_PERTINENT,
            category_rank(m.get("category")),
            m.get("distance") or 0,
        ),
    )


def _resolve_entries(session: Session, matches: list[dict[str, Any]]) -> None:
    """Fill hash set, entry and category from the console's own rows (sensors send entry ids)."""
    ids = {m["entry_id"] for m in matches if isinstance(m.get("entry_id"), int)}
    if not ids:
        return
    rows = {
        r.id: r
        for r in session.execute(
            select(
                HashEntry.id,
                HashEntry.entry,
                HashEntry.category,
                HashEntry.origin,
                HashSet.name,
            )
            .join(HashSet, HashSet.id == HashEntry.hashset_id)
            .where(HashEntry.id.in_(ids))
        )
    }
    for m in matches:
        row = rows.get(m.get("entry_id"))
        if row is not None:
            m["hashset"], m["entry"] = row.name, row.entry
            if row.category is not None:  # the console's own record wins
                m["category"] = row.category
            if row.origin:  # a peer's entry: who else holds it (deconfliction)
                m["seen_by"] = json.loads(row.origin)


@dataclass(frozen=True, slots=True)
class Recorded:
    alert: dict[str, Any]
    created: bool


_ALERTS = SensorAlert.__table__
_COLUMNS = tuple(c.key for c in _ALERTS.columns)


def _row(
    sensor: Sensor, payload: Mapping[str, Any], matches: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``sensor_alerts`` row of one alert (its matches already resolved); no id yet."""
    best = _best(matches)
    hashes = payload.get("hashes") or {}
    detail = {
        "hashes": hashes,
        "matches": matches,
        "mime": payload.get("mime"),
        "size": payload.get("size"),
    }
    return {
        "sensor_id": sensor.id,
        "alert_id": payload["alert_id"],
        "received_at": utcnow(),
        "observed_at": _parse_time(payload.get("time")),
        "source": payload.get("source") or "file",
        "host": payload.get("host"),
        "username": payload.get("user"),
        "location": payload.get("location"),
        "client": payload.get("client"),
        "action": payload.get("action"),
        "hashset": best.get("hashset"),
        "category": best.get("category"),
        "algorithm": best.get("algorithm"),
        "distance": best.get("distance"),
        "entry": best.get("entry"),
        "sha256": hashes.get("sha256"),
        "detail_json": json.dumps(detail, sort_keys=True),
        "status": "new",
        "status_by": None,
        "status_at": None,
    }


#: The INSERT of :func:`_record` per database dialect, built once (building it cost as much as
#: running it).
_INSERTS: dict[str, Any] = {}


def _insert_new(session: Session) -> Any:
    """INSERT that skips an alert already stored (same sensor and alert id) and returns the
    keys of the rows it did insert: the unique constraint is the duplicate check, so a retry
    costs nothing extra and two racing deliveries (another process, PostgreSQL) store one."""
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        insert: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
        _INSERTS[dialect] = (
            insert(_ALERTS)
            .on_conflict_do_nothing(index_elements=["sensor_id", "alert_id"])
            .returning(_ALERTS.c.id, _ALERTS.c.sensor_id, _ALERTS.c.alert_id)
        )
    return _INSERTS[dialect]


def _record(session: Session, alerts: Sequence[tuple[Sensor, Mapping[str, Any]]]) -> list[Recorded]:
    matches = [[dict(m) for m in payload.get("matches") or []] for _, payload in alerts]
    _resolve_entries(session, [m for ms in matches for m in ms])
    rows = [_row(s, payload, ms) for (s, payload), ms in zip(alerts, matches, strict=True)]
    stored = {(r.sensor_id, r.alert_id): r.id for r in session.execute(_insert_new(session), rows)}
    keys = [(row["sensor_id"], row["alert_id"]) for row in rows]
    names = {sensor.id: sensor.name for sensor, _ in alerts}
    seen_before = [k for k in keys if k not in stored]
    old: dict[tuple[int, str], Mapping[Any, Any]] = {}
    if seen_before:  # retries: answered with the alert stored the first time
        query = select(_ALERTS).where(
            tuple_(_ALERTS.c.sensor_id, _ALERTS.c.alert_id).in_(seen_before)
        )
        old = {(r.sensor_id, r.alert_id): r._mapping for r in session.execute(query)}
        if missing := set(seen_before) - old.keys():  # removed by another transaction since
            raise SensorError(f"alert {min(missing)[1]!r} was neither stored nor found")
    out: list[Recorded] = []
    first: dict[tuple[int, str], dict[str, Any]] = {}
    for key, row in zip(keys, rows, strict=True):
        if key in first:  # the same alert twice in one batch: the second one is a retry
            out.append(Recorded(first[key], False))
        elif key in stored:
            first[key] = alert_dict({**row, "id": stored[key]}, names[key[0]])
            out.append(Recorded(first[key], True))
        else:
            out.append(Recorded(alert_dict(old[key], names[key[0]]), False))
    return out


def record_alerts(
    store: Store, alerts: Sequence[tuple[Sensor, Mapping[str, Any]]]
) -> list[Recorded]:
    """Store alerts from sensors in one transaction, committed on return (group commit: see
    :class:`hashsieve.sensors.writer.AlertWriter`); an alert id that its sensor sent before
    is not stored again and returns the stored alert. One result per alert, in order."""

    def work() -> list[Recorded]:
        with store.engine.connect() as conn, _synced(conn), Session(bind=conn) as s, s.begin():
            return _record(s, alerts)

    return store.retrying(work)  # SQLite busy past its timeout, a PostgreSQL race: run again


@contextmanager
def _synced(conn: Connection) -> Iterator[None]:
    """SQLite: this connection's commits reach the disk before they return (``synchronous=FULL``;
    the store's NORMAL survives a crash of the process but not of the machine). A sensor drops
    its copy of an alert once the console acknowledged it, so the console's copy must survive a
    power cut; with group commit the sync is one per batch, not one per alert."""
    if conn.dialect.name != "sqlite":  # PostgreSQL's commits are synchronous already
        yield
        return
    conn.exec_driver_sql("PRAGMA synchronous=FULL")  # no transaction yet: allowed
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()  # nothing to roll back after a commit; after an error, the rest
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")  # the pooled connection as it was
        conn.commit()


def record_alert(store: Store, sensor: Sensor, payload: Mapping[str, Any]) -> Recorded:
    """Store one alert (committed on return); a repeated alert id returns the stored one."""
    return record_alerts(store, [(sensor, payload)])[0]


def alert_dict(a: SensorAlert | Mapping[Any, Any], sensor_name: str) -> dict[str, Any]:
    """An alert as the API and the page show it, from its row (an ORM object or a mapping)."""
    v = a if isinstance(a, Mapping) else {k: getattr(a, k) for k in _COLUMNS}

    def iso(t: datetime | None) -> str | None:
        return t.isoformat(timespec="seconds") if t else None

    return {
        "id": v["id"],
        "alert_id": v["alert_id"],
        "sensor": sensor_name,
        "received_at": iso(v["received_at"]),
        "time": iso(v["observed_at"] or v["received_at"]),
        "source": v["source"],
        "host": v["host"],
        "user": v["username"],
        "location": v["location"],
        "client": v["client"],
        "action": v["action"],
        "hashset": v["hashset"],
        "category": v["category"],
        "algorithm": v["algorithm"],
        "distance": v["distance"],
        "entry": v["entry"],
        "sha256": v["sha256"],
        "status": v["status"],
        "status_by": v["status_by"],
        "status_at": iso(v["status_at"]),
        "detail": json.loads(v["detail_json"]),
    }


def list_alerts(
    store: Store, *, status: str | None = None, before: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; ``before`` pages by alert id."""
    # Rows, not ORM objects: the alerts page reads these while sensors write (bench/alerts_load.py).
    query = select(_ALERTS, Sensor.name.label("sensor_name")).join(
        Sensor, Sensor.id == _ALERTS.c.sensor_id
    )
    if status:
        query = query.where(_ALERTS.c.status == status)
    if before:
        query = query.where(_ALERTS.c.id < before)
    query = query.order_by(_ALERTS.c.id.desc()).limit(limit)
    with store.session() as s:
        return [alert_dict(r._mapping, r.sensor_name) for r in s.execute(query)]


def set_status(store: Store, alert: int, status: str, username: str) -> tuple[str, dict[str, Any]]:
    """Acknowledge or resolve an alert; returns (the old status, the alert)."""
    if status not in ALERT_STATUSES:
        raise SensorError(f"status must be one of {', '.join(ALERT_STATUSES)}")
    with store.session() as s:
        row = s.get(SensorAlert, alert)
        if row is None:
            raise SensorError(f"no alert {alert}")
        old = row.status
        row.status, row.status_by, row.status_at = status, username, utcnow()
        name = s.scalar(select(Sensor.name).where(Sensor.id == row.sensor_id)) or "?"
        return old, alert_dict(row, name)


# --- the hash list sensors pull ----------------------------------------------------------------


def list_key(store: Store) -> bytes:
    """The key of the keyed digests sensors hold (made once per console)."""
    with store.session() as s:
        setting = s.get(SensorSetting, LIST_KEY_SETTING)
        if setting is None:
            setting = SensorSetting(name=LIST_KEY_SETTING, value=secrets.token_hex(32))
            s.add(setting)
        return bytes.fromhex(setting.value)


def keyed_digest(key: bytes, algorithm: str, digest: bytes) -> bytes:
    """HMAC-SHA256 of (algorithm, raw digest) under the list key, cut to KEYED_BYTES."""
    return hmac.new(key, algorithm.encode() + b":" + digest, hashlib.sha256).digest()[:KEYED_BYTES]


def _sets(store: Store) -> list[tuple[int, str, int]]:
    with store.session() as s:
        return [
            (hs.id, hs.name, hs.revision)
            for hs in s.scalars(
                select(HashSet)
                .where(HashSet.complete.is_(True) & (HashSet.kind == KNOWN))
                .order_by(HashSet.id)
            )
        ]


def version_of(sets: Iterable[tuple[int, int]]) -> str:
    """A list version names the hash sets in it and their revisions: an imported set never
    changes (``5``); one that an exchange feed changes counts its changes (``5r2``)."""
    return ".".join(f"{i}r{r}" if r else str(i) for i, r in sorted(sets)) or "0"


def parse_version(version: str | None) -> set[tuple[int, int]]:
    """(hash set id, revision) of each set a version names."""
    if not version or version == "0":
        return set()
    try:
        return {
            (int(i), int(r or 0)) for i, _, r in (p.partition("r") for p in version.split(".") if p)
        }
    except ValueError:
        raise SensorError(f"not a list version: {version[:40]!r}") from None


def list_version(store: Store) -> str:
    return version_of([(i, r) for i, _, r in _sets(store)])


def istag(version: str) -> str:
    """An ICAP ISTag (at most 32 characters) that changes exactly when the list does."""
    return hashlib.sha256(version.encode()).hexdigest()[:24]


def hashlist(
    store: Store,
    since: str | None = None,
    *,
    pdq: bool = True,
    after: int = 0,
    limit: int | None = None,
    version: str | None = None,
    non_pertinent: bool = False,
) -> dict[str, Any]:
    """What changed since ``since``: sets to drop, and the entries of sets that are new.

    Crypto digests travel as keyed digests only; PDQ codes travel as they are (a distance needs
    the real bits), unless ``pdq`` is False. Entries categorised 0 (non-pertinent) stay here
    unless ``non_pertinent``: a sensor alerts only on known-bad matches
    (:func:`hashsieve.matching.rules.known_bad`), and known wins over known-good, so they
    could never change what it does; a Project VIC list carries many, and every hash handed out
    is one more that leaves the console.

    Paged: at most ``limit`` entries with ids above ``after``, in id order; ``next`` is the
    ``after`` of the following page (None on the last). Later pages name the ``version`` the
    first one answered, so that every page describes the same list; a version whose sets are no
    longer all there is refused (the sensor starts over).
    """
    have = parse_version(since)
    sets = _sets(store)
    now = {(i, r) for i, _, r in sets}
    if version is not None:
        wanted = parse_version(version)
        if not wanted <= now:
            raise SensorError("the list changed while it was being fetched: start over")
        now = wanted
        sets = [(i, name, r) for i, name, r in sets if (i, r) in now]
    # A set whose revision moved is sent again whole: removed, then its entries anew.
    new = sorted(i for i, _ in now - have)
    key = list_key(store)
    entries: list[list[Any]] = []
    rows_seen: list[int] = []
    more = False
    if new:
        with store.session() as s:
            # A part travels with the id of its original's plain PDQ entry, so that a sensor
            # reports one original once (not once per part); the names themselves stay here.
            # An original without a plain PDQ entry is named by its first part's id.
            part_rows = select(
                HashEntry.id, HashEntry.hashset_id, HashEntry.entry, HashEntry.item
            ).where(HashEntry.hashset_id.in_(new) & HashEntry.algorithm.in_(PART_ALGORITHMS))
            originals: dict[tuple[int, str], int] = {}
            for entry_id, hs, entry, of in s.execute(part_rows):
                group = (hs, of if of is not None else entry)
                originals[group] = min(entry_id, originals.get(group, entry_id))
            if originals and pdq:
                plain = select(HashEntry.id, HashEntry.hashset_id, HashEntry.entry).where(
                    HashEntry.hashset_id.in_(new) & (HashEntry.algorithm == "pdq")
                )
                for entry_id, hs, entry in s.execute(plain):
                    if (hs, entry) in originals:
                        originals[(hs, entry)] = entry_id
            shipped = HashEntry.hashset_id.in_(new) & (HashEntry.id > after)
            if not non_pertinent:
                shipped &= HashEntry.category.is_(None) | (HashEntry.category != NON_PERTINENT)
            for row in s.execute(
                select(
                    HashEntry.id,
                    HashEntry.hashset_id,
                    HashEntry.algorithm,
                    HashEntry.value,
                    HashEntry.category,
                    HashEntry.entry,
                    HashEntry.item,
                )
                .where(shipped)
                .order_by(HashEntry.id)
                .limit(limit + 1 if limit else None)
            ):
                if limit and len(rows_seen) == limit:
                    more = True
                    break
                rows_seen.append(row.id)
                if row.algorithm == "pdq" or row.algorithm in PART_ALGORITHMS:
                    if not pdq:
                        continue
                    value = row.value.hex()
                elif row.algorithm in CRYPTO_ALGORITHMS:
                    value = keyed_digest(key, row.algorithm, row.value).hex()
                else:
                    continue
                item = [row.id, row.hashset_id, row.algorithm, value, row.category]
                if row.algorithm in PART_ALGORITHMS:
                    group = (row.hashset_id, row.item if row.item is not None else row.entry)
                    item.append(originals.get(group, row.id))
                entries.append(item)
    return {
        "version": version_of(now),
        "since": version_of(have),
        "key": key.hex(),
        "hashsets": {str(i): name for i, name, _ in sets},
        "remove": sorted(i for i, _ in have - now),
        "entries": entries,
        "after": after,
        "next": rows_seen[-1] if more else None,
    }
