"""Verdict rules: known wins, non-pertinent is not known-bad, media without a match is new."""

from __future__ import annotations

import pytest

from hashsieve.matching import MatchHit
from hashsieve.matching.verdict import Verdict, decide


def hit(kind: str, category: int | None) -> MatchHit:
    return MatchHit(1, "set", kind, "e", "md5", 0, category, None)


@pytest.mark.parametrize(
    ("kind", "error", "matches", "expected"),
    [
        ("image", None, [], (Verdict.NEW, None)),
        ("video", None, [], (Verdict.NEW, None)),
        ("other", None, [], (Verdict.OTHER, None)),
        ("image", "truncated: x", [], (Verdict.UNREADABLE, None)),
        ("image", "truncated: x", [hit("known", 1)], (Verdict.KNOWN, 1)),
        ("image", None, [hit("known", 2), hit("known", 1)], (Verdict.KNOWN, 1)),
        ("image", None, [hit("known", None)], (Verdict.KNOWN, None)),
        ("image", None, [hit("known", 3), hit("known", None)], (Verdict.KNOWN, 3)),
        ("image", None, [hit("known", 0)], (Verdict.KNOWN_GOOD, 0)),
        ("other", None, [hit("known-good", None)], (Verdict.KNOWN_GOOD, None)),
        ("image", None, [hit("known-good", None), hit("known", 4)], (Verdict.KNOWN, 4)),
    ],
)
def test_decide(
    kind: str, error: str | None, matches: list[MatchHit], expected: tuple[Verdict, int | None]
) -> None:
    assert decide(kind, error, matches) == expected
