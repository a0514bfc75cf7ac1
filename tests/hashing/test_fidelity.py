"""The scan's PDQ is the field's PDQ on real photographs (bench/fidelity in small form).

The field's hash is ``pdqhash`` on the fully decoded RGB pixels. The scan's decode rule
(``open_image`` with its defaults: a colour JPEG decoded at full size to its Y channel) must stay
within 16 bits of it on every picture, and close on average; the old fast path (libjpeg DCT
scaling to a short side of 256) is shown to miss the bound on these pictures, so the test cannot
pass vacuously. Crops of real wallpapers, see tests/data/fidelity/PROVENANCE.md.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from hashsieve.hashing import pdq
from hashsieve.hashing.decode import open_image

DATA = Path(__file__).resolve().parents[1] / "data" / "fidelity"
PICTURES = ("analog-pattern.jpg", "storm.jpg", "life.jpg")
MAX_PIXELS = 100_000_000
BOUND = 16


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def copies(name: str) -> dict[str, bytes]:
    """The picture as committed (its own size) and scaled to a 12 MP phone photo."""
    data = (DATA / name).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        phone = (4032, 3024) if w > h else (3024, 4032)
        return {"own": data, "phone": _jpeg(im.convert("RGB").resize(phone, Image.LANCZOS), 90)}


def field(data: bytes) -> pdq.PdqHash:
    with Image.open(io.BytesIO(data)) as im:
        return pdq.pdq_hash(im.convert("RGB"), impl="pdqhash")


def old_fast_path(data: bytes) -> bytes:
    """The rule this replaced: DCT-scaled decode keeping the short side at least 256."""
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        scale = next((s for s in (8, 4, 2) if min(w, h) // s >= 256), 1)
        im.draft("RGB", (w // scale, h // scale))
        return pdq.pdq_hash(im.convert("RGB")).code


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], tuple[int, int, int]]:
    """(picture, size class) -> (bits of the scan's rule, bits of the old rule, field quality)."""
    out = {}
    for name in PICTURES:
        for cls, data in copies(name).items():
            ref = field(data)
            ours = pdq.pdq_hash(open_image(data, max_pixels=MAX_PIXELS).image)
            out[name, cls] = (
                pdq.distance(ours.code, ref.code),
                pdq.distance(old_fast_path(data), ref.code),
                ref.quality,
            )
    return out


@pytest.mark.parametrize("cls", ["own", "phone"])
@pytest.mark.parametrize("name", PICTURES)
def test_scan_rule_is_within_bound_of_field_hash(
    measured: dict[tuple[str, str], tuple[int, int, int]], name: str, cls: str
) -> None:
    ours, _, quality = measured[name, cls]
    assert quality >= 50  # a hash every list would hold, not a flat picture's noise
    assert ours <= BOUND


def test_scan_rule_is_close_on_average(
    measured: dict[tuple[str, str], tuple[int, int, int]],
) -> None:
    bits = [ours for ours, _, _ in measured.values()]
    assert sum(bits) / len(bits) <= 4


def test_old_fast_path_misses_the_bound_here(
    measured: dict[tuple[str, str], tuple[int, int, int]],
) -> None:
    """These pictures are the hard case: the replaced rule lands more than 16 bits away."""
    old = {key: o for key, (_, o, _) in measured.items()}
    assert max(old.values()) >= BOUND + 4, old
    assert sum(o > BOUND for o in old.values()) >= 3, old
