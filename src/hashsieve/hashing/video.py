"""vPDQ: per-frame PDQ hashes of a video, decoded with PyAV (which bundles FFmpeg).

A video hash is an unordered bag of :class:`FrameHash` (``frame, quality, pdq, seconds``), the
form of facebook/ThreatExchange's vPDQ. With every frame hashed at native size
(``VideoOptions.conformance()``) the hashes agree with the reference ``vpdq`` (same frame
numbers, distance < 31 where both qualities are >= 50); PyAV frames converted to RGB24 and
hashed with PDQ are the reference's pixels.

For scans the defaults trade a few bits for speed: one frame per second, plus every scene cut
(the mean luma difference between consecutive decoded frames, on a coarse grid of the luma
plane: no conversion of frames that are not hashed), and frames scaled down (longest side 512)
by swscale in the same step as the RGB conversion.

Hostile input is decoded under limits and raises :class:`UnreadableVideo` with a reason
(``corrupt``, ``no-video-stream``, ``decompression-bomb``, ``timeout``, ``truncated``) or
returns the frames it got with ``VideoHash.error`` set when decoding stopped part way.

With ``robust`` each hashed frame also carries the **candidate regions** of robust matching
(:func:`hashsieve.hashing.candidates.candidate_hashes`, the still pictures' stage: borders
trimmed, the picture inside a player, overlays filled in), so a known picture shown letterboxed
or inside a recording is found at its moment. They serve frame-vs-known-image matching only: the
frame hashes (and so vPDQ conformance and the video-to-video rule) do not change.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hashsieve.hashing.candidates import candidate_hashes
from hashsieve.hashing.pdq import pdq_hash

#: Frames with more pixels than this are refused by the stream header (and per frame).
MAX_FRAME_PIXELS = 8192 * 8192
#: Hashing stops (with an error) after this many hashed frames: 10 hours at 1 frame/s.
MAX_HASHED_FRAMES = 36_000
#: A frame keeps a candidate region only at this PDQ quality or better: the matcher drops lower
#: ones (the settings' ``pdq_min_quality``), and a long video holds up to 36,000 frames.
CANDIDATE_MIN_QUALITY = 50

#: A frame's candidate regions: (name, quality, 8 x 32 dihedral bytes), as ``FileResult``'s.
FrameCandidates = tuple[tuple[str, int, bytes], ...]


class UnreadableVideo(Exception):
    """A video that could not be decoded; ``str()`` is ``"<reason>: <detail>"``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FrameHash:
    """One hashed frame: decode-order frame number, PDQ quality and code, time from the start."""

    frame: int
    quality: int
    code: bytes
    seconds: float
    #: Robust matching's candidate regions of the frame (matched against known images only;
    #: never written to vPDQ lines). A region equal to the previous hashed frame's is left out.
    candidates: FrameCandidates = ()

    @property
    def hex(self) -> str:
        return self.code.hex()

    def line(self) -> str:
        """The vPDQ text line ``frame,quality,pdq_hex,seconds``."""
        return f"{self.frame},{self.quality},{self.code.hex()},{self.seconds:.3f}"


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """How a video is sampled and the limits it is decoded under."""

    #: One frame hashed every this many seconds; 0 hashes every frame (vPDQ's seconds_per_hash).
    seconds_per_hash: float = 1.0
    #: Also hash a frame whose mean luma differs from the previous frame's by more than this
    #: (0-255 scale); None turns scene detection off.
    scene_threshold: float | None = 30.0
    #: Scale frames so that their longest side is at most this before hashing; None = native.
    max_side: int | None = 512
    #: Wall-clock limit for decoding one file, in seconds.
    time_limit: float = 300.0
    max_frame_pixels: int = MAX_FRAME_PIXELS
    max_hashed_frames: int = MAX_HASHED_FRAMES
    #: FFmpeg decoder threads (0 = FFmpeg decides); 1 suits scans that already use every core.
    threads: int = 1

    @classmethod
    def conformance(cls) -> VideoOptions:
        """Every frame at native size, as the upstream vPDQ sample hashes were made."""
        return cls(seconds_per_hash=0.0, scene_threshold=None, max_side=None, threads=0)


@dataclass(slots=True)
class VideoHash:
    frames: list[FrameHash] = field(default_factory=list)
    duration: float | None = None  # seconds, as the container declares (else the last frame)
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frames_decoded: int = 0
    #: Set when decoding stopped before the end (the frames up to there are kept).
    error: str | None = None

    def metadata(self) -> dict[str, Any]:
        """Summary for a scan record's metadata."""
        return {
            "duration": None if self.duration is None else round(self.duration, 3),
            "codec": self.codec,
            "fps": None if self.fps is None else round(self.fps, 3),
            "frames_decoded": self.frames_decoded,
            "frames_hashed": len(self.frames),
        }


Source = str | Path | bytes | IO[bytes]


def _iso_cut_short(stream: IO[bytes]) -> str | None:
    """For an ISO media file (MP4/MOV/3GP) whose top-level boxes run past its end: which box."""
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        offset = 0
        while offset + 8 <= size:
            stream.seek(offset)
            header = stream.read(16)
            box_size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if box_size == 1 and len(header) >= 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                return None  # "to the end of the file"
            if box_size < 8 or not kind.isprintable():
                return None
            if offset + box_size > size:
                return kind
            offset += box_size
    except (OSError, ValueError):
        return None
    return None


def _open(source: Source) -> Any:
    import av

    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(source)
    elif isinstance(source, Path):
        source = str(source)
    try:
        return av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
        reason, detail = "corrupt", f"cannot open container: {_message(exc)}"
        box = None
        if isinstance(source, str) and "://" not in source:
            with contextlib.suppress(OSError), open(source, "rb") as stream:
                box = _iso_cut_short(stream)
        elif hasattr(source, "seek"):
            box = _iso_cut_short(source)  # type: ignore[arg-type]
        if box is not None:
            reason, detail = "truncated", f"the {box!r} box runs past the end of the file"
        raise UnreadableVideo(reason, detail) from exc


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__


def _luma_grid(frame: Any) -> np.ndarray | None:
    """A coarse grid (about 32x18) of the luma plane, without converting the frame."""
    fmt = frame.format.name
    if not fmt.startswith(("yuv", "yuvj", "nv12", "nv21", "gray")) or "p1" in fmt:
        return None  # high bit depth or packed RGB: fall back to a reformat
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    step_y = max(1, frame.height // 18)
    step_x = max(1, frame.width // 32)
    return rows[: frame.height : step_y, : frame.width : step_x].astype(np.int16)


def _thumb(frame: Any) -> np.ndarray:
    grid = _luma_grid(frame)
    if grid is not None:
        return grid
    return frame.reformat(width=32, height=18, format="gray").to_ndarray().astype(np.int16)


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_rgb(frame: Any, max_side: int | None = None) -> np.ndarray:
    """The frame as an HxWx3 RGB24 array, scaled (by swscale) to at most ``max_side``."""
    width, height = _scaled_size(frame.width, frame.height, max_side)
    if (width, height) == (frame.width, frame.height):
        return frame.to_ndarray(format="rgb24")
    return frame.reformat(width=width, height=height, format="rgb24").to_ndarray()


class FrameRegions:
    """Candidate regions of consecutive frames, kept compact for a long video: only regions
    that can match (quality >= :data:`CANDIDATE_MIN_QUALITY`) and that are not the same as the
    previous frame's (a still scene repeats them for every hashed frame)."""

    def __init__(self, *, parts: bool = False) -> None:
        self.parts = parts
        self.previous: frozenset[tuple[str, int, bytes]] = frozenset()

    def __call__(self, rgb: np.ndarray) -> FrameCandidates:
        try:
            found = [
                c.as_tuple()
                for c in candidate_hashes(rgb, parts=self.parts)
                if c.quality >= CANDIDATE_MIN_QUALITY
            ]
        except Exception:  # a bonus, as for a still picture: never lose the frame's own hash
            found = []
        new = tuple(c for c in found if c not in self.previous)
        self.previous = frozenset(found)
        return new


class _Sampler:
    """Which decoded frames get hashed: one per interval, plus scene cuts."""

    def __init__(self, options: VideoOptions) -> None:
        self.interval = options.seconds_per_hash
        self.threshold = options.scene_threshold
        self.next_time: float | None = None
        self.previous: np.ndarray | None = None

    def wanted(self, frame: Any, seconds: float) -> bool:
        take = False
        if self.interval <= 0:
            take = True
        elif self.next_time is None or seconds >= self.next_time - 1e-6:
            take = True
            base = seconds if self.next_time is None else self.next_time
            # Skip ahead over gaps (variable frame rate) without hashing a burst.
            steps = max(1, int((seconds - base) // self.interval) + 1)
            self.next_time = base + steps * self.interval
        if self.threshold is not None:
            grid = _thumb(frame)
            previous, self.previous = self.previous, grid
            if (
                previous is not None
                and previous.shape == grid.shape
                and float(np.abs(grid - previous).mean()) > self.threshold
            ):
                take = True
        return take


def iter_frames(
    source: Source,
    options: VideoOptions | None = None,
    info: VideoHash | None = None,
    *,
    keyframes_only: bool = False,
) -> Iterator[tuple[int, float, Any]]:
    """Decoded ``(frame number, seconds, av.VideoFrame)`` of the first video stream, under the
    limits of ``options``. Fills ``info`` (codec, size, duration) as it goes; stops with
    ``info.error`` set (or raises :class:`UnreadableVideo` when nothing could be decoded)."""
    import av

    options = options or VideoOptions()
    info = info if info is not None else VideoHash()
    container = _open(source)
    try:
        if not container.streams.video:
            raise UnreadableVideo("no-video-stream", "the container holds no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        info.codec = ctx.name
        info.width, info.height = ctx.width or None, ctx.height or None
        if ctx.width and ctx.height and ctx.width * ctx.height > options.max_frame_pixels:
            raise UnreadableVideo(
                "decompression-bomb",
                f"{ctx.width}x{ctx.height} frames are over the {options.max_frame_pixels:,}"
                " pixel limit",
            )
        rate = stream.average_rate or stream.guessed_rate
        info.fps = float(rate) if rate else None
        if stream.duration is not None and stream.time_base is not None:
            info.duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            info.duration = container.duration / av.time_base
        stream.thread_type = "AUTO"
        if keyframes_only:
            ctx.skip_frame = "NONKEY"
        ctx.thread_count = options.threads
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        deadline = time.monotonic() + options.time_limit
        number = 0
        last_seconds = 0.0
        try:
            for frame in container.decode(stream):
                if frame.width * frame.height > options.max_frame_pixels:
                    raise UnreadableVideo(
                        "decompression-bomb",
                        f"frame {number} is {frame.width}x{frame.height}, over the pixel limit",
                    )
                if frame.time is not None:
                    seconds = max(0.0, frame.time - start)
                elif info.fps:
                    seconds = number / info.fps
                else:
                    seconds = last_seconds
                last_seconds = seconds
                if info.width is None:
                    info.width, info.height = frame.width, frame.height
                yield number, seconds, frame
                number += 1
                info.frames_decoded = number
                if time.monotonic() > deadline:
                    info.error = (
                        f"timeout: decoding stopped at {seconds:.1f} s after the"
                        f" {options.time_limit:g} s limit"
                    )
                    return
        except av.error.FFmpegError as exc:
            reason = "truncated" if number else "corrupt"
            if not number:
                raise UnreadableVideo(reason, _message(exc)) from exc
            info.error = f"{reason}: decoding stopped at frame {number}: {_message(exc)}"
            return
        if not number:
            raise UnreadableVideo("corrupt", "no frame could be decoded")
        if info.duration is None or info.duration <= 0:
            info.duration = last_seconds
        elif not keyframes_only and info.duration - last_seconds > max(2.0, 0.1 * info.duration):
            info.error = (
                f"truncated: frames end at {last_seconds:.1f} s of the {info.duration:.1f} s"
                " the container declares"
            )
    finally:
        container.close()


def hash_video(
    source: Source,
    options: VideoOptions | None = None,
    *,
    robust: bool = False,
    parts: bool = False,
) -> VideoHash:
    """The vPDQ frame hashes of a video (a path, the file's bytes, or a binary file object);
    with ``robust`` each frame's candidate regions too (with ``parts`` their upper parts)."""
    options = options or VideoOptions()
    info = VideoHash()
    sampler = _Sampler(options)
    regions = FrameRegions(parts=parts) if robust else None
    for number, seconds, frame in iter_frames(source, options, info):
        if not sampler.wanted(frame, seconds):
            continue
        rgb = frame_rgb(frame, options.max_side)
        h = pdq_hash(rgb)
        candidates = regions(rgb) if regions is not None else ()
        info.frames.append(FrameHash(number, h.quality, h.code, seconds, candidates))
        if len(info.frames) >= options.max_hashed_frames:
            info.error = (
                f"too-long: stopped after {len(info.frames)} hashed frames at {seconds:.1f} s"
            )
            break
    return info


def write_vpdq(frames: list[FrameHash], stream: IO[str]) -> int:
    """Write frame hashes in the vPDQ text format; returns the number of lines."""
    for frame in frames:
        stream.write(frame.line() + "\n")
    return len(frames)


def parse_vpdq_line(line: str) -> FrameHash:
    """One ``frame,quality,pdq_hex,seconds`` line; ValueError when malformed."""
    parts = [part.strip() for part in line.split(",")]
    if len(parts) != 4:
        raise ValueError(f"expected frame,quality,pdq,seconds, got {len(parts)} fields")
    frame, quality, hex_code, seconds = parts
    if len(hex_code) != 64:
        raise ValueError(f"PDQ hash {hex_code[:80]!r} is not 64 hex digits")
    q = int(quality)
    if not 0 <= q <= 100:
        raise ValueError(f"quality {q} is not 0-100")
    return FrameHash(int(frame), q, bytes.fromhex(hex_code), float(seconds))


def read_vpdq(path: Path) -> list[FrameHash]:
    with path.open(encoding="utf-8") as stream:
        return [parse_vpdq_line(line) for line in stream if line.strip()]
