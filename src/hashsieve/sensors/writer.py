"""Group commit for sensor alerts: one writer thread stores the alerts that arrive together in
one transaction, and each sender is answered once that transaction is committed.

A transaction per alert made the commit, not the alert, the unit of work (bench/alerts_load.py);
SQLite takes one writer at a time anyway. The writer takes what is queued when it is free: no
alert waits for a batch to fill, and while a commit runs the next alerts gather behind it, so
batches grow with the load by themselves. The guarantee is :func:`console.record_alerts`'s: a
result (and so a 2xx) only for an alert that is committed; a batch that fails is tried again
alert by alert, so one bad alert fails only its own sender.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from hashsieve.sensors import console
from hashsieve.sensors.models import Sensor
from hashsieve.store import Store

log = logging.getLogger(__name__)

#: At most this many alerts in one transaction (a burst after an outage is committed in steps).
MAX_BATCH = 500
#: Seconds the thread waits for work before it ends (the next alert starts another).
IDLE_SECONDS = 10.0

_Item = tuple[Sensor, Mapping[str, Any], "Future[console.Recorded]"]


class AlertWriter:
    """The one thread that stores a console's sensor alerts (``submit`` from any thread)."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: Transactions and alerts written (the bench reads the batch size from them).
        self.batches = 0
        self.alerts = 0

    def submit(self, sensor: Sensor, payload: Mapping[str, Any]) -> Future[console.Recorded]:
        """Queue an alert; the future resolves once it is committed (or fails)."""
        done: Future[console.Recorded] = Future()
        with self._lock:
            self._queue.put((sensor, payload, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)
                self._thread.start()
        return done

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                with self._lock:  # submit() starts a new thread once this one is gone
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        # A sender that gave up still gets its alert stored: its retry is then a duplicate.
        answer = [done if done.set_running_or_notify_cancel() else None for _, _, done in batch]
        try:
            results = console.record_alerts(self.store, [(s, p) for s, p, _ in batch])
        except Exception:
            # Once more, each alert on its own: one bad alert must not fail the others.
            for (sensor, payload, _), done in zip(batch, answer, strict=True):
                self._write_one(sensor, payload, done)
            return
        self.batches += 1
        self.alerts += len(batch)
        for done, result in zip(answer, results, strict=True):
            if done is not None:
                done.set_result(result)

    def _write_one(
        self, sensor: Sensor, payload: Mapping[str, Any], done: Future[console.Recorded] | None
    ) -> None:
        try:
            result = console.record_alert(self.store, sensor, payload)
        except Exception as exc:
            log.exception("alert %r not stored", payload.get("alert_id"))
            if done is not None:
                done.set_exception(exc)
            return
        self.batches += 1
        self.alerts += 1
        if done is not None:
            done.set_result(result)
