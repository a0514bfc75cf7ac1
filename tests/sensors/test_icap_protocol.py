"""The ICAP parser: what it accepts, what it refuses, and that nothing malformed crashes it."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashsieve.sensors.icap.protocol import (
    IcapError,
    chunked,
    parse_chunk_size,
    parse_encapsulated,
    parse_head,
    read_chunked,
    read_head,
)

GOOD = (
    b"RESPMOD icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n"
    b"Encapsulated: req-hdr=0, res-hdr=45, res-body=120\r\nPreview: 1024\r\nAllow: 204"
)


def test_parses_a_respmod_head() -> None:
    r = parse_head(GOOD)
    assert (r.method, r.service, r.preview, r.allow_204) == ("RESPMOD", "/respmod", 1024, True)
    assert r.encapsulated == [("req-hdr", 0), ("res-hdr", 45), ("res-body", 120)]
    assert r.body_kind == "res-body"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"RESPMOD icap://h/respmod ICAP/2.0", 505),
        (b"RESPMOD icap://h/respmod", 400),
        (b"RESPMOD  icap://h/respmod ICAP/1.0", 400),
        (b"RESPMOD http://h/respmod ICAP/1.0", 400),
        (b"resp mod icap://h/ ICAP/1.0", 400),
        (b"RESPMOD icap://h/respmod ICAP/1.0\r\nno colon here", 400),
        (b"RESPMOD icap://h/respmod ICAP/1.0\r\nBad Name: x", 400),
        (b"RESPMOD icap://h/respmod ICAP/1.0\r\nX: a\x01b", 400),
        (b"RESPMOD icap://h/respmod ICAP/1.0\r\nX: \xff", 400),
        (
            b"RESPMOD icap://h/respmod ICAP/1.0\r\nEncapsulated: null-body=0\r\n"
            b"Encapsulated: null-body=0",
            400,
        ),
    ],
)
def test_refuses_malformed_heads(head: bytes, status: int) -> None:
    with pytest.raises(IcapError) as exc:
        parse_head(head)
    assert exc.value.status == status


@pytest.mark.parametrize(
    "value",
    [
        "",
        "req-hdr=0",  # no body part
        "res-hdr=5, res-body=9",  # does not start at 0
        "req-hdr=0, res-body=10, res-hdr=20",  # body not last
        "req-hdr=0, res-hdr=0, res-body=1",  # offsets not increasing
        "req-hdr=0, res-hdr=-1, null-body=3",
        "req-hdr=0, foo=3, null-body=5",
        "req-hdr=0, req-hdr=3, null-body=5",
        "req-hdr=0, null-body=99999999",
    ],
)
def test_refuses_bad_encapsulated(value: str) -> None:
    with pytest.raises(IcapError):
        parse_encapsulated(value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b"0", (0, False)), (b"1a", (26, False)), (b"0; ieof", (0, True)), (b"FF;x=1", (255, False))],
)
def test_chunk_sizes(line: bytes, expected: tuple[int, bool]) -> None:
    assert parse_chunk_size(line) == expected


@pytest.mark.parametrize("line", [b"", b"g", b"-1", b"123456789", b"5; ieof", b"5;;"])
def test_refuses_bad_chunk_sizes(line: bytes) -> None:
    with pytest.raises(IcapError):
        parse_chunk_size(line)


def _read(data: bytes, limit: int = 1 << 20) -> tuple[bytes, bool]:
    async def run() -> tuple[bytes, bool]:
        reader = asyncio.StreamReader(limit=65536)
        reader.feed_data(data)
        reader.feed_eof()
        body, ieof = await read_chunked(reader, limit)
        return bytes(body), ieof

    return asyncio.run(run())


def test_chunked_round_trip() -> None:
    data = bytes(range(256)) * 1000
    assert _read(chunked(data, chunk=777)) == (data, False)
    assert _read(b"3\r\nabc\r\n0; ieof\r\n\r\n") == (b"abc", True)


@pytest.mark.parametrize(
    "data",
    [b"3\r\nabcd\r\n0\r\n\r\n", b"3\r\nab", b"0\r\nTrailer: x\r\n\r\n", b"zz\r\n"],
    ids=["long-chunk", "truncated", "trailer", "bad-size"],
)
def test_refuses_bad_chunked(data: bytes) -> None:
    with pytest.raises(IcapError):
        _read(data)


def test_body_limit() -> None:
    with pytest.raises(IcapError) as exc:
        _read(chunked(b"x" * 100), limit=10)
    assert exc.value.status == 413


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_heads_raise_only_icap_errors(data: bytes) -> None:
    with contextlib.suppress(IcapError):
        parse_head(data)


_PIECES = st.sampled_from(
    [
        b"RESPMOD ",
        b"OPTIONS ",
        b"icap://127.0.0.1/respmod ",
        b"ICAP/1.0",
        b"\r\n",
        b"Encapsulated: ",
        b"req-hdr=0, ",
        b"res-hdr=12, ",
        b"res-body=30",
        b"null-body=0",
        b"Preview: ",
        b"1024",
        b"0; ieof\r\n\r\n",
        b"5\r\nhello\r\n",
        b":",
        b" ",
        b"\x00",
        b"\xff",
        b"=",
        b",",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30), st.binary(max_size=40))
def test_fuzz_streams_raise_only_icap_errors(pieces: list[bytes], tail: bytes) -> None:
    async def run() -> None:
        reader = asyncio.StreamReader(limit=65536)
        reader.feed_data(b"".join(pieces) + tail)
        reader.feed_eof()
        head = await read_head(reader)
        if head is not None:
            parse_head(head)
        await read_chunked(reader, 1 << 16)

    with contextlib.suppress(IcapError):
        asyncio.run(run())
