"""A small, strict ICAP/1.0 (RFC 3507) parser and writer: what a RESPMOD service needs.

Everything a client sends is bounded (head size, header count, chunk-size line, body size) and
checked; anything malformed raises :class:`IcapError` with the status to answer, after which the
connection is closed (its framing can no longer be trusted).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
MAX_CHUNK_LINE = 1024
ENCAPSULATED_NAMES = ("req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body")
BODY_NAMES = ("req-body", "res-body", "null-body", "opt-body")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class IcapError(Exception):
    """A request that breaks the protocol; ``status`` is the ICAP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class IcapRequest:
    method: str
    uri: str
    service: str  # the path of the ICAP URI, e.g. "/respmod"
    headers: dict[str, str]  # lower-case names
    encapsulated: list[tuple[str, int]] = field(default_factory=list)

    @property
    def preview(self) -> int | None:
        value = self.headers.get("preview")
        if value is None:
            return None
        if not value.isdigit() or len(value) > 12:
            raise IcapError(400, "bad Preview header")
        return int(value)

    @property
    def allow_204(self) -> bool:
        return "204" in (v.strip() for v in self.headers.get("allow", "").split(","))

    def section(self, name: str) -> int | None:
        for n, offset in self.encapsulated:
            if n == name:
                return offset
        return None

    @property
    def body_kind(self) -> str | None:
        return self.encapsulated[-1][0] if self.encapsulated else None


def parse_head(head: bytes) -> IcapRequest:
    """Parse a request line and headers (``head`` without the blank line that ends it)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise IcapError(400, "non-ASCII bytes in the ICAP head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not all(parts):
        raise IcapError(400, "malformed request line")
    method, uri, version = parts
    if version != "ICAP/1.0":
        raise IcapError(505, f"unsupported version {version[:20]!r}")
    if not method.isascii() or not method.isalpha() or not method.isupper():
        raise IcapError(400, "malformed method")
    if not uri.startswith("icap://"):
        raise IcapError(400, "the request URI must be an icap:// URI")
    rest = uri[len("icap://") :]
    authority, slash, path = rest.partition("/")
    if not authority or any(c.isspace() or ord(c) < 33 for c in rest):
        raise IcapError(400, "malformed ICAP URI")
    service = "/" + path.partition("?")[0] if slash else "/"
    if len(lines) - 1 > MAX_HEADERS:
        raise IcapError(400, "too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or any(b not in _TOKEN for b in name.encode()):
            raise IcapError(400, f"malformed header line {line[:40]!r}")
        if any(ord(c) < 32 and c != "\t" for c in value):
            raise IcapError(400, "control character in a header value")
        key = name.lower()
        value = value.strip(" \t")
        if key in headers:
            if key in ("encapsulated", "preview", "host"):
                raise IcapError(400, f"repeated {name} header")
            headers[key] = headers[key] + ", " + value
        else:
            headers[key] = value
    request = IcapRequest(method, uri, service, headers)
    if "encapsulated" in headers:
        request.encapsulated = parse_encapsulated(headers["encapsulated"])
    return request


def parse_encapsulated(value: str) -> list[tuple[str, int]]:
    """``req-hdr=0, res-hdr=137, res-body=296`` -> [(name, offset)], checked for order."""
    out: list[tuple[str, int]] = []
    for item in value.split(","):
        name, eq, offset = item.strip().partition("=")
        if not eq or name not in ENCAPSULATED_NAMES or not offset.isdigit() or len(offset) > 9:
            raise IcapError(400, f"malformed Encapsulated entry {item.strip()[:30]!r}")
        out.append((name, int(offset)))
    names = [n for n, _ in out]
    if not out or out[0][1] != 0 or len(set(names)) != len(names):
        raise IcapError(400, "the Encapsulated header must start at 0 and name each part once")
    if names[-1] not in BODY_NAMES or any(n in BODY_NAMES for n in names[:-1]):
        raise IcapError(400, "the Encapsulated header must end with exactly one body part")
    offsets = [o for _, o in out]
    if any(a >= b for a, b in itertools.pairwise(offsets)):
        raise IcapError(400, "Encapsulated offsets must increase")
    if offsets[-1] > MAX_HEAD:
        raise IcapError(400, "encapsulated headers too large")
    return out


def parse_chunk_size(line: bytes) -> tuple[int, bool]:
    """A chunk-size line (without CRLF) -> (size, ieof); only the ``ieof`` extension is known."""
    size_part, _, ext = line.partition(b";")
    size_part = size_part.strip(b" \t")
    if (
        not size_part
        or len(size_part) > 8
        or any(b not in b"0123456789abcdefABCDEF" for b in size_part)
    ):
        raise IcapError(400, "malformed chunk size")
    size = int(size_part, 16)
    ieof = False
    if ext:
        names = [e.strip(b" \t").partition(b"=")[0] for e in ext.split(b";")]
        if any(not n or any(b not in _TOKEN for b in n) for n in names):
            raise IcapError(400, "malformed chunk extension")
        ieof = b"ieof" in names
        if ieof and size != 0:
            raise IcapError(400, "ieof on a chunk that is not the last")
    return size, ieof


async def read_line(reader: asyncio.StreamReader, limit: int) -> bytes:
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError:
        raise IcapError(400, "line too long") from None
    except asyncio.IncompleteReadError:
        raise IcapError(400, "connection closed mid-message") from None
    if len(line) > limit:
        raise IcapError(400, "line too long")
    return line[:-2]


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The next request's head (without the blank line), or None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip(b"\r\n"):
            return None
        raise IcapError(400, "connection closed mid-head") from None
    except asyncio.LimitOverrunError:
        raise IcapError(400, "request head too large") from None
    head = head.lstrip(b"\r\n")  # tolerate blank lines between requests (RFC 2616 4.1)
    if len(head) > MAX_HEAD:
        raise IcapError(400, "request head too large")
    return head[:-4]


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        raise IcapError(400, "connection closed mid-message") from None


async def read_chunk(reader: asyncio.StreamReader, room: int) -> tuple[bytes, bool, bool]:
    """One chunk: (data, last, ieof). ``last`` is the zero-size chunk; over ``room`` -> 413."""
    size, ieof = parse_chunk_size(await read_line(reader, MAX_CHUNK_LINE))
    if size == 0:
        # trailers are not used by ICAP clients; accept only the empty line
        if await read_line(reader, MAX_CHUNK_LINE) != b"":
            raise IcapError(400, "chunk trailers are not supported")
        return b"", True, ieof
    if size > room:
        raise IcapError(413, "body too large")
    data = await read_exactly(reader, size)
    if await read_exactly(reader, 2) != b"\r\n":
        raise IcapError(400, "chunk not followed by CRLF")
    return data, False, False


async def read_chunked(
    reader: asyncio.StreamReader, limit: int, into: bytearray | None = None
) -> tuple[bytearray, bool]:
    """Read chunks up to the last one; returns (data, ieof). Bodies over ``limit`` are refused."""
    data = bytearray() if into is None else into
    while True:
        piece, last, ieof = await read_chunk(reader, limit - len(data))
        if last:
            return data, ieof
        data += piece


def chunked(data: bytes | bytearray, chunk: int = 1 << 16) -> bytes:
    """``data`` in HTTP/1.1 chunked encoding, last chunk included."""
    parts = [
        b"%x\r\n%s\r\n" % (len(data[i : i + chunk]), data[i : i + chunk])
        for i in range(0, len(data), chunk)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


@dataclass
class HttpHead:
    """The bits of an encapsulated HTTP head the service looks at."""

    start: str
    headers: dict[str, str]

    @property
    def status(self) -> int | None:
        parts = self.start.split(" ", 2)
        if (
            len(parts) >= 2
            and parts[0].startswith("HTTP/")
            and parts[1].isascii()
            and parts[1].isdigit()
        ):
            return int(parts[1])
        return None


def parse_http_head(raw: bytes) -> HttpHead:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return HttpHead(lines[0], headers)


def response(
    status: int,
    reason: str,
    istag: str,
    *,
    headers: dict[str, str] | None = None,
    encapsulated: str = "null-body=0",
    body: bytes = b"",
) -> bytes:
    lines = [f"ICAP/1.0 {status} {reason}", f'ISTag: "{istag}"', "Server: hashsieve-icap"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Encapsulated: {encapsulated}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
