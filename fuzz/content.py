"""Fuzz the one way content is hashed: ``hash_content`` on bytes (hashing/content.py), which sniffs
the kind, runs the decoders (Pillow, pillow-heif, PyAV) behind their wrappers (hashing/formats.py,
decode.py, video.py) and computes digests, PDQ and metadata.

Allowed: a :class:`FileResult` with its digests, and either no error or a recorded
``"<reason>: <detail>"``. A refused picture's reason (``why_refused``) is a value, never raised.
"""

from __future__ import annotations

import re

from fuzz._harness import UnexpectedOutcome, main

INSTRUMENT = ("hashsieve.hashing", "hashsieve.sources.magic")
_REASON = re.compile(r"[a-z0-9-]+: ")


def load() -> None:
    import hashsieve.hashing.content
    import hashsieve.hashing.formats  # noqa: F401


def one_input(data: bytes) -> None:
    from hashsieve.hashing.content import FileResult, HashOptions, hash_content
    from hashsieve.hashing.formats import Refused, why_refused

    # Pictures up to 4 megapixels (a larger one is refused by size, which is what this bound
    # tests); robust regions on every other input, so both paths are covered.
    options = HashOptions(max_image_pixels=4_000_000, robust=bool(len(data) % 2))
    result = hash_content(data, options, path="fuzz")
    if not isinstance(result, FileResult) or result.size != len(data):
        raise UnexpectedOutcome(f"result {result!r}")
    if result.md5 is None or result.sha256 is None:
        raise UnexpectedOutcome("digests missing")
    if result.error is not None and not _REASON.match(result.error):
        raise UnexpectedOutcome(f"error without a reason code: {result.error[:80]!r}")
    if result.pdq is not None and len(result.pdq) != 64:
        raise UnexpectedOutcome(f"PDQ {result.pdq!r}")
    refused = why_refused(data)
    if not isinstance(refused, Refused):
        raise UnexpectedOutcome(f"why_refused gave {refused!r}")


if __name__ == "__main__":
    import sys

    main(sys.modules[__name__])
