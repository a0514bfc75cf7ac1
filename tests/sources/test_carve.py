"""The structural carver: pictures and videos found by their structure in arbitrary bytes."""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.samples.video import sample_scenes, write_clip
from hashsieve.sources import carve

PICTURE = photo_like(11, (200, 150))
THUMB = jpeg_bytes(photo_like(12, (64, 48)))


def _encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    PICTURE.save(out, fmt)
    return out.getvalue()


def jpeg_with_thumbnail() -> bytes:
    """A JPEG whose APP1 (EXIF) holds a whole thumbnail JPEG, SOI to EOI, as cameras write."""
    main = jpeg_bytes(PICTURE)
    app1 = b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + THUMB
    return main[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + main[2:]


def _noise(size: int, seed: int) -> bytearray:
    return bytearray(random.Random(seed).randbytes(size))


def _planted(items: dict[str, bytes], seed: int = 1) -> tuple[bytes, dict[str, tuple[int, int]]]:
    data = _noise(100_000 + sum(len(d) + 50_000 for d in items.values()), seed)
    where: dict[str, tuple[int, int]] = {}
    at = 12_345
    for kind, blob in items.items():
        data[at : at + len(blob)] = blob
        where[kind] = (at, len(blob))
        at += len(blob) + 40_000 + len(kind)
    return bytes(data), where


def test_a_jpeg_with_an_exif_thumbnail_is_carved_whole() -> None:
    blob = jpeg_with_thumbnail()
    data, where = _planted({"jpeg": blob})
    result = carve.carve(io.BytesIO(data))
    assert [(i.kind, i.offset, i.length) for i in result.items] == [("jpeg", *where["jpeg"])]
    # Not cut at the thumbnail's own EOI, and the thumbnail is not listed besides.
    assert result.items[0].length > len(THUMB) + 1000
    assert result.items[0].name == f"@0x{where['jpeg'][0]:x}.jpg"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_clip(path, sample_scenes([3], seconds=0.5), size=(64, 48))
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["png", "gif", "webp", "bmp", "mp4", "progressive"])
def test_each_kind_is_found_at_its_offset_in_random_bytes(kind: str, mp4: bytes) -> None:
    if kind == "mp4":
        blob = mp4
    elif kind == "progressive":  # several scans, tables between them
        out = io.BytesIO()
        PICTURE.save(out, "JPEG", progressive=True)
        blob, kind = out.getvalue(), "jpeg"
    else:
        blob = _encoded(kind.upper())
    data, where = _planted({kind: blob, "jpeg-after": jpeg_bytes(PICTURE)}, seed=len(kind))
    result = carve.carve(io.BytesIO(data))
    found = {(i.kind, i.offset, i.length) for i in result.items}
    assert (kind, *where[kind]) in found
    assert ("jpeg", *where["jpeg-after"]) in found
    assert len(result.items) == 2
    carved = result.items[0]
    assert data[carved.offset : carved.offset + carved.length] == blob
    if kind != "mp4":  # each picture decodes from exactly the carved bytes
        Image.open(io.BytesIO(blob)).load()
    again = carve.item_at(io.BytesIO(data), carved.offset)
    assert again == carved


def test_items_across_block_boundaries_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(carve, "BLOCK", 4096)
    blob = _encoded("PNG")
    data, where = _planted({"png": blob, "jpeg": jpeg_with_thumbnail()}, seed=9)
    found = [(i.kind, i.offset, i.length) for i in carve.carve(io.BytesIO(data)).items]
    assert found == [("png", *where["png"]), ("jpeg", *where["jpeg"])]


def test_truncated_pictures_close_together_are_one_fragment_run() -> None:
    jpeg, png = jpeg_bytes(PICTURE), _encoded("PNG")
    data = _noise(600_000, 4)
    for at in (10_000, 60_000, 110_000):
        data[at : at + len(jpeg) // 2] = jpeg[: len(jpeg) // 2]  # cut in the entropy data
    data[160_000 : 160_000 + 5000] = png[:5000]
    data[400_000 : 400_000 + len(png)] = png  # whole
    result = carve.carve(io.BytesIO(bytes(data)))
    assert [(i.kind, i.offset) for i in result.items] == [("png", 400_000)]
    assert len(result.fragments) == 1
    run = result.fragments[0]
    assert run.offset == 10_000 and run.count == 4
    assert run.kinds == ("jpeg", "png")
    assert 160_000 < run.offset + run.length < 400_000
    without = carve.carve(io.BytesIO(bytes(data)), fragments=False)
    assert without.fragments == [] and without.items == result.items


def test_the_searched_range_and_the_size_bound_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = _encoded("PNG")
    data, where = _planted({"png": blob, "gif": _encoded("GIF")}, seed=5)
    start = where["png"][0] + 1  # past the PNG's start: only the GIF is in range
    result = carve.carve(io.BytesIO(data), start, len(data) - 10)
    assert [(i.kind, i.offset) for i in result.items] == [("gif", where["gif"][0])]
    assert result.reached == len(data) - 10
    # A range that ends inside the GIF leaves it a fragment.
    cut = carve.carve(io.BytesIO(data), start, where["gif"][0] + 100)
    assert cut.items == [] and cut.fragments[0].offset == where["gif"][0]
    monkeypatch.setattr(carve, "MAX_PICTURE", len(blob) - 1)
    assert carve.carve(io.BytesIO(data), 0, start).items == []


def test_a_spent_time_budget_stops_the_run_and_says_where() -> None:
    data, _ = _planted({"png": _encoded("PNG")})
    result = carve.carve(io.BytesIO(data), seconds=-1)
    assert result.timed_out and result.items == [] and result.reached == 0


def test_noise_and_zeros_hold_nothing(tmp_path: Path) -> None:
    data = bytes(_noise(3_000_000, 7)) + bytes(1_000_000) + b"BM" + bytes(100)
    result = carve.carve(io.BytesIO(data))
    assert result.items == [] and result.reached == len(data)
    assert not carve.has_signature(bytes(1000))
    assert carve.has_signature(b"xx" + jpeg_bytes(PICTURE)[:10])


def test_a_chain_of_tiny_blocks_is_cut_by_the_step_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # A GIF whose image data is 20,000 one-byte sub-blocks: valid, but each costs a read.
    head = b"GIF89a" + (1).to_bytes(2, "little") * 2 + b"\x00\x00\x00"
    image = b"\x2c" + bytes(8) + b"\x00" + b"\x02" + b"\x01\x00" * 20_000 + b"\x00"
    blob = head + image + b"\x3b"
    data, where = _planted({"gif": blob})
    found = carve.carve(io.BytesIO(data))
    assert [(i.kind, i.offset, i.length) for i in found.items] == [("gif", *where["gif"])]
    monkeypatch.setattr(carve, "MAX_STEPS", 5_000)
    cut = carve.carve(io.BytesIO(data))
    assert cut.items == [] and cut.fragments[0].offset == where["gif"][0]


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF", b"BM", b"\x00\x00\x00\x18ftyp"]
    ),
    body=st.binary(max_size=2048),
)
def test_hostile_bytes_after_a_signature_never_raise(prefix: bytes, body: bytes) -> None:
    """Whatever follows a signature (length fields pointing anywhere, before the start or past
    the end), the carver answers with items inside the range or nothing: never an exception."""
    data = b"\x00" * 7 + prefix + body
    # A real file: its reader refuses a negative length, where BytesIO would read everything.
    with tempfile.TemporaryFile() as stream:
        stream.write(data)
        result = carve.carve(stream)
    assert all(item.offset >= 0 and item.offset + item.length <= len(data) for item in result.items)
