"""A match API in the shape of Meta's Hasher-Matcher-Actioner (OpenMediaMatch's ``/m`` routes).

A platform that calls HMA can call hashsieve: ``GET /m/raw_lookup`` and ``GET /m/lookup`` take
the same query parameters (``signal``, ``signal_type``, ``banks``, ``include_distance``,
``seed``, ``bypass_coinflip``) and answer the same JSON (``{"matches": [id, ...]}``,
``{"matches": [{"bank_content_id", "distance"}]}``, ``{"BANK": [{"bank_content_id",
"distance"}]}``). A bank is a hash set, a bank content id a hash entry's id, a distance a string
as HMA writes it. Signal types keep HMA's names: ``pdq`` and ``video_md5`` (python-threatexchange's
name for a file's MD5, for any file here), plus ``md5``, ``sha1`` and ``sha256``.

Differences, on purpose: callers present a sensor token (``Authorization: Bearer``, made by
``hashsieve sensor add``), as the sensors do; a malformed signal or an unknown signal type is a
422 with the reason (HMA: 400); ``url`` lookups (HMA fetches and hashes the content) are refused
with 403, as HMA does without its hasher role: hashsieve never fetches content for a caller.

Matching goes through the one rule (:func:`hashsieve.matching.rules.match`) over the store's
indexes (:class:`~hashsieve.matching.Matcher`): digests exactly; a PDQ code at the store's
threshold against known pictures and, within PART_THRESHOLD, the crop parts of known originals.
A bare hash has no dihedral variants, candidate regions or quality: it is matched as the picture
itself, its quality vouched for by the caller. The hot path touches no database: the indexes are
memory-mapped, the listed entries held in compact arrays, a token is verified against the
database at most once per ``TOKEN_TTL`` seconds (a revoked token stops working within that
time), and every lookup is written to the audit log (``hma-lookup``: the sensor, the signal
type and value, how many matched) by a background writer, in batches; a well-formed lookup is
answered by :class:`FastLookups` before FastAPI's routing.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import queue
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import insert, select

from hashsieve.access.models import AuditEvent
from hashsieve.access.web import client_of, get_store
from hashsieve.hashing.content import FileResult
from hashsieve.hashing.pdq import DIHEDRAL_NAMES
from hashsieve.matching import Matcher, rules
from hashsieve.matching.hits import Entry, Found, MatchHit
from hashsieve.sensors import console
from hashsieve.store import Store
from hashsieve.store.models import HashEntry, HashSet, utcnow

#: Seconds a verified token is trusted without asking the database again.
TOKEN_TTL = 5.0
#: Seconds between checks that the hash sets changed (an import, a deletion, a feed's sync).
REFRESH_EVERY = 5.0
#: Lookups written to the audit log per INSERT, and the most seconds one waits.
AUDIT_BATCH = 500
AUDIT_EVERY = 0.5
#: Quality a bare PDQ code is taken to have (it carries none; the caller vouches for it).
BARE_QUALITY = 100

#: HMA's signal type names (python-threatexchange's), and hashsieve's own digests.
SIGNAL_TYPES: dict[str, str] = {
    "pdq": "pdq",
    "video_md5": "md5",
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
}
_HEX_LENGTH = {"pdq": 64, "md5": 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"^[0-9a-fA-F]*$")

router = APIRouter(prefix="/m", tags=["hma"])


# --- the lookup service ----------------------------------------------------------------------


class _EntryTable:
    """Every listed entry, in compact arrays (about 30 bytes an entry): what the rule needs of a
    hit (its set, algorithm, category, original; a known video's frame's time and quality),
    without a database round trip per lookup. Built once per version of the hash sets."""

    def __init__(self, store: Store) -> None:
        ids, sets, algos, cats, originals, seconds, qualities = [], [], [], [], [], [], []
        codes: dict[str, int] = {}
        query = select(
            HashEntry.id,
            HashEntry.hashset_id,
            HashEntry.algorithm,
            HashEntry.category,
            HashEntry.item,
            HashEntry.entry,
            HashEntry.seconds,
            HashEntry.quality,
        ).order_by(HashEntry.id)
        with store.engine.connect() as conn:
            result = conn.execute(query.execution_options(stream_results=True))
            while rows := result.fetchmany(100_000):
                for entry_id, hs, algo, cat, item, entry, secs, quality in rows:
                    ids.append(entry_id)
                    sets.append(hs)
                    algos.append(codes.setdefault(algo, len(codes)))
                    cats.append(-1 if cat is None else cat)
                    # A part's original is its item; a frame's is its video (as the Matcher).
                    originals.append(hash((hs, item if item is not None else entry)))
                    frame = algo == "pdq" and secs is not None
                    seconds.append(secs if frame else np.nan)
                    qualities.append(quality if frame and quality is not None else -1)
        self.algorithms = list(codes)
        self.ids = np.asarray(ids, np.int64)
        self.sets = np.asarray(sets, np.int32)
        self.algos = np.asarray(algos, np.int8)
        self.categories = np.asarray(cats, np.int32)
        self.originals = np.asarray(originals, np.int64)
        self.seconds = np.asarray(seconds, np.float32)
        self.qualities = np.asarray(qualities, np.int16)

    def entries(
        self, entry_ids: Sequence[int], hashsets: Mapping[int, tuple[str, str]]
    ) -> dict[int, Entry]:
        if not len(entry_ids) or not self.ids.size:
            return {}
        wanted = np.asarray(entry_ids, np.int64)
        at = np.minimum(np.searchsorted(self.ids, wanted), self.ids.size - 1)
        out = {}
        for entry_id, i in zip(wanted.tolist(), at.tolist(), strict=True):
            hs = int(self.sets[i])
            if int(self.ids[i]) != entry_id or hs not in hashsets:
                continue  # not listed, or an import still in progress
            name, kind = hashsets[hs]
            category = int(self.categories[i])
            original = int(self.originals[i])
            frame = not np.isnan(self.seconds[i])
            out[entry_id] = Entry(
                hs,
                name,
                kind,
                "",
                self.algorithms[int(self.algos[i])],
                None if category < 0 else category,
                None,
                (hs, original),
                f"{hs}:{original}" if frame else None,
                float(self.seconds[i]) if frame else None,
                int(self.qualities[i]) if frame and self.qualities[i] >= 0 else None,
            )
        return out


class _BareHashes:
    """The store's known hashes for bare hashes: the Matcher's indexes, the listed entries in
    memory (:class:`_EntryTable`), and a query's repeated rows (a bare code stands for all 8
    dihedral variants) asked once."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.table = _EntryTable(matcher.store)

    @property
    def pdq_threshold(self) -> int:
        return self.matcher.pdq_threshold

    @property
    def pdq_min_quality(self) -> int:
        return self.matcher.pdq_min_quality

    def lookup(self, algorithm: str, digests: Sequence[bytes]) -> list[tuple[int, int]]:
        return self.matcher.lookup(algorithm, digests)

    def query(self, table: str, codes: np.ndarray, radius: int) -> Found:
        if len(codes) > 1 and bool((codes == codes[0]).all()):
            return self.matcher.query(table, codes[:1], radius)  # one code, told for row 0
        return self.matcher.query(table, codes, radius)

    def entries(self, entry_ids: Sequence[int]) -> Mapping[int, Entry]:
        return self.table.entries(entry_ids, self.matcher.hashsets)

    def video_length(self, hashset_id: int, video: str) -> float:
        return 0.0  # a bare hash is no video: vPDQ's coverage is never asked


@dataclass
class _Token:
    sensor: str
    verified_at: float


class LookupService:
    """What the ``/m`` routes share: the store's indexes in memory, verified tokens, the audit
    writer. One per app (``app.state.hma``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._known: _BareHashes | None = None
        self._version: tuple[tuple[Any, ...], ...] | None = None
        self._checked = 0.0
        self._refreshing = False
        self._tokens: dict[str, _Token] = {}
        self._audit: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        # The writer is a daemon: what it holds at exit is written then (a weak reference, so
        # that a service, its store and its indexes are not kept alive for the flush).
        atexit.register(_last_flush, weakref.ref(self))

    # --- tokens ----------------------------------------------------------------------------

    def sensor_of(self, token: str) -> str | None:
        """The live sensor holding ``token`` (cached for TOKEN_TTL seconds), or None."""
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        held = self._tokens.get(key)
        if held is not None and now - held.verified_at < TOKEN_TTL:
            return held.sensor
        sensor = console.authenticate(self.store, token)
        if sensor is None:
            self._tokens.pop(key, None)
            return None
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = _Token(sensor.name, now)
        return sensor.name

    # --- the indexes -----------------------------------------------------------------------

    def known(self) -> _BareHashes:
        """The store's known hashes. Built on the first lookup; then every REFRESH_EVERY
        seconds a background thread checks whether the hash sets changed and swaps in new
        ones when they did, so no lookup waits for a reload."""
        known = self._known
        if known is None:
            with self._lock:
                if self._known is None:
                    self._version = self._sets_version()
                    self._known, self._checked = self._build(), time.monotonic()
                return self._known
        if time.monotonic() - self._checked >= REFRESH_EVERY and not self._refreshing:
            with self._lock:
                if not self._refreshing:
                    self._refreshing, self._checked = True, time.monotonic()
                    threading.Thread(target=self._refresh, name="hma-refresh", daemon=True).start()
        return known

    @property
    def ready(self) -> bool:
        """Whether the known hashes are built (the first lookup builds them)."""
        return self._known is not None

    def _build(self) -> _BareHashes:
        matcher = Matcher(self.store)
        for index in (matcher.index, *matcher.parts.values()):
            if hasattr(index, "threads"):
                index.threads = 1  # one small query per request: no thread hand-off
        return _BareHashes(matcher)

    def _refresh(self) -> None:
        try:
            version = self._sets_version()
            if version != self._version:
                known = self._build()
                self._known, self._version = known, version
        except Exception:  # the store went away, or is busy: keep what is held, try later
            pass
        finally:
            self._checked, self._refreshing = time.monotonic(), False

    def _sets_version(self) -> tuple[tuple[Any, ...], ...]:
        with self.store.session() as s:
            return tuple(
                tuple(row)
                for row in s.execute(
                    select(HashSet.id, HashSet.entries, HashSet.imported_at)
                    .where(HashSet.complete.is_(True))
                    .order_by(HashSet.id)
                )
            )

    def match(self, algorithm: str, value: str) -> list[MatchHit]:
        """What a bare hash matches, by the one rule."""
        if algorithm == "pdq":
            code = bytes.fromhex(value)
            result = FileResult(
                path="",
                media_kind="image",
                pdq=value.lower(),
                quality=BARE_QUALITY,
                dihedral=code * len(DIHEDRAL_NAMES),
            )
        else:
            digests: dict[str, str | None] = {"md5": None, "sha1": None, "sha256": None}
            digests[algorithm] = value.lower()
            result = FileResult(
                path="", md5=digests["md5"], sha1=digests["sha1"], sha256=digests["sha256"]
            )
        known = self.known()
        if not known.matcher.hashsets:
            return []
        [hits] = rules.match(known, [result])
        return hits

    # --- the audit log ---------------------------------------------------------------------

    def audited(self, sensor: str, client: str, signal_type: str, signal: str, n: int) -> None:
        """Queue one lookup for the audit log (written in batches by a background thread)."""
        self._audit.put(
            {
                "at": utcnow(),
                "username": f"sensor:{sensor}"[:100],
                "action": "hma-lookup",
                "client": client[:64],
                "field": signal_type[:32],
                "new_value": json.dumps({"signal": signal, "matches": n}),
            }
        )
        if self._writer is None or not self._writer.is_alive():
            with self._lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(
                        target=self._write_audit, name="hma-audit", daemon=True
                    )
                    self._writer.start()

    def flush(self) -> int:
        """Write what is queued now (the writer does so every AUDIT_EVERY seconds): the rows
        :func:`hashsieve.access.audit.record` writes, with the time of the lookup, in one
        multi-row INSERT (ORM objects cost 0.25 ms a row, as much as the lookup itself)."""
        events = []
        while True:
            try:
                events.append(self._audit.get_nowait())
            except queue.Empty:
                break
        if events:
            with self.store.engine.begin() as conn:
                for start in range(0, len(events), AUDIT_BATCH):
                    conn.execute(insert(AuditEvent), events[start : start + AUDIT_BATCH])
        return len(events)

    def _write_audit(self) -> None:
        while True:
            first = self._audit.get()
            self._audit.put(first)  # back in line: flush takes it with the rest
            time.sleep(AUDIT_EVERY)
            try:
                self.flush()
            except Exception:  # a lost batch must not end the writer
                time.sleep(AUDIT_EVERY)


def _last_flush(ref: weakref.ref[LookupService]) -> None:
    svc = ref()
    if svc is not None:
        with contextlib.suppress(Exception):  # the store may be closed by then
            svc.flush()


async def service(request: Request) -> LookupService:
    state = request.app.state
    svc: LookupService | None = getattr(state, "hma", None)
    if svc is None:
        svc = state.hma = LookupService(get_store(request))
    return svc


Service = Annotated[LookupService, Depends(service)]


async def lookup_sensor(request: Request, svc: Service) -> str:
    """The sensor named by the bearer token; 401 for a missing, unknown or revoked token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    sensor = svc.sensor_of(token.strip()) if scheme.lower() == "bearer" else None
    if sensor is None:
        raise HTTPException(401, "a valid sensor token is needed", {"WWW-Authenticate": "Bearer"})
    return sensor


SensorName = Annotated[str, Depends(lookup_sensor)]


# --- the routes --------------------------------------------------------------------------------


class MatchWithDistance(BaseModel):
    bank_content_id: int = Field(description="The hash entry matched")
    distance: str = Field(description="Hamming distance for PDQ, 0 for a digest (HMA: a string)")


class RawLookupResponse(BaseModel):
    matches: list[int | MatchWithDistance] = Field(
        description="Entry ids, or with include_distance entry ids and distances"
    )


SignalParam = Annotated[
    str, Query(min_length=1, max_length=128, description="The hash, in hex (PDQ: 64 digits)")
]
SignalTypeParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=32,
        description="pdq, video_md5 (HMA's names), md5, sha1 or sha256",
    ),
]
BanksParam = Annotated[
    str | None,
    # 2,000 characters: the whole request stays inside the HTTP server's head limit (the API
    # fuzz found a 10,000-character value answered by a dropped connection).
    Query(max_length=2000, description="Comma-separated hash set names to search"),
]


def _parse_signal(signal: str, signal_type: str) -> tuple[str, str] | None:
    """(hashsieve's algorithm, the signal), or None when either is not valid."""
    algorithm = SIGNAL_TYPES.get(signal_type)
    if algorithm is None:
        return None
    signal = signal.strip()
    if len(signal) != _HEX_LENGTH[algorithm] or not _HEX.match(signal):
        return None
    return algorithm, signal


def _checked(signal: str, signal_type: str) -> tuple[str, str]:
    """(hashsieve's algorithm, the signal) or a 422 that says what is wrong."""
    parsed = _parse_signal(signal, signal_type)
    if parsed is not None:
        return parsed
    if signal_type not in SIGNAL_TYPES:
        raise HTTPException(
            422, f"No such SignalType {signal_type[:32]!r} (known: {', '.join(SIGNAL_TYPES)})"
        )
    want = _HEX_LENGTH[SIGNAL_TYPES[signal_type]]
    raise HTTPException(422, f"invalid signal: a {signal_type} is {want} hexadecimal digits")


async def _hits(
    request: Request,
    svc: LookupService,
    sensor: str,
    signal: str,
    signal_type: str,
    banks: str | None,
) -> list[MatchHit]:
    algorithm, value = _checked(signal, signal_type)
    if not svc.ready:  # the first lookup builds the known hashes: not on the event loop
        await run_in_threadpool(svc.known)
    hits = svc.match(algorithm, value)
    if banks is not None:
        wanted = {b.strip() for b in banks.split(",")}
        hits = [h for h in hits if h.hashset in wanted]
    svc.audited(sensor, client_of(request), signal_type, value, len(hits))
    return hits


@router.get("/raw_lookup", response_model=RawLookupResponse)
async def raw_lookup(
    request: Request,
    svc: Service,
    sensor: SensorName,
    signal: SignalParam,
    signal_type: SignalTypeParam,
    banks: BanksParam = None,
    include_distance: bool = False,
) -> dict[str, Any]:
    """Look up a hash in the index (HMA's ``/m/raw_lookup``): the matching entry ids, or with
    ``include_distance`` the ids and distances."""
    hits = await _hits(request, svc, sensor, signal, signal_type, banks)
    if include_distance:
        return {
            "matches": [{"bank_content_id": h.entry_id, "distance": str(h.distance)} for h in hits]
        }
    return {"matches": [h.entry_id for h in hits]}


@router.get("/lookup", response_model=dict[str, list[MatchWithDistance]])
async def lookup(
    request: Request,
    svc: Service,
    sensor: SensorName,
    signal: Annotated[str | None, Query(max_length=128, description="The hash, in hex")] = None,
    signal_type: Annotated[
        str | None, Query(max_length=32, description="pdq, video_md5, md5, sha1 or sha256")
    ] = None,
    banks: BanksParam = None,
    url: Annotated[
        str | None, Query(max_length=4096, description="Refused: no content is fetched")
    ] = None,
    content_type: Annotated[str | None, Query(max_length=100)] = None,
    types: Annotated[str | None, Query(max_length=1000)] = None,
    seed: Annotated[
        str | None, Query(max_length=200, description="Accepted; every bank matches")
    ] = None,
    bypass_coinflip: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Look up a hash (HMA's ``GET /m/lookup``): the matching banks (hash sets), each with the
    entries matched and their distances. Every bank is fully enabled (HMA's coin flip always
    passes); a ``url`` is refused (403), since hashsieve fetches no content for a caller."""
    if url:
        raise HTTPException(403, "Hashing is disabled, missing role")
    if not signal or not signal_type:
        raise HTTPException(422, "Either url or both signal and signal_type are required")
    out: dict[str, list[dict[str, Any]]] = {}
    for h in await _hits(request, svc, sensor, signal, signal_type, banks):
        out.setdefault(h.hashset, []).append(
            {"bank_content_id": h.entry_id, "distance": str(h.distance)}
        )
    return out


# --- the fast path ---------------------------------------------------------------------------

#: Headers of a fast answer: those the app's security middleware gives every answer.
_FAST_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
_BOOLS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}
#: The query parameters of the routes and their longest values (as the routes declare them).
_LIMITS = {
    "signal": 128,
    "signal_type": 32,
    "banks": 10_000,
    "include_distance": 5,
    "seed": 200,
    "bypass_coinflip": 5,
    "url": 4096,
    "content_type": 100,
    "types": 1000,
}


class FastLookups:
    """ASGI middleware: a well-formed lookup by a token verified in the last TOKEN_TTL seconds
    is answered here, by the same functions the routes call, without FastAPI's routing,
    validation and the other middleware (a third of the cost of a lookup was the route table
    alone). Anything else — a missing, unknown or revoked token, a bad parameter, a URL — goes
    on to the routes, which define, validate and document the API and give every refusal."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] in ("/m/raw_lookup", "/m/lookup")
        ):
            body = self._answer(scope)
            if body is not None:
                headers = [*_FAST_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Any) -> bytes | None:
        svc: LookupService | None = getattr(scope["app"].state, "hma", None)
        if svc is None or not svc.ready:
            return None  # the first lookups go through the routes, which start the service
        params: dict[str, str] = {}
        for key, value in parse_qsl(scope["query_string"].decode("latin-1"), True):
            if key in params or len(value) > _LIMITS.get(key, len(value)):
                return None
            params[key] = value
        flags = [_BOOLS.get(params.get(k, "false").lower()) for k in ("include_distance",)]
        if None in flags or _BOOLS.get(params.get("bypass_coinflip", "false").lower()) is None:
            return None
        signal, signal_type = params.get("signal"), params.get("signal_type")
        if params.get("url") or not signal or not signal_type:
            return None
        parsed = _parse_signal(signal, signal_type)
        if parsed is None:
            return None
        token = _bearer(scope)
        sensor = svc.sensor_of(token) if token else None
        if sensor is None:
            return None
        hits = svc.match(*parsed)
        if (banks := params.get("banks")) is not None:
            wanted = {b.strip() for b in banks.split(",")}
            hits = [h for h in hits if h.hashset in wanted]
        client = scope.get("client")
        svc.audited(sensor, client[0] if client else "unknown", signal_type, parsed[1], len(hits))
        answer: Any
        if scope["path"] == "/m/lookup":
            answer = {}
            for h in hits:
                answer.setdefault(h.hashset, []).append(
                    {"bank_content_id": h.entry_id, "distance": str(h.distance)}
                )
        elif flags[0]:
            answer = {
                "matches": [
                    {"bank_content_id": h.entry_id, "distance": str(h.distance)} for h in hits
                ]
            }
        else:
            answer = {"matches": [h.entry_id for h in hits]}
        return json.dumps(
            answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


def _bearer(scope: Any) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def install(app: Any) -> None:
    """Add the ``/m`` routes and their fast path to the web app."""
    app.include_router(router)
    app.add_middleware(FastLookups)
