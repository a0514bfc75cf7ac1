"""Watch a live stream for known material while it plays, and keep the evidence.

The monitor reads the stream with PyAV as it arrives (rtmp, srt, udp, rtsp, an HLS ``.m3u8``, or a
file), keeps every packet of the last ``buffer_seconds`` in a rolling buffer, decodes the video and
hashes ``frames_per_second`` frames a second (PDQ, frames scaled down first), and matches each
against the store's known hash sets (images and known video frames alike, through the store's PDQ
index). A match raises an :class:`Alert` at once (to every sink: terminal, JSON lines, webhook)
and starts an evidence recording: the buffered packets from the last keyframe before them, then
everything that follows until ``after_seconds`` past the last match, written without re-encoding
into the case folder. When the file is closed an ``evidence`` event carries its hashes.

A dropped stream is reopened with exponential back-off; memory is bounded by the buffer (by
time and by bytes), whatever the stream's length.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from hashsieve.hashing.crypto import CryptoHasher
from hashsieve.hashing.video import frame_rgb

#: Frames scaled to this longest side before hashing (as in scans).
STREAM_MAX_SIDE = 512


@dataclass(frozen=True)
class StreamOptions:
    frames_per_second: float = 2.0
    buffer_seconds: float = 30.0
    after_seconds: float = 30.0
    #: The rolling buffer never holds more than this many bytes of packets.
    buffer_bytes: int = 256 * 1024 * 1024
    evidence_dir: Path = Path("evidence")
    #: Reconnect back-off: first wait, and the longest.
    retry_initial: float = 1.0
    retry_max: float = 30.0
    #: Seconds without data before a read gives up (and the monitor reconnects).
    read_timeout: float = 5.0
    #: Stop after this many seconds (None: run until stopped).
    max_seconds: float | None = None
    #: Stop when a file (not a live source) reaches its end, instead of reopening it.
    stop_at_end: bool = True


@dataclass
class Alert:
    event: str  # "match" or "evidence"
    stream: str
    at: str  # wall clock, UTC ISO 8601
    #: Seconds from the first frame this connection received to the matched frame.
    on_air: float | None = None
    #: The matched frame's own timestamp in the stream (seconds).
    pts: float | None = None
    hashset: str | None = None
    category: int | None = None
    entry: str | None = None
    distance: int | None = None
    #: "pdq" or a reference part ("pdq-crop", "pdq-top"); the candidate region that matched, if
    #: not the whole frame (robust matching: e.g. "trim" for a letterboxed stream).
    algorithm: str | None = None
    candidate: str | None = None
    #: Seconds from the frame's arrival (its first packet read) to this alert.
    latency: float | None = None
    evidence: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


Sink = Callable[[Alert], None]


def jsonl_sink(stream: TextIO) -> Sink:
    lock = threading.Lock()

    def emit(alert: Alert) -> None:
        with lock:
            stream.write(json.dumps(alert.as_dict()) + "\n")
            stream.flush()

    return emit


def webhook_sink(url: str, timeout: float = 5.0) -> Sink:
    """POST each alert as JSON to ``url`` from a background thread (never delays the monitor)."""

    def post(alert: Alert) -> None:
        body = json.dumps(alert.as_dict()).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=timeout):
            pass

    def emit(alert: Alert) -> None:
        threading.Thread(target=post, args=(alert,), daemon=True).start()

    return emit


class FrameMatcher:
    """The store's known hashes, matched one frame at a time through the scan's own stage:
    PDQ with its 8 dihedral variants and the candidate regions (a letterboxed or windowed
    stream), by the same :class:`~hashsieve.matching.Matcher`."""

    def __init__(self, store: Any) -> None:
        from hashsieve.matching import Matcher

        self.matcher = Matcher(store)

    def match_pixels(self, rgb: np.ndarray) -> tuple[int, list[Any]]:
        """(PDQ quality of the frame, the known items it matches, closest first)."""
        from hashsieve.hashing.content import FileResult, hash_picture
        from hashsieve.matching.rules import known_bad

        m = self.matcher
        result = FileResult(path="frame")
        hash_picture(result, rgb, robust=m.settings.robust, parts=m.wants_parts)
        [hits] = m.match([result])
        return result.quality or 0, sorted(known_bad(hits), key=_by_dist)


def _by_dist(hit: Any) -> int:
    return int(hit.distance)


@dataclass
class _Buffered:
    arrived: float  # monotonic
    seconds: float | None  # stream time
    packet: Any
    size: int
    keyframe: bool
    video: bool


@dataclass
class _Recording:
    path: Path
    container: Any
    streams: dict[int, Any]
    until: float  # stream seconds
    started_video: bool = False
    first_dts: dict[int, int] = field(default_factory=dict)


class StreamMonitor:
    def __init__(
        self,
        url: str,
        matcher: FrameMatcher,
        options: StreamOptions | None = None,
        sinks: list[Sink] | None = None,
    ) -> None:
        self.url = url
        self.matcher = matcher
        self.options = options or StreamOptions()
        self.sinks = sinks or []
        self.stop_event = threading.Event()
        self.alerts: list[Alert] = []  # the last 1000, for callers and tests
        self.frames_hashed = 0
        self.reconnects = 0
        self._buffer: deque[_Buffered] = deque()
        self._buffer_size = 0
        self._recording: _Recording | None = None
        self._alerted: set[tuple[str, str]] = set()
        self._streams: list[Any] = []
        self._origin: float | None = None  # stream time of the connection's first frame

    # --- the outer loop: (re)connect with back-off --------------------------------------
    def run(self) -> None:
        import av

        started = time.monotonic()
        wait = self.options.retry_initial
        is_file = "://" not in self.url or self.url.startswith("file:")
        while not self._should_stop(started):
            try:
                container = av.open(
                    self.url,
                    timeout=(max(self.options.read_timeout, 10.0), self.options.read_timeout),
                    options={"fflags": "nobuffer", "analyzeduration": "1000000"},
                )
            except (av.error.FFmpegError, OSError) as exc:
                self._log(f"cannot open {self.url}: {exc}; retrying in {wait:.0f} s")
                self.stop_event.wait(wait)
                wait = min(wait * 2, self.options.retry_max)
                continue
            try:
                got = self._read(container, started)
            finally:
                container.close()
            if got:
                wait = self.options.retry_initial
            if is_file and self.options.stop_at_end:
                break
            if not self._should_stop(started):
                self.reconnects += 1
                self._log(f"stream {self.url} dropped; reconnecting in {wait:.0f} s")
                self.stop_event.wait(wait)
                wait = min(wait * 2, self.options.retry_max)
        self._finish_recording()

    def stop(self) -> None:
        self.stop_event.set()

    def _should_stop(self, started: float) -> bool:
        limit = self.options.max_seconds
        return self.stop_event.is_set() or (
            limit is not None and time.monotonic() - started > limit
        )

    # --- one connection -----------------------------------------------------------------
    def _read(self, container: Any, started: float) -> bool:
        import av

        if not container.streams.video:
            self._log(f"{self.url}: no video stream")
            return False
        video = container.streams.video[0]
        video.thread_type = "SLICE"
        self._streams = list(container.streams)
        interval = 1.0 / self.options.frames_per_second if self.options.frames_per_second else 0
        next_at: float | None = None
        got = False
        self._origin = None
        try:
            for packet in container.demux():
                if self._should_stop(started):
                    break
                if packet.dts is None and packet.size == 0:
                    continue  # a flush packet
                arrived = time.monotonic()
                seconds = float(packet.pts * packet.time_base) if packet.pts is not None else None
                self._keep(packet, arrived, seconds, packet.stream.index == video.index)
                if packet.stream.index != video.index:
                    continue
                got = True
                for frame in packet.decode():
                    t = frame.time
                    if t is None:
                        continue
                    if self._origin is None:
                        self._origin = t
                    if next_at is not None and t < next_at - 1e-6 and t > next_at - 10 * interval:
                        continue
                    next_at = t + interval
                    self._check(frame, t, arrived)
        except (av.error.FFmpegError, OSError) as exc:
            self._log(f"{self.url}: {exc}")
        return got

    def _check(self, frame: Any, seconds: float, arrived: float) -> None:
        _quality, hits = self.matcher.match_pixels(frame_rgb(frame, STREAM_MAX_SIDE))
        self.frames_hashed += 1
        if not hits:
            return
        until = seconds + self.options.after_seconds
        if self._recording is None:
            self._start_recording(seconds, until)
        elif until > self._recording.until:
            self._recording.until = until
        for hit in hits:
            key = (hit.hashset, hit.entry)
            if key in self._alerted:
                continue  # one alert per known item per stream session
            self._alerted.add(key)
            self._emit(
                Alert(
                    event="match",
                    stream=self.url,
                    at=_now(),
                    on_air=round(seconds - (self._origin or 0.0), 3),
                    pts=round(seconds, 3),
                    hashset=hit.hashset,
                    category=hit.category,
                    entry=hit.entry,
                    distance=hit.distance,
                    algorithm=hit.algorithm,
                    candidate=hit.candidate,
                    latency=round(time.monotonic() - arrived, 3),
                    evidence=str(self._recording.path) if self._recording else None,
                )
            )

    # --- the rolling buffer and the evidence recording ----------------------------------
    def _keep(self, packet: Any, arrived: float, seconds: float | None, is_video: bool) -> None:
        item = _Buffered(arrived, seconds, packet, packet.size, bool(packet.is_keyframe), is_video)
        rec = self._recording
        if rec is not None:
            self._write(rec, item)
            if is_video and seconds is not None and seconds > rec.until:
                self._finish_recording()
        self._buffer.append(item)
        self._buffer_size += item.size
        horizon = arrived - self.options.buffer_seconds
        while self._buffer and (
            self._buffer[0].arrived < horizon or self._buffer_size > self.options.buffer_bytes
        ):
            self._buffer_size -= self._buffer.popleft().size

    def _start_recording(self, seconds: float, until: float) -> None:
        import av

        self.options.evidence_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.options.evidence_dir / f"stream-{stamp}.ts"
        container = av.open(str(path), mode="w", format="mpegts")
        streams = {}
        for s in self._streams:
            if s.type in ("video", "audio"):
                streams[s.index] = container.add_stream_from_template(s)
        rec = _Recording(path, container, streams, until)
        self._recording = rec
        # The whole buffer, from its first video keyframe (so the recording starts decodable).
        for item in list(self._buffer):
            self._write(rec, item)
        self._log(f"recording evidence to {path}")

    def _write(self, rec: _Recording, item: _Buffered) -> None:
        import av

        out = rec.streams.get(item.packet.stream.index)
        if out is None:
            return
        if item.video and not rec.started_video:
            if not item.keyframe:
                return
            rec.started_video = True
        packet = av.Packet(bytes(item.packet))
        packet.pts, packet.dts = item.packet.pts, item.packet.dts
        packet.time_base = item.packet.time_base
        packet.is_keyframe = item.keyframe
        packet.stream = out
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            rec.container.mux(packet)

    def _finish_recording(self) -> None:
        rec, self._recording = self._recording, None
        if rec is None:
            return
        import av

        with contextlib.suppress(av.error.FFmpegError):
            rec.container.close()
        hasher = CryptoHasher()
        with open(rec.path, "rb") as stream:
            while block := stream.read(1 << 20):
                hasher.update(block)
        digests = hasher.result()
        self._emit(
            Alert(
                event="evidence",
                stream=self.url,
                at=_now(),
                evidence=str(rec.path),
                md5=digests.md5,
                sha1=digests.sha1,
                sha256=digests.sha256,
                size=rec.path.stat().st_size,
            )
        )

    # --- output --------------------------------------------------------------------------
    def _emit(self, alert: Alert) -> None:
        self.alerts.append(alert)
        del self.alerts[:-1000]
        for sink in self.sinks:
            sink(alert)

    def _log(self, message: str) -> None:
        for sink in self.sinks:
            log = getattr(sink, "log", None)
            if log is not None:
                log(message)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
