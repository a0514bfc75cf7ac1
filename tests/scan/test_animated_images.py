"""Animated GIF/WebP are hashed frame by frame too: a known picture inside one is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashsieve import import_hashset, run_scan
from hashsieve.hashing.pdq import pdq_hash
from hashsieve.samples.images import photo_like
from hashsieve.store import Store

SIZE = (320, 240)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_a_known_picture_shown_in_an_animation_is_known(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    opening, known = photo_like(901, SIZE), photo_like(902, SIZE)
    listing = tmp_path / "known.txt"
    listing.write_text(f"pdq {pdq_hash(known).hex}\n")
    import_hashset(store, listing, "known")
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    frames = [opening] * 3 + [known] * 3  # 1.5 s of something else, then 1.5 s of the known one
    frames[0].save(
        evidence / f"anim.{fmt.lower()}",
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=500,
        loop=0,
    )
    jsonl = tmp_path / "r.jsonl"
    run_scan(store, "anim", [str(evidence)], jsonl_path=jsonl)
    (record,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert record["media_type"] == f"image/{fmt.lower()}"
    assert record["verdict"] == "known", record
    hit = record["matches"][0]
    assert hit["hashset"] == "known" and hit["distance"] <= 31
    assert hit.get("seconds") is not None and 1.0 <= hit["seconds"] <= 2.0
