"""schemathesis against a real ``hashsieve serve``: every operation of the OpenAPI schema, called
with a logged-in admin's session, its CSRF token and a sensor's bearer token, with generated
(valid and invalid) parameters mixed with the real case names, file ids and alert ids.

Checks: no server error, the status code and content type are ones the schema declares, and the
body conforms to the declared response schema. ``HASHSIEVE_FUZZ_EXAMPLES`` sets the examples per
operation (``make fuzz-api`` runs many more than the CI default).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.conftest import CASE, FEED, OTHER_CASE, PASSWORD, Home, Served, copy_home, serve

EXAMPLES = int(os.environ.get("HASHSIEVE_FUZZ_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Session:
    cookies: dict[str, str]
    csrf: str


@dataclass
class Target:
    server: Served
    token: str
    peer_token: str
    session: Session
    file_ids: list[int]
    alert_ids: list[int]
    requests: int = 0
    operations: set[str] = field(default_factory=set)


def login(url: str, username: str) -> Session:
    r = requests.post(
        f"{url}/api/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return Session(dict(r.cookies), r.json()["csrf_token"])


@pytest.fixture(scope="module")
def target(security_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    home = copy_home(security_home, tmp_path_factory.mktemp("fuzz") / "home")
    server = serve(home.path)
    try:
        session = login(server.url, "root")
        login(server.url, "bob")  # bob logs in from here before: the fuzzed logins cannot stop him
        file_ids = []
        for case in (CASE, OTHER_CASE):
            r = requests.get(
                f"{server.url}/api/cases/{case}/groups",
                params={"verdict": "known"},
                cookies=session.cookies,
                timeout=30,
            )
            assert r.status_code == 200, r.text
            file_ids += [t["file_id"] for g in r.json()["groups"] for t in g["tiles"]]
        alerts = requests.get(f"{server.url}/api/alerts", cookies=session.cookies, timeout=30)
        alert_ids = [a["id"] for a in alerts.json()["alerts"]]
        assert file_ids and alert_ids
        target = Target(server, home.token, home.peer_token, session, file_ids, alert_ids)
        yield target
        report = os.environ.get("HASHSIEVE_FUZZ_REPORT")
        if report:  # make fuzz-api: the figures for the record
            figures = {
                "operations": len(target.operations),
                "requests": target.requests,
                "examples_per_operation_and_mode": EXAMPLES,
            }
            Path(report).write_text(json.dumps(figures, indent=1) + "\n")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(target: Target) -> Any:
    """The schema as the live server serves it (to logged-in users only)."""
    return schemathesis.openapi.from_url(
        f"{target.server.url}/openapi.json", cookies=target.session.cookies, timeout=30
    )


def _operations() -> list[Any]:
    """``METHOD /path`` and a generation mode for every operation in the app's schema (read at
    collection time): positive for each, negative for those that take any input."""
    from hashsieve.config import Settings
    from hashsieve.store import Store
    from hashsieve.web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Settings(home=Path(folder) / "home", workers=1))
        try:
            document = create_app(store).openapi()
        finally:
            store.close()
    cases = []
    for path, operations in sorted(document["paths"].items()):
        for method, spec in sorted(operations.items()):
            label = f"{method.upper()} {path}"
            modes = [GenerationMode.POSITIVE]
            if spec.get("parameters") or spec.get("requestBody"):
                modes.append(GenerationMode.NEGATIVE)
            cases += [pytest.param(label, m, id=f"{label}-{m.value}") for m in modes]
    return cases


OPERATIONS = _operations()


def _with_real(target: Target, data: st.DataObject, case: Any) -> None:
    """Half the cases name a real case, file and alert, so the routes' bodies run too."""
    real = {
        "case": [CASE, OTHER_CASE],
        "file_id": target.file_ids,
        "alert_id": target.alert_ids,
        "name": [FEED],
    }
    params = case.path_parameters or {}
    if params and data.draw(st.booleans(), label="real ids"):
        for name in params.keys() & real.keys():
            params[name] = data.draw(st.sampled_from(real[name]), label=name)


@pytest.mark.parametrize(("operation", "mode"), OPERATIONS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
@given(data=st.data())
def test_api(
    operation: str, mode: GenerationMode, target: Target, api_schema: Any, data: st.DataObject
) -> None:
    method, path = operation.split(" ", 1)
    case = data.draw(api_schema[path][method].as_strategy(mode), label="case")
    _with_real(target, data, case)
    session = target.session
    if path == "/api/logout":
        session = login(target.server.url, "bob")  # keep the fuzzing session alive
    token = target.peer_token if path.startswith("/api/exchange/") else target.token
    target.requests += 1
    target.operations.add(operation)
    headers = {"X-CSRF-Token": session.csrf, "Authorization": f"Bearer {token}"}
    response = case.call(
        base_url=target.server.url, headers=headers, cookies=session.cookies, timeout=30
    )
    if _refused_by_the_http_layer(response):
        return
    case.validate_response(response, checks=CHECKS, headers=headers)


def _refused_by_the_http_layer(response: Any) -> bool:
    """A request head over the HTTP layer's limit (uvicorn's h11: 16 KB) is answered 400 in
    plain text before the app sees it: not one of the app's answers, so not in its schema. Only
    a request line long enough to come near that limit is let through here."""
    return (
        response.status_code == 400
        and response.text == "Invalid HTTP request received."
        and len(response.request.url) > 8 * 1024
    )


def test_every_operation_is_fuzzed(target: Target, tmp_path: Path) -> None:
    """Every JSON route of the app is in the schema the fuzzer reads (none hidden from it)."""
    from hashsieve.access.openapi import api_routes
    from hashsieve.config import Settings
    from hashsieve.store import Store
    from hashsieve.web.app import create_app

    store = Store(Settings(home=tmp_path / "home", workers=1))
    try:
        routes = list(api_routes(create_app(store)))
    finally:
        store.close()
    r = requests.get(
        f"{target.server.url}/openapi.json", cookies=target.session.cookies, timeout=30
    )
    served = {(m.upper(), p) for p, ops in r.json()["paths"].items() for m in ops}
    expected = {
        (m, path)
        for path, route in routes
        if path.startswith("/api/")
        for m in route.methods
        if m != "HEAD"
    }
    assert expected <= served, expected - served
    fuzzed = {tuple(p.values[0].split(" ", 1)) for p in OPERATIONS}
    assert served <= fuzzed, served - fuzzed
