"""Every hash algorithm hashsieve stores or matches, registered once with its facts.

Names, widths, match thresholds and quality floors used to be written out wherever they were
needed (the store's indexes, the hash-set readers, the CLI's choices, the matcher); they now
live here and the others read them. Names are the stable ones the store, the JSON Lines results
and the hash-set files use (``"md5"``, ``"pdq"``, ``"pdq-crop"``, ...).

Three kinds:

- ``crypto``: a digest of the bytes; equal or not.
- ``perceptual``: a PDQ code of a picture (or of a reference part of one); two codes match at
  Hamming distance ``threshold`` or less, and a code of quality under ``min_quality`` is never
  matched.
- ``video``: a match rule over a video's PDQ frames (vPDQ). Its frames are stored as ``pdq``
  entries, so it has no table of its own (``stored`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hashsieve.config import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashsieve.registry import Registry

Kind = Literal["crypto", "perceptual", "video"]

# The reference parts' figures (hashsieve.hashing.reference reads them from here). Parts below
# quality 65 are not kept (whole images keep the settings' 50): measured on the robustness
# benchmark's distractors, at 50 one smooth crop came within 22 bits of an unrelated picture; from
# 60 up the closest was 62. With 68 crop parts an original (2026-11-29), 4,159 unrelated pictures
# (docs/robust-matching.md, "Reference parts") came within 32 and 36 bits of two parts of quality
# 61-62 of a flat vector-art original (42 and 46 with the 21 parts before); from 65 up the closest
# was 60. A part matches at distance 31 or less.
_PART_THRESHOLD = 31
_PART_MIN_QUALITY = 65


@dataclass(frozen=True, slots=True)
class Algorithm:
    name: str
    kind: Kind
    #: Bytes of one value (of one frame's code for ``video``).
    width: int
    description: str
    #: Hamming distance at or below which two codes match (perceptual and video only).
    threshold: int | None = None
    #: Codes of lower PDQ quality are never matched (perceptual and video only).
    min_quality: int | None = None
    #: Held in the store's hash entries, with an index of its own.
    stored: bool = True
    #: Carried by hash lists written by other tools (VICS, CSV, plain lists); False for what
    #: only hashsieve derives (reference parts) and for match rules.
    listed: bool = True

    @property
    def hex_length(self) -> int:
        return self.width * 2

    def parse(self, text: str) -> bytes:
        """The value of a hex string (either case, surrounding blanks ignored); ValueError when
        it is not exactly ``hex_length`` digits."""
        text = text.strip()
        # fromhex skips inner blanks: the length check first keeps "ab cd" from passing.
        if len(text) != self.hex_length:
            raise ValueError(f"{self.name} needs {self.hex_length} hex digits, got {len(text)}")
        value = bytes.fromhex(text)
        if len(value) != self.width:
            raise ValueError(f"{self.name} value {text[:80]!r} is not hex")
        return value

    def format(self, value: bytes) -> str:
        """Lower-case hex, the form the store's exports and the JSON Lines results use."""
        if len(value) != self.width:
            raise ValueError(f"{self.name} values are {self.width} bytes, not {len(value)}")
        return value.hex()


ALGORITHMS: Registry[Algorithm] = Registry("hash algorithm")
for _algorithm in (
    Algorithm("md5", "crypto", 16, "MD5 of the file's bytes"),
    Algorithm("sha1", "crypto", 20, "SHA-1 of the file's bytes"),
    Algorithm("sha256", "crypto", 32, "SHA-256 of the file's bytes"),
    Algorithm(
        "pdq",
        "perceptual",
        32,
        "PDQ of a picture (and of each frame of a known video)",
        threshold=PDQ_MATCH_THRESHOLD,
        min_quality=PDQ_MIN_QUALITY,
    ),
    Algorithm(
        "pdq-crop",
        "perceptual",
        32,
        "PDQ of a known original with a few per cent cut from some or all edges (reference part)",
        threshold=_PART_THRESHOLD,
        min_quality=_PART_MIN_QUALITY,
        listed=False,
    ),
    Algorithm(
        "pdq-top",
        "perceptual",
        32,
        "PDQ of the upper part of a known original (reference part)",
        threshold=_PART_THRESHOLD,
        min_quality=_PART_MIN_QUALITY,
        listed=False,
    ),
    Algorithm(
        "vpdq",
        "video",
        32,
        "a video whose unique frames are covered by a known video's PDQ frames",
        threshold=PDQ_MATCH_THRESHOLD,
        min_quality=PDQ_MIN_QUALITY,
        stored=False,
        listed=False,
    ),
    Algorithm(
        "vpdq-contains",
        "video",
        32,
        "a video that contains most of a known video's running time",
        threshold=PDQ_MATCH_THRESHOLD,
        min_quality=PDQ_MIN_QUALITY,
        stored=False,
        listed=False,
    ),
):
    ALGORITHMS.register(_algorithm.name, _algorithm)
del _algorithm


def algorithm_names(
    kind: Kind | None = None, *, stored: bool | None = None, listed: bool | None = None
) -> tuple[str, ...]:
    """Registered names, in registration order, filtered by kind and by the two flags."""
    return tuple(
        name
        for name, a in ALGORITHMS
        if (kind is None or a.kind == kind)
        and (stored is None or a.stored == stored)
        and (listed is None or a.listed == listed)
    )


#: The digests of a file's bytes, in the order they are reported.
CRYPTO_ALGORITHMS = algorithm_names("crypto")
#: PDQ tables of the store: the whole picture's and the reference parts'.
PDQ_TABLES = algorithm_names("perceptual", stored=True)
#: Reference parts: derived from known originals only, never read from or written to a list.
PART_ALGORITHMS = algorithm_names("perceptual", listed=False)
#: What hash lists (imports and exports) carry.
LISTED_ALGORITHMS = algorithm_names(listed=True)
#: Everything with a table (and an index) in the store.
STORED_ALGORITHMS = algorithm_names(stored=True)

__all__ = [
    "ALGORITHMS",
    "CRYPTO_ALGORITHMS",
    "LISTED_ALGORITHMS",
    "PART_ALGORITHMS",
    "PDQ_TABLES",
    "STORED_ALGORITHMS",
    "Algorithm",
    "algorithm_names",
]
