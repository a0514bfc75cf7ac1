"""Routes of the sensor console: the bearer-token API for sensors, and the alerts page + twin.

Sensor routes (``/api/sensors/...``) take ``Authorization: Bearer <token>`` and nothing else;
the alerts page and its JSON twin are for logged-in users, and changing an alert's status needs
the session's CSRF token like every other state change of the app.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError, model_validator

from hashsieve.access import audit
from hashsieve.access.auth import Principal
from hashsieve.access.preferences import get_preferences
from hashsieve.access.web import DB_INT_MAX, User, client_of, csrf, get_store
from hashsieve.sensors import console
from hashsieve.sensors.models import ALERT_STATUSES, Sensor
from hashsieve.sensors.writer import AlertWriter

router = APIRouter()
Csrf = Annotated[Principal, Depends(csrf)]
AlertId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


def sensor_auth(request: Request) -> Sensor:
    """The sensor named by the bearer token; 401 for a missing, unknown or revoked token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    sensor = (
        console.authenticate(get_store(request), token.strip())
        if scheme.lower() == ("bearer")
        else None
    )
    if sensor is None:
        raise HTTPException(401, "a valid sensor token is needed", {"WWW-Authenticate": "Bearer"})
    return sensor


SensorDep = Annotated[Sensor, Depends(sensor_auth)]


class MatchIn(BaseModel):
    entry_id: int | None = Field(None, ge=0, le=DB_INT_MAX)
    hashset: str | None = Field(None, max_length=200)
    category: int | None = Field(None, ge=0, le=DB_INT_MAX)
    algorithm: str = Field(max_length=16)
    distance: int = Field(0, ge=0, le=256)
    variant: str | None = Field(None, max_length=16)


class AlertIn(BaseModel):
    """What a sensor reports: where and when, the file's hashes and what matched: no content."""

    alert_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    time: str | None = Field(None, max_length=40)
    source: Literal["file", "http"] = "file"
    host: str | None = Field(None, max_length=255)
    user: str | None = Field(None, max_length=255)
    location: str | None = Field(None, max_length=4096)
    client: str | None = Field(None, max_length=255)
    action: Literal["seen", "blocked"] | None = None
    mime: str | None = Field(None, max_length=100)
    size: int | None = Field(None, ge=0, le=DB_INT_MAX)
    hashes: dict[Literal["md5", "sha1", "sha256", "pdq"], str] = Field(default_factory=dict)
    matches: list[MatchIn] = Field(min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        # A path that is not UTF-8 reaches Python as lone surrogates (surrogateescape), and JSON
        # carries them (``\\udc80``), but no database takes them: the alert would fail in the
        # store (500, retried by the sensor forever). Kept readable instead: ``\\x80``.
        return _as_text(data)


def _escaped(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte of a name that is not UTF-8 as ``\\xNN``, any other lone
    surrogate as ``\\udNNN``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = (ord(c) for c in error.object[error.start : error.end])
    text = "".join(f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}" for c in bad)
    return text, error.end


codecs.register_error("hashsieve-alert-text", _escaped)


def _as_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "hashsieve-alert-text").decode()
        return value
    if isinstance(value, dict):
        return {_as_text(k): _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


class AlertStored(BaseModel):
    id: int
    duplicate: bool


class ListVersion(BaseModel):
    version: str
    istag: str


class AlertOut(BaseModel):
    """An alert as the console shows it (``console.alert_dict``)."""

    id: int
    alert_id: str
    sensor: str
    received_at: str | None
    time: str | None
    source: str
    host: str | None
    user: str | None
    location: str | None
    client: str | None
    action: str | None
    hashset: str | None
    category: int | None
    algorithm: str | None
    distance: int | None
    entry: str | None
    sha256: str | None
    status: Literal["new", "acknowledged", "resolved"]
    status_by: str | None
    status_at: str | None
    detail: dict[str, Any]


class AlertList(BaseModel):
    alerts: list[AlertOut]
    status: str | None
    statuses: list[str]


@router.post(
    "/api/sensors/alerts",
    tags=["sensors"],
    status_code=201,
    response_model=AlertStored,
    responses={
        200: {"model": AlertStored, "description": "Seen before (same alert_id): not stored"}
    },
)
async def post_alert(request: Request, sensor: SensorDep, body: AlertIn) -> JSONResponse:
    """Store an alert (committed before this answers); a repeated ``alert_id`` is ignored."""
    answer, status = await _store_alert(request.app, sensor, body.model_dump())
    return JSONResponse(answer, status_code=status)


async def _store_alert(
    app: Any, sensor: Sensor, payload: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """Hand the alert to the console's writer and wait for its commit: (answer, status)."""
    state = app.state
    writer: AlertWriter | None = getattr(state, "alert_writer", None)
    if writer is None or writer.store is not state.store:
        writer = state.alert_writer = AlertWriter(state.store)
    recorded = await asyncio.wrap_future(writer.submit(sensor, payload))
    if recorded.created:
        forwarder = getattr(state, "alert_forwarder", None)
        if forwarder is not None:
            forwarder.submit(recorded.alert)
    answer = {"id": recorded.alert["id"], "duplicate": not recorded.created}
    return answer, 201 if recorded.created else 200


@router.get("/api/sensors/hashlist", tags=["sensors"])
def get_hashlist(
    request: Request,
    _sensor: SensorDep,
    since: Annotated[str | None, Query(max_length=10_000)] = None,
    pdq: bool = True,
    after: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 200_000,
    version: Annotated[str | None, Query(max_length=10_000)] = None,
) -> dict[str, Any]:
    """The list sensors match against, as changes since the version ``since`` they hold.

    Paged by entry id: follow ``next`` (as ``after``, with the first page's ``version``) until it
    is null.
    """
    return console.hashlist(
        get_store(request), since, pdq=pdq, after=after, limit=limit, version=version
    )


@router.get("/api/sensors/version", tags=["sensors"], response_model=ListVersion)
def get_version(request: Request, _sensor: SensorDep) -> dict[str, Any]:
    """The current list version (cheap: sensors poll this, then pull the changes)."""
    version = console.list_version(get_store(request))
    return {"version": version, "istag": console.istag(version)}


# --- the alerts page --------------------------------------------------------------------------


def _alerts(request: Request, status: str | None, before: int | None, limit: int) -> dict[str, Any]:
    if status and status not in ALERT_STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(ALERT_STATUSES)}")
    alerts = console.list_alerts(get_store(request), status=status, before=before, limit=limit)
    return {"alerts": alerts, "status": status, "statuses": list(ALERT_STATUSES)}


@router.get("/api/alerts", tags=["alerts"], response_model=AlertList)
def api_alerts(
    request: Request,
    _user: User,
    status: Literal["new", "acknowledged", "resolved"] | None = None,
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Sensor alerts, newest first (time, sensor, host, user, path or URL, match)."""
    return _alerts(request, status, before, limit)


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(
    request: Request,
    user: User,
    status: Annotated[str | None, Query(max_length=16)] = None,
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> Response:
    data = _alerts(request, status or None, before, 100)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "alerts.html",
        {
            "data": data,
            "user": user,
            "prefs": get_preferences(get_store(request), user.user_id),
            "served_case": request.app.state.case,
        },
    )


class StatusIn(BaseModel):
    status: Literal["new", "acknowledged", "resolved"]


def _set_status(request: Request, user: Principal, alert_id: int, status: str) -> dict[str, Any]:
    if not user.can_write:
        raise HTTPException(403, f"the {user.role} role cannot change alerts")
    store = get_store(request)
    try:
        old, alert = console.set_status(store, alert_id, status, user.username)
    except console.SensorError as exc:
        raise HTTPException(404, str(exc)) from None
    audit.log(
        store,
        user.username,
        "alert-status",
        sha256=alert.get("sha256"),
        field=f"alert {alert_id}",
        old=old,
        new=status,
        client=client_of(request),
    )
    return alert


@router.post("/api/alerts/{alert_id}/status", tags=["alerts"], response_model=AlertOut)
def api_alert_status(
    request: Request, user: Csrf, alert_id: AlertId, body: StatusIn
) -> dict[str, Any]:
    """Acknowledge or resolve an alert (or set it back to new)."""
    return _set_status(request, user, alert_id, body.status)


@router.post("/alerts/{alert_id}/status", include_in_schema=False)
def form_alert_status(
    request: Request,
    user: Csrf,
    alert_id: AlertId,
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    if status not in ALERT_STATUSES:
        raise HTTPException(422, "unknown status")
    _set_status(request, user, alert_id, status)
    return RedirectResponse("/alerts", status_code=303)


# --- the fast path ----------------------------------------------------------------------------

#: The longest body the fast path reads; a longer one goes to the route, which refuses or takes it.
FAST_MAX_BODY = 256 * 1024


class FastAlerts:
    """ASGI middleware: ``POST /api/sensors/alerts`` from a sensor whose token was verified in
    the last TOKEN_TTL seconds, with a body the route's own model accepts, is stored here through
    the same writer, without FastAPI's routing, dependency solving and the other middleware
    (half of an alert's CPU before, the ORM insert the other half). Anything else — a token to
    verify, a missing or revoked one, a body the model refuses — goes on, unchanged, to the
    route, which defines, validates and documents the API and gives every refusal."""

    def __init__(self, app: Any, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/api/sensors/alerts"
        ):
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(scope, receive)
        sensor, alert = self._accepted(scope, body) if not more else (None, None)
        if sensor is None or alert is None:
            await self.app(scope, _replay(body, more, receive), send)
            return
        answer, status = await _store_alert(scope["app"], sensor, alert.model_dump())
        payload = json.dumps(answer, separators=(",", ":")).encode()
        headers = [*self.headers, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _accepted(self, scope: Any, body: bytes) -> tuple[Sensor | None, AlertIn | None]:
        token = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                token = token.strip() if scheme.lower() == "bearer" else None
            elif name == b"content-type":
                content_type = value.decode("latin-1").partition(";")[0].strip().lower()
        if not token or content_type != "application/json":
            return None, None
        sensor = console.verified(scope["app"].state.store, token)
        if sensor is None:
            return None, None
        try:
            return sensor, AlertIn.model_validate_json(body)
        except ValidationError:
            return None, None


async def _read_body(scope: Any, receive: Any) -> tuple[bytes, bool]:
    """The request body up to FAST_MAX_BODY, and whether more is left to receive."""
    declared = dict(scope["headers"]).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > FAST_MAX_BODY:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > FAST_MAX_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Any) -> Any:
    """``receive`` for the app: the part of the body already read, then the rest."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more}

    return again


def install(app: Any, *, csp: str) -> None:
    """Add the sensor routes, the alerts page and the alert fast path to the web app; ``csp``
    is the Content-Security-Policy the app's other answers carry."""
    app.include_router(router)
    app.add_middleware(FastAlerts, csp=csp)
