"""A sensor's link to the console: pull the list, and deliver alerts through an on-disk outbox.

Every alert is first written to the outbox (SQLite, in the sensor's state folder) and only
removed once the console has answered 2xx (201 stored, or 200 "already had it"); a sensor that
is offline or restarted delivers what is waiting, each alert exactly once at the console because
the alert id travels with it.

The sensor's token travels only over HTTPS, with the console's certificate verified (against the
system's CAs, or only against ``ca``, a private CA's certificate, when given); plain HTTP is
refused except to a loopback address, and redirects are never followed (they could carry the
token elsewhere).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sqlite3
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashsieve.errors import HashsieveError

log = logging.getLogger(__name__)


class ConsoleError(OSError):
    """The console could not be reached or refused a request (``status``: its HTTP answer)."""

    status: int | None = None


#: Answers that refuse an alert for what it is (malformed, too large): retrying cannot help.
REFUSED_STATUSES = (400, 413, 422)


class InsecureConsoleError(ConsoleError, HashsieveError):
    """A console URL the token must not be sent to (plain HTTP to another machine), or a console
    whose TLS certificate is not trusted: a set-up error the command line reports and stops on
    (``check``); a running sensor treats it like an unreachable console and keeps its alerts."""


_HINT = " (hashsieve serve --tls-cert/--tls-key; --ca FILE for a private CA)"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_console_url(url: str, what: str = "the sensor token", hint: str = _HINT) -> str:
    """``url`` when a token (``what``) may be sent to it: https, or http to loopback only."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureConsoleError(f"not an http(s) URL: {url!r} (https://HOST:PORT)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureConsoleError(
            f"refusing to send {what} over plain HTTP to {parts.hostname}: use https://"
            f"{hint}; plain http is allowed to a loopback address only"
        )
    return url


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the redirect answer is raised as an HTTPError, the token stays here


def tls_context(ca: Path | str | None = None) -> ssl.SSLContext:
    """Verify the console's certificate and host name: against ``ca`` only when given (a private
    CA pinned), else against the system's CAs."""
    if ca is not None and not Path(ca).is_file():
        raise InsecureConsoleError(f"CA certificate not found: {ca}")
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def new_alert_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ConsoleClient:
    def __init__(
        self, url: str, token: str, *, timeout: float = 10.0, ca: Path | str | None = None
    ) -> None:
        self.url = check_console_url(url).rstrip("/")
        self.token = token
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [NoRedirect()]
        if self.url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=tls_context(ca)))
        self._opener = urllib.request.build_opener(*handlers)

    def _request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "User-Agent": "hashsieve-sensor",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            error = ConsoleError(f"console answered {exc.code} to {method} {path}")
            error.status = exc.code
            raise error from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                raise InsecureConsoleError(
                    f"the console's TLS certificate is not trusted ({exc.reason.verify_message});"
                    " pin its CA with --ca FILE"
                ) from None
            raise ConsoleError(f"console unreachable: {exc}") from None
        except (OSError, ValueError) as exc:
            raise ConsoleError(f"console unreachable: {exc}") from None

    def hashlist(
        self, since: str = "0", *, pdq: bool = True, page: int | None = None
    ) -> dict[str, Any]:
        """The changes since ``since``, every page fetched (``page`` entries each; the console's
        default when None) and joined into one answer."""
        params: dict[str, str] = {"since": since, "pdq": "true" if pdq else "false"}
        if page:
            params["limit"] = str(page)
        payload = self._request("GET", f"/api/sensors/hashlist?{urllib.parse.urlencode(params)}")[1]
        while payload.get("next") is not None:
            params |= {"after": str(payload["next"]), "version": payload["version"]}
            query = urllib.parse.urlencode(params)
            more = self._request("GET", f"/api/sensors/hashlist?{query}")[1]
            payload["entries"].extend(more["entries"])
            payload["next"] = more["next"]
        return payload

    def check(self) -> None:
        """Stop on a console that cannot be trusted (InsecureConsoleError); an unreachable one
        is fine (the sensor works offline and delivers later)."""
        try:
            self.version()
        except InsecureConsoleError:
            raise
        except ConsoleError as exc:
            log.warning("console not reachable now: %s", exc)

    def version(self) -> str:
        return str(self._request("GET", "/api/sensors/version")[1]["version"])

    def send_alert(self, alert: dict[str, Any]) -> None:
        status, _ = self._request("POST", "/api/sensors/alerts", alert)
        if not 200 <= status < 300:
            raise ConsoleError(f"console answered {status}")


class Outbox:
    """Alerts waiting for the console, on disk; a background thread delivers them."""

    def __init__(self, path: Path, client: ConsoleClient | None, *, retry: float = 5.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.client = client
        self.retry = retry
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (alert_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " queued REAL NOT NULL, tries INTEGER NOT NULL DEFAULT 0)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS refused (alert_id TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " status INTEGER NOT NULL, refused REAL NOT NULL)"
        )

    def put(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (alert_id, body, queued) VALUES (?, ?, ?)",
                (alert["alert_id"], json.dumps(alert), time.time()),
            )
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def flush(self) -> int:
        """Deliver what waits, oldest first; stops at the first failure. Returns how many."""
        if self.client is None:
            return 0
        with self._lock:
            rows = self._db.execute("SELECT alert_id, body FROM outbox ORDER BY queued").fetchall()
        sent = 0
        for alert_id, body in rows:
            try:
                self.client.send_alert(json.loads(body))
            except ConsoleError as exc:
                if exc.status in REFUSED_STATUSES:
                    # Kept aside, never dropped, and no longer holding back the alerts behind
                    # it (it did, forever, before docs/reliability.md's agent fault test).
                    with self._lock:
                        self._db.execute(
                            "INSERT OR REPLACE INTO refused (alert_id, body, status, refused)"
                            " VALUES (?, ?, ?, ?)",
                            (alert_id, body, exc.status, time.time()),
                        )
                        self._db.execute("DELETE FROM outbox WHERE alert_id = ?", (alert_id,))
                    log.error("alert %s refused (%s): kept in %s", alert_id, exc, self.path)
                    continue
                with self._lock:
                    self._db.execute(
                        "UPDATE outbox SET tries = tries + 1 WHERE alert_id = ?", (alert_id,)
                    )
                log.info("alert %s queued: %s", alert_id, exc)
                break
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE alert_id = ?", (alert_id,))
            sent += 1
        return sent

    def start(self) -> Outbox:
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except Exception:  # the outbox thread must survive anything
                log.exception("outbox flush failed")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        self._db.close()


def host_name() -> str:
    return socket.gethostname()
