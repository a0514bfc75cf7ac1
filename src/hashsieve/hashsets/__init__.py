"""Hash-set formats: every format registered once, here, and detection of a file's format.

Detection reads the content, never the extension: sets arrive renamed (``.txt`` for JSON,
``.db`` or no extension at all). Registration order is the sniffing order, most specific first:
structured formats with a signature, then headed CSVs, then the loose line lists.
"""

from __future__ import annotations

from pathlib import Path

from hashsieve.errors import HashSetFormatError
from hashsieve.hashsets.base import HashSetFormat
from hashsieve.hashsets.encase import EncaseFormat
from hashsieve.hashsets.hashdeep import HashdeepFormat
from hashsieve.hashsets.hashkeeper import HashKeeperFormat
from hashsieve.hashsets.lists import CsvFormat, PlainListFormat, ThreatExchangeFormat
from hashsieve.hashsets.media import MediaFolderFormat
from hashsieve.hashsets.nsrl import NsrlRds3Format, NsrlTextFormat
from hashsieve.hashsets.sums import ChecksumFormat
from hashsieve.hashsets.text import utf8_head
from hashsieve.hashsets.vics import VicsFormat
from hashsieve.hashsets.vpdq import VpdqFormat
from hashsieve.registry import Registry

#: How much of a file the sniffers see.
HEAD_BYTES = 64 * 1024

FORMATS: Registry[HashSetFormat] = Registry("hash-set format")
for _format in (
    VicsFormat(),
    NsrlRds3Format(),
    EncaseFormat(),  # binary, "HASH\r\n\xff\x00"
    HashdeepFormat(),  # "%%%% HASHDEEP-1.0"
    NsrlTextFormat(),  # its header would also pass as a CSV with hash columns
    HashKeeperFormat(),  # so would this one's (its "hash" column is MD5)
    VpdqFormat(),  # frame,quality,pdq,seconds lines (or a folder of them): before CSV
    MediaFolderFormat(),  # a folder of known originals, hashed here
    CsvFormat(),
    ChecksumFormat(),  # "<hex>  name", "MD5 (name) = <hex>"
    ThreatExchangeFormat(),  # before plain: "<type> <hex>" lines are not bare hashes
    PlainListFormat(),
):
    FORMATS.register(_format.name, _format)
del _format


def detect_format(path: Path) -> HashSetFormat:
    """The registered format of ``path``, from its first bytes; HashSetFormatError if none."""
    if path.is_dir():
        head = b""
    else:
        try:
            with path.open("rb") as stream:
                head = stream.read(HEAD_BYTES)
        except OSError as exc:
            raise HashSetFormatError(f"cannot read hash set {path}: {exc.strerror or exc}") from exc
        if not head:
            raise HashSetFormatError(f"hash set {path} is empty")
        head = utf8_head(head)  # UTF-16 (BOM) and UTF-8-BOM text: sniffers see plain UTF-8
    for _name, fmt in FORMATS:
        if fmt.sniff(path, head):
            return fmt
    known = ", ".join(FORMATS.names())
    raise HashSetFormatError(
        f"{path} is not a hash set in a known format ({known}); name the format explicitly "
        "if it is one of these"
    )


__all__ = ["FORMATS", "HEAD_BYTES", "HashSetFormat", "detect_format"]
