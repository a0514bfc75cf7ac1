"""Where the console forwards each stored alert: a webhook (JSON POST, retried) and CEF syslog.

Forwarding runs on one background thread fed by a queue, so the sensor API answers as soon as
the alert is committed; the store stays the record of truth if an output is down.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hashsieve.config import VERSION

log = logging.getLogger(__name__)
Output = Callable[[dict[str, Any]], None]

#: CEF severity by the matched category (1 = most serious); unknown categories rank high.
_SEVERITY = {1: 10, 2: 8, 3: 6}


def _cef_header(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def cef_line(alert: dict[str, Any]) -> str:
    """One alert as an ArcSight CEF:0 message (what Splunk and other SIEMs ingest)."""
    category = alert.get("category")
    severity = _SEVERITY.get(category, 9) if category is not None else 9
    ext: dict[str, object] = {
        "rt": _epoch_ms(alert.get("time")),
        "externalId": alert.get("id"),
        "deviceExternalId": alert.get("sensor"),
        "dhost": alert.get("host"),
        "duser": alert.get("user"),
        "src": alert.get("client"),
        "act": alert.get("action"),
        "cs1Label": "hashset",
        "cs1": alert.get("hashset"),
        "cs2Label": "algorithm",
        "cs2": alert.get("algorithm"),
        "cn1Label": "distance",
        "cn1": alert.get("distance"),
        "cn2Label": "category",
        "cn2": category,
        "fileHash": alert.get("sha256"),
    }
    location = alert.get("location")
    if alert.get("source") == "http":
        ext["request"] = location
    else:
        ext["filePath"] = location
    extension = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v is not None)
    name = "Known material seen" if alert.get("action") != "blocked" else "Known material blocked"
    header = [
        "CEF:0",
        "hashsieve",
        "hashsieve",
        VERSION,
        f"known-{alert.get('source') or 'file'}",
        name,
        str(severity),
    ]
    return "|".join(_cef_header(h) for h in header) + "|" + extension


def _epoch_ms(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def syslog_frame(message: str, *, tcp: bool) -> bytes:
    """RFC 5424 syslog (facility local4, severity warning) carrying the CEF message."""
    stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
    host = socket.gethostname() or "-"
    line = f"<164>1 {stamp} {host} hashsieve - alert - {message}"
    data = line.encode("utf-8", "replace")
    return (f"{len(data)} ".encode() + data) if tcp else data  # TCP: octet counting (RFC 6587)


def parse_hostport(value: str, default_port: int = 514) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host:
        return value, default_port
    return host.strip("[]"), int(port)


def cef_syslog(target: str, *, tcp: bool = False) -> Output:
    """Send each alert as CEF over syslog to ``target`` (``HOST:PORT``; UDP unless ``tcp``)."""
    host, port = parse_hostport(target)

    def send(alert: dict[str, Any]) -> None:
        frame = syslog_frame(cef_line(alert), tcp=tcp)
        kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.settimeout(5)
            if tcp:
                sock.connect((host, port))
                sock.sendall(frame)
            else:
                sock.sendto(frame, (host, port))

    return send


def webhook(url: str, *, timeout: float = 5.0) -> Output:
    """POST each alert as JSON to ``url``; any status other than 2xx counts as a failure."""

    def send(alert: dict[str, Any]) -> None:
        body = json.dumps({"type": "hashsieve.alert", "alert": alert}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "hashsieve"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"webhook answered {response.status}")

    return send


@dataclass
class Forwarder:
    """Delivers alerts to every output from one thread, retrying each with backoff."""

    outputs: list[tuple[str, Output]]
    retries: int = 5
    backoff: float = 0.5
    _queue: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def submit(self, alert: dict[str, Any]) -> None:
        if not self.outputs:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-outputs", daemon=True)
            self._thread.start()
        self._queue.put(alert)

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            for name, output in self.outputs:
                self._deliver(name, output, alert)
            self._queue.task_done()
        self._queue.task_done()

    def _deliver(self, name: str, output: Output, alert: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            try:
                output(alert)
                return
            except Exception as exc:  # any failure of an output is retried, then logged
                if attempt == self.retries:
                    log.warning("alert %s not delivered to %s: %s", alert.get("id"), name, exc)
                    return
                time.sleep(self.backoff * 2**attempt)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None


def forwarder(
    *, webhook_url: str | None = None, cef: str | None = None, cef_tcp: bool = False
) -> Forwarder:
    outputs: list[tuple[str, Output]] = []
    if webhook_url:
        outputs.append(("webhook", webhook(webhook_url)))
    if cef:
        outputs.append(("cef-syslog", cef_syslog(cef, tcp=cef_tcp)))
    return Forwarder(outputs)
