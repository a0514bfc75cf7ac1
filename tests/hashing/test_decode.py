"""Opening images for hashing: hostile and broken files become reasons, any mode becomes RGB, and
the luma path decodes a colour JPEG at full size straight to its Y channel."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashsieve.hashing import pdq
from hashsieve.hashing.decode import UnreadableImage, open_image

from .test_pdq import photo_like

CONFORMANCE = Path(
    os.environ.get("HASHSIEVE_CONFORMANCE")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
)
MODES = CONFORMANCE / "pdq" / "images" / "misc-images" / "modes"
MAX_PIXELS = 200_000_000


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def reason(data: bytes, **kwargs: object) -> str:
    with pytest.raises(UnreadableImage) as info:
        open_image(data, max_pixels=kwargs.pop("max_pixels", MAX_PIXELS), **kwargs)  # type: ignore[arg-type]
    return info.value.reason


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def gif_claiming(width: int, height: int) -> bytes:
    screen = struct.pack("<HH", width, height) + b"\x00\x00\x00"
    frame = b"," + struct.pack("<HHHH", 0, 0, width, height) + b"\x00"
    return b"GIF89a" + screen + frame + b"\x02\x02\x44\x01\x00;"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.98])
def test_truncated_jpeg(fast: bool, keep: float) -> None:
    data = encode(photo_like(1, 800, 600), "JPEG", quality=90)
    assert reason(data[: int(len(data) * keep)], fast=fast) == "truncated"


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "TIFF"])
def test_truncated_other_formats(fmt: str) -> None:
    data = encode(photo_like(2, 300, 200), fmt)
    assert reason(data[: len(data) // 2]) == "truncated"


@pytest.mark.parametrize(
    "data", [os.urandom(4096), b"", b"hello, world\n" * 50], ids=["random", "empty", "text"]
)
def test_not_an_image(data: bytes) -> None:
    assert reason(data) == "not-an-image"


@pytest.mark.parametrize("maker", [png_claiming, gif_claiming], ids=["png", "gif"])
def test_decompression_bomb_refused_by_header(maker) -> None:  # type: ignore[no-untyped-def]
    data = maker(60_000, 60_000)  # 3.6 G pixels, about 10 GiB as RGB; the file is ~100 bytes
    assert len(data) < 200
    t0 = time.perf_counter()
    assert reason(data) == "decompression-bomb"
    assert time.perf_counter() - t0 < 0.5  # refused from the header, nothing decoded


def test_pixel_limit_is_inclusive() -> None:
    data = encode(photo_like(3, 40, 25), "PNG")
    assert open_image(data, max_pixels=1000).image.size == (40, 25)
    assert reason(data, max_pixels=999) == "decompression-bomb"


def test_corrupt_jpeg_scan() -> None:
    """Damage inside the entropy-coded data is "corrupt" (Pillow: "broken data stream"), not
    "truncated" (Pillow: "image file is truncated", the data ends early)."""
    data = bytearray(encode(photo_like(4, 200, 150), "JPEG"))
    sos = data.index(b"\xff\xda")
    data[sos + 4 : sos + 40] = b"\xff" * 36
    assert reason(bytes(data)) == "corrupt"


def test_unreadable_detail_is_stable() -> None:
    with pytest.raises(UnreadableImage) as info:
        open_image(b"\x00" * 64, max_pixels=MAX_PIXELS)
    assert info.value.reason == "not-an-image"
    assert "0x" not in info.value.detail  # no object addresses in what reports store


def _mode_files() -> list[object]:
    if not MODES.is_dir():
        return [pytest.param(None, id="no-data", marks=pytest.mark.skip(f"{MODES} not found"))]
    return [pytest.param(p, id=p.name) for p in sorted(MODES.iterdir()) if p.is_file()]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("path", _mode_files())
def test_every_conformance_mode_hashes(path: Path, fast: bool) -> None:
    opened = open_image(path.read_bytes(), max_pixels=MAX_PIXELS, fast=fast)
    assert opened.image.mode in (("RGB", "L") if fast else ("RGB",))
    assert opened.image.size == (opened.width, opened.height)
    h, codes = pdq.pdq_with_dihedral(opened.image)
    assert len(h.code) == 32 and len(codes) == 8 and 0 <= h.quality <= 100


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("1", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGBA", "PNG"),
     ("I;16", "PNG"), ("I", "TIFF"), ("F", "TIFF"), ("CMYK", "JPEG"), ("CMYK", "TIFF"),
     ("YCbCr", "TIFF"), ("L", "JPEG"), ("LAB", "TIFF"), ("RGB", "WEBP")],
)  # fmt: skip
def test_modes_convert_like_threatexchange(mode: str, fmt: str) -> None:
    """The decoded pixels are Pillow's ``convert("RGB")`` of the file, as python-threatexchange
    hashes it (0 bits vs expected-pytx.csv for LA and I;16, see the conformance tests)."""
    data = encode(photo_like(6, 120, 90).convert(mode), fmt)
    opened = open_image(data, max_pixels=MAX_PIXELS, fast=False)
    with Image.open(io.BytesIO(data)) as ref:
        np.testing.assert_array_equal(np.asarray(opened.image), np.asarray(ref.convert("RGB")))


def test_heic_if_pillow_heif_can_write() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    img = photo_like(7, 640, 480)
    try:
        pillow_heif.register_heif_opener()
        data = encode(img, "HEIF", quality=90)
    except Exception as exc:  # no HEVC encoder in this build
        pytest.skip(f"pillow-heif cannot write HEIC here: {exc}")
    opened = open_image(data, max_pixels=MAX_PIXELS)
    assert opened.format == "HEIF" and opened.image.size == (640, 480) and opened.scale == 1
    assert pdq.distance(pdq.pdq_hash(opened.image).code, pdq.pdq_hash(img).code) <= 16


@pytest.mark.parametrize(
    ("width", "height", "subsampling", "progressive"),
    [(2000, 1500, 2, False), (1001, 667, 0, True), (1600, 1004, 1, False), (513, 2000, 2, True)],
)
def test_luma_path_decodes_colour_jpeg_at_full_size_to_y(
    width: int, height: int, subsampling: int, progressive: bool
) -> None:
    data = encode(
        photo_like(8, width, height),
        "JPEG",
        quality=90,
        subsampling=subsampling,
        progressive=progressive,
    )
    full = open_image(data, max_pixels=MAX_PIXELS, fast=False)
    luma = open_image(data, max_pixels=MAX_PIXELS, fast=True)
    assert (full.width, full.height, full.scale, full.image.mode) == (width, height, 1, "RGB")
    assert (luma.width, luma.height, luma.scale, luma.image.mode) == (width, height, 1, "L")
    assert luma.image.size == (width, height)
    # Y is PDQ's luma of the decoded RGB up to rounding and clamping: within a level or two.
    y = np.asarray(luma.image).astype(np.int16)
    rgb = np.asarray(full.image).astype(np.float64)
    ref = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.abs(y - ref).max() <= 3 and np.abs(y - ref).mean() < 0.6
    field = pdq.pdq_hash(full.image, impl="pdqhash")
    assert pdq.distance(pdq.pdq_hash(luma.image).code, field.code) <= 8
    # Decoded straight into the array handed out: Pillow's own decode, value for value.
    own = Image.open(io.BytesIO(data))
    own.draft("L", own.size)
    assert luma.luma is not None and not luma.luma.flags.writeable
    assert np.array_equal(luma.luma, np.asarray(own)) and np.array_equal(luma.luma, y)


def test_luma_plane_stays_the_decode_when_its_image_is_changed() -> None:
    opened = open_image(encode(photo_like(8, 320, 240), "JPEG"), max_pixels=MAX_PIXELS)
    assert opened.luma is not None
    before = opened.luma.copy()
    opened.image.paste(0, (0, 0, 320, 240))  # Pillow copies the shared memory first
    assert np.array_equal(opened.luma, before) and np.asarray(opened.image).max() == 0


@pytest.mark.parametrize(("mode", "fmt"), [("RGB", "PNG"), ("RGB", "WEBP"), ("P", "GIF")])
def test_luma_path_leaves_other_formats_rgb(mode: str, fmt: str) -> None:
    data = encode(photo_like(9, 600, 450).convert(mode), fmt)
    opened = open_image(data, max_pixels=MAX_PIXELS, fast=True)
    assert opened.image.size == (600, 450) and opened.image.mode == "RGB"


def test_grey_jpeg_stays_grey_and_hashes_as_rgb() -> None:
    data = encode(photo_like(12, 800, 600).convert("L"), "JPEG", quality=90)
    luma = open_image(data, max_pixels=MAX_PIXELS, fast=True)
    full = open_image(data, max_pixels=MAX_PIXELS, fast=False)
    assert (luma.image.mode, full.image.mode) == ("L", "RGB")
    assert pdq.pdq_hash(luma.image) == pdq.pdq_hash(full.image, impl="pdqhash")


def test_exif_orientation_is_not_applied() -> None:
    img = photo_like(10, 300, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    data = encode(img, "JPEG", exif=exif, quality=95)
    opened = open_image(data, max_pixels=MAX_PIXELS)
    assert opened.image.size == (300, 200)
    assert opened.exif is not None and opened.exif.get(0x0112) == 6


def test_cmyk_jpeg_luma_path_is_rgb_at_full_size() -> None:
    data = encode(photo_like(11, 1200, 800).convert("CMYK"), "JPEG", quality=90)
    opened = open_image(data, max_pixels=MAX_PIXELS, fast=True)
    assert opened.image.mode == "RGB" and opened.image.size == (1200, 800) and opened.scale == 1


def test_the_compiled_quality_estimate_is_the_numpy_rule() -> None:
    """decode.estimated_quality (numba) decides luma or RGB decode: it must give what its numpy
    form gave, on textured, near-flat and graded planes of uneven sizes."""
    from hashsieve.hashing.decode import estimated_quality

    def numpy_rule(luma: np.ndarray) -> int:
        h, w = luma.shape
        sample = luma[:: max(1, h // 256), :: max(1, w // 256)].astype(np.float32)
        rows, cols = sample.shape[0] // 64 * 64, sample.shape[1] // 64 * 64
        cells = sample[:rows, :cols].reshape(64, rows // 64, 64, cols // 64).mean(axis=(1, 3))
        total = np.floor(np.abs(np.diff(cells, axis=0)) * 100 / 255).sum()
        total += np.floor(np.abs(np.diff(cells, axis=1)) * 100 / 255).sum()
        return min(int(total) // 90, 100)

    rng = np.random.default_rng(2)
    seen = set()
    for k in range(60):
        h, w = (int(v) for v in rng.integers(64, 900, 2))
        if k % 3 == 0:
            plane = np.asarray(photo_like(k, w, h).convert("L"))
        elif k % 3 == 1:
            plane = np.clip(rng.normal(128, rng.uniform(0.2, 3), (h, w)), 0, 255).astype(np.uint8)
        else:
            yy, xx = np.mgrid[0:h, 0:w]
            plane = ((xx * rng.uniform(0, 0.4) + yy * rng.uniform(0, 0.4)) % 256).astype(np.uint8)
        assert estimated_quality(plane) == numpy_rule(plane)
        seen.add(estimated_quality(plane) < 50)
    assert seen == {True, False}  # both sides of FLAT_QUALITY were exercised
