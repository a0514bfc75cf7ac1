"""Screenshots of a playing video match a frame of a clip of the right subject (issue 5's bar).

``../shared/conformance/vpdq/screenshots/`` holds 15 desktop screenshots of the conformance clips
playing in a player window (title bar laid over the picture, black borders, player controls over
its lower part). Plain PDQ of a whole screenshot matches none of them (74-102 bits from the
nearest frame). Bar: at least 13 of 15 match a frame of a clip of the right subject within 31,
through the robust-matching candidates and the 8 dihedral variants exactly as the matcher queries
them, and none matches a clip of another subject. Measured now: 14 of 15, none wrong.

The subjects of the clips come from their file names (``chair-...``, ``doorknob-...``,
``pattern-...``); which subject each screenshot shows was read off the screenshots (the player's
title bar names the clip). Without the conformance folder these tests skip (and fail in CI).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashsieve.config import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashsieve.hashing.candidates import THRESHOLDS, candidate_hashes
from hashsieve.hashing.pdq import pdq_with_dihedral

from ..conftest import CONFORMANCE, needs_conformance

VPDQ = CONFORMANCE / "vpdq"
needs_data = needs_conformance(VPDQ / "screenshots")

#: Screenshot (by its time stamp) -> the subject it shows.
SUBJECTS = {
    "8.05.04": "chair",
    "8.05.13": "chair",
    "8.05.20": "chair",
    "8.05.27": "chair",
    "8.05.34": "chair",
    "8.05.39": "chair",
    "8.05.43": "chair",
    "8.05.47": "chair",
    "8.05.56": "chair",
    "8.05.59": "doorknob",
    "8.06.05": "pattern",
    "8.06.11": "pattern",
    "8.06.16": "pattern",
    "8.06.22": "pattern",
    "8.06.30": "pattern",
}
NEEDED = 13  # issue 5's bar
REACHED = 14  # measured with the current candidates (docs/robust-matching.md)


def _stamp(path: Path) -> str:
    return path.stem.split("_at_")[1].removesuffix("_PM")


@functools.cache
def frames_by_subject() -> dict[str, np.ndarray]:
    """Every usable frame hash of every clip (full-size files), grouped by the clip's subject."""
    codes: dict[str, list[bytes]] = {}
    for path in sorted((VPDQ / "expected").glob("*.txt")):
        if path.stem.endswith("-128x128") or path.stem.startswith("test-"):
            continue
        subject = path.stem.split("-")[0]
        for line in path.read_text().splitlines():
            _frame, quality, pdq_hex, _seconds = line.split(",")
            if int(quality) >= PDQ_MIN_QUALITY:
                codes.setdefault(subject, []).append(bytes.fromhex(pdq_hex))
    return {s: np.frombuffer(b"".join(c), np.uint8).reshape(-1, 32) for s, c in codes.items()}


def _nearest(codes: bytes, frames: np.ndarray) -> int:
    queries = np.frombuffer(codes, np.uint8).reshape(-1, 32)
    xor = queries[:, None, :] ^ frames[None, :, :]
    return int(np.unpackbits(xor, axis=2).sum(axis=2).min())


@functools.cache
def outcome(name: str) -> dict[str, tuple[bool, int, str]]:
    """Per subject: (matched, nearest distance, region): regions match within their thresholds."""
    image = Image.open(VPDQ / "screenshots" / name).convert("RGB")
    pdq, dihedral = pdq_with_dihedral(image)
    regions = [("image", pdq.quality, b"".join(dihedral), PDQ_MATCH_THRESHOLD)]
    regions += [(c.name, c.quality, c.codes, THRESHOLDS[c.name]) for c in candidate_hashes(image)]
    out: dict[str, tuple[bool, int, str]] = {}
    for subject, frames in frames_by_subject().items():
        found = [
            (_nearest(codes, frames), region, threshold)
            for region, quality, codes, threshold in regions
            if quality >= PDQ_MIN_QUALITY
        ]
        hits = [(d, region) for d, region, threshold in found if d <= threshold]
        d, region = min(hits) if hits else min((d, region) for d, region, _ in found)
        out[subject] = (bool(hits), d, region)
    return out


def _matches(name: str, subject: str) -> bool:
    return outcome(name)[subject][0]


SHOTS = sorted(p.name for p in (VPDQ / "screenshots").glob("*.png")) if VPDQ.is_dir() else []


@needs_data
def test_every_screenshot_has_a_known_subject() -> None:
    assert sorted(_stamp(Path(n)) for n in SHOTS) == sorted(SUBJECTS)
    assert set(SUBJECTS.values()) <= set(frames_by_subject())


@needs_data
@pytest.mark.parametrize("name", SHOTS or [pytest.param("", id="no-data")])
def test_no_screenshot_matches_a_clip_of_another_subject(name: str) -> None:
    right = SUBJECTS[_stamp(Path(name))]
    wrong = {s: outcome(name)[s] for s in frames_by_subject() if s != right}
    assert not any(_matches(name, s) for s in wrong), wrong


def _matched() -> list[str]:
    return [n for n in SHOTS if _matches(n, SUBJECTS[_stamp(Path(n))])]


@needs_data
def test_as_many_screenshots_match_as_measured() -> None:
    """What the candidates reach today (no regression below it)."""
    results = {n: outcome(n)[SUBJECTS[_stamp(Path(n))]] for n in SHOTS}
    assert len(_matched()) >= REACHED, results


@needs_data
def test_at_least_13_of_15_screenshots_match_a_frame_of_their_subject() -> None:
    assert len(_matched()) >= NEEDED


@needs_data
def test_plain_pdq_of_the_whole_screenshot_matches_none() -> None:
    """The reason for candidates: the whole screenshot is 74-102 bits from every frame."""
    assert SHOTS
    for name in SHOTS:
        image = Image.open(VPDQ / "screenshots" / name).convert("RGB")
        _, dihedral = pdq_with_dihedral(image)
        assert min(_nearest(b"".join(dihedral), f) for f in frames_by_subject().values()) > 31
