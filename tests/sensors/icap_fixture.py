"""Running the ICAP service on a loopback port, in its own event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hashsieve.sensors import console
from hashsieve.sensors.icap import IcapOptions, IcapService
from hashsieve.sensors.listcopy import ListCopy
from hashsieve.store import Store


def list_copy(store: Store) -> ListCopy:
    copy = ListCopy()
    copy.apply(console.hashlist(store))
    return copy


class RunningIcap:
    def __init__(self, service: IcapService) -> None:
        self.service = service
        self.alerts: list[dict[str, Any]] = []
        service.on_alert = self.alerts.append
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(service.start("127.0.0.1", 0), self.loop).result(30)
        self.port = service.port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def start_icap(store: Store, **options: Any) -> RunningIcap:
    return RunningIcap(IcapService(list_copy(store), IcapOptions(**options)))
