"""EnCase hash sets (``.hash``, EnCase 4 to 6): binary, MD5 only, read only.

Layout (Forensics Wiki "EnCase hash files", from files of EnCase 6, marked "to be verified";
The Sleuth Kit's ``encase.c`` reads the same offsets):

- 0x000: ``HASH\\r\\n\\xff\\x00`` (the signature), then 8 bytes (``02 00 00 00 01 00 00 00`` seen)
- 0x010: number of hashes, 32-bit little-endian
- 0x408: the set's name, UTF-16LE, at most 39 characters, NUL padded
- 0x458: the set's category text, UTF-16LE, at most 19 characters
- 0x480: the hashes, 18 bytes each: 16 bytes of MD5 and 2 zero bytes, to the end of the file

Read only: the header bytes between the signature and the count, and what EnCase 7 and later
(which keep hash libraries in another format) or EnCase 3 accept, are not documented well
enough to write a file EnCase is sure to load. The set's category is free text ("Known",
"Notable", ...), not a VICS code, so it is not taken as a category.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from hashsieve.hashsets.base import HashRecord, ParseProblem

SIGNATURE = b"HASH\r\n\xff\x00"
_COUNT_AT = 0x10
_NAME_AT, _NAME_BYTES = 0x408, 80
_HASHES_AT = 0x480
_ENTRY_BYTES = 18
_BATCH = 4096  # entries read at a time


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").split("\0", 1)[0].strip()


class EncaseFormat:
    name: ClassVar[str] = "encase"
    description: ClassVar[str] = "EnCase .hash hash sets (binary, MD5; read only)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        name = path.name
        with path.open("rb") as stream:
            header = stream.read(_HASHES_AT)
            if len(header) < _HASHES_AT:
                yield ParseProblem(name, f"EnCase header cut short at {len(header)} bytes")
                return
            (declared,) = struct.unpack_from("<I", header, _COUNT_AT)
            set_name = _utf16(header[_NAME_AT : _NAME_AT + _NAME_BYTES]) or name
            number = 0
            while chunk := stream.read(_ENTRY_BYTES * _BATCH):
                whole = len(chunk) - len(chunk) % _ENTRY_BYTES
                for offset in range(0, whole, _ENTRY_BYTES):
                    number += 1
                    digest = chunk[offset : offset + 16]
                    yield HashRecord("md5", digest.hex(), f"{set_name} #{number}")
                if whole != len(chunk):
                    yield ParseProblem(
                        f"{set_name} #{number + 1}",
                        f"{len(chunk) - whole} trailing bytes, not a whole 18-byte entry",
                    )
            if declared not in (0, number):
                # The count's place is from one sample file: report, never refuse, a mismatch.
                yield ParseProblem(
                    name, f"header says {declared:,} hashes, the file holds {number:,}"
                )
