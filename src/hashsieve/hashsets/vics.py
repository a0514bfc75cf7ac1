"""Project VIC VICS JSON: 1.x (``odata.metadata``) and 2.0 (``@odata.context``), hash sets
(``#Media``: ``value[]`` are media) and case exports (``#Cases``: ``value[i].Media[]``).

Streamed with ijson (C backend) because national sets run to hundreds of MB: one media object
is in memory at a time. Each hash of a media record (MD5, SHA1, SHA256, PDQ in
``AlternativeHashes``) becomes one :class:`HashRecord` sharing the record's entry and category.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import ijson

from hashsieve.hashsets.base import HEX_LENGTHS, HashRecord, ParseProblem
from hashsieve.hashsets.lists import parse_bool, parse_category, parse_hex
from hashsieve.hashsets.text import open_utf8, utf8_head
from hashsieve.hashsets.vpdq import vics_frame_records

_CONTEXT_KEYS = ("@odata.context", "odata.metadata")
# Only used on the first 64 KiB, once per file: where the root says which entity set follows.
_CONTEXT_RE = re.compile(rb'"(?:@odata\.context|odata\.metadata)"\s*:\s*"([^"]*)"')
#: Media fields (lower-cased) that hold a hash directly.
_HASH_FIELDS: dict[str, str] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha-1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
}
#: ``AlternativeHashes[].HashName`` (lower-cased) we can use; PhotoDNA and others are skipped.
_ALTERNATIVE_NAMES: dict[str, str] = {**_HASH_FIELDS, "pdq": "pdq"}


def _entity_set(context: str) -> str:
    """ "Media" or "Cases", from the end of the OData context URL."""
    return "Cases" if context.rsplit("#", 1)[-1].strip().startswith("Cases") else "Media"


def _context_in_head(head: bytes) -> str | None:
    match = _CONTEXT_RE.search(head)
    return match.group(1).decode("utf-8", "replace") if match else None


class VicsFormat:
    name: ClassVar[str] = "vics"
    description: ClassVar[str] = "Project VIC VICS JSON 1.x/2.0 (#Media hash sets, #Cases exports)"
    always_known_good: ClassVar[bool] = False
    categorised: ClassVar[bool] = True

    def sniff(self, path: Path, head: bytes) -> bool:
        return utf8_head(head).lstrip().startswith(b"{") and (_context_in_head(head) is not None)

    def read(self, path: Path) -> Iterator[HashRecord | ParseProblem]:
        # UTF-8 whatever the file's encoding (UTF-16 from Windows exporters): ijson reads bytes.
        with open_utf8(path) as stream:
            context = _context_in_head(stream.read(64 * 1024))
        if context is None:
            with open_utf8(path) as stream:
                # The root key comes after "value" (unusual): one pass to find it.
                context = _find_context(stream) or ""
        # The layout is read from the records, not trusted from the context: some exporters
        # declare #Media over a case export's value[].Media[].
        with open_utf8(path) as stream:
            entity = _layout(stream) or _entity_set(context)
        with open_utf8(path) as stream:
            prefix = "value.item.Media.item" if entity == "Cases" else "value.item"
            position = 0
            try:
                for position, media in enumerate(ijson.items(stream, prefix, use_float=True), 1):
                    yield from media_records(media, position)
            except ijson.JSONError as exc:
                yield ParseProblem(
                    f"{path.name}", f"invalid JSON after {position} media records: {exc}"
                )


#: Keys of a case (``#Cases`` value item) and of a media record, lower-cased.
_CASE_KEYS = frozenset({"media", "caseid", "casenumber", "totalmediafiles"})
_MEDIA_KEYS = frozenset({"mediaid", "md5", "sha1", "category", "alternativehashes"})
#: Parser events looked at to tell the layout (the first value item's keys come early).
_LAYOUT_EVENTS = 10_000


def _layout(stream: Any) -> str | None:
    """ "Cases" or "Media" by the keys of the first ``value`` item; None when undecided."""
    try:
        for count, (prefix, event, value) in enumerate(ijson.parse(stream)):
            if count > _LAYOUT_EVENTS:
                return None
            if prefix == "value.item" and event == "map_key":
                key = str(value).lower()
                if key in _CASE_KEYS:
                    return "Cases"
                if key in _MEDIA_KEYS:
                    return "Media"
            elif prefix == "value.item" and event == "end_map":
                return None
    except ijson.JSONError:
        return None
    return None


def _find_context(stream: Any) -> str | None:
    try:
        for prefix, event, value in ijson.parse(stream):
            if prefix in _CONTEXT_KEYS and event == "string":
                return str(value)
    except ijson.JSONError:
        return None
    return None


def media_records(media: object, position: int) -> Iterator[HashRecord | ParseProblem]:
    """The records of one VICS media object; ``position`` (1-based) names it without a MediaID."""
    if not isinstance(media, dict):
        yield ParseProblem(f"Media #{position}", "media record is not a JSON object")
        return
    # Keys vary in case between exporters; odata annotations are never looked up.
    fields = {key.lower(): value for key, value in media.items()}
    media_id = fields.get("mediaid")
    entry = f"MediaID {media_id}" if media_id not in (None, "") else f"Media #{position}"
    try:
        category = parse_category(fields.get("category"))
    except ValueError as exc:
        # Keep the hashes: uncategorised means "needs review", the safe reading of a bad value.
        yield ParseProblem(entry, f"{exc}; imported as uncategorised")
        category = None
    series = _series(fields.get("series"))
    victim = parse_bool(fields.get("victimidentified"))

    candidates: list[tuple[str, object, str]] = [
        (algorithm, fields[key], key.upper())
        for key, algorithm in _HASH_FIELDS.items()
        if fields.get(key) not in (None, "")
    ]
    alternatives = fields.get("alternativehashes")
    frames = 0  # a video's vPDQ frame hashes (HashName "vPDQ", HashValue a vPDQ line)
    for alternative in alternatives if isinstance(alternatives, list) else ():
        if not isinstance(alternative, dict):
            continue
        hash_name = str(alternative.get("HashName") or "").strip()
        if hash_name.lower() == "vpdq":
            for item in vics_frame_records(entry, alternative.get("HashValue"), category, series):
                frames += isinstance(item, HashRecord)
                yield item
            continue
        algorithm = _ALTERNATIVE_NAMES.get(hash_name.lower())
        if algorithm is not None:
            candidates.append(
                (algorithm, alternative.get("HashValue"), f"AlternativeHashes {hash_name}")
            )

    seen: set[tuple[str, str]] = set()
    bad = False
    for algorithm, raw, field in candidates:
        length = HEX_LENGTHS[algorithm]
        value = parse_hex(raw, length)
        if value is None:
            bad = True
            yield ParseProblem(entry, f"{field} {str(raw)[:80]!r} is not {length} hex digits")
        elif (algorithm, value) not in seen:  # SHA1 may be both a field and an alternative
            seen.add((algorithm, value))
            yield HashRecord(algorithm, value, entry, category, series, victim)
    if not seen and not bad and not frames:
        yield ParseProblem(entry, "no MD5, SHA1, SHA256 or PDQ hash")


def _series(value: object) -> str | None:
    if isinstance(value, list):  # some writers use an array where others comma-delimit
        value = ", ".join(str(item) for item in value if item not in (None, ""))
    if value is None:
        return None
    text = str(value).strip()
    return text or None
