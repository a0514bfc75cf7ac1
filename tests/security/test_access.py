"""Every route of the app, walked from ``app.routes`` (a route added later is walked too): who may
call it, with which role, session and CSRF token; object-level access to cases and files;
session expiry and logout; security headers on every answer, errors included."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hashsieve.access import membership
from hashsieve.access.models import User, UserSession
from hashsieve.access.openapi import api_routes
from hashsieve.access.web import csrf, principal
from hashsieve.config import Settings
from hashsieve.exchange.api import peer_auth
from hashsieve.sensors.api import sensor_auth
from hashsieve.sensors.hma import lookup_sensor
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from hashsieve.web.app import create_app
from tests.security.conftest import CASE, FEED, OTHER_CASE, PASSWORD, Home, copy_home

#: Routes anyone may call: the login page and the login itself.
PUBLIC = {("POST", "/api/login"), ("GET", "/login"), ("POST", "/login")}
#: Dependencies that say who is calling: a session, or a sensor's or peer's bearer token.
SESSION_GUARD: Callable[..., Any] = principal
TOKEN_GUARDS: set[Callable[..., Any]] = {sensor_auth, peer_auth, lookup_sensor}
#: State changes a read-only user may make: their own session and settings.
SELF_SERVICE = {
    ("POST", "/api/logout"),
    ("POST", "/logout"),
    ("PUT", "/api/settings"),
    ("POST", "/settings"),
}
#: A body that passes validation, so the role check (not the body's) is what answers.
BODIES: dict[str, dict[str, Any]] = {
    "/api/cases/{case}/decisions": {"json": {"file_ids": [1], "set": {"category": 1}}},
    "/api/alerts/{alert_id}/status": {"json": {"status": "acknowledged"}},
    "/alerts/{alert_id}/status": {"data": {"status": "acknowledged"}},
    "/api/settings": {"json": {"blur": 10}},
    "/settings": {"data": {"blur": 10, "thumb_size": 160, "break_minutes": 45}},
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def _walk() -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every route of the app, read at collection time."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Settings(home=Path(folder) / "home", workers=1))
        try:
            routes = list(api_routes(create_app(store)))
        finally:
            store.close()
    return sorted(
        (method, path, route)
        for path, route in routes
        for method in route.methods or ()
        if method != "HEAD"
    )


ROUTES = _walk()


def _ids(routes: list[tuple[str, str, APIRoute]]) -> list[Any]:
    return [pytest.param(m, p, r, id=f"{m} {p}") for m, p, r in routes]


def guards(route: APIRoute) -> set[Callable[..., Any]]:
    return set(_calls(route.dependant))


def is_session_route(route: APIRoute) -> bool:
    return SESSION_GUARD in guards(route)


SESSION_ROUTES = [(m, p, r) for m, p, r in ROUTES if is_session_route(r)]
TOKEN_ROUTES = [(m, p, r) for m, p, r in ROUTES if guards(r) & TOKEN_GUARDS]
GUARDED = [(m, p, r) for m, p, r in ROUTES if (m, p) not in PUBLIC]
WRITES = [(m, p, r) for m, p, r in SESSION_ROUTES if m != "GET"]


@dataclass
class World:
    store: Store
    app: Any
    file_id: int  # a file of CASE
    other_file_id: int  # a file of OTHER_CASE
    alert_id: int

    def url(self, path: str, case: str = CASE) -> str:
        return path.format(case=case, file_id=self.file_id, alert_id=self.alert_id, name=FEED)

    logins: dict[str, tuple[str, str]] = field(default_factory=dict)

    def client(self, username: str | None = None, *, fresh: bool = False) -> Session:
        """A client; logged in as ``username`` (one login per user and world, unless fresh)."""
        client = TestClient(self.app, follow_redirects=False, raise_server_exceptions=False)
        session = Session(self, client)
        if username is not None:
            if fresh or username not in self.logins:
                session.login(username)
                token = client.cookies.get("hashsieve_session")
                assert token
                if not fresh:
                    self.logins[username] = (token, session.csrf)
            else:
                token, session.csrf = self.logins[username]
                client.cookies.set("hashsieve_session", token)
        return session


@dataclass
class Session:
    world: World
    client: TestClient
    csrf: str = ""

    def login(self, username: str) -> None:
        r = self.client.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        with_csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"X-CSRF-Token": self.csrf} if with_csrf and self.csrf else {}
        body = BODIES.get(path, {"json": {}} if method != "GET" else {})
        return self.client.request(
            method, self.world.url(path), headers={**sent, **(headers or {})}, **body
        )


def _world(home: Home) -> Iterator[World]:
    store = Store(Settings(home=home.path, workers=1))
    with store.session() as s:
        ids = {
            name: s.scalar(
                select(FileRecord.id)
                .where(FileRecord.case_id == store.get_case(name).id)
                .order_by(FileRecord.id)
            )
            for name in (CASE, OTHER_CASE)
        }
    from hashsieve.sensors import console

    alert_id = console.list_alerts(store, status=None, before=None, limit=1)[0]["id"]
    yield World(store, create_app(store), ids[CASE], ids[OTHER_CASE], alert_id)
    store.close()


@pytest.fixture(scope="module")
def world(security_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _world(copy_home(security_home, tmp_path_factory.mktemp("access") / "home"))


@pytest.fixture
def fresh_world(home_copy: Home) -> Iterator[World]:
    yield from _world(home_copy)


def test_the_walk_found_every_kind_of_route() -> None:
    paths = {p for _m, p, _r in ROUTES}
    assert {"/api/cases/{case}/files/{file_id}", "/api/sensors/alerts", "/alerts"} <= paths
    assert len(WRITES) >= 6 and len(SESSION_ROUTES) >= 30 and len(TOKEN_ROUTES) >= 5


@pytest.mark.parametrize(("method", "path", "route"), _ids(ROUTES))
def test_every_route_names_who_may_call_it(method: str, path: str, route: APIRoute) -> None:
    """A session or a bearer token, never both, never neither (except the login)."""
    found = guards(route)
    by_session, by_token = SESSION_GUARD in found, bool(found & TOKEN_GUARDS)
    if (method, path) in PUBLIC:
        assert not by_session and not by_token
    else:
        assert by_session != by_token, f"{method} {path}: guards {found}"


@pytest.mark.parametrize(("method", "path", "route"), _ids(GUARDED))
def test_every_route_refuses_anonymous_callers(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    r = world.client().call(method, path)
    if method == "GET" and not path.startswith(("/api/", "/m/", "/openapi")):
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    else:
        assert r.status_code == 401, r.text


@pytest.mark.parametrize(("method", "path", "route"), _ids(TOKEN_ROUTES))
def test_bearer_routes_ignore_a_session_cookie(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    assert world.client("root").call(method, path).status_code == 401


@pytest.mark.parametrize(("method", "path", "route"), _ids(WRITES))
def test_every_state_change_needs_the_csrf_token(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    assert csrf in guards(route), f"{method} {path} does not depend on the CSRF check"
    r = world.client("root").call(method, path, with_csrf=False)
    assert r.status_code == 403 and "CSRF" in r.text


@pytest.mark.parametrize(("method", "path", "route"), _ids(WRITES))
def test_a_state_change_from_another_origin_is_refused(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    r = world.client("root").call(method, path, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.text


@pytest.mark.parametrize(
    ("method", "path", "route"),
    _ids([(m, p, r) for m, p, r in WRITES if (m, p) not in SELF_SERVICE]),
)
def test_read_only_users_cannot_write(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    r = world.client("rita").call(method, path)
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("path", ["/api/cases/{case}/audit", "/api/users"])
def test_read_only_users_cannot_read_the_audit_log_or_users(world: World, path: str) -> None:
    assert world.client("rita").call("GET", path).status_code == 403


@pytest.mark.parametrize(("method", "path", "route"), _ids(SESSION_ROUTES))
def test_a_logged_out_session_is_dead_on_every_route(
    world: World, dead: tuple[str, str], method: str, path: str, route: APIRoute
) -> None:
    """The cookie of a session that logged out, replayed, opens nothing."""
    token, csrf_token = dead
    replay = world.client()
    replay.client.cookies.set("hashsieve_session", token)
    replay.csrf = csrf_token
    r = replay.call(method, path)
    assert r.status_code in (401, 303)
    if r.status_code == 303:
        assert r.headers["location"].startswith("/login")


@pytest.fixture(scope="module")
def dead(world: World) -> tuple[str, str]:
    """The cookie token and CSRF token of a session that logged out."""
    session = world.client("bob", fresh=True)
    token = session.client.cookies.get("hashsieve_session")
    assert token and session.call("POST", "/api/logout").status_code == 200
    return token, session.csrf


def test_logout_invalidates_the_token_on_the_server(world: World) -> None:
    session = world.client("alice", fresh=True)
    token = session.client.cookies.get("hashsieve_session")
    assert token and session.call("GET", "/api/me").status_code == 200
    assert session.call("POST", "/api/logout").status_code == 200
    replay = world.client()
    replay.client.cookies.set("hashsieve_session", token)
    assert replay.call("GET", "/api/me").status_code == 401
    assert replay.call("GET", "/cases").status_code == 303


def test_an_expired_session_is_refused(fresh_world: World) -> None:
    session = fresh_world.client("alice")
    assert session.call("GET", "/api/me").status_code == 200
    with fresh_world.store.session() as s:
        s.execute(update(UserSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert session.call("GET", "/api/me").status_code == 401


def test_a_disabled_user_is_logged_out_at_once(fresh_world: World) -> None:
    session = fresh_world.client("alice")
    with fresh_world.store.session() as s:
        s.execute(update(User).where(User.username == "alice").values(disabled=True))
    assert session.call("GET", "/api/me").status_code == 401
    r = fresh_world.client().client.post(
        "/api/login", json={"username": "alice", "password": PASSWORD}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/{case}/files/{file_id}",
        "/api/cases/{case}/files/{file_id}/thumb",
        "/api/cases/{case}/files/{file_id}/image",
        "/api/cases/{case}/files/{file_id}/similar",
    ],
)
def test_a_file_is_reached_only_through_its_own_case(world: World, path: str) -> None:
    session = world.client("alice")
    own = session.client.get(path.format(case=OTHER_CASE, file_id=world.other_file_id))
    assert own.status_code == 200
    other = session.client.get(path.format(case=CASE, file_id=world.other_file_id))
    assert other.status_code == 404


def test_decisions_cannot_name_files_of_another_case(world: World) -> None:
    session = world.client("alice")
    r = session.client.post(
        f"/api/cases/{CASE}/decisions",
        json={"file_ids": [world.other_file_id], "set": {"category": 1}},
        headers={"X-CSRF-Token": session.csrf},
    )
    assert r.status_code == 404


def test_a_case_with_members_is_theirs_and_the_admins_only(fresh_world: World) -> None:
    store = fresh_world.store
    membership.assign(store, "alice", OTHER_CASE)
    alice, bob, root = (fresh_world.client(n) for n in ("alice", "bob", "root"))
    file_url = f"/api/cases/{OTHER_CASE}/files/{fresh_world.other_file_id}"
    for path in (f"/api/cases/{OTHER_CASE}", file_url, f"{file_url}/thumb"):
        assert alice.client.get(path).status_code == 200
        assert root.client.get(path).status_code == 200
        r = bob.client.get(path)
        assert r.status_code == 404 and r.json() == {"detail": f"no case named {OTHER_CASE!r}"}

    def listed(session: Session) -> set[str]:
        return {c["name"] for c in session.client.get("/api/cases").json()["cases"]}

    assert listed(alice) == listed(root) == {CASE, OTHER_CASE}
    assert listed(bob) == {CASE}  # a case without members stays open to every user
    r = bob.client.post(
        f"/api/cases/{OTHER_CASE}/decisions",
        json={"file_ids": [fresh_world.other_file_id], "set": {"category": 1}},
        headers={"X-CSRF-Token": bob.csrf},
    )
    assert r.status_code == 404
    membership.unassign(store, "alice", OTHER_CASE)
    assert listed(bob) == {CASE, OTHER_CASE}


def test_links_to_other_cases_name_only_cases_the_reader_may_see(fresh_world: World) -> None:
    store = fresh_world.store
    with store.session() as s:
        linked = s.scalar(
            select(FileRecord.id).where(
                (FileRecord.case_id == store.get_case(OTHER_CASE).id)
                & FileRecord.crosscase_json.is_not(None)
            )
        )
    assert linked is not None, "the sample has a new picture in both cases"
    url = f"/api/cases/{OTHER_CASE}/files/{linked}"

    def linked_cases(username: str) -> set[str]:
        r = fresh_world.client(username).client.get(url)
        assert r.status_code == 200, r.text
        return {link["case"] for link in r.json()["crosscase"]}

    assert linked_cases("bob") == {CASE}
    membership.assign(store, "alice", CASE)  # CASE is now alice's (and admins') only
    assert linked_cases("bob") == set()
    assert linked_cases("alice") == linked_cases("root") == {CASE}


HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def assert_secure(response: Any) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name)
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy


@pytest.mark.parametrize(("method", "path", "route"), _ids(ROUTES))
def test_every_answer_carries_the_security_headers(
    world: World, method: str, path: str, route: APIRoute
) -> None:
    session = world.client("root", fresh=path.endswith("/logout"))
    assert_secure(session.call(method, path))  # as the route answers a logged-in admin
    assert_secure(world.client().call(method, path))  # and an anonymous caller


@pytest.mark.parametrize(
    ("path", "status"),
    [("/no/such/page", 404), ("/api/cases/{case}/groups?offset=-1", 422), ("/api/me", 401)],
)
def test_error_answers_carry_the_security_headers(world: World, path: str, status: int) -> None:
    session = world.client("root") if status != 401 else world.client()
    r = session.client.get(world.url(path))
    assert r.status_code == status
    assert_secure(r)


def test_static_files_and_server_errors_carry_the_security_headers(fresh_world: World) -> None:
    app = fresh_world.app

    @app.get("/api/boom-for-test", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    client = fresh_world.client().client
    r = client.get("/api/boom-for-test")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert_secure(r)
    static = client.get("/static/" + next(iter(_static_names())))
    assert static.status_code == 200
    assert_secure(static)


def _static_names() -> list[str]:
    from hashsieve.web.app import STATIC

    return sorted(p.name for p in STATIC.iterdir() if p.is_file())
