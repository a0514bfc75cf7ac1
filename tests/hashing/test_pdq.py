"""Our PDQ (numba) against the reference bindings (pdqhash) on the same RGB pixels, and the
hash's representation: bit order, hex word order, distance, parsing.

Equality is exact: same 256 bits, same quality, same 8 dihedral codes. The kernels repeat the C++
reference's float32 arithmetic in its order (see hashing/_pdq_kernels.py), so there is no float
slack to allow for; the 16x16 DCT coefficients themselves are compared bit for bit too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageFilter

from hashsieve.hashing import pdq

CONFORMANCE = Path(
    os.environ.get("HASHSIEVE_CONFORMANCE")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
)
IMAGES = CONFORMANCE / "pdq" / "images"
MISSING = f"PDQ conformance images not found at {IMAGES} (set HASHSIEVE_CONFORMANCE)"


def photo_like(seed: int, width: int, height: int) -> Image.Image:
    """A small benign synthetic photo: gradient, shapes, blur and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            rng.uniform(20, 230) + rng.uniform(-60, 60) * (xx / width + yy / height)
            for _ in range(3)
        ],
        axis=-1,
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        box = (x0, y0, x0 + rng.uniform(2, width / 2), y0 + rng.uniform(2, height / 2))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.integers(2) else draw.rectangle)(box, fill=color)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    noisy = np.asarray(img).astype(np.int16) + rng.normal(0, 4, (height, width, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def assert_same_as_reference(image: Image.Image | np.ndarray) -> None:
    ours = pdq.pdq_hash(image, impl="numba")
    ref = pdq.pdq_hash(image, impl="pdqhash")
    assert ours == ref
    codes, quality = pdq.pdq_dihedral(image, impl="numba")
    ref_codes, ref_quality = pdq.pdq_dihedral(image, impl="pdqhash")
    assert codes == ref_codes
    assert quality == ref_quality
    assert pdq.pdq_with_dihedral(image, impl="numba") == pdq.pdq_with_dihedral(
        image, impl="pdqhash"
    )


def _conformance_images() -> list[object]:
    if not IMAGES.is_dir():
        return [pytest.param(None, id="no-data", marks=pytest.mark.skip(MISSING))]
    return [
        pytest.param(p, id=str(p.relative_to(IMAGES)))
        for p in sorted(IMAGES.rglob("*"))
        if p.is_file()
    ]


@pytest.mark.parametrize("path", _conformance_images())
def test_numba_equals_pdqhash_on_conformance_image(path: Path) -> None:
    with Image.open(path) as img:
        img.load()
        assert_same_as_reference(img)


@pytest.mark.parametrize("path", _conformance_images()[:6])
def test_dct_coefficients_are_bit_identical(path: Path) -> None:
    from hashsieve.hashing import _pdq_kernels as k

    with Image.open(path) as img:
        rgb = pdq.rgb_array(img)
    rows, cols = rgb.shape[:2]
    ours, quality = k.pdq_dct_quality(
        rgb, k.sample_indices(rows), k.sample_indices(cols), k.DCT16X64, True
    )
    ref, ref_quality = pdqhash.compute_float(rgb)
    assert quality == ref_quality
    np.testing.assert_array_equal(ours.ravel(), np.asarray(ref)[::-1])


# Sizes around every edge case: below the 5 px minimum, window 1 (<= 128 px) with sample indices
# repeated (< 64 px), exactly 64x64 (the reference skips filtering there, but not for dihedral),
# window changes at 129/257, odd aspect ratios and a typical reduced decode.
SIZES = [
    (4, 4), (4, 100), (5, 5), (7, 300), (31, 17), (63, 64), (64, 64), (65, 64), (64, 65),
    (127, 128), (128, 129), (129, 130), (255, 257), (256, 256), (300, 41), (504, 378),
    (512, 384), (1001, 667),
]  # fmt: skip


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_numba_equals_pdqhash_on_generated_photo(width: int, height: int) -> None:
    assert_same_as_reference(photo_like(width * 7919 + height, width, height))


@pytest.mark.parametrize("seed", range(8))
def test_numba_equals_pdqhash_on_noise_and_flat(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(5, 700)), int(rng.integers(5, 700)), 3)
    assert_same_as_reference(rng.integers(0, 256, size, dtype=np.uint8))
    flat = np.full(size, int(rng.integers(0, 256)), dtype=np.uint8)
    assert_same_as_reference(flat)
    assert pdq.pdq_hash(flat).quality == 0


def test_too_small_is_all_zero_with_quality_zero() -> None:
    h, codes = pdq.pdq_with_dihedral(np.full((4, 50, 3), 90, dtype=np.uint8))
    assert h == pdq.PdqHash(bytes(32), 0)
    assert codes == [bytes(32)] * 8


def test_bit_k_is_in_word_k_over_16_and_word_15_prints_first() -> None:
    """pdqhashtypes.cpp: bit k is in 16-bit word k >> 4 at position k & 15; hex is w[15]..w[0]."""
    for k, expected in [
        (0, "0" * 60 + "0001"),
        (15, "0" * 60 + "8000"),
        (16, "0" * 56 + "0001" + "0000"),
        (255, "8000" + "0" * 60),
    ]:
        bits = np.zeros(256, dtype=np.uint8)
        bits[k] = 1
        assert pdq._pack(bits).hex() == expected, k


def test_bit_k_is_dct_row_k_over_16_column_k_mod_16() -> None:
    """Bit i*16+j is set where DCT coefficient [i][j] exceeds the median (pdqBuffer16x16ToBits)."""
    from hashsieve.hashing import _pdq_kernels as k

    dct = np.arange(256, dtype=np.float32).reshape(16, 16)
    bits = k.hash_bits(dct)
    assert bits[:128].sum() == 0 and bits[128:].sum() == 128  # median 127: > median from 128 on
    assert pdq._pack(bits).hex() == "f" * 32 + "0" * 32


def test_dihedral_order_and_names() -> None:
    """Rotating the pixels by 90 degrees moves the hash near the "r90" code, and so on."""
    img = photo_like(5, 320, 240)
    _, codes = pdq.pdq_with_dihedral(img)
    t = Image.Transpose
    for name, transform in [
        ("r90", t.ROTATE_90), ("r180", t.ROTATE_180), ("r270", t.ROTATE_270),
        ("fv", t.FLIP_TOP_BOTTOM), ("fh", t.FLIP_LEFT_RIGHT), ("r90fv", t.TRANSPOSE),
        ("r90fh", t.TRANSVERSE),
    ]:  # fmt: skip
        got = pdq.pdq_hash(img.transpose(transform)).code
        dist = [pdq.distance(got, c) for c in codes]
        assert dist.index(min(dist)) == pdq.DIHEDRAL_NAMES.index(name), (name, dist)
        assert min(dist) <= 16, (name, dist)


def test_pdq_with_dihedral_agrees_with_the_single_functions() -> None:
    img = photo_like(3, 400, 300)
    h, codes = pdq.pdq_with_dihedral(img)
    assert h == pdq.pdq_hash(img)
    assert (codes, h.quality) == pdq.pdq_dihedral(img)
    assert codes[0] == h.code


def test_array_and_image_inputs_agree() -> None:
    img = photo_like(9, 200, 150)
    assert pdq.pdq_hash(img) == pdq.pdq_hash(np.array(img))
    with pytest.raises(ValueError):
        pdq.pdq_hash(np.zeros((10, 10), dtype=np.float32))
    with pytest.raises(ValueError):
        pdq.pdq_hash(np.zeros((10, 10, 4), dtype=np.uint8))


# Widths with windows of 1 to 16 columns, odd and even, and edge phases that meet (5 px): the
# luma path's first row pass sums whole levels (_pdq_kernels._grey_rows_pass1).
@pytest.mark.parametrize(
    ("width", "height"),
    [(640, 480), (301, 1203), (64, 64), (37, 90), (5, 9), (258, 20), (1931, 33)],
)
def test_luma_entry_equals_pdqhash_on_grey_rgb(width: int, height: int) -> None:
    """A luma plane (a JPEG's Y channel, decode.py's luma path) hashes as pdqhash hashes the RGB
    image with R = G = B = luma: bit for bit, through the grey view's own kernel branch."""
    luma = np.asarray(photo_like(width, width, height).convert("L"))
    grey = np.repeat(luma[:, :, None], 3, axis=2)
    view = pdq.rgb_array(luma)
    assert view.strides[2] == 0 and not view.flags.writeable
    ref_hash = pdq.pdq_hash(grey, impl="pdqhash")
    assert pdq.pdq_hash(luma) == ref_hash == pdq.pdq_hash(Image.fromarray(luma))
    assert pdq.pdq_dihedral(luma) == pdq.pdq_dihedral(grey, impl="pdqhash")
    assert pdq.pdq_with_dihedral(luma)[0] == ref_hash


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F"])
def test_rgb_array_converts_any_mode_like_threatexchange(mode: str) -> None:
    img = photo_like(2, 64, 48).convert(mode)
    rgb = pdq.rgb_array(img)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, np.asarray(img.convert("RGB")))


def test_hex_round_trip_and_distance() -> None:
    code = pdq.pdq_hash(photo_like(1, 100, 100)).code
    assert pdq.hex_to_code(code.hex().upper() + "\n") == code
    assert pdq.distance(code, code) == 0
    assert pdq.distance(code, bytes(b ^ 0xFF for b in code)) == 256
    with pytest.raises(ValueError):
        pdq.hex_to_code("abc")
    with pytest.raises(ValueError):
        pdq.hex_to_code("z" * 64)


def test_warm_up_leaves_the_kernels_giving_the_reference_hash() -> None:
    pdq.warm_up()
    rgb = np.asarray(photo_like(5, 160, 120).convert("RGB"))
    ours, reference = pdq.pdq_hash(rgb), pdq.pdq_hash(rgb, impl="pdqhash")
    assert (ours.code, ours.quality) == (reference.code, reference.quality)
