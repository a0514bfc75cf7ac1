"""Pictures from the field's own test files (../shared/realworld/media, see its SOURCES.md):
whatever Pillow, pillow-heif or PyAV decodes is hashed; what none of them decodes gets a
precise reason, never "not an image"; decoder warnings land in the file's row, not the terminal.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from hashsieve.hashing.content import FileResult, HashOptions, hash_content
from hashsieve.hashing.media import MediaKind, sniff
from tests.conftest import REALWORLD, needs_realworld

MEDIA = REALWORLD / "media"
OPTIONS = HashOptions(max_image_pixels=200_000_000, robust=False)


def _hash(name: str) -> FileResult:
    return hash_content((MEDIA / name).read_bytes(), OPTIONS)


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@needs_realworld(MEDIA / "pillow" / "hopper.png")
@pytest.mark.parametrize(
    ("name", "mime"),
    [("hopper_bigtiff.tif", "image/tiff"), ("hopper.qoi", "image/qoi")],
)
def test_lossless_copies_of_hopper_hash_as_the_png(name: str, mime: str) -> None:
    """BigTIFF ('II+') and QOI were 'other'; both are lossless copies of hopper.png."""
    reference = _hash("pillow/hopper.png")
    result = _hash(f"pillow/{name}")
    assert (result.media_kind, result.mime, result.error) == ("image", mime, None)
    assert result.pdq is not None and reference.pdq is not None
    assert _distance(result.pdq, reference.pdq) == 0


@needs_realworld(MEDIA / "libjpeg-turbo" / "monkey12.jpg")
def test_a_12_bit_jpeg_is_unsupported_not_unrecognised() -> None:
    result = _hash("libjpeg-turbo/monkey12.jpg")
    assert (result.mime, result.error, result.pdq) == (
        "image/jpeg",
        "unsupported: 12-bit JPEG",
        None,
    )


@needs_realworld(MEDIA / "pillow" / "hopper.png")
@pytest.mark.parametrize(("codestream", "mime"), [(False, "image/jp2"), (True, "image/j2c")])
def test_jpeg_2000_is_a_picture(codestream: bool, mime: str) -> None:
    """The corpus holds only broken JPEG 2000 files: a valid one is written here from hopper."""
    out = io.BytesIO()
    with Image.open(MEDIA / "pillow" / "hopper.png") as image:
        image.convert("RGB").save(out, "JPEG2000", no_jp2=codestream, irreversible=False)
    result = hash_content(out.getvalue(), OPTIONS)
    assert (result.mime, result.error, result.width, result.height) == (mime, None, 128, 128)
    reference = _hash("pillow/hopper.png")
    assert result.pdq is not None and reference.pdq is not None
    assert _distance(result.pdq, reference.pdq) == 0  # reversible wavelet: lossless


@needs_realworld(MEDIA / "pillow")
@pytest.mark.parametrize(
    ("name", "mime", "error"),
    [
        ("not_enough_data.jp2", "image/jp2", "corrupt: JPEG2000: Not enough data in header"),
        ("unknown_mode.j2k", "image/j2c", "corrupt: JPEG2000: unable to determine J2K image mode"),
        ("hopper_unknown_pixel_mode.tif", "image/tiff", "corrupt: TIFF: unknown pixel mode"),
        ("hopper_webp.tif", "image/tiff", "unsupported: TIFF with WEBP compression"),
        (
            "broken.png",
            "image/png",
            "corrupt: PNG: broken PNG file (chunk b'\\xf4\\xa8\\x81\\xe1')",
        ),
    ],
)
def test_a_recognised_picture_nobody_decodes_says_why(name: str, mime: str, error: str) -> None:
    result = _hash(f"pillow/{name}")
    assert (result.media_kind, result.mime, result.error, result.pdq) == (
        "image",
        mime,
        error,
        None,
    )


@needs_realworld(MEDIA / "libheif")
@pytest.mark.parametrize(
    ("name", "mime", "size"),
    [
        ("hevc32.heif", "image/heif", (32, 32)),
        ("hevc32-mini.heif", "image/heif", (64, 64)),  # a 'mini' HEIF: pillow-heif directly
        ("jpeg32.heif", "image/heif", (32, 32)),  # JPEG coding: decoded by PyAV (FFmpeg)
        ("avif32.heif", "image/avif", (32, 32)),
        ("example.heic", "image/heif", (1280, 854)),
    ],
)
def test_heif_still_images_are_pictures_with_a_pdq(
    name: str, mime: str, size: tuple[int, int]
) -> None:
    result = _hash(f"libheif/{name}")
    assert (result.media_kind, result.mime, result.error) == ("image", mime, None)
    assert (result.width, result.height) == size and result.pdq is not None


@needs_realworld(MEDIA / "libheif")
@pytest.mark.parametrize(
    ("name", "coding"),
    [
        ("avc32.heif", "AVC"),
        ("vvc32.heif", "VVC"),
        ("j2k32.heif", "JPEG 2000"),
        ("unci32.heif", "uncompressed"),
        ("avif32-mini.heif", "AV1"),  # Pillow's AVIF reads no 'mini' box, pillow-heif has no AV1
    ],
)
def test_heif_codings_without_a_decoder_are_named(name: str, coding: str) -> None:
    result = _hash(f"libheif/{name}")
    assert result.media_kind == "image" and result.mime in ("image/heif", "image/avif")
    assert result.error == f"unsupported: HEIF with {coding} coding"


@needs_realworld(MEDIA / "libheif" / "github_44.heic")
def test_a_fuzzed_heif_is_corrupt_with_libheifs_reason() -> None:
    result = _hash("libheif/github_44.heic")  # major brand "    ", compatible "heic"
    assert result.mime == "image/heif"
    assert result.error is not None and result.error.startswith("corrupt: HEIF: ")
    assert "meta box data version 32" in result.error


def _ftyp(major: bytes, minor: bytes, *compatible: bytes) -> bytes:
    body = major + minor + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 64


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_ftyp(b"isom", b"\0\0\2\0", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (_ftyp(b"mp42", b"\0\0\0\0", b"mp42", b"mif1"), "video/mp4"),
        (_ftyp(b"qt  ", b"\0\0\0\0", b"qt  "), "video/quicktime"),
        (_ftyp(b"heic", b"\0\0\0\0", b"mif1", b"heic"), "image/heif"),
        (_ftyp(b"mif1", b"\0\0\0\0", b"mif1", b"heic"), "image/heif"),
        (_ftyp(b"jpeg", b"\0\0\0\0", b"mif1", b"jpeg"), "image/heif"),
        (_ftyp(b"vvic", b"\0\0\0\0", b"mif1", b"vvic"), "image/heif"),
        (_ftyp(b"    ", b"    ", b"heic"), "image/heif"),
        (_ftyp(b"mif1", b"\0\0\0\0", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"avis", b"\0\0\0\0", b"msf1", b"avis"), "image/avif"),
        (_ftyp(b"mif3", b"avif"), "image/avif"),
        (_ftyp(b"mif3", b"heic"), "image/heif"),
    ],
)
def test_iso_media_is_told_by_its_brands(head: bytes, expected: str) -> None:
    kind = MediaKind.VIDEO if expected.startswith("video/") else MediaKind.IMAGE
    assert sniff(head) == (kind, expected)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"II+\x00\x08\x00\x00\x00" + b"\x00" * 24, "image/tiff"),
        (b"MM\x00+\x00\x08\x00\x00" + b"\x00" * 24, "image/tiff"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 20, "image/jp2"),
        (b"\xff\x4f\xff\x51\x00\x29" + b"\x00" * 26, "image/j2c"),
        (b"qoif\x00\x00\x00\x80\x00\x00\x00\x80\x03\x00" + b"\x00" * 18, "image/qoi"),
        (b"8BPS\x00\x01" + b"\x00" * 26, "image/vnd.adobe.photoshop"),
        # an icon: one 16x16 entry, 1 plane, 32 bits
        (
            b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00" + b"\x00" * 18,
            "image/x-icon",
        ),
    ],
)
def test_picture_signatures(head: bytes, expected: str) -> None:
    assert sniff(head) == (MediaKind.IMAGE, expected)


def test_ntfs_upcase_table_is_no_icon() -> None:
    """$UpCase maps each UTF-16 unit to itself upper-cased: 0000 0100 0200 ... like an ICO."""
    upcase = b"".join(i.to_bytes(2, "little") for i in range(64))
    assert sniff(upcase) == (MediaKind.OTHER, "application/octet-stream")


@needs_realworld(MEDIA / "pillow" / "crash-338516dbd2f0e83caddb8ce256c22db3bd6dc40f.tif")
def test_decoder_warnings_go_into_the_row_not_the_terminal(
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = _hash("pillow/crash-338516dbd2f0e83caddb8ce256c22db3bd6dc40f.tif")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # neither Pillow's warnings nor libtiff's C-level messages
    warnings = result.metadata["warnings"]
    assert "Tag data larger than file. Skipping tag 42112" in warnings  # Python, deduplicated
    assert any(w.startswith("TIFFFillStrip: Read error on strip 0") for w in warnings)  # libtiff
    assert result.error is not None and result.error.startswith("corrupt: decoder error -2 (")


@needs_realworld(MEDIA / "pillow" / "crash-2020-10-test.tif")
def test_decoder_warnings_are_capped() -> None:
    warnings = _hash("pillow/crash-2020-10-test.tif").metadata["warnings"]
    assert len(warnings) == 5 and warnings[-1].startswith("... and ")
    assert len(set(warnings)) == 5 and all(len(w) <= 160 for w in warnings)


@needs_realworld(MEDIA / "pillow" / "psd-oob-write.psd")
def test_photoshop_files_are_pictures() -> None:
    result = _hash("pillow/psd-oob-write.psd")
    assert (result.mime, result.error) == ("image/vnd.adobe.photoshop", None)
    assert (result.width, result.height) == (100, 100) and result.pdq is not None
