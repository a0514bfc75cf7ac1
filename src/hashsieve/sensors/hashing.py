"""How a sensor hashes what it holds in memory (an HTTP body): the scan's own
:func:`~hashsieve.hashing.content.hash_content`, with the sensor's options."""

from __future__ import annotations

from hashsieve.config import MAX_IMAGE_PIXELS
from hashsieve.hashing.content import HashOptions


def sensor_options(
    *,
    robust: bool = True,
    parts: bool = False,
    video: bool = True,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> HashOptions:
    """Options for :func:`hash_content`: candidate regions with ``robust`` (and their upper parts
    with ``parts``, when the list holds reference parts), frame hashes of videos with ``video``."""
    return HashOptions(max_image_pixels=max_pixels, robust=robust, parts=parts, decode_video=video)
