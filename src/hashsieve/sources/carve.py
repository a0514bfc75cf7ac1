"""Pictures and videos found by their structure where no file entry says so: inside a file that
is not a picture (an image appended to a program, a picture in an old Word document), in
unallocated space of a disk image.

The search is cheap where nothing is: each kind's signature is looked for with ``bytes.find``
over large blocks (:data:`BLOCK`), and only a hit is parsed. A hit becomes an item when its
structure holds from start to end:

- JPEG: marker segments walked by their lengths from SOI (an EXIF thumbnail inside APP1 is
  skipped with its segment, so its own SOI/EOI cannot cut the picture short); after each SOS the
  entropy-coded data is scanned to the next marker that is not a stuffed byte or a restart, until
  EOI;
- PNG: chunks walked to IEND, each CRC checked; GIF: blocks and sub-blocks walked to the trailer;
- WebP: the RIFF size; BMP: the header's sizes, checked against each other;
- MP4/MOV: top-level boxes walked by their sizes from ``ftyp`` (video up to :data:`MAX_VIDEO`).

A hit whose header holds but whose structure breaks is a fragment; fragments close together are
returned as one :class:`FragmentRun`, so a damaged stretch is recorded once, not once per hit.
Nothing is decoded here and nothing is written: the result is offsets and lengths.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field
from typing import IO

import numpy as np

#: Bytes searched per read; consecutive blocks overlap by :data:`_OVERLAP`.
BLOCK = 16 * 1024 * 1024
_OVERLAP = 16
#: A picture larger than this is not taken (its structure is not followed further).
MAX_PICTURE = 64 * 1024 * 1024
#: A video is followed by its box sizes up to this length.
MAX_VIDEO = 2 * 1024 * 1024 * 1024
#: Reads one parse may ask at most (a segment, chunk, block or box each): a real picture needs
#: a few thousand (a 64 MB GIF of 255-byte sub-blocks: 260,000); a hostile chain of tiny blocks
#: is cut here, in about a second, instead of walking 64 MB four bytes at a time.
MAX_STEPS = 1_000_000
#: Default time budget of one run, in seconds.
SECONDS = 600.0
#: Fragments closer than this to the previous one belong to the same run.
FRAGMENT_GAP = 1024 * 1024

#: The file name extension of each kind.
EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "mp4": "mp4",
    "mov": "mov",
}

#: The signatures searched, with how far before the hit the item starts.
_SIGNATURES: tuple[tuple[bytes, int], ...] = (
    (b"\xff\xd8\xff", 0),
    (b"\x89PNG\r\n\x1a\n", 0),
    (b"GIF8", 0),
    (b"WEBPVP8", 8),
    (b"BM", 0),
    (b"ftyp", 4),
)
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
#: In entropy-coded data: 0xFF followed by something other than a stuffed 0x00, a restart marker
#: or a fill byte is the next marker.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_SOF = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF}
)
#: Top-level boxes of an ISO base media file (MP4, MOV, 3GP).
_BOXES = frozenset(
    {
        b"ftyp",
        b"moov",
        b"mdat",
        b"free",
        b"skip",
        b"wide",
        b"uuid",
        b"pdin",
        b"moof",
        b"mfra",
        b"meta",
        b"styp",
        b"sidx",
        b"pnot",
        b"junk",
        b"prfl",
    }
)


@dataclass(frozen=True, slots=True)
class Carved:
    """A picture or video found by its structure: ``offset`` in the searched stream."""

    kind: str  # a key of EXTENSIONS
    offset: int
    length: int

    @property
    def name(self) -> str:
        """The member name it is listed under in its container (``@0x1a2b.jpg``)."""
        return f"@0x{self.offset:x}.{EXTENSIONS[self.kind]}"


@dataclass(frozen=True, slots=True)
class FragmentRun:
    """Headers whose structure breaks, close together: one record for the stretch."""

    offset: int
    length: int
    count: int
    kinds: tuple[str, ...]


@dataclass(slots=True)
class CarveResult:
    items: list[Carved] = field(default_factory=list)
    fragments: list[FragmentRun] = field(default_factory=list)
    #: Where the search stopped: the range's end, or less when the time budget ran out.
    reached: int = 0
    timed_out: bool = False


class _Broken(Exception):
    """The structure breaks at ``at`` (a fragment if its header held)."""

    def __init__(self, at: int, header_ok: bool) -> None:
        self.at, self.header_ok = at, header_ok


class _View:
    """Random access to ``stream[start:end]`` for the parsers, through one cached window."""

    WINDOW = 1024 * 1024

    def __init__(self, stream: IO[bytes], end: int) -> None:
        self.stream, self.end = stream, end
        self.base, self.data = 0, b""
        self.steps = 0  # reads asked by the current parse (see MAX_STEPS)

    def cache(self, base: int, data: bytes) -> None:
        self.base, self.data = base, data

    def get(self, pos: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``pos`` (fewer only at the range's end)."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Broken(pos, True)
        if pos < 0 or pos >= self.end:  # a hostile length field points outside the range
            return b""
        n = max(0, min(n, self.end - pos))
        rel = pos - self.base
        if rel >= 0 and rel + n <= len(self.data):
            return self.data[rel : rel + n]
        self.stream.seek(pos)
        self.data = self.stream.read(min(max(n, self.WINDOW), self.end - pos))
        self.base = pos
        return self.data[:n]

    def need(self, pos: int, n: int, header_ok: bool) -> bytes:
        data = self.get(pos, n)
        if len(data) < n:
            raise _Broken(pos, header_ok)
        return data


def _u16be(b: bytes, i: int = 0) -> int:
    return int.from_bytes(b[i : i + 2], "big")


def _u16le(b: bytes, i: int = 0) -> int:
    return int.from_bytes(b[i : i + 2], "little")


def _u32be(b: bytes, i: int = 0) -> int:
    return int.from_bytes(b[i : i + 4], "big")


def _u32le(b: bytes, i: int = 0) -> int:
    return int.from_bytes(b[i : i + 4], "little")


def _jpeg(v: _View, start: int) -> tuple[str, int]:
    pos, limit = start + 2, start + MAX_PICTURE
    segments, frame, scan = 0, False, False
    while pos < limit:
        marker = v.need(pos, 2, segments > 1)
        if marker[0] != 0xFF:
            raise _Broken(pos, segments > 1)
        code = marker[1]
        if code == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        if code == 0xD9:
            if not (frame and scan):
                raise _Broken(pos, segments > 1)
            return "jpeg", pos + 2 - start
        if code < 0xC0 or code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            raise _Broken(pos, segments > 1)
        length = _u16be(v.need(pos + 2, 2, segments > 1))
        if length < 2:
            raise _Broken(pos, segments > 1)
        segments += 1
        frame = frame or code in _JPEG_SOF
        pos += 2 + length
        if code == 0xDA:  # entropy-coded data follows, up to the next real marker
            scan = True
            while True:
                chunk = v.get(pos, _View.WINDOW)
                if len(chunk) < 2 or pos >= limit:
                    raise _Broken(pos, True)
                found = _JPEG_MARKER.search(chunk)
                if found is not None:
                    pos += found.start()
                    break
                pos += len(chunk) - 1  # a 0xFF at the chunk's end is read again
    raise _Broken(pos, True)


def _png(v: _View, start: int) -> tuple[str, int]:
    pos, limit, first = start + 8, start + MAX_PICTURE, True
    while pos < limit:
        head = v.need(pos, 8, not first)
        length, ctype = _u32be(head), head[4:8]
        if (first and ctype != b"IHDR") or not ctype.isalpha() or length > MAX_PICTURE:
            raise _Broken(pos, not first)
        body = v.need(pos + 4, 4 + length + 4, not first)
        if zlib.crc32(body[:-4]) != _u32be(body, 4 + length):
            raise _Broken(pos, not first)
        first = False
        pos += 12 + length
        if ctype == b"IEND":
            return "png", pos - start
    raise _Broken(pos, True)


def _gif_sub_blocks(v: _View, pos: int, limit: int) -> int:
    while pos < limit:
        size = v.need(pos, 1, True)[0]
        pos += 1 + size
        if size == 0:
            return pos
    raise _Broken(pos, True)


def _gif(v: _View, start: int) -> tuple[str, int]:
    head = v.need(start, 13, False)
    if head[:6] not in (b"GIF87a", b"GIF89a") or not _u16le(head, 6):
        raise _Broken(start, False)
    pos, limit, frames = start + 13, start + MAX_PICTURE, 0
    if head[10] & 0x80:
        pos += 3 * (2 << (head[10] & 7))
    while pos < limit:
        block = v.need(pos, 1, True)[0]
        if block == 0x3B:
            if not frames:
                raise _Broken(pos, True)
            return "gif", pos + 1 - start
        if block == 0x21:
            pos = _gif_sub_blocks(v, pos + 2, limit)
        elif block == 0x2C:
            desc = v.need(pos, 10, True)
            pos += 10
            if desc[9] & 0x80:
                pos += 3 * (2 << (desc[9] & 7))
            pos = _gif_sub_blocks(v, pos + 1, limit)  # after the LZW minimum code size
            frames += 1
        else:
            raise _Broken(pos, True)
    raise _Broken(pos, True)


def _webp(v: _View, start: int) -> tuple[str, int]:
    head = v.need(start, 16, False)
    if head[:4] != b"RIFF" or head[8:15] != b"WEBPVP8" or head[15:16] not in b" LX":
        raise _Broken(start, False)
    length = _u32le(head, 4) + 8
    length += length & 1
    if length < 20 or length > MAX_PICTURE:
        raise _Broken(start, False)
    v.need(start + length - 1, 1, True)  # the whole of it is in range
    return "webp", length


def _bmp(v: _View, start: int) -> tuple[str, int]:
    head = v.need(start, 34, False)
    size, reserved, data_at, dib = (
        _u32le(head, 2),
        _u32le(head, 6),
        _u32le(head, 10),
        _u32le(head, 14),
    )
    if reserved or dib not in (40, 52, 56, 108, 124) or not 14 + dib <= data_at < size:
        raise _Broken(start, False)
    width = _u32le(head, 18)
    height = abs(int.from_bytes(head[22:26], "little", signed=True))
    planes, bits, compression = _u16le(head, 26), _u16le(head, 28), _u32le(head, 30)
    if planes != 1 or bits not in (1, 4, 8, 16, 24, 32) or compression > 6:
        raise _Broken(start, False)
    if not 0 < width <= 65535 or not 0 < height <= 65535 or size > MAX_PICTURE:
        raise _Broken(start, False)
    if compression in (0, 3, 6) and data_at + (width * bits + 31) // 32 * 4 * height > size:
        raise _Broken(start, False)
    v.need(start + size - 1, 1, True)
    return "bmp", size


def _mp4(v: _View, start: int) -> tuple[str, int]:
    head = v.need(start, 12, False)
    size = _u32be(head)
    if head[4:8] != b"ftyp" or not 16 <= size <= 4096 or not head[8:12].isascii():
        raise _Broken(start, False)
    kind = "mov" if head[8:12] == b"qt  " else "mp4"
    pos, limit, seen = start, start + MAX_VIDEO, set()
    while pos < limit:
        box = v.get(pos, 16)
        if len(box) < 8 or box[4:8] not in _BOXES:
            break
        size = _u32be(box)
        if size == 1:
            if len(box) < 16:
                break
            size = int.from_bytes(box[8:16], "big")
        if size < 8 or pos + size > v.end:
            break
        seen.add(box[4:8])
        pos += size
    if (b"moov" not in seen and b"moof" not in seen) or pos > limit:
        raise _Broken(pos, True)
    return kind, pos - start


_PARSERS = {
    b"\xff\xd8\xff": _jpeg,
    _PNG_SIG: _png,
    b"GIF8": _gif,
    b"WEBPVP8": _webp,
    b"BM": _bmp,
    b"ftyp": _mp4,
}
_LEAD = dict(_SIGNATURES)


def _parse(v: _View, start: int, signature: bytes) -> tuple[str, int]:
    v.steps = 0
    return _PARSERS[signature](v, start)


#: Each signature's first two bytes as a little-endian 16-bit value: the first, vectorised test.
_PAIRS = np.array(sorted({int.from_bytes(sig[:2], "little") for sig, _ in _SIGNATURES}), "<u2")
_BY_PAIR = {sig[:2]: (sig, lead) for sig, lead in _SIGNATURES}
#: Bytes compared at a time by :func:`_hits` (its temporary arrays stay in the CPU's cache).
_STRIDE = 1024 * 1024


def _hits(block: bytes, base: int, upto: int) -> list[tuple[int, bytes]]:
    """(item start, signature) of each signature found in ``block`` whose item starts before
    ``upto``, in order. Every pair of bytes at even, then odd, offsets is compared with the
    signatures' first two bytes at once (numpy: about 4x faster than one ``bytes.find`` per
    signature); only those candidates are compared whole."""
    found: list[tuple[int, bytes]] = []
    for chunk in range(0, len(block), _STRIDE):
        for odd in (0, 1):
            count = (min(len(block), chunk + _STRIDE + 1) - chunk - odd) // 2
            if count <= 0:
                continue
            pairs = np.frombuffer(block, "<u2", count=count, offset=chunk + odd)
            mask = pairs == _PAIRS[0]
            for value in _PAIRS[1:]:
                mask |= pairs == value
            for i in np.flatnonzero(mask).tolist():
                at = chunk + odd + 2 * i
                sig, lead = _BY_PAIR[block[at : at + 2]]
                start = base + at - lead
                if at >= lead and start < upto and block.startswith(sig, at):
                    found.append((start, sig))
    found.sort()
    return found


def has_signature(data: bytes) -> bool:
    """Whether any searched signature occurs in ``data`` (the cheap test before a search)."""
    return any(data.find(sig) != -1 for sig, _ in _SIGNATURES if sig != b"BM") or bool(
        re.search(rb"BM.{4}\x00\x00\x00\x00", data, re.S)
    )


def carve(
    stream: IO[bytes],
    start: int = 0,
    end: int | None = None,
    *,
    seconds: float = SECONDS,
    fragments: bool = True,
    deadline: float | None = None,
) -> CarveResult:
    """Every picture and video found by structure in ``stream[start:end]`` (``end``: the stream's
    end), in order, none inside another; with ``fragments``, broken ones grouped in runs."""
    if end is None:
        end = stream.seek(0, 2)
    deadline = time.monotonic() + seconds if deadline is None else deadline
    result = CarveResult(reached=start)
    view = _View(stream, end)
    broken: list[tuple[int, int, str]] = []
    pos = skip_to = start
    while pos < end:
        if time.monotonic() > deadline:
            result.timed_out = True
            break
        stream.seek(pos)
        block = stream.read(min(BLOCK, end - pos))
        if not block:
            break
        upto = pos + len(block) - (_OVERLAP if pos + len(block) < end else 0)
        for at, signature in _hits(block, pos, upto):
            if at < skip_to:
                continue
            if time.monotonic() > deadline:  # checked per hit: hostile data can be all hits
                result.timed_out, result.reached = True, at
                break
            view.cache(pos, block)
            try:
                kind, length = _parse(view, at, signature)
            except _Broken as exc:
                if exc.header_ok:
                    broken.append((at, max(exc.at - at, 1), _kind_of(signature)))
                continue
            result.items.append(Carved(kind, at, length))
            skip_to = at + length
        if result.timed_out:
            break
        pos = max(upto, skip_to)
        result.reached = pos
    result.reached = min(result.reached, end)
    if fragments:
        result.fragments = _runs(broken)
    return result


def _kind_of(signature: bytes) -> str:
    return {
        b"\xff\xd8\xff": "jpeg",
        _PNG_SIG: "png",
        b"GIF8": "gif",
        b"WEBPVP8": "webp",
        b"BM": "bmp",
        b"ftyp": "mp4",
    }[signature]


def _runs(broken: list[tuple[int, int, str]]) -> list[FragmentRun]:
    runs: list[FragmentRun] = []
    run_start = run_end = count = -1
    kinds: set[str] = set()
    for at, length, kind in sorted(broken):
        if count > 0 and at <= run_end + FRAGMENT_GAP:
            run_end, count = max(run_end, at + length), count + 1
            kinds.add(kind)
            continue
        if count > 0:
            runs.append(FragmentRun(run_start, run_end - run_start, count, tuple(sorted(kinds))))
        run_start, run_end, count, kinds = at, at + length, 1, {kind}
    if count > 0:
        runs.append(FragmentRun(run_start, run_end - run_start, count, tuple(sorted(kinds))))
    return runs


def item_at(stream: IO[bytes], offset: int, end: int | None = None) -> Carved | None:
    """The item starting at ``offset`` (what :func:`carve` found there), or None."""
    if end is None:
        end = stream.seek(0, 2)
    view = _View(stream, end)
    head = view.get(offset, 16)
    for signature, lead in _SIGNATURES:
        if head[lead : lead + len(signature)] == signature:
            try:
                kind, length = _parse(view, offset, signature)
            except _Broken:
                continue
            return Carved(kind, offset, length)
    return None
