"""Bad input gets a clear, recorded error and the scan goes on."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hashsieve import run_scan
from hashsieve.config import Settings
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from tests.conftest import run_cli


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge picture; its pixel data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "evidence"
    (root / "sub").mkdir(parents=True)
    good = jpeg_bytes(photo_like(7, (320, 240)))
    (root / "good.jpg").write_bytes(good)
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "random.jpg").write_bytes(os.urandom(5000))
    (root / "header-only.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "bomb.png").write_bytes(_png_bomb(100_000, 100_000))
    (root / "empty.jpg").write_bytes(b"")
    os.symlink("..", root / "sub" / "loop")  # a symlink loop back up the tree
    os.symlink("/etc/hostname", root / "outside-link")  # a link out of the tree
    os.mkfifo(root / "pipe")  # reading it would block forever
    odd = os.fsencode(str(root)) + b"/odd-\xff\xfe name\nwith newline -dash.jpg"
    with open(odd, "wb") as f:
        f.write(good)
    return root


@pytest.fixture(scope="module")
def results(hostile_tree: Path) -> dict[str, FileRecord]:
    store = Store(Settings(home=hostile_tree.parent / "home", workers=2))
    summary = run_scan(store, "hostile", [str(hostile_tree)])
    assert summary.files > 0
    with store.session() as s:
        rows = s.query(FileRecord).all()
    return {os.fsdecode(r.path_key).removeprefix(str(hostile_tree) + "/"): r for r in rows}


@pytest.mark.parametrize(
    ("name", "verdict", "reason"),
    [
        ("good.jpg", "new", None),
        ("truncated.jpg", "unreadable", "truncated"),
        ("random.jpg", "other", None),  # not an image by its content, whatever its name says
        ("header-only.png", "unreadable", None),
        ("bomb.png", "unreadable", "decompression-bomb"),
        ("empty.jpg", "other", None),
        ("sub/loop", "other", "symlink"),
        ("outside-link", "other", "symlink"),
        ("pipe", "other", "special-file"),
    ],
)
def test_each_hostile_file_is_recorded_with_its_reason(
    results: dict[str, FileRecord], name: str, verdict: str, reason: str | None
) -> None:
    record = results[name]
    assert record.verdict == verdict
    if reason:
        assert record.error is not None and record.error.startswith(reason)


def test_undecodable_file_names_are_kept_losslessly(
    results: dict[str, FileRecord], hostile_tree: Path
) -> None:
    odd = [r for r in results.values() if r.path_key.endswith(b"-dash.jpg")]
    assert len(odd) == 1
    assert b"\xff\xfe name\nwith newline" in odd[0].path_key
    assert odd[0].verdict == "new"
    assert os.path.exists(odd[0].path_key)  # the stored bytes name the real file


def test_the_scan_never_entered_the_symlink_loop(results: dict[str, FileRecord]) -> None:
    assert not any("loop/" in name for name in results)
    assert len(results) == 10


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_permissions_are_recorded(store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "ev" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(b"x")
    secret.chmod(0)
    run_scan(store, "perm", [str(secret.parent)])
    with store.session() as s:
        record = s.query(FileRecord).one()
    assert record.verdict == "unreadable" and record.error.startswith("permission")


def test_a_worker_memory_limit_turns_runaway_decoding_into_a_recorded_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A picture under the pixel limit that still needs more memory than a worker may use."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    Image.new("L", (12_000, 12_000)).save(evidence / "huge.png")  # ~0.6 GB to decode as RGB
    (evidence / "small.jpg").write_bytes(jpeg_bytes(photo_like(3, (64, 48))))
    monkeypatch.setenv("HASHSIEVE_WORKER_MEMORY_MB", "700")  # a fresh CLI process reads it
    run_cli(tmp_path / "home", "scan", str(evidence), "--case", "m", "--jsonl", str(tmp_path / "r"))
    records = {Path(r["path"]).name: r for r in map(json.loads, (tmp_path / "r").open())}
    assert records["huge.png"]["verdict"] == "unreadable"
    assert "memory" in records["huge.png"]["error"]
    assert records["small.jpg"]["verdict"] == "new"
