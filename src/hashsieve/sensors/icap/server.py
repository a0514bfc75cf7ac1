"""An asyncio ICAP RESPMOD service for web proxies such as Squid.

Per response: headers and the preview decide; a response that is not an image or video (by its
Content-Type, else by its first bytes) is waved through with 204 during the preview; media is
read whole (100 Continue), hashed in worker processes (the event loop stays free), and matched
against the sensor's list copy. A match is alerted and, in ``block`` mode, answered with a 403
page; everything else goes back unchanged (204 where the client allows it, else echoed
byte-for-byte).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import html
import json
import logging
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hashsieve.hashing.content import FileResult, hash_content, hash_digests
from hashsieve.hashing.media import MediaKind, sniff
from hashsieve.matching.hits import MatchHit
from hashsieve.matching.rules import known_bad
from hashsieve.sensors.client import Outbox, host_name, new_alert_id, now_iso
from hashsieve.sensors.console import istag
from hashsieve.sensors.hashing import sensor_options
from hashsieve.sensors.icap.protocol import (
    MAX_HEAD,
    IcapError,
    IcapRequest,
    chunked,
    parse_head,
    parse_http_head,
    read_chunk,
    read_chunked,
    read_exactly,
    read_head,
    response,
)
from hashsieve.sensors.icap.workers import HashWorkers, WorkerLost
from hashsieve.sensors.listcopy import ListCopy, alert_match

log = logging.getLogger(__name__)
SERVICE = "/respmod"
PREVIEW = 1024
#: Bodies up to this size are read whole before answering (they fit Squid's 64 KB buffer).
EARLY_LIMIT = 60 * 1024
REASONS = {
    400: "Bad Request",
    404: "Service Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Server Error",
    505: "Version Not Supported",
}
MEDIA_TYPES = ("image/", "video/")
#: Content types that may carry media under another name (sniffed from the first bytes).
SNIFF_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/x-download")


@dataclass
class IcapOptions:
    mode: Literal["monitor", "block"] = "monitor"
    #: Media bodies larger than this are waved through unhashed (bounded memory per request).
    max_body: int = 64 * 1024 * 1024
    workers: int = max(1, os.cpu_count() or 1)
    #: "process" (default: hashing off the GIL, a decoder crash costs one body) or "thread".
    pool: Literal["process", "thread"] = "process"
    refresh_seconds: float = 300.0
    #: Hashes of this many recent bodies, by SHA-256: the same picture served again (a logo, a
    #: popular image) is matched against the current list without being decoded again.
    cache_entries: int = 4096
    #: Robust matching (docs/robust-matching.md): candidate regions of each image are hashed and
    #: matched too, as in a scan; costs a few ms on an image with flat borders or a box.
    robust: bool = True
    #: Read a large media body whole before answering, so that a known one always gets the 403
    #: page. Off by default: Squid 5 (Debian 12) stops reading from the web server while the
    #: answer is held and its 64 KB buffer is full (Squid bug 5352), so such bodies stream.
    hold_large: bool = False
    #: Address-space limit of each hashing process, in MiB (0: none), as for a scan's workers.
    worker_memory_mb: int = 4096


class _HashCache:
    """A bounded LRU of body SHA-256 -> hash result (hashes only: matching is always redone)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, Any] = OrderedDict()

    def get(self, key: bytes) -> Any | None:
        result = self._items.get(key)
        if result is not None:
            self._items.move_to_end(key)
        return result

    def put(self, key: bytes, result: Any) -> None:
        if self.size <= 0:
            return
        self._items[key] = result
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class _Abort(Exception):
    """End the connection without finishing the answer (a blocked body already under way)."""


def block_page(url: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Blocked</title></head><body>"
        "<h1>Access denied</h1><p>This content was blocked by the network's content policy.</p>"
        f"<p><small>{html.escape(url[:200])}</small></p></body></html>"
    ).encode()


class IcapService:
    """Serve RESPMOD at ``icap://HOST:PORT/respmod`` over the list copy ``lists``."""

    def __init__(
        self,
        lists: ListCopy,
        options: IcapOptions | None = None,
        *,
        outbox: Outbox | None = None,
        refresh: Callable[[ListCopy], None] | None = None,
        on_alert: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.lists = lists
        self.options = options or IcapOptions()
        self.outbox = outbox
        self.refresh = refresh
        self.on_alert = on_alert
        self.host = host_name()
        self.stats = {"requests": 0, "hashed": 0, "cached": 0, "matched": 0, "errors": 0}
        self._cache = _HashCache(self.options.cache_entries)
        self._workers: HashWorkers | None = None
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._server: asyncio.Server | None = None

    @property
    def istag(self) -> str:
        return istag(self.lists.version)

    async def start(self, host: str = "127.0.0.1", port: int = 1344) -> asyncio.Server:
        if self.options.pool == "process":
            self._workers = HashWorkers(self.options.workers, self.options.worker_memory_mb)
            await self._workers.start()
        else:
            self._threads = concurrent.futures.ThreadPoolExecutor(self.options.workers)
        self._server = await asyncio.start_server(self._connection, host, port, limit=MAX_HEAD)
        if self.refresh is not None:
            asyncio.get_running_loop().create_task(self._refresh_loop())
        return self._server

    def worker_pids(self) -> list[int]:
        """The hashing processes' ids (none with ``pool="thread"``)."""
        return self._workers.pids() if self._workers is not None else []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        # Waits for the bodies being hashed (milliseconds), then the workers are gone.
        if self._workers is not None:
            await self._workers.close()
            self._workers = None
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None

    async def _refresh_loop(self) -> None:
        assert self.refresh is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.options.refresh_seconds)
            try:
                await loop.run_in_executor(None, self.refresh, self.lists)
            except Exception as exc:  # keep serving with the list we have
                log.warning("list refresh failed: %s", exc)

    # --- one connection: requests one after another (keep-alive) ------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    head = await read_head(reader)
                    if head is None:
                        break
                    request = parse_head(head)
                    keep = await self._handle(request, reader, writer)
                except IcapError as exc:
                    self.stats["errors"] += 1
                    reason = REASONS.get(exc.status, "Bad Request")
                    writer.write(
                        response(exc.status, reason, self.istag, headers={"Connection": "close"})
                    )
                    log.info("ICAP error from %s: %s", peer, exc)
                    keep = False
                except _Abort:
                    break
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("ICAP connection from %s failed", peer)
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _handle(
        self, request: IcapRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if request.service != SERVICE:
            await self._drain_body(request, reader)
            raise IcapError(404, f"no ICAP service at {request.service[:60]!r}")
        keep = request.headers.get("connection", "").lower() != "close"
        if request.method == "OPTIONS":
            await self._drain_body(request, reader)
            writer.write(
                response(
                    200,
                    "OK",
                    self.istag,
                    headers={
                        "Methods": "RESPMOD",
                        "Service": "hashsieve known-media sensor",
                        "Preview": str(PREVIEW),
                        "Transfer-Preview": "*",
                        "Allow": "204",
                        "Options-TTL": "300",
                        "Max-Connections": "2000",
                    },
                )
            )
            return keep
        if request.method != "RESPMOD":
            await self._drain_body(request, reader)
            raise IcapError(405, f"method {request.method[:20]} not offered here")
        self.stats["requests"] += 1
        await self._respmod(request, reader, writer)
        return keep

    async def _drain_body(self, request: IcapRequest, reader: asyncio.StreamReader) -> None:
        """Read (and drop) what a request carries, so the next one starts in the right place."""
        if not request.encapsulated:
            return
        kind, offset = request.encapsulated[-1]
        await read_exactly(reader, offset)
        if kind != "null-body":
            await read_chunked(reader, self.options.max_body)

    # --- RESPMOD --------------------------------------------------------------------------------

    async def _respmod(
        self, request: IcapRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        kind, body_at = request.encapsulated[-1] if request.encapsulated else ("", 0)
        res_at = request.section("res-hdr")
        if res_at is None or kind not in ("res-body", "null-body"):
            raise IcapError(400, "RESPMOD needs res-hdr and res-body or null-body")
        heads = await read_exactly(reader, body_at)
        req_at = request.section("req-hdr")
        req_raw = heads[req_at:res_at] if req_at is not None else b""
        res_raw = heads[res_at:]
        if kind == "null-body":
            writer.write(self._unchanged(request, res_raw, None))
            return
        preview = request.preview
        http = parse_http_head(res_raw)
        ctype = http.headers.get("content-type", "").split(";")[0].strip().lower()
        length = http.headers.get("content-length", "")
        too_big = length.isascii() and length.isdigit() and int(length) > self.options.max_body
        candidate = ctype.startswith(MEDIA_TYPES) or ctype in SNIFF_TYPES
        candidate = candidate and http.status in (200, 203, 206) and not too_big
        if preview is not None:
            body, ieof = await read_chunked(reader, min(preview, self.options.max_body))
            if candidate and not ctype.startswith(MEDIA_TYPES):
                candidate = sniff(bytes(body[:512]))[0] is not MediaKind.OTHER
            if not candidate:
                writer.write(response(204, "No Content", self.istag))
                return
            # a verdict on a whole body that fitted in the preview may always be 204
            may_204 = ieof
            early = False
            if not ieof:
                writer.write(b"ICAP/1.0 100 Continue\r\n\r\n")
                await writer.drain()
                # Answer early only once the proxy is sending again: Squid drops what follows
                # a 100 Continue in the same read.
                piece, last, _ = await read_chunk(reader, self.options.max_body - len(body))
                body += piece
                if not last:
                    early = self._answer_early(request, res_raw, length, writer)
                    await writer.drain()
                    body, _ = await read_chunked(reader, self.options.max_body, into=body)
        else:
            may_204 = False
            early = candidate and self._answer_early(request, res_raw, length, writer)
            body, _ = await read_chunked(reader, self.options.max_body)
            if candidate and not ctype.startswith(MEDIA_TYPES):
                candidate = sniff(bytes(body[:512]))[0] is not MediaKind.OTHER
            if not candidate:
                writer.write(self._unchanged(request, res_raw, body))
                return
        data = bytes(body)
        started = time.perf_counter()
        robust = self.options.robust
        parts = robust and self.lists.wants_parts
        # A body hashed without the upper parts the list now needs is hashed again.
        key = hashlib.sha256(data).digest() + (b"p" if parts else b"")
        result = self._cache.get(key)
        if result is None:
            result = await self._hash(data, robust=robust, parts=parts)
            if not result.error or not result.error.startswith(("worker-lost", "hashing")):
                self._cache.put(key, result)
            self.stats["hashed"] += 1
        else:
            self.stats["cached"] += 1
        # Only known-bad matches are blocked and alerted: a non-pertinent picture is innocent.
        matches = known_bad(self.lists.match(result))
        if not matches:
            writer.write(
                chunked(body) if early else self._unchanged(request, res_raw, body, may_204)
            )
            return
        self.stats["matched"] += 1
        blocked = self.options.mode == "block"
        url = _url_of(req_raw)
        self._alert(request, url, result, matches, blocked, time.perf_counter() - started)
        if early:
            if blocked:  # the headers are out: cut the body off (the proxy fails the response)
                raise _Abort()
            writer.write(chunked(body))
        elif blocked:
            page = block_page(url)
            http_head = (
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(page)}\r\nCache-Control: no-store\r\n\r\n"
            ).encode()
            writer.write(
                response(
                    200,
                    "OK",
                    self.istag,
                    encapsulated=f"res-hdr=0, res-body={len(http_head)}",
                    body=http_head + chunked(page),
                )
            )
        else:
            writer.write(self._unchanged(request, res_raw, body, may_204))

    async def _hash(self, data: bytes, *, robust: bool, parts: bool) -> FileResult:
        if self._threads is not None:
            options = sensor_options(robust=robust, parts=parts)
            job = functools.partial(hash_content, data, options)
            return await asyncio.get_running_loop().run_in_executor(self._threads, job)
        assert self._workers is not None, "start() first"
        try:
            return await self._workers.hash(data, robust=robust, parts=parts)
        except Exception as exc:
            # The body killed its decoder, the worker met its memory limit, or hashing failed:
            # the body is still matched by its digests, so an exact known copy cannot slip
            # through by breaking the decoder.
            self.stats["errors"] += 1
            log.warning("hashing failed (%s): body matched by its digests only", exc)
            result = hash_digests(data)
            result.error = f"{'worker-lost' if isinstance(exc, WorkerLost) else 'hashing'}: {exc}"
            return result

    def _answer_early(
        self, request: IcapRequest, res_raw: bytes, length: str, writer: asyncio.StreamWriter
    ) -> bool:
        """Send the unchanged HTTP head now when the proxy cannot hold the whole body.

        Squid 5 stops reading a body it cannot back up (no ``Allow: 204``; over about 64 KB)
        once its buffer is full and the service's answer has not begun (Squid bug 5352), so
        waiting for the whole body would stall. For such bodies the original head goes out at
        once and the body follows once hashed; a known one in block mode is then cut off, so
        the client never gets its bytes. ``hold_large`` turns this off for proxies without
        the bug.
        """
        if self.options.hold_large or request.allow_204:
            return False
        if length.isascii() and length.isdigit() and int(length) <= EARLY_LIMIT:
            return False
        writer.write(
            response(
                200,
                "OK",
                self.istag,
                encapsulated=f"res-hdr=0, res-body={len(res_raw)}",
                body=res_raw,
            )
        )
        return True

    def _unchanged(
        self,
        request: IcapRequest,
        res_raw: bytes,
        body: bytes | bytearray | None,
        may_204: bool = False,
    ) -> bytes:
        """204 where allowed, else the response echoed byte-for-byte."""
        if may_204 or request.allow_204:
            return response(204, "No Content", self.istag)
        if body is None:
            return response(
                200,
                "OK",
                self.istag,
                encapsulated=f"res-hdr=0, null-body={len(res_raw)}",
                body=res_raw,
            )
        return response(
            200,
            "OK",
            self.istag,
            encapsulated=f"res-hdr=0, res-body={len(res_raw)}",
            body=res_raw + chunked(body),
        )

    def _alert(
        self,
        request: IcapRequest,
        url: str,
        result: Any,
        matches: list[MatchHit],
        blocked: bool,
        seconds: float,
    ) -> None:
        alert = {
            "alert_id": new_alert_id(),
            "time": now_iso(),
            "source": "http",
            "host": self.host,
            "user": request.headers.get("x-client-username") or None,
            "location": url,
            "client": request.headers.get("x-client-ip") or None,
            "action": "blocked" if blocked else "seen",
            "mime": result.mime,
            "size": result.size,
            "hashes": {
                k: v
                for k in ("md5", "sha1", "sha256", "pdq")
                if (v := getattr(result, k)) is not None
            },
            "matches": [alert_match(h) for h in matches],
        }
        log.warning("known media %s: %s (%.1f ms)", alert["action"], url, seconds * 1000)
        if self.outbox is not None:
            self.outbox.put(alert)
        if self.on_alert is not None:
            self.on_alert(alert)


def _url_of(req_raw: bytes) -> str:
    """The URL of the encapsulated HTTP request (absolute form, or Host + path)."""
    if not req_raw:
        return ""
    http = parse_http_head(req_raw)
    parts = http.start.split(" ")
    target = parts[1] if len(parts) >= 2 else ""
    if "://" in target:
        return target
    host = http.headers.get("host", "")
    return f"http://{host}{target}" if host else target


def print_alert(alert: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(alert) + "\n")
    sys.stdout.flush()
