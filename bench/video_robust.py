"""Cost of robust matching on video frames: the scan's video hashing with and without the
candidate regions of every hashed frame (hashsieve.hashing.video, ``robust=``).

    .venv/bin/python bench/video_robust.py [--repeat 3]

Clips: the vPDQ conformance clips (../shared/conformance/vpdq/videos) and a generated 1280x720
slideshow (photo-like pictures pillarboxed, zooming), the worst case: every frame has bars, so
every hashed frame gets a ``trim`` region. One process, one decoder thread, the scan's default
sampling (1 frame a second + scene cuts, frames scaled to 512); the best of ``--repeat`` runs,
alternating the two settings so that load on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hashsieve.hashing.video import VideoOptions, hash_video
from hashsieve.samples.images import photo_like

VPDQ = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "vpdq" / "videos"


def slideshow(path: Path, seconds: int = 30, fps: int = 30) -> Path:
    """1280x720: a photo-like 3:2 picture every 3 s, pillarboxed, zooming 7 % inside its box."""
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = 1280, 720
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        per = 3 * fps
        for scene in range(seconds // 3):
            picture = photo_like(100 + scene, (900, 600)).resize((1080, 720))
            for i in range(per):
                zoom = 1 + 0.07 * i / (per - 1)
                cw, ch = 1080 / zoom, 720 / zoom
                box = (540 - cw / 2, 360 - ch / 2, 540 + cw / 2, 360 + ch / 2)
                frame = Image.new("RGB", (1280, 720))
                frame.paste(picture.resize((1080, 720), box=box), (100, 0))
                rgb = np.asarray(frame)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def measure(clips: list[Path], repeat: int) -> dict[bool, tuple[float, int, int, int]]:
    """robust -> (seconds, frames decoded, frames hashed, regions kept), best of ``repeat``."""
    best: dict[bool, tuple[float, int, int, int]] = {}
    options = VideoOptions(threads=1)
    for _ in range(repeat):
        for robust in (False, True):
            start = time.perf_counter()
            decoded = hashed = regions = 0
            for clip in clips:
                video = hash_video(clip, options, robust=robust)
                decoded += video.frames_decoded
                hashed += len(video.frames)
                regions += sum(len(f.candidates) for f in video.frames)
            took = time.perf_counter() - start
            if robust not in best or took < best[robust][0]:
                best[robust] = (took, decoded, hashed, regions)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sets = {
            "vpdq conformance (14 clips)": sorted(VPDQ.glob("*.mp4")),
            "1280x720 pillarboxed slideshow, 30 s": [slideshow(Path(folder) / "show.mp4")],
        }
        for name, clips in sets.items():
            if not clips:
                print(f"{name}: not found")
                continue
            best = measure(clips, args.repeat)
            plain, robust = best[False], best[True]
            print(
                f"{name}: {plain[1]} frames decoded, {plain[2]} hashed;"
                f" plain {plain[1] / plain[0]:.0f} source frames/s,"
                f" robust {robust[1] / robust[0]:.0f} source frames/s"
                f" ({robust[0] / plain[0]:.2f}x the time);"
                f" {robust[3]} regions kept ({robust[3] / max(1, robust[2]):.2f} a hashed frame,"
                f" {robust[3] * 260 / max(1, robust[2]):.0f} bytes)"
            )


if __name__ == "__main__":
    main()
