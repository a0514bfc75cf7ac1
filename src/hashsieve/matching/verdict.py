"""The verdict of one file, and the order in which an examiner reviews them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from hashsieve.hashing.media import MediaKind
from hashsieve.matching.hits import MatchHit
from hashsieve.matching.rules import verdict_of


class Verdict(StrEnum):
    NEW = "new"  # an image or video that matched nothing: what the examiner reviews first
    KNOWN = "known"  # matched known material (with its category)
    KNOWN_GOOD = "known-good"  # matched a known-good set (NSRL), or categorised non-pertinent
    OTHER = "other"  # not media, matched nothing
    UNREADABLE = "unreadable"  # could not be read or decoded, matched nothing


#: Review order of verdicts (new material first).
VERDICT_ORDER = {
    Verdict.NEW: 0,
    Verdict.KNOWN: 1,
    Verdict.KNOWN_GOOD: 2,
    Verdict.OTHER: 3,
    Verdict.UNREADABLE: 4,
}


def decide(
    media_kind: str, error: str | None, matches: Sequence[MatchHit]
) -> tuple[Verdict, int | None]:
    """(verdict, most serious category) for a file and its matches: the matching rule's
    (:func:`~hashsieve.matching.rules.verdict_of`) when it matched anything."""
    matched, category = verdict_of(matches)
    if matched is not None:
        return Verdict(matched), category
    if error:
        return Verdict.UNREADABLE, None
    if media_kind in (MediaKind.IMAGE, MediaKind.VIDEO):
        return Verdict.NEW, None
    return Verdict.OTHER, None
