"""Video frames through the robust stage: a known picture shown letterboxed, pillarboxed and
slowly zoomed in a recorded slideshow (or an animated GIF) is found, with its moment.

The slideshows are made here, 1280x720 as screen recordings are: each photograph scaled into
the frame with black bars and zoomed by 7 % inside its box over its seconds (a Ken Burns pan),
the known one for 3 s between others. The photographs are the public PDQ reference media of
``../shared/conformance/pdq/images`` (``photo_like`` pictures when that folder is absent); the
known photo's plain PDQ is computed on the original picture, as a hash list holds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.hashing.video import hash_video
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.samples.images import photo_like
from hashsieve.scan.pipeline import run_scan
from hashsieve.store import Store

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "pdq" / "images"
SIZE = (1280, 720)
FPS = 10
ZOOM = 0.07  # over each photo's seconds
#: Where the known photo is on screen in each slideshow (s): after a 4 s photo, for 3 s.
KNOWN_FROM, KNOWN_TO = 4.0, 7.0


def _photo(relative: str, seed: int, size: tuple[int, int]) -> Image.Image:
    path = IMAGES / relative
    if path.is_file():
        return Image.open(path).convert("RGB")
    return photo_like(seed, size)


@dataclass(frozen=True)
class Photos:
    known_wide: Image.Image  # 1.59:1 (a 16:9 frame pillarboxes it)
    known_panorama: Image.Image  # 2.5:1 (letterboxed)
    known_full: Image.Image  # 16:9, a generated picture (fills the frame)
    others: tuple[Image.Image, ...]


def _photos() -> Photos:
    exif = _photo("reg-test-input/exif-rotn/exif-rotn-1.jpg", 3, (2016, 1512))
    sample = _photo("pytx-resources/sample-b.jpg", 4, (1600, 1004))
    w, h = exif.size
    return Photos(
        known_wide=_photo("bridge-mods/aaa-orig.jpg", 1, (1600, 1004)),
        known_panorama=exif.crop((0, h // 4, w, h // 4 + round(w / 2.5))),
        known_full=photo_like(61, SIZE),
        others=(
            _photo("reg-test-input/pen-and-coaster.png", 5, (924, 735)),
            _photo("reg-test-input/labelme-subset/q0122.jpg", 6, (256, 256)),
            sample.crop((0, 250, 1600, 250 + 640)),  # a letterboxed one among the unrelated
            _photo("reg-test-input/labelme-subset/q0746.jpg", 7, (256, 256)),
        ),
    )


def _in_frame(
    picture: Image.Image, zoom: float, size: tuple[int, int], share: float = 1.0
) -> np.ndarray:
    """``picture`` scaled to fit ``share`` of ``size`` with black bars, its content zoomed by
    ``zoom`` inside its box (the middle 1/zoom of it shown)."""
    width, height = size
    pw, ph = picture.size
    scale = min(width / pw, height / ph) * share
    bw, bh = round(pw * scale), round(ph * scale)
    cw, ch = pw / zoom, ph / zoom
    x0, y0 = (pw - cw) / 2, (ph - ch) / 2
    box = picture.resize((bw, bh), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    frame = Image.new("RGB", size)
    frame.paste(box, ((width - bw) // 2, (height - bh) // 2))
    return np.asarray(frame)


def write_slideshow(path: Path, shows: list[tuple[Image.Image, float, float]]) -> Path:
    """Each show: (picture, seconds on screen, share of the frame it fills)."""
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for picture, seconds, share in shows:
            count = round(seconds * FPS)
            for i in range(count):
                rgb = _in_frame(picture, 1 + ZOOM * i / (count - 1), SIZE, share)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def write_gif(path: Path, pictures: list[Image.Image], size: tuple[int, int]) -> Path:
    """An animated GIF, one picture a second, each letterboxed or pillarboxed into ``size``."""
    frames = [Image.fromarray(_in_frame(p, 1.0, size)) for p in pictures]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=1000, loop=0)
    return path


@pytest.fixture(scope="module")
def slideshows(tmp_path_factory: pytest.TempPathFactory) -> tuple[Photos, Path]:
    photos = _photos()
    a, b, c, d = photos.others
    folder = tmp_path_factory.mktemp("slideshows") / "evidence"
    folder.mkdir()
    shows = {
        "pillarbox.mp4": [(a, 4.0), (photos.known_wide, 3.0), (b, 4.0)],
        "letterbox.mp4": [(d, 4.0), (photos.known_panorama, 3.0), (a, 4.0)],
        "unrelated.mp4": [(a, 4.0), (c, 3.0), (b, 4.0), (d, 3.0)],
    }
    for name, scenes in shows.items():
        write_slideshow(folder / name, [(p, s, 1.0) for p, s in scenes])
    # A 16:9 picture shown in a black surround (a region matches), then filling the frame
    # (the frame itself matches): one hit, the frame's.
    whole = [(photos.known_full, 3.0, 0.8), (photos.known_full, 2.0, 1.0), (b, 3.0, 1.0)]
    write_slideshow(folder / "surround-then-whole.mp4", whole)
    # The known picture second: the first frame is also hashed as the file's still picture.
    write_gif(folder / "letterboxed.gif", [a, photos.known_panorama, b], (640, 360))
    return photos, folder


@pytest.fixture
def scanned(slideshows: tuple[Photos, Path], store: Store, tmp_path: Path) -> dict[str, dict]:
    photos, folder = slideshows
    known = tmp_path / "known.txt"
    known.write_text(
        "# algorithm: pdq\n"
        f"{pdq_hash(photos.known_wide).hex}\n"
        f"{pdq_hash(photos.known_panorama).hex}\n"
        f"{pdq_hash(photos.known_full).hex}\n"
    )
    import_hashset(store, known, "photos", category=1)
    jsonl = tmp_path / "results.jsonl"
    run_scan(store, "case", [str(folder)], jsonl_path=jsonl)
    return {Path(d["path"]).name: d for d in map(json.loads, jsonl.open())}


@pytest.mark.parametrize("name", ["pillarbox.mp4", "letterbox.mp4"])
def test_plain_frame_hashes_miss_the_known_photo(
    slideshows: tuple[Photos, Path], name: str
) -> None:
    """What the robust stage is for: no frame's own hash comes near the known photo."""
    photos, folder = slideshows
    known = pdq_hash(photos.known_wide if name == "pillarbox.mp4" else photos.known_panorama)
    video = hash_video(folder / name)
    assert len(video.frames) >= 11
    assert min(distance(f.code, known.code) for f in video.frames) > 31


@pytest.mark.parametrize("name", ["pillarbox.mp4", "letterbox.mp4"])
def test_known_photo_in_a_slideshow_is_known_at_its_moment(
    scanned: dict[str, dict], name: str
) -> None:
    line = scanned[name]
    assert line["verdict"] == "known" and line["category"] == 1
    (match,) = line["matches"]
    assert match["hashset"] == "photos" and match["algorithm"] == "pdq"
    assert match["candidate"] in ("trim", "blur-trim", "picture")
    assert match["distance"] <= 32
    assert KNOWN_FROM <= match["seconds"] < KNOWN_TO


def test_unrelated_slideshow_stays_new(scanned: dict[str, dict]) -> None:
    assert scanned["unrelated.mp4"]["verdict"] == "new"
    assert scanned["unrelated.mp4"]["matches"] == []


def test_a_frame_itself_is_told_before_a_region_of_another(scanned: dict[str, dict]) -> None:
    line = scanned["surround-then-whole.mp4"]
    assert line["verdict"] == "known"
    (match,) = line["matches"]  # the surround's region hit (at 0 s) gave way
    assert "candidate" not in match and match["seconds"] == 3.0


def test_known_photo_letterboxed_in_an_animated_gif_is_known(scanned: dict[str, dict]) -> None:
    line = scanned["letterboxed.gif"]
    assert line["metadata"]["frames"] == 3
    assert line["verdict"] == "known" and line["category"] == 1
    (match,) = line["matches"]
    assert match["candidate"] in ("trim", "blur-trim", "picture")
    assert match["seconds"] == 1.0  # the second frame


def test_frame_candidates_are_kept_compact(slideshows: tuple[Photos, Path]) -> None:
    """Only regions that can match, and none repeated from the frame before."""
    _photos, folder = slideshows
    video = hash_video(folder / "pillarbox.mp4", robust=True)
    regions = [c for f in video.frames for c in f.candidates]
    assert regions, "a pillarboxed slideshow has trimmed regions"
    assert all(quality >= 50 and len(codes) == 8 * 32 for _, quality, codes in regions)
    for before, after in zip(video.frames, video.frames[1:], strict=False):
        assert not set(before.candidates) & set(after.candidates)
    assert hash_video(folder / "pillarbox.mp4").frames[0].candidates == ()
