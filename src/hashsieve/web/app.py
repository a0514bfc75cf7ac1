"""The web app: ``create_app(store, case=...)`` (FastAPI, Jinja2 templates) composes the review
workspace's routes and the sensor console's routes over the shared access layer.

Every HTML page has a JSON twin under ``/api`` (the tested contract, described by OpenAPI at
``/openapi.json`` for logged-in users). Sessions are server-side, the cookie HttpOnly and
SameSite=Strict; every state change needs the session's CSRF token; failed logins slow the next
try down (exponential back-off, never a lock-out: docs/security.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from hashsieve.access import audit
from hashsieve.access import openapi as openapi_errors
from hashsieve.access.auth import LoginLimiter, Principal, authenticate, close_session, open_session
from hashsieve.access.preferences import Preferences
from hashsieve.access.web import (
    SESSION_COOKIE,
    NotAuthenticated,
    User,
    check_origin,
    client_of,
    csrf,
)
from hashsieve.config import VERSION
from hashsieve.errors import HashsieveError
from hashsieve.exchange.api import router as exchange_router
from hashsieve.review import geo, views
from hashsieve.sensors import api as sensors_api
from hashsieve.sensors import hma
from hashsieve.store import Store

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' "
    "'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


Csrf = Annotated[Principal, Depends(csrf)]


class LoginAnswer(BaseModel):
    username: str
    role: str
    csrf_token: str


class LoggedOut(BaseModel):
    logged_out: bool


class LoginRequest(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


def create_app(
    store: Store,
    *,
    case: str | None = None,
    limiter: LoginLimiter | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The web app over ``store``; with ``case``, only that case is served."""
    app = FastAPI(
        title="hashsieve review",
        version=VERSION,
        openapi_url=None,  # served below, to logged-in users only
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.case = case
    app.state.limiter = limiter or LoginLimiter()
    app.state.secure_cookies = secure_cookies
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["world_path"] = geo.world_path
    templates.env.globals["prefs"] = Preferences()  # pages before login
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        return _secure(request, await call_next(request))

    @app.exception_handler(Exception)
    async def server_error(request: Request, _exc: Exception) -> Response:
        # Answered outside the middleware above: the headers are set here too.
        return _secure(request, JSONResponse({"detail": "internal error"}, status_code=500))

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        path = request.url.path
        if path.startswith("/api/") or path == "/openapi.json" or request.method != "GET":
            return JSONResponse({"detail": "log in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(HashsieveError)
    async def library_error(_request: Request, exc: HashsieveError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    _auth_routes(app)
    app.include_router(views.router)
    sensors_api.install(app, csp=CSP)  # sensor API, alerts page, alert fast path (docs/sensors.md)
    hma.install(app)  # HMA-shaped match API for sensor tokens, and its fast path (docs/sensors.md)
    app.include_router(exchange_router)  # signed feeds for peers (docs/exchange.md)

    openapi_errors.install(app)  # every refusal a route can give, in its schema

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_user: User) -> dict[str, Any]:
        return app.openapi()

    return app


def warm_up(app: FastAPI) -> None:
    """What the first pages would otherwise pay for, done once before serving: every template
    compiled (30-60 ms each), the store's first connection, Pillow's format plugins, and for a
    served case its dashboard counts and the grid's count (a walk of its files: seconds at a
    million). On a million-file case the first grid screen after a start took 600-750 ms, later
    ones 250-350, the first dashboard 4-9 s. No media is read (a thumbnail made here would be a
    view no one audited)."""
    from PIL import Image
    from sqlalchemy import text

    env = app.state.templates.env
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
        env.get_template(name)
    store: Store = app.state.store
    with store.session() as s:
        s.execute(text("SELECT 1"))
    Image.init()
    if app.state.case:  # the served case's counts, kept until its files change (review/kept.py)
        from hashsieve.review import grid, queries

        case = store.get_case(app.state.case)
        queries.dashboard(store, case)
        grid.window(store, case, grid.GridFilter(), limit=1, count=True)


def _secure(request: Request, response: Response) -> Response:
    """The security headers every answer carries: pages, JSON, media, errors."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Origin null
    response.headers["X-Frame-Options"] = "DENY"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.secure_cookies),
        path="/",
    )


def _login(request: Request, username: str, password: str) -> tuple[str, Principal]:
    store: Store = request.app.state.store
    limiter: LoginLimiter = request.app.state.limiter
    client = client_of(request)
    wait = limiter.retry_after(
        username, client, trusted=audit.logged_in_before(store, username, client)
    )
    if wait > 0:
        raise HTTPException(
            429,
            f"too many failed logins; try again in {int(wait) + 1} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    user = authenticate(store, username, password)
    if user is None:
        limiter.failed(username, client)
        audit.log(store, username[:100] or "-", "login-failed", client=client)
        raise HTTPException(401, "wrong user name or password")
    limiter.succeeded(username, client)
    audit.log(store, user.username, "login", client=client)
    return open_session(store, user)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _auth_routes(app: FastAPI) -> None:
    @app.post(
        "/api/login",
        tags=["session"],
        response_model=LoginAnswer,
        responses={429: {"description": "Slowed down"}},
    )
    def api_login(request: Request, body: LoginRequest) -> JSONResponse:
        """Log in; sets the same HttpOnly session cookie as the login page."""
        check_origin(request)
        token, user = _login(request, body.username, body.password)
        response = JSONResponse(
            {"username": user.username, "role": user.role, "csrf_token": user.csrf_token}
        )
        _set_cookie(request, response, token)
        return response

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None, error: str | None = None) -> Response:
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(
            request, "login.html", {"next": _safe_next(next), "error": error, "user": None}
        )

    @app.post("/login", include_in_schema=False)
    def login_form(
        request: Request,
        username: str = Form(max_length=100),
        password: str = Form(max_length=1000),
        next: str = Form("/"),
    ) -> Response:
        check_origin(request)
        try:
            token, _user = _login(request, username, password)
        except HTTPException as exc:
            templates: Jinja2Templates = request.app.state.templates
            return templates.TemplateResponse(
                request,
                "login.html",
                {"next": _safe_next(next), "error": exc.detail, "user": None},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        response = RedirectResponse(_safe_next(next), status_code=303)
        _set_cookie(request, response, token)
        return response

    @app.post("/api/logout", tags=["session"], response_model=LoggedOut)
    def api_logout(request: Request, user: Csrf) -> JSONResponse:
        """End the session (needs the CSRF token like every state change)."""
        close_session(request.app.state.store, request.cookies.get(SESSION_COOKIE))
        audit.log(request.app.state.store, user.username, "logout", client=client_of(request))
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout_form(request: Request, user: Csrf) -> Response:
        close_session(request.app.state.store, request.cookies.get(SESSION_COOKIE))
        audit.log(request.app.state.store, user.username, "logout", client=client_of(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
