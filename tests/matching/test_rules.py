"""One matching rule, two places the hashes live: the store's indexes (:class:`Matcher`) and a
sensor's copy of the console's list (:class:`ListCopy`, built from the real
``/api/sensors/hashlist`` payload of the same store) give the same hits for the same files."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashsieve import import_hashset
from hashsieve.config import Settings
from hashsieve.hashing.content import FileResult, hash_content
from hashsieve.hashing.pdq import pdq_with_dihedral
from hashsieve.hashing.reference import centred_crop
from hashsieve.matching import Matcher, MatchHit, known_bad, verdict_of
from hashsieve.matching.hits import KNOWN
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.samples.video import sample_scenes, write_clip
from hashsieve.sensors.console import hashlist
from hashsieve.sensors.hashing import sensor_options
from hashsieve.sensors.listcopy import ListCopy
from hashsieve.store import Store

ORIGINAL = photo_like(17, (800, 600))  # a reference original: its parts are listed too
LISTED_PDQ = photo_like(102, (640, 480))  # listed by PDQ, category 2
LISTED_MD5 = jpeg_bytes(photo_like(101, (640, 480)))  # listed by MD5, category 1
NON_PERTINENT = jpeg_bytes(photo_like(103, (640, 480)))  # listed by MD5 and PDQ, category 0
BOTH = jpeg_bytes(photo_like(104, (640, 480)))  # PDQ in category 0, MD5 in category 1
ALSO_GOOD = jpeg_bytes(photo_like(105, (640, 480)))  # MD5 in category 1 and in a known-good set
FRAME = photo_like(21, (480, 360))  # a known picture shown for 1 s in a video


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _pdq(picture: Image.Image | bytes) -> str:
    image = Image.open(io.BytesIO(picture)) if isinstance(picture, bytes) else picture
    return pdq_with_dihedral(image.convert("RGB"))[0].hex


def _list(folder: Path, name: str, algorithm: str, values: list[str]) -> Path:
    path = folder / f"{name}.txt"
    path.write_text(f"# algorithm: {algorithm}\n" + "".join(f"{v}\n" for v in values))
    return path


def _letterboxed() -> bytes:
    canvas = Image.new("RGB", (800, 780), (0, 0, 0))
    canvas.paste(ORIGINAL, (0, 90))
    return jpeg_bytes(canvas, quality=88)


def _boxed() -> bytes:
    boxed = ORIGINAL.copy()
    # A light, low-contrast box the overlay detector does not take for a stamped box.
    ImageDraw.Draw(boxed).rounded_rectangle((90, 430, 700, 560), radius=30, fill=(150, 150, 150))
    return jpeg_bytes(boxed, quality=88)


def _inputs(folder: Path) -> dict[str, bytes]:
    clip = write_clip(
        folder / "shows-frame.mp4",
        [*sample_scenes([31], 2.0), (FRAME, 1.0, False), *sample_scenes([32], 2.0)],
    )
    return {
        "digest": LISTED_MD5,
        "plain-pdq": jpeg_bytes(LISTED_PDQ, quality=70),
        "dihedral": jpeg_bytes(LISTED_PDQ.transpose(Image.Transpose.ROTATE_90)),
        "candidate-region": _letterboxed(),
        "reference-crop": jpeg_bytes(
            Image.fromarray(centred_crop(np.asarray(ORIGINAL), 0.05)), quality=88
        ),
        "reference-top": _boxed(),
        "reference-original": jpeg_bytes(ORIGINAL, quality=92),
        "category-0-only": NON_PERTINENT,
        "category-0-and-1": BOTH,
        "known-and-known-good": ALSO_GOOD,
        "video-frame": clip.read_bytes(),
        "unrelated": jpeg_bytes(photo_like(108, (640, 480))),
    }


@dataclass
class Case:
    results: dict[str, FileResult]
    matcher: dict[str, list[MatchHit]]
    listed: dict[str, list[MatchHit]]  # a list copy with the category-0 entries
    default: dict[str, list[MatchHit]]  # the console's default list (without them)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    folder = tmp_path_factory.mktemp("rules")
    store = Store(Settings(home=folder / "home", workers=1))
    reference = folder / "reference"
    reference.mkdir()
    (reference / "original.jpg").write_bytes(jpeg_bytes(ORIGINAL, quality=92))
    import_hashset(store, reference, "reference", category=1)
    md5s = [_md5(LISTED_MD5), _md5(BOTH), _md5(ALSO_GOOD)]
    import_hashset(store, _list(folder, "md5", "md5", md5s), "cat1-md5", category=1)
    pdqs = [_pdq(LISTED_PDQ), _pdq(FRAME)]
    import_hashset(store, _list(folder, "pdq", "pdq", pdqs), "cat2-pdq", category=2)
    np_md5 = _list(folder, "np-md5", "md5", [_md5(NON_PERTINENT)])
    import_hashset(store, np_md5, "non-pertinent-md5", category=0)
    np_pdq = _list(folder, "np-pdq", "pdq", [_pdq(NON_PERTINENT), _pdq(BOTH)])
    import_hashset(store, np_pdq, "non-pertinent-pdq", category=0)
    good = _list(folder, "good", "md5", [_md5(ALSO_GOOD)])
    import_hashset(store, good, "good", known_good=True)
    matcher = Matcher(store)
    assert matcher.wants_parts
    options = sensor_options(parts=True)
    results = {name: hash_content(data, options) for name, data in _inputs(folder).items()}
    names = list(results)
    by_matcher = dict(zip(names, matcher.match(list(results.values())), strict=True))
    listed = ListCopy()
    listed.apply(hashlist(store, non_pertinent=True))
    default = ListCopy()
    default.apply(hashlist(store))
    store.close()
    yield Case(
        results,
        by_matcher,
        {name: listed.match(r) for name, r in results.items()},
        {name: default.match(r) for name, r in results.items()},
    )


def _told(hits: list[MatchHit]) -> list[MatchHit]:
    """A hit as a sensor can tell it: entry and series names stay on the console."""
    return [replace(h, entry="", series=None) for h in hits]


#: Per input: (algorithm, hash set, category, candidate) of the Matcher's hits, in order.
EXPECTED = {
    "digest": [("md5", "cat1-md5", 1, None)],
    "plain-pdq": [("pdq", "cat2-pdq", 2, None)],
    "dihedral": [("pdq", "cat2-pdq", 2, None)],
    "candidate-region": [("pdq", "reference", 1, "trim")],
    "reference-crop": [("pdq-crop", "reference", 1, None)],
    "reference-top": [("pdq-top", "reference", 1, "top")],
    # the original itself: its digests and plain PDQ, not again through its parts
    "reference-original": [
        ("md5", "reference", 1, None),
        ("sha1", "reference", 1, None),
        ("sha256", "reference", 1, None),
        ("pdq", "reference", 1, None),
    ],
    "category-0-only": [
        ("md5", "non-pertinent-md5", 0, None),
        ("pdq", "non-pertinent-pdq", 0, None),
    ],
    "category-0-and-1": [("md5", "cat1-md5", 1, None), ("pdq", "non-pertinent-pdq", 0, None)],
    "known-and-known-good": [("md5", "cat1-md5", 1, None), ("md5", "good", None, None)],
    "video-frame": [("pdq", "cat2-pdq", 2, None)],
    "unrelated": [],
}
VERDICTS = {
    "category-0-only": ("known-good", 0),
    "category-0-and-1": ("known", 1),
    "known-and-known-good": ("known", 1),
    "reference-crop": ("known", 1),
    "plain-pdq": ("known", 2),
    "unrelated": (None, None),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_store_matches_as_expected(case: Case, name: str) -> None:
    hits = case.matcher[name]
    assert [(h.algorithm, h.hashset, h.category, h.candidate) for h in hits] == EXPECTED[name]
    assert all(h.entry_id is not None for h in hits)
    if name in VERDICTS:
        assert verdict_of(hits) == VERDICTS[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_sensor_list_copy_matches_as_the_store_does(case: Case, name: str) -> None:
    # The console ships only known sets: the list copy tells exactly their hits.
    shipped = [h for h in case.matcher[name] if h.kind == KNOWN]
    assert _told(case.listed[name]) == _told(shipped)
    assert _told(known_bad(case.listed[name])) == _told(known_bad(case.matcher[name]))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_default_list_leaves_category_0_out_and_the_rule_agrees(case: Case, name: str) -> None:
    shipped = [h for h in case.matcher[name] if h.kind == KNOWN and h.category != 0]
    assert _told(case.default[name]) == _told(shipped)
    assert _told(known_bad(case.default[name])) == _told(known_bad(case.matcher[name]))


def test_variants_and_frame_times_are_told(case: Case) -> None:
    [turned] = case.matcher["dihedral"]
    assert turned.variant not in (None, "r0")
    [frame] = case.listed["video-frame"]
    assert frame.seconds is not None and 1.5 <= frame.seconds <= 3.5


def test_category_0_alone_is_not_known_bad(case: Case) -> None:
    assert case.listed["category-0-only"]  # the copy holds and matches them ...
    assert known_bad(case.listed["category-0-only"]) == []  # ... and they are not news
    assert case.default["category-0-only"] == []
    [bad] = known_bad(case.listed["category-0-and-1"])
    assert (bad.algorithm, bad.category) == ("md5", 1)


def test_an_in_memory_list_from_records_matches_through_the_rule() -> None:
    md5 = bytes.fromhex(_md5(LISTED_MD5))
    pdq = bytes.fromhex(_pdq(LISTED_PDQ))
    known = ListCopy.from_records(
        [(1, 7, "md5", md5, 1), (2, 8, "pdq", pdq, 0), (3, 8, "pdq", pdq, 2)],
        {7: "md5s", 8: "pdqs"},
    )
    options = sensor_options()
    [by_md5] = known.match(hash_content(LISTED_MD5, options))
    assert (by_md5.entry_id, by_md5.hashset, by_md5.algorithm) == (1, "md5s", "md5")
    hits = known.match(hash_content(jpeg_bytes(LISTED_PDQ, quality=70), options))
    assert [(h.entry_id, h.category) for h in hits] == [(2, 0), (3, 2)]
    assert [h.entry_id for h in known_bad(hits)] == [3]
