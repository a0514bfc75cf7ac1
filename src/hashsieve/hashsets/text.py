"""Text encodings of hash-set files, decided once, here, for every text format.

Windows tools (EnCase and X-Ways exports, PowerShell's ``Out-File`` before PowerShell 6, Notepad's
"Unicode") write UTF-16 with a byte-order mark; others write UTF-8 with or without one. The BOM
is the only reliable sign, so it alone decides: UTF-16 LE/BE (BOM) or UTF-8 (BOM optional). A
UTF-16 file without a BOM is not guessed at; its NUL bytes make it binary to the sniffers.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import BinaryIO, TextIO

UTF8_BOM = codecs.BOM_UTF8
#: BOM -> the codec that reads the text after it (the codec does not strip it itself).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length) of a file starting with ``head``; UTF-8 when there is no BOM."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return "utf-8", 0


def utf8_head(head: bytes) -> bytes:
    """``head`` as UTF-8 without a BOM, so sniffers see one encoding. Binary heads (no UTF-16
    BOM) pass unchanged; a code unit cut by the head's end is dropped, not an error."""
    codec, skip = sniff_encoding(head)
    if codec == "utf-8":
        return head[skip:]
    return head[skip:].decode(codec, "ignore").encode("utf-8")


def _codec_of(path: Path) -> tuple[str, int]:
    with path.open("rb") as stream:
        return sniff_encoding(stream.read(4))


def open_text(path: Path, *, newline: str | None = None) -> TextIO:
    """``path`` as text in its encoding, BOM dropped. Undecodable bytes become U+FFFD so the line
    is reported as bad, never a crash."""
    codec, skip = _codec_of(path)
    stream = path.open("r", encoding=codec, errors="replace", newline=newline)
    if skip:
        stream.read(1)  # the BOM, one character in every codec
    return stream


class _Utf8Reader(io.RawIOBase):
    """A binary stream of UTF-8 bytes over a text stream (for ijson on UTF-16 JSON)."""

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        while len(self._pending) < size:
            chunk = self._text.read(max(size // 2, 4096))
            if not chunk:
                break
            self._pending += chunk.encode("utf-8")
        taken, self._pending = self._pending[:size], self._pending[size:]
        buffer[: len(taken)] = taken
        return len(taken)

    def close(self) -> None:
        self._text.close()
        super().close()


def open_utf8(path: Path) -> BinaryIO:
    """``path`` as UTF-8 bytes without a BOM, whatever its encoding: for byte-level parsers."""
    codec, skip = _codec_of(path)
    if codec == "utf-8":
        stream = path.open("rb")
        stream.seek(skip)
        return stream
    return io.BufferedReader(_Utf8Reader(open_text(path)))
