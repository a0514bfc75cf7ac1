"""The verdict of one file, and the order in which an examiner reviews them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from hashsieve.hashing.media import MediaKind
from hashsieve.matching import MatchHit


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
NON_PERTINENT = 0


def category_rank(category: int | None) -> int:
    """Most serious first: 1, 2, 3, 4, ... then uncategorised."""
    return 1000 if category is None else category


def decide(
    media_kind: str, error: str | None, matches: Sequence[MatchHit]
) -> tuple[Verdict, int | None]:
    """(verdict, most serious category) for a file and its matches.

    Known material wins over known-good: one match to a known set is enough to set a file aside
    as known, whatever else it matches. Category 0 (non-pertinent) is not known-bad.
    """
    bad = [m for m in matches if m.kind == "known" and m.category != NON_PERTINENT]
    if bad:
        return Verdict.KNOWN, min((m.category for m in bad), key=category_rank)
    if matches:
        return Verdict.KNOWN_GOOD, NON_PERTINENT if any(
            m.kind == "known" for m in matches
        ) else None
    if error:
        return Verdict.UNREADABLE, None
    if media_kind in (MediaKind.IMAGE, MediaKind.VIDEO):
        return Verdict.NEW, None
    return Verdict.OTHER, None
