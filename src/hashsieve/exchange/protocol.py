"""The feed protocol: canonical encoding, the hash chain, signed pages and their verification.

Pure functions over JSON-like values and keys, with no store: the subscriber, the publisher and
the python-threatexchange extension (:mod:`hashsieve.exchange.pytx`) share them. docs/exchange.md
describes the format for other implementations.

- **Canonical encoding**: UTF-8 JSON, keys sorted, no whitespace, non-ASCII escaped, no floats
  (times are decimal strings), ``null`` members left out of entries.
- **Chain**: ``chain(0) = SHA-256("hashsieve-feed/1\\n" + feed name)``, and
  ``chain(n) = SHA-256(chain(n-1) bytes + canonical(entry n))``: entry n commits to every entry
  before it, so a reordered, dropped or altered entry changes every chain value after it.
- **Page**: the entries ``after+1 .. last`` of a feed with ``prev = chain(after)``,
  ``chain = chain(last)``, the feed's ``head`` (its last sequence number when the page was made)
  and ``issued_at``, signed with the publisher's Ed25519 key over
  ``"hashsieve-feed-page/1\\n" + canonical(page without "signature")``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from hashsieve.errors import HashsieveError

PAGE_FORMAT = "hashsieve-feed-page/1"
#: What a page's signature is computed over comes after these bytes (domain separation).
PAGE_DOMAIN = (PAGE_FORMAT + "\n").encode()
_PAGE_DOMAIN = PAGE_DOMAIN
_CHAIN_DOMAIN = b"hashsieve-feed/1\n"
#: Operations a feed's log holds.
ADD, REMOVE = "add", "remove"
#: The fields of an entry that say which entry a removal takes away (with the feed).
KEY_FIELDS = ("algorithm", "value", "item", "frame", "part")
#: What an addition may carry besides its key: hashes, categories and provenance, never content.
ADD_FIELDS = (*KEY_FIELDS, "category", "series", "entry", "seconds", "quality", "victim", "origin")
ORIGIN_FIELDS = ("agency", "case_ref", "contact")
PUBLIC_KEY_HEX = 64


class FeedRefused(HashsieveError):
    """A feed page that fails verification: nothing of it (nor of its sync) is applied."""


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that signatures and the chain are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def genesis(feed: str) -> str:
    return hashlib.sha256(_CHAIN_DOMAIN + feed.encode()).hexdigest()


def link(prev: str, entry: dict[str, Any]) -> str:
    """chain(n) from chain(n-1) and entry n (which carries its ``seq``)."""
    return hashlib.sha256(bytes.fromhex(prev) + canonical(entry)).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_page(key: SigningKey, page: dict[str, Any]) -> dict[str, Any]:
    """``page`` with its ``signature`` (hex) added."""
    body = {k: v for k, v in page.items() if k != "signature"}
    signature = key.sign(_PAGE_DOMAIN + canonical(body)).signature
    return {**body, "signature": signature.hex()}


def parse_public_key(text: str) -> VerifyKey:
    text = text.strip().lower()
    if len(text) != PUBLIC_KEY_HEX:
        raise HashsieveError(f"a public key is {PUBLIC_KEY_HEX} hex digits, not {len(text)}")
    try:
        return VerifyKey(bytes.fromhex(text))
    except ValueError:
        raise HashsieveError("a public key is 64 hex digits") from None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a subscriber stands in a feed: the last sequence applied, its chain value, and the
    ``issued_at`` of the last page accepted (a page issued earlier is a replay)."""

    seq: int
    chain: str
    issued_at: str | None = None


def verify_page(
    page: Any, *, feed: str, publisher: str, at: Position
) -> tuple[list[dict[str, Any]], Position, int]:
    """Check a page against the pinned key and the subscriber's position.

    Returns (its entries, the position after it, the feed's head). Raises :class:`FeedRefused`
    with the reason for a page that is not signed by ``publisher`` over exactly these bytes, is
    of another feed, does not start where the subscriber stands (a replayed, reordered or
    forked page), whose entries are not ``after+1 .. last`` in order or do not hash to its
    ``chain`` (truncated, reordered, altered), or that was issued before the last one accepted.
    """
    if not isinstance(page, dict):
        raise FeedRefused("the answer is not a feed page (not a JSON object)")
    signature = page.get("signature")
    if not isinstance(signature, str):
        raise FeedRefused("the page carries no signature")
    body = {k: v for k, v in page.items() if k != "signature"}
    try:
        VerifyKey(bytes.fromhex(publisher)).verify(
            _PAGE_DOMAIN + canonical(body), bytes.fromhex(signature)
        )
    except (BadSignatureError, ValueError):
        raise FeedRefused(
            "bad signature: the page was altered, or it is not signed by the pinned publisher key"
        ) from None
    if body.get("format") != PAGE_FORMAT:
        raise FeedRefused(f"unknown page format {body.get('format')!r}")
    if body.get("feed") != feed:
        raise FeedRefused(f"the page is of feed {body.get('feed')!r}, not {feed!r}")
    if body.get("publisher") != publisher:
        raise FeedRefused("the page names another publisher key")
    after, last, head = body.get("after"), body.get("last"), body.get("head")
    if not (isinstance(after, int) and isinstance(last, int) and isinstance(head, int)):
        raise FeedRefused("the page's after/last/head are not sequence numbers")
    if after != at.seq or body.get("prev") != at.chain:
        raise FeedRefused(
            f"the page starts after {after}, this copy stands at {at.seq}: a replayed or "
            "reordered page, or a feed whose history was rewritten"
        )
    issued = body.get("issued_at")
    if not isinstance(issued, str) or (at.issued_at is not None and issued < at.issued_at):
        raise FeedRefused("the page was issued before the last one accepted: a replayed page")
    if not 0 <= after <= last <= head:
        raise FeedRefused("the page's last sequence number is outside the feed")
    entries = body.get("entries")
    if not isinstance(entries, list) or len(entries) != last - after:
        raise FeedRefused(
            f"the page should hold entries {after + 1}..{last} and holds "
            f"{len(entries) if isinstance(entries, list) else 'none'}: a truncated page"
        )
    chain = at.chain
    for n, entry in enumerate(entries, start=after + 1):
        if not isinstance(entry, dict) or entry.get("seq") != n:
            raise FeedRefused(f"entry {n} is missing or out of order: a reordered page")
        _check_entry(entry)
        chain = link(chain, entry)
    if chain != body.get("chain"):
        raise FeedRefused("the entries do not hash to the page's chain: an altered page")
    return entries, Position(last, chain, issued), head


def _check_entry(entry: dict[str, Any]) -> None:
    op = entry.get("op")
    if op not in (ADD, REMOVE):
        raise FeedRefused(f"entry {entry.get('seq')}: unknown operation {op!r}")
    if not isinstance(entry.get("algorithm"), str) or not isinstance(entry.get("value"), str):
        raise FeedRefused(f"entry {entry.get('seq')}: no algorithm and value")
    allowed = {"seq", "op", *(ADD_FIELDS if op == ADD else KEY_FIELDS)}
    extra = set(entry) - allowed
    if extra:
        raise FeedRefused(f"entry {entry.get('seq')}: unexpected fields {sorted(extra)}")
