"""Video frames through the robust stage: is a known photograph in a recording found, with its
moment, and what does it cost (hashsieve.hashing.video, ``robust=``)?

    .venv/bin/python bench/video_robust.py [--repeat 3]

**Found**: two 1280x720 recordings of real photographs (Debian wallpapers, the robustness
benchmark's sources), each photograph scaled into the frame with black bars and zoomed slowly
(5 % and 8 % over its seconds), one of them a known photograph on screen from 4 s to 7 s: a 4:3
crop (pillarboxed) and a 2.4:1 crop (letterboxed). The known list holds the field's hash of the
known photograph's own JPEG (``pdqhash`` on its full RGB decode). Each recording is scanned
(``run_scan``, a fresh store) with the robust stage off and on: verdict, the region that
matched, distance and moment.

**Cost**: the vPDQ conformance clips (../shared/conformance/vpdq/videos), a generated 1280x720
slideshow (photo-like pictures pillarboxed, zooming: every hashed frame gets a ``trim`` region)
and the two recordings above, hashed with and without candidates. One process, one decoder
thread, the scan's default sampling (1 frame a second + scene cuts, frames scaled to 512); the
best of ``--repeat`` runs, alternating the two settings so that load on a shared machine hits
both alike; source frames per second of wall clock and of CPU time.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashing.video import VideoOptions, hash_video
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import photo_like
from hashsieve.scan.pipeline import run_scan
from hashsieve.store import Store

HERE = Path(__file__).resolve().parent
VPDQ = HERE.parents[1] / "shared" / "conformance" / "vpdq" / "videos"
SIZE = (1280, 720)
#: The known photograph is on screen from KNOWN_FROM to KNOWN_TO seconds.
KNOWN_FROM, KNOWN_TO = 4.0, 7.0


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


def _in_frame(picture: Image.Image, zoom: float) -> np.ndarray:
    """``picture`` fitted into the frame with black bars, its middle 1/``zoom`` shown."""
    width, height = SIZE
    pw, ph = picture.size
    scale = min(width / pw, height / ph)
    bw, bh = round(pw * scale), round(ph * scale)
    cw, ch = pw / zoom, ph / zoom
    x0, y0 = (pw - cw) / 2, (ph - ch) / 2
    box = picture.resize((bw, bh), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    frame = Image.new("RGB", SIZE)
    frame.paste(box, ((width - bw) // 2, (height - bh) // 2))
    return np.asarray(frame)


def recording(
    path: Path, shows: list[tuple[Image.Image, float]], zoom: float, fps: int = 25
) -> Path:
    """A screen recording: each (picture, seconds) in turn, zoomed by ``zoom`` over its seconds."""
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for picture, seconds in shows:
            count = round(seconds * fps)
            for i in range(count):
                rgb = _in_frame(picture, 1 + zoom * i / (count - 1))
                out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def real_photos() -> list[Image.Image]:
    """Photographs from the robustness benchmark's Debian wallpapers (fetched once)."""
    sys.path.insert(0, str(HERE / "robustness"))
    from sources import fetch

    out = []
    for path in fetch():
        with Image.open(path) as im:
            if min(im.size) >= 800:
                out.append(im.convert("RGB"))
        if len(out) == 4:
            break
    return out


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def known_in_recordings(folder: Path) -> tuple[dict[str, list[Path]], list[dict]]:
    """The two recordings with a known photograph, scanned with the robust stage off and on."""
    photos = real_photos()
    if len(photos) < 4:
        return {}, []
    a, b, c, d = photos
    w, h = c.size
    pillar = c.crop(((w - h * 4 // 3) // 2, 0, (w + h * 4 // 3) // 2, h))  # 4:3
    w, h = d.size
    pano = d.crop((0, (h - round(w / 2.4)) // 2, w, (h + round(w / 2.4)) // 2))  # 2.4:1
    known = {"pillarbox.mp4": (pillar, 0.05), "letterbox.mp4": (pano, 0.08)}
    evidence = folder / "evidence"
    evidence.mkdir()
    lines = ["# algorithm: pdq"]
    for name, (photo, zoom) in known.items():
        data = _jpeg(photo)  # the known file, as an agency holds it; the field's hash of it
        with Image.open(io.BytesIO(data)) as im:
            lines.append(pdq_hash(im.convert("RGB"), impl="pdqhash").hex)
        recording(
            evidence / name, [(a, KNOWN_FROM), (photo, KNOWN_TO - KNOWN_FROM), (b, 4.0)], zoom
        )
    (folder / "known.txt").write_text("\n".join(lines) + "\n")
    found = []
    for robust in (False, True):
        settings = Settings(home=folder / f"home-{robust}", workers=1, robust=robust)
        store = Store(settings)
        try:
            import_hashset(store, folder / "known.txt", "photos", category=1)
            jsonl = folder / f"scan-{robust}.jsonl"
            run_scan(store, "bench", [str(evidence)], settings=settings, jsonl_path=jsonl)
        finally:
            store.close()
        for line in map(json.loads, jsonl.open()):
            match = (line.get("matches") or [{}])[0]
            found.append(
                {
                    "recording": Path(line["path"]).name,
                    "robust": robust,
                    "verdict": line["verdict"],
                    "candidate": match.get("candidate"),
                    "distance": match.get("distance"),
                    "seconds": match.get("seconds"),
                    "in_window": match.get("seconds") is not None
                    and KNOWN_FROM <= match["seconds"] < KNOWN_TO,
                }
            )
    return {"2 recordings of real photos (known 3 s)": sorted(evidence.glob("*.mp4"))}, found


def measure(clips: list[Path], repeat: int) -> dict[bool, tuple[float, float, int, int, int]]:
    """robust -> (seconds, CPU seconds, frames decoded, frames hashed, regions kept), the
    fastest of ``repeat``."""
    best: dict[bool, tuple[float, float, int, int, int]] = {}
    options = VideoOptions(threads=1)
    for _ in range(repeat):
        for robust in (False, True):
            start, cpu = time.perf_counter(), time.process_time()
            decoded = hashed = regions = 0
            for clip in clips:
                video = hash_video(clip, options, robust=robust)
                decoded += video.frames_decoded
                hashed += len(video.frames)
                regions += sum(len(f.candidates) for f in video.frames)
            took = time.perf_counter() - start
            if robust not in best or took < best[robust][0]:
                best[robust] = (took, time.process_time() - cpu, decoded, hashed, regions)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        recordings, found = known_in_recordings(Path(folder))
        if not found:
            print("recordings of real photos: no source photographs (apt-get download failed)")
        for f in found:
            where = (
                f"{f['candidate'] or 'frame'} at {f['distance']} bits, {f['seconds']} s"
                + (" (on screen)" if f["in_window"] else " (NOT while on screen)")
                if f["verdict"] != "new"
                else "no match"
            )
            print(
                f"{f['recording']}, robust stage {'on' if f['robust'] else 'off'}: "
                f"{f['verdict']}, {where}"
            )
        sets = {
            "vpdq conformance (14 clips)": sorted(VPDQ.glob("*.mp4")),
            "1280x720 pillarboxed slideshow, 30 s": [slideshow(Path(folder) / "show.mp4")],
            **recordings,
        }
        for name, clips in sets.items():
            if not clips:
                print(f"{name}: not found")
                continue
            best = measure(clips, args.repeat)
            plain, robust = best[False], best[True]
            print(
                f"{name}: {plain[2]} frames decoded, {plain[3]} hashed;"
                f" plain {plain[2] / plain[0]:.0f} source frames/s"
                f" ({plain[2] / plain[1]:.0f} per CPU second),"
                f" robust {robust[2] / robust[0]:.0f} ({robust[2] / robust[1]:.0f})"
                f" ({robust[0] / plain[0]:.2f}x the time, {robust[1] / plain[1]:.2f}x the CPU);"
                f" {robust[4]} regions kept ({robust[4] / max(1, robust[3]):.2f} a hashed frame,"
                f" {robust[4] * 260 / max(1, robust[3]):.0f} bytes)"
            )


if __name__ == "__main__":
    main()
