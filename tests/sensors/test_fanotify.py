"""fanotify (root): finished writes and moves under the watched roots, nothing from elsewhere."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hashsieve.sensors.fanotify import FanotifyWatcher, available

pytestmark = pytest.mark.skipif(not available(), reason="fanotify needs root and Linux 5.9+")


def _settle(events: list, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # and nothing more


def test_writes_moves_and_new_folders_under_the_roots_are_reported(tmp_path: Path) -> None:
    root, outside = tmp_path / "watched", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    files: list[str] = []
    folders: list[str] = []
    watcher = FanotifyWatcher([root], files.append, lambda d: folders.append(str(d))).start()
    try:
        (root / "written.jpg").write_bytes(b"x" * 1000)
        (outside / "b.jpg").write_bytes(b"y")
        os.rename(outside / "b.jpg", root / "moved in.jpg")  # a name with a space
        (root / "sub").mkdir()
        (root / "sub" / "deep.png").write_bytes(b"z")
        with open(root / "pieces.bin", "wb") as f:  # one event when the file is closed
            for _ in range(4):
                f.write(b"1234")
                f.flush()
        (outside / "elsewhere.jpg").write_bytes(b"q")
        _settle(files, 4)
    finally:
        watcher.stop()
    assert sorted(files) == sorted(
        str(p)
        for p in (
            root / "written.jpg",
            root / "moved in.jpg",
            root / "sub" / "deep.png",
            root / "pieces.bin",
        )
    )
    assert folders == [str(root / "sub")]


def test_a_stopped_watcher_reports_nothing_more(tmp_path: Path) -> None:
    files: list[str] = []
    watcher = FanotifyWatcher([tmp_path], files.append, lambda d: None).start()
    watcher.stop()
    (tmp_path / "late.jpg").write_bytes(b"x")
    time.sleep(0.3)
    assert files == []
