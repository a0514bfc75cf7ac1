"""A sensor's link to the console: pull the list, and deliver alerts through an on-disk outbox.

Every alert is first written to the outbox (SQLite, in the sensor's state folder) and only
removed once the console has answered 2xx (201 stored, or 200 "already had it"); a sensor that
is offline or restarted delivers what is waiting, each alert exactly once at the console because
the alert id travels with it.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class ConsoleError(OSError):
    """The console could not be reached or refused a request."""


def new_alert_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ConsoleClient:
    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

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
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ConsoleError(f"console answered {exc.code} to {method} {path}") from None
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
