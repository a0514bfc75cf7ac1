"""Video hashing: sampling, metadata, and hostile files recorded with a reason."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hashsieve.hashing.content import HashOptions, hash_file
from hashsieve.hashing.pdq import distance, pdq_hash
from hashsieve.hashing.video import UnreadableVideo, VideoOptions, hash_video
from hashsieve.samples.video import sample_scenes, write_clip

from .conftest import Clips


def test_one_frame_a_second_with_metadata(clips: Clips) -> None:
    video = hash_video(clips.known_video)
    assert [f.frame for f in video.frames] == [0, 10, 20, 30, 40, 50]
    assert [f.seconds for f in video.frames] == pytest.approx([0, 1, 2, 3, 4, 5])
    assert (video.codec, video.width, video.height) == ("h264", 320, 240)
    assert video.duration == pytest.approx(6.0)
    assert video.fps == pytest.approx(10.0)
    assert video.frames_decoded == 60
    assert video.error is None


def test_scene_cuts_are_hashed_between_samples(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "cuts.mp4", sample_scenes([1, 2, 3], 1.5))
    sampled = hash_video(clip, VideoOptions(seconds_per_hash=10.0))
    plain = hash_video(clip, VideoOptions(seconds_per_hash=10.0, scene_threshold=None))
    assert [f.frame for f in plain.frames] == [0]
    assert [f.frame for f in sampled.frames] == [0, 15, 30]  # the two cuts


def test_downscaled_frames_stay_close_to_native(clips: Clips) -> None:
    native = hash_video(clips.known_video, VideoOptions(max_side=None))
    small = hash_video(clips.known_video, VideoOptions(max_side=128))
    assert native.frames
    for a, b in zip(native.frames, small.frames, strict=True):
        assert distance(a.code, b.code) <= 31


def test_shown_image_is_a_frame(clips: Clips) -> None:
    video = hash_video(clips.shows_image)
    target = pdq_hash(clips.known_image).code
    at = [f.seconds for f in video.frames if distance(f.code, target) <= 31]
    assert at == pytest.approx([3.0])


def _unreadable(path: Path) -> str:
    result = hash_file(str(path), HashOptions(max_image_pixels=10**8))
    assert result.media_kind == "video"
    assert result.md5 is not None  # the crypto hashes are always there
    assert result.error is not None
    return result.error


def test_truncated_mp4(clips: Clips, tmp_path: Path) -> None:
    data = clips.known_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert _unreadable(cut).startswith("truncated: ")


def test_random_bytes_behind_an_mp4_header(clips: Clips, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(clips.known_video.read_bytes()[:32] + bytes(range(256)) * 64)
    assert _unreadable(junk).startswith(("corrupt: ", "truncated: "))


def test_absurd_dimensions_refused_before_decoding(tmp_path: Path) -> None:
    # A raw-video Matroska file whose header is edited to claim 16000x16000 frames (FFmpeg would
    # allocate 384 MB for each): refused from the header.
    clip = write_clip(
        tmp_path / "raw.mkv",
        sample_scenes([1], 0.2),
        size=(320, 256),
        codec="rawvideo",
        pix_fmt="gray",
    )
    data = clip.read_bytes()
    width, height = b"\xb0\x82\x01\x40", b"\xba\x82\x01\x00"  # PixelWidth 320, PixelHeight 256
    assert data.count(width) == 1 and data.count(height) == 1
    bomb = tmp_path / "bomb.mkv"
    bomb.write_bytes(data.replace(width, b"\xb0\x82\x3e\x80").replace(height, b"\xba\x82\x3e\x80"))
    assert _unreadable(bomb).startswith("decompression-bomb: 16000x16000")


def test_container_claiming_hours(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "short.mkv", sample_scenes([1, 2], 1.0))
    data = clip.read_bytes()
    at = data.find(b"\x44\x89\x88") + 3  # Segment Info Duration, an 8-byte float in ms
    long = tmp_path / "hours.mkv"
    long.write_bytes(data[:at] + struct.pack(">d", 10 * 3600 * 1000.0) + data[at + 8 :])
    error = _unreadable(long)
    assert error.startswith("truncated: frames end at 1.9 s of the 36000.0 s")


def test_time_limit(clips: Clips) -> None:
    video = hash_video(clips.known_video, VideoOptions(time_limit=0.0))
    assert video.error is not None and video.error.startswith("timeout: ")
    assert video.frames  # what was hashed before the limit is kept


def test_not_a_video_raises_a_specific_error(tmp_path: Path) -> None:
    with pytest.raises(UnreadableVideo) as info:
        hash_video(b"\x00" * 1000)
    assert info.value.reason == "corrupt"


def test_contact_sheet_of_keyframes_blurred(tmp_path: Path) -> None:
    from hashsieve.review.video import contact_sheet

    clip = write_clip(tmp_path / "gop.mp4", sample_scenes([1, 2, 3]), gop=10)
    sheet = contact_sheet(clip, columns=3, rows=2, tile=96, mark=2.5)
    assert sheet.image.size == (288, 192)
    assert sheet.times == sorted(sheet.times) and len(sheet.times) >= 3
    assert sheet.jpeg().startswith(b"\xff\xd8")
    clear = contact_sheet(clip, columns=3, rows=2, tile=96, blur=False)
    assert clear.image.tobytes() != sheet.image.tobytes()
