"""PDQ, Meta's 256-bit perceptual photo hash, as the rest of the field computes it.

A hash is held as 32 bytes in the order of its hex form (word 15 first), so ``code.hex()`` is the
64-character string every PDQ list carries and Hamming distance over the bytes is PDQ distance.

Every function takes RGB pixels or a luma plane (an ``L`` image or an HxW uint8 array, what
:func:`hashsieve.hashing.decode.open_image` gives for a colour JPEG): luma is hashed as the RGB
image with R = G = B, which is what ``pdqhash`` computes from it.

Two implementations give the same bits and quality on the same pixels:

- ``"numba"`` (the default, :mod:`hashsieve.hashing._pdq_kernels`): the reference's float32
  arithmetic in the reference's order, computing only what decimation samples. It is 4-9x faster
  than ``pdqhash`` and releases the GIL. Compiled once per machine into numba's on-disk cache (about
  10-15 s the first time; about 0.6 s to import afterwards, mostly numba itself).
- ``"pdqhash"``: the ``pdqhash`` bindings around the C++ reference; the tests compare against it.

``HASHSIEVE_PDQ_IMPL=pdqhash`` in the environment selects the reference implementation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pdqhash
from PIL import Image

PDQ_BYTES = 32
PDQ_HEX_LEN = 64
#: Names of the eight dihedral variants, in the order :func:`pdq_dihedral` returns them (the C++
#: reference's order: original, rotate 90, 180, 270, flip x, flip y, flip +1, flip -1).
DIHEDRAL_NAMES = ("r0", "r90", "r180", "r270", "fv", "fh", "r90fv", "r90fh")
#: Images narrower or shorter than this get the all-zero hash with quality 0, as in the reference.
MIN_HASHABLE_DIM = 5

Implementation = Literal["numba", "pdqhash"]
DEFAULT_IMPLEMENTATION: Implementation = (
    "pdqhash" if os.environ.get("HASHSIEVE_PDQ_IMPL") == "pdqhash" else "numba"
)

_ZERO = bytes(PDQ_BYTES)

ImageLike = Image.Image | np.ndarray


@dataclass(frozen=True, slots=True)
class PdqHash:
    code: bytes
    quality: int

    @property
    def hex(self) -> str:
        return self.code.hex()


def rgb_array(image: ImageLike) -> np.ndarray:
    """The RGB pixels PDQ is computed from (any Pillow mode, as python-threatexchange converts it).

    An ndarray is taken as already decoded RGB (height x width x 3, uint8) or as luma (height x
    width, uint8). Luma, and a mode ``"L"`` image (a JPEG decoded to its Y channel by
    :func:`hashsieve.hashing.decode.open_image`), become a read-only view with R = G = B and no
    copy: the values ``convert("RGB")`` gives, and PDQ's float luma of them is exactly the level.
    """
    if isinstance(image, np.ndarray):
        if image.ndim == 2 and image.dtype == np.uint8:
            return _grey_view(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected HxWx3 or HxW uint8 pixels, got {image.dtype} {image.shape}")
        if image.strides[2] == 0:  # already a grey view: keep it, no copy
            return image
        return np.ascontiguousarray(image)
    if image.mode == "L":
        return _grey_view(np.asarray(image))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def _grey_view(luma: np.ndarray) -> np.ndarray:
    luma = np.ascontiguousarray(luma)
    return np.broadcast_to(luma[:, :, None], (*luma.shape, 3))


def _pack(bits: np.ndarray) -> bytes:
    """Pack a vector whose index ``k`` is hash bit ``k`` into the 32 bytes of the hex form."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)[::-1]).tobytes()


def _pack_reference(vector: np.ndarray) -> bytes:
    # pdqhash returns bit 255 first, i.e. already in hex order.
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()


def _too_small(rgb: np.ndarray) -> bool:
    return rgb.shape[0] < MIN_HASHABLE_DIM or rgb.shape[1] < MIN_HASHABLE_DIM


def _dct(rgb: np.ndarray, *, direct64: bool) -> tuple[np.ndarray, int]:
    from hashsieve.hashing import _pdq_kernels as k

    if rgb.flags.writeable:  # one compiled specialisation: Pillow's arrays are read-only
        rgb = rgb.view()
        rgb.flags.writeable = False
    rows, cols = rgb.shape[:2]
    dct, quality = k.pdq_dct_quality(
        rgb, k.sample_indices(rows), k.sample_indices(cols), k.DCT16X64, direct64
    )
    return dct, int(quality)


def pdq_hash(image: ImageLike, *, impl: Implementation | None = None) -> PdqHash:
    """PDQ hash and quality (0-100) of an image."""
    rgb = rgb_array(image)
    if (impl or DEFAULT_IMPLEMENTATION) == "pdqhash":
        bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
        return PdqHash(_pack_reference(bits), int(quality))
    if _too_small(rgb):
        return PdqHash(_ZERO, 0)
    from hashsieve.hashing import _pdq_kernels as k

    dct, quality = _dct(rgb, direct64=True)
    return PdqHash(_pack(k.hash_bits(dct)), quality)


def pdq_dihedral(
    image: ImageLike, *, impl: Implementation | None = None
) -> tuple[list[bytes], int]:
    """The 8 dihedral PDQ hashes (see :data:`DIHEDRAL_NAMES`) and the quality, from one pass."""
    rgb = rgb_array(image)
    if (impl or DEFAULT_IMPLEMENTATION) == "pdqhash":
        vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
        return [_pack_reference(v) for v in vectors], int(quality)
    if _too_small(rgb):
        return [_ZERO] * 8, 0
    from hashsieve.hashing import _pdq_kernels as k

    dct, quality = _dct(rgb, direct64=False)
    return [_pack(row) for row in k.dihedral_bits(dct)], quality


def pdq_with_dihedral(
    image: ImageLike, *, impl: Implementation | None = None
) -> tuple[PdqHash, list[bytes]]:
    """The PDQ hash (with quality) and all 8 dihedral codes, from one pass over the pixels.

    ``hash.code`` equals :func:`pdq_hash`'s and the list equals :func:`pdq_dihedral`'s; the two
    differ only for an image of exactly 64x64 pixels, which the reference hashes unfiltered but
    filters for its dihedral hashes.
    """
    rgb = rgb_array(image)
    if (impl or DEFAULT_IMPLEMENTATION) == "pdqhash":
        codes, quality = pdq_dihedral(rgb, impl="pdqhash")
        if rgb.shape[:2] == (64, 64):
            return pdq_hash(rgb, impl="pdqhash"), codes
        return PdqHash(codes[0], quality), codes
    if _too_small(rgb):
        return PdqHash(_ZERO, 0), [_ZERO] * 8
    from hashsieve.hashing import _pdq_kernels as k

    dct, quality = _dct(rgb, direct64=False)
    codes = [_pack(row) for row in k.dihedral_bits(dct)]
    if rgb.shape[:2] == (64, 64):
        return pdq_hash(rgb), codes
    return PdqHash(codes[0], quality), codes


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def block_luma(lines: np.ndarray) -> np.ndarray:
    """Luma (float32) of a block of pixels: a luma plane as it is, RGB weighted (ITU-R 601,
    PDQ's weights). For the robust stage's edge and step readings, not for a hash."""
    return lines.astype(np.float32) if lines.ndim == 2 else lines.astype(np.float32) @ _LUMA


def is_grey_view(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` are an R = G = B view of one luma plane (:func:`rgb_array` of luma)."""
    return pixels.ndim == 3 and pixels.strides[2] == 0


def reduced(pixels: np.ndarray, side: int = 512) -> np.ndarray:
    """Pixels to hash: PDQ keeps only low frequencies, so a copy reduced to about ``side`` px
    hashes within a few bits of the full-size one, at a fraction of the cost.

    An R = G = B view of luma (a colour JPEG's decode) is reduced as its one plane and comes back
    as such a view: the same values as reducing the three equal channels, a third of the work and
    none of the copy to three channels (which cost more than the reduction itself)."""
    h, w = pixels.shape[:2]
    factor = max(h, w) // side
    if is_grey_view(pixels):
        plane = np.ascontiguousarray(pixels[:, :, 0])
        if factor >= 2:
            from hashsieve.hashing._pdq_kernels import reduce_plane

            plane = reduce_plane(plane, factor)  # Image.reduce's values, computed in numba
        return _grey_view(plane)
    if factor < 2:
        return np.ascontiguousarray(pixels)
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).reduce(factor))


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the numba kernels now, not on first use.

    Call it in a scanner's parent process before starting workers, so that forked workers inherit
    the compiled code and spawned ones find it in numba's on-disk cache.
    """
    if DEFAULT_IMPLEMENTATION == "numba":
        pdq_with_dihedral(np.zeros((8, 8, 3), dtype=np.uint8))
    from hashsieve.hashing._candidate_kernels import best_box, edge_runs, summed_areas
    from hashsieve.hashing._pdq_kernels import estimated_quality, reduce_plane

    # Pillow's arrays are read-only, copies are not: numba compiles each kind apart.
    for writeable in (False, True):
        levels = np.zeros((64, 64), dtype=np.uint8)
        levels.flags.writeable = writeable
        reduce_plane(levels, 2)
        estimated_quality(levels, 1, 1)
    plane = np.zeros((2, 2), dtype=np.float32)
    edge_runs(plane, 8.0)
    sums = summed_areas(plane, plane)
    edges = np.zeros((1, 3), dtype=np.int64)
    best_box(*sums, edges, edges, True)


def hex_to_code(value: str) -> bytes:
    """Parse a 64-hex-digit PDQ hash; raises ValueError on anything else."""
    value = value.strip()
    if len(value) != PDQ_HEX_LEN:
        raise ValueError(f"a PDQ hash has {PDQ_HEX_LEN} hex digits, not {len(value)}")
    return bytes.fromhex(value)


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two PDQ codes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
