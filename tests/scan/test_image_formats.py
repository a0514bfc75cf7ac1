"""Every image format Pillow opens gets a PDQ hash; the type comes from content, not the name."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hashsieve.config import MAX_IMAGE_PIXELS
from hashsieve.hashing.content import HashOptions, hash_file
from hashsieve.hashing.pdq import distance
from hashsieve.samples.images import photo_like

OPTIONS = HashOptions(max_image_pixels=MAX_IMAGE_PIXELS)
PICTURE = photo_like(21, (480, 360))


def _encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    image = PICTURE.convert("P") if fmt == "GIF" else PICTURE
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    image.save(out, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP", "HEIF") else {}))
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
        ("HEIF", "image/heif"),
    ],
)
def test_each_format_is_hashed_like_the_lossless_original(
    tmp_path: Path, fmt: str, mime: str
) -> None:
    reference = tmp_path / "reference.png"
    PICTURE.save(reference)
    path = tmp_path / "no-extension"  # the name says nothing; the content decides
    path.write_bytes(_encoded(fmt))
    result = hash_file(str(path), OPTIONS)
    assert result.error is None
    assert (result.media_kind, result.mime) == ("image", mime)
    assert (result.width, result.height) == PICTURE.size
    assert result.quality is not None and result.quality >= 50
    expected = hash_file(str(reference), OPTIONS).pdq
    assert result.pdq is not None and expected is not None
    assert distance(bytes.fromhex(result.pdq), bytes.fromhex(expected)) <= 31


def test_animated_gif_is_hashed_from_its_first_frame(tmp_path: Path) -> None:
    frames = [PICTURE.convert("P"), photo_like(22, (480, 360)).convert("P")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    first = tmp_path / "first.gif"
    frames[0].save(first)
    assert hash_file(str(path), OPTIONS).pdq == hash_file(str(first), OPTIONS).pdq


def test_one_read_gives_all_three_digests(tmp_path: Path) -> None:
    import hashlib

    data = _encoded("PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    result = hash_file(str(path), OPTIONS)
    assert (result.md5, result.sha1, result.sha256, result.size) == (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
