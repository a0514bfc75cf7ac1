"""Videos in a scan: matched against known videos (vPDQ) and known images, and the reverse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashsieve.config import Settings
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.hashing.video import VideoOptions, hash_video, write_vpdq
from hashsieve.hashsets.catalogue import import_hashset
from hashsieve.scan.pipeline import run_scan
from hashsieve.store import Store

from .conftest import Clips


def _known_sets(store: Store, clips: Clips, tmp_path: Path) -> None:
    videos = tmp_path / "sets" / "videos"
    videos.mkdir(parents=True)
    with open(videos / "known-clip.txt", "w") as out:  # every frame, as upstream sets are
        write_vpdq(hash_video(clips.known_video, VideoOptions.conformance()).frames, out)
    images = tmp_path / "sets" / "images.txt"
    images.write_text(f"# algorithm: pdq\n{pdq_hash(clips.known_image).hex}\n")
    import_hashset(store, videos, "videos", category=1)
    import_hashset(store, images, "images", category=2)


@pytest.fixture
def scanned(clips: Clips, store: Store, tmp_path: Path) -> dict[str, dict]:
    import av

    _known_sets(store, clips, tmp_path)
    evidence = clips.folder / "evidence"
    still = tmp_path / "evidence-stills" / "still.png"
    still.parent.mkdir()
    with av.open(str(clips.known_video)) as container:  # frame 25 of the known video
        for number, frame in enumerate(container.decode(video=0)):
            if number == 25:
                frame.to_image().save(still)
                break
    jsonl = tmp_path / "results.jsonl"
    run_scan(store, "case", [str(evidence), str(still.parent)], jsonl_path=jsonl)
    return {Path(d["path"]).name: d for d in map(json.loads, jsonl.open())}


def test_reencoded_copy_of_a_known_video_is_known(scanned: dict[str, dict]) -> None:
    line = scanned["copy.mkv"]
    assert line["verdict"] == "known" and line["category"] == 1
    (match,) = line["matches"]
    assert match["entry"] == "known-clip.txt" and match["algorithm"] == "vpdq"
    assert match["coverage"] >= 80.0 and match["distance"] <= 31
    assert line["metadata"]["codec"] == "h264" and line["metadata"]["duration"] == 6.0
    assert (line["width"], line["height"]) == (256, 192)


def test_video_showing_a_known_image_for_a_second_is_known(scanned: dict[str, dict]) -> None:
    line = scanned["shows-image.mp4"]
    assert line["verdict"] == "known" and line["category"] == 2
    (match,) = line["matches"]
    assert match["hashset"] == "images" and match["seconds"] == 3.0


def test_still_from_a_known_video_is_known(scanned: dict[str, dict]) -> None:
    line = scanned["still.png"]
    assert line["verdict"] == "known" and line["category"] == 1
    (match,) = line["matches"]  # one hit per known video, its closest frame
    assert match["entry"] == "known-clip.txt @2.500s frame 25 q100"
    assert match["distance"] <= 4


def test_video_containing_a_known_video_is_known(scanned: dict[str, dict]) -> None:
    """A compilation: the known 6 s sit between 10 s of other footage, so only about a third of
    its frames are known (vPDQ's query-side rule says no), but all of the known video is there."""
    line = scanned["compilation.mp4"]
    assert line["verdict"] == "known" and line["category"] == 1
    (match,) = line["matches"]
    assert match["entry"] == "known-clip.txt" and match["algorithm"] == "vpdq-contains"
    assert match["coverage"] >= 80.0 and match["distance"] <= 31
    assert 5.5 <= match["seconds"] <= 6.5  # where the known video starts in the compilation


def test_unrelated_video_is_new(scanned: dict[str, dict]) -> None:
    assert scanned["new.mp4"]["verdict"] == "new"
    assert scanned["new.mp4"]["matches"] == []


def test_hostile_video_in_a_scan_is_recorded(clips: Clips, tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "cut.mp4").write_bytes(clips.known_video.read_bytes()[:3000])
    (folder / "ok.mp4").write_bytes(clips.new.read_bytes())
    store = Store(Settings(home=tmp_path / "home", workers=1))
    try:
        summary = run_scan(store, "c", [str(folder)], jsonl_path=tmp_path / "r.jsonl")
    finally:
        store.close()
    assert summary.verdicts == {"unreadable": 1, "new": 1}
    lines = {Path(d["path"]).name: d for d in map(json.loads, (tmp_path / "r.jsonl").open())}
    assert lines["cut.mp4"]["error"].startswith("truncated: ")


def test_time_covered_by_matched_known_frames() -> None:
    from hashsieve.matching.video import _time_covered

    assert _time_covered(set(), 6.0) == 0.0
    # one a second: all but the last half second
    assert _time_covered({0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, 6.0) == pytest.approx(100 * 5.5 / 6)
    assert _time_covered({0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, 5.5) == pytest.approx(100.0)
    assert _time_covered({0.0, 0.1, 0.2}, 10.0) == pytest.approx(7.0)  # [0, 0.7] of 10 s
    assert _time_covered({5.0}, 10.0) == pytest.approx(10.0)  # [4.5, 5.5]
