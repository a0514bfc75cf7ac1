"""Fuzz the ICAP service's handling of a client's byte stream (sensors/icap/).

An input is what a proxy sends on one connection: heads, encapsulated HTTP heads and chunked
bodies, one request after another. It goes through the service's own connection loop
(``IcapService._connection``) over an empty list copy, hashing in a thread. Allowed: protocol
errors answered with an ICAP status (``IcapError``) and the connection closed; every answer
starts with an ICAP status line. Not allowed: anything the loop logs as a failed connection
(an exception the parser let through).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from fuzz._harness import UnexpectedOutcome, main

INSTRUMENT = ("hashsieve.sensors.icap", "hashsieve.sensors.listcopy")

_state: dict[str, Any] = {}


class _Writer:
    """A StreamWriter's surface, keeping what the service answers."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def load() -> None:
    from hashsieve.sensors.icap.server import IcapOptions, IcapService
    from hashsieve.sensors.listcopy import ListCopy

    service = IcapService(
        ListCopy(), IcapOptions(pool="thread", workers=1, robust=False, max_body=1 << 20)
    )
    service._threads = concurrent.futures.ThreadPoolExecutor(1)
    failures = _Failures()
    logging.getLogger("hashsieve.sensors.icap.server").addHandler(failures)
    _state.update(service=service, failures=failures, loop=asyncio.new_event_loop())


async def _serve(data: bytes) -> bytes:
    from hashsieve.sensors.icap.protocol import MAX_HEAD

    reader = asyncio.StreamReader(limit=MAX_HEAD)
    reader.feed_data(data)
    reader.feed_eof()
    writer = _Writer()
    await _state["service"]._connection(reader, writer)
    return bytes(writer.data)


def one_input(data: bytes) -> None:
    if not _state:
        load()
    failures: _Failures = _state["failures"]
    failures.records.clear()
    answer = _state["loop"].run_until_complete(_serve(data))
    if failures.records:
        record = failures.records[0]
        if record.exc_info and record.exc_info[1] is not None:
            raise record.exc_info[1]
        raise UnexpectedOutcome(record.getMessage())
    if answer and not answer.startswith(b"ICAP/1.0 "):
        raise UnexpectedOutcome(f"answer without an ICAP status line: {answer[:60]!r}")


if __name__ == "__main__":
    import sys

    main(sys.modules[__name__])
