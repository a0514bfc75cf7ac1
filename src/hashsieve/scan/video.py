"""The scan's side of video: a worker hashes a video file into its :class:`FileResult`.

Every failure becomes the result's ``error`` (``"<reason>: <detail>"``); frames hashed before a
decode stopped are kept, so a truncated copy of a known video can still match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from hashsieve.hashing.video import UnreadableVideo, VideoOptions, hash_video

if TYPE_CHECKING:
    from hashsieve.scan.worker import FileResult


def hash_video_into(
    result: FileResult,
    source: bytes | Callable[[], IO[bytes]],
    options: VideoOptions | None = None,
) -> None:
    """Fill ``result`` (frames, size, duration, codec) from the video's bytes or an opener."""
    stream = source() if callable(source) else None
    try:
        video = hash_video(stream if stream is not None else source, options)  # type: ignore[arg-type]
    except UnreadableVideo as exc:
        result.error = str(exc)
        return
    except MemoryError:
        result.error = "too-large: out of memory while decoding"
        return
    except Exception as exc:  # a decoder bug must cost this file only, never the scan
        result.error = f"corrupt: {type(exc).__name__}: {exc}"
        return
    finally:
        if stream is not None:
            stream.close()
    result.width, result.height = video.width, video.height
    result.frames = video.frames
    result.metadata = video.metadata()
    if video.error:
        result.error = video.error
