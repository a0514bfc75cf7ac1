"""Write hash sets out: VICS 2.0 ``#Media`` JSON, or a plain list of one algorithm.

Both stream: a set is written record by record, never held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any, TextIO

from hashsieve.hashing.video import FrameHash
from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord
from hashsieve.hashsets.entries import as_frame
from hashsieve.hashsets.lists import ALGORITHM_DIRECTIVE

VICS_CONTEXT = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
)
#: VICS carries MD5 and SHA1 as fields, in upper case as the national sets do; other hashes go in
#: AlternativeHashes under these names.
_FIELDS = {"md5": "MD5", "sha1": "SHA1"}
_ALTERNATIVE_NAMES = {"sha256": "SHA256", "pdq": "PDQ"}


def _frame(record: HashRecord) -> tuple[str, FrameHash] | None:
    """(video, frame) for a known video's frame, from the record's columns; else None."""
    return as_frame(record)


def _media(group: list[HashRecord], media_id: int) -> dict[str, Any]:
    first = group[0]
    media: dict[str, Any] = {"MediaID": media_id, "Category": first.category}
    alternatives: list[dict[str, str]] = []
    for record in group:
        if (found := _frame(record)) is not None:  # a known video's frame: one vPDQ line each
            frame = found[1]
            line = f"{frame.frame},{frame.quality},{record.value},{frame.seconds:.3f}"
            alternatives.append({"HashName": "vPDQ", "HashValue": line})
        elif record.algorithm in _FIELDS:
            media[_FIELDS[record.algorithm]] = record.value.upper()
        else:
            alternatives.append(
                {"HashName": _ALTERNATIVE_NAMES[record.algorithm], "HashValue": record.value}
            )
    if "MD5" in media:
        for alternative in alternatives:  # VICS ties each alternative hash to its media's MD5
            alternative["MD5"] = media["MD5"]
    if alternatives:
        media["AlternativeHashes"] = alternatives
    if first.series:
        media["Series"] = first.series
    if first.victim_identified is not None:
        media["VictimIdentified"] = "true" if first.victim_identified else "false"
    return media


def _media_groups(records: Iterable[HashRecord]) -> Iterator[list[HashRecord]]:
    """Records of one entry, split again where an algorithm repeats (one hash each per media).

    The frames of one known video (records whose ``item`` is the video) form one media, with
    the video file's digests where it was hashed as a file (their ``entry`` is the video's name).
    """

    def key(record: HashRecord) -> str:
        frame = _frame(record)
        return frame[0] if frame is not None else record.entry

    for _entry, records_of_entry in groupby(records, key=key):
        group: list[HashRecord] = []
        for record in records_of_entry:
            if _frame(record) is None and any(
                other.algorithm == record.algorithm and _frame(other) is None for other in group
            ):
                yield group
                group = []
            group.append(record)
        yield group


def write_vics_media(records: Iterable[HashRecord], stream: TextIO, name: str) -> int:
    """Write a VICS 2.0 ``#Media`` hash set; returns the number of Media written.

    Records of one media must be adjacent (as every reader and the store yield them): each run of
    one ``entry`` becomes one Media. A media without an MD5 (a PDQ-only list) is still written,
    though some VICS consumers key on MD5 and may skip it. ``name`` is kept as an OData instance
    annotation, which OData readers ignore.
    """
    stream.write("{\n")
    stream.write(f'"@odata.context": {json.dumps(VICS_CONTEXT)},\n')
    stream.write(f'"@hashsieve.name": {json.dumps(name)},\n')
    stream.write('"value": [')
    count = 0
    for count, group in enumerate(_media_groups(records), 1):
        stream.write(",\n" if count > 1 else "\n")
        stream.write(json.dumps(_media(group, count), separators=(",", ":")))
    stream.write("\n]\n}\n")
    return count


def write_plain(records: Iterable[HashRecord], stream: TextIO, algorithm: str) -> int:
    """Write the ``algorithm`` hashes of ``records``, one lower-case hex a line; returns the count.

    The first line declares the algorithm (``# algorithm: pdq``) so that 64-digit PDQ and
    SHA-256 lists read back as what they are.
    """
    if algorithm not in HEX_LENGTHS:
        raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(HEX_LENGTHS)})")
    stream.write(f"{ALGORITHM_DIRECTIVE} {algorithm}\n")
    count = 0
    for record in records:
        if record.algorithm == algorithm:
            stream.write(f"{record.value}\n")
            count += 1
    return count
