"""Live stream monitoring, for real: ffmpeg plays a clip over UDP on loopback, in real time.

The "known" clip shows a benign generated picture (in the store as a known PDQ hash) for 3 s in
the middle: the monitor must alert within 2 s of it going on air and write an evidence recording
that contains it. A clip without it raises nothing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.hashing.video import hash_video
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import photo_like
from hashsieve.samples.video import sample_scenes, write_clip
from hashsieve.store import Store
from hashsieve.stream import StreamOptions, monitor_stream

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None,
    reason="needs the ffmpeg command (Debian package ffmpeg; .ci/run installs it)",
)

BEFORE = 2.5  # seconds of unrelated footage before the known picture


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _play(store: Store, clip: Path, evidence: Path) -> tuple[list, float]:
    """Stream ``clip`` over UDP in real time while a monitor watches; (alerts, start wall time)."""
    url = f"udp://127.0.0.1:{_free_udp_port()}"
    options = StreamOptions(after_seconds=1.5, evidence_dir=evidence, read_timeout=1.0)
    monitor = monitor_stream(store, url, options)
    thread = threading.Thread(target=monitor.run)
    thread.start()
    time.sleep(0.5)  # listening before the first packet
    started = time.time()
    try:
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-re",
                "-i",
                str(clip),
                "-c",
                "copy",
                "-f",
                "mpegts",
                f"{url}?pkt_size=1316",
            ],
            check=True,
            timeout=60,
        )
        time.sleep(0.5)
    finally:
        monitor.stop()
        thread.join(timeout=30)
    return monitor.alerts, started


@pytest.fixture
def known_picture(store: Store, tmp_path: Path):
    picture = photo_like(21, (480, 360))
    listing = tmp_path / "known.txt"
    listing.write_text(f"# algorithm: pdq\n{pdq_hash(picture).hex}\n")
    import_hashset(store, listing, "known-images", category=1)
    return picture


def test_alerts_within_two_seconds_and_keeps_the_evidence(
    store: Store, known_picture, tmp_path: Path
) -> None:
    clip = write_clip(
        tmp_path / "with.mp4",
        [*sample_scenes([31], BEFORE), (known_picture, 3.0, False), *sample_scenes([32], 2.0)],
        gop=5,
    )
    alerts, started = _play(store, clip, tmp_path / "evidence")
    matches = [a for a in alerts if a.event == "match"]
    assert len(matches) == 1
    alert = matches[0]
    assert (alert.hashset, alert.category, alert.stream) == ("known-images", 1, alert.stream)
    # Latency: from the picture going on air (no earlier than ffmpeg's start + BEFORE) to the alert.
    latency = datetime.fromisoformat(alert.at).timestamp() - (started + BEFORE)
    print(f"alert latency {latency:.2f} s (internal {alert.latency:.3f} s)")
    assert latency <= 2.0
    (evidence,) = [a for a in alerts if a.event == "evidence"]
    path = Path(evidence.evidence)
    assert path.parent == tmp_path / "evidence" and path.stat().st_size == evidence.size
    assert evidence.sha256 and len(evidence.sha256) == 64
    target = pdq_hash(known_picture).code
    frames = hash_video(path).frames
    assert any(distance(f.code, target) <= 31 for f in frames)
    assert any(distance(f.code, target) > 31 for f in frames[:1])  # the buffered lead-in too


def test_clean_stream_raises_nothing(store: Store, known_picture, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clean.mp4", sample_scenes([31, 32], 2.0), gop=5)
    alerts, _ = _play(store, clip, tmp_path / "evidence")
    assert alerts == []
    assert not (tmp_path / "evidence").exists()


def test_a_letterboxed_known_picture_alerts_through_its_trimmed_region(
    store: Store, tmp_path: Path
) -> None:
    """The stream goes through the scan's robust stage: black bars do not hide a known picture."""
    from PIL import Image

    picture = photo_like(22, (480, 270))
    listing = tmp_path / "known.txt"
    listing.write_text(f"# algorithm: pdq\n{pdq_hash(picture).hex}\n")
    import_hashset(store, listing, "known-images", category=1)
    framed = Image.new("RGB", (480, 360), (0, 0, 0))
    framed.paste(picture, (0, 45))
    assert distance(pdq_hash(framed).code, pdq_hash(picture).code) > 31  # plain PDQ misses it
    clip = write_clip(
        tmp_path / "letterboxed.mp4",
        [*sample_scenes([31], 1.5), (framed, 3.0, False), *sample_scenes([32], 1.5)],
        gop=5,
    )
    alerts, _ = _play(store, clip, tmp_path / "evidence")
    [match] = [a for a in alerts if a.event == "match"]
    assert (match.hashset, match.candidate, match.algorithm) == ("known-images", "trim", "pdq")
    assert match.distance is not None and match.distance <= 32
