"""Live stream monitoring: ``hashsieve stream URL`` (see :mod:`hashsieve.stream.monitor`)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from hashsieve.stream.monitor import (
    Alert,
    FrameMatcher,
    Sink,
    StreamMonitor,
    StreamOptions,
    jsonl_sink,
    webhook_sink,
)


class TerminalSink:
    """Alerts and connection notes as readable lines (stderr by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, alert: Alert) -> None:
        if alert.event == "match":
            line = (
                f"ALERT {alert.at} {alert.stream} at {alert.on_air:.1f} s on air: "
                f"{alert.hashset} category {alert.category} ({alert.entry}, distance "
                f"{alert.distance}); recording {alert.evidence}"
            )
        else:
            line = f"EVIDENCE {alert.evidence} ({alert.size:,} bytes, sha256 {alert.sha256})"
        print(line, file=self.stream, flush=True)

    def log(self, message: str) -> None:
        print(message, file=self.stream, flush=True)


def monitor_stream(
    store: Any,
    url: str,
    options: StreamOptions | None = None,
    *,
    jsonl: TextIO | None = None,
    webhook: str | None = None,
    terminal: TextIO | None = None,
) -> StreamMonitor:
    """Build a monitor for ``url`` against the store's known hash sets; call ``.run()``."""
    sinks: list[Sink] = [TerminalSink(terminal)]
    if jsonl is not None:
        sinks.append(jsonl_sink(jsonl))
    if webhook:
        sinks.append(webhook_sink(webhook))
    return StreamMonitor(url, FrameMatcher(store), options, sinks)


__all__ = [
    "Alert",
    "FrameMatcher",
    "StreamMonitor",
    "StreamOptions",
    "TerminalSink",
    "monitor_stream",
]
