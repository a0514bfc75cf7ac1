"""A publisher's redirect is refused, never followed: it would carry the peer token elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hashsieve.exchange import subscriber
from hashsieve.exchange.models import Subscription


def _server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers() -> Iterator[tuple[ThreadingHTTPServer, list[str | None]]]:
    seen: list[str | None] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None: ...

    elsewhere = _server(Elsewhere)

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{elsewhere.server_port}/steal")
            self.end_headers()

        def log_message(self, *_args: object) -> None: ...

    redirecting = _server(Redirecting)
    yield redirecting, seen
    for server in (redirecting, elsewhere):
        server.shutdown()
        server.server_close()


def test_a_redirect_is_refused_and_the_token_stays_home(
    servers: tuple[ThreadingHTTPServer, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    redirecting, seen = servers
    monkeypatch.setattr(subscriber, "_token", lambda _store, _sub: "peer-secret")
    sub = Subscription(name="s", url=f"http://127.0.0.1:{redirecting.server_port}")
    fetch = subscriber.http_fetch(None)  # type: ignore[arg-type]  # the store only holds the token
    with pytest.raises(subscriber.SyncError, match="answered 302"):
        fetch(sub, "feed", 0)
    assert seen == []
