"""Matching hashed files against known hashes: the rule (``rules``), the store's indexes
(``matcher``) and videos (``video``)."""

from hashsieve.matching.matcher import Matcher, MatchHit

__all__ = ["MatchHit", "Matcher"]
