"""Matching hashed files against known hashes: the rule (``rules``), the store's indexes
(``matcher``) and videos (``video``)."""

from hashsieve.matching.hits import KnownHashes, MatchHit
from hashsieve.matching.matcher import Matcher
from hashsieve.matching.rules import is_known_bad, known_bad, verdict_of

__all__ = ["KnownHashes", "MatchHit", "Matcher", "is_known_bad", "known_bad", "verdict_of"]
