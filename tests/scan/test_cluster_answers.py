"""The split of matching between cluster workers and the client (scan/answers.py), without a
cluster: the rule over the workers' recorded index answers tells exactly what the matcher
tells over the store's indexes, on the sample case (digests, PDQ of altered copies, a rotated
picture's dihedral variant, known-good files)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from hashsieve import import_hashset
from hashsieve.matching import Matcher, MatchHit
from hashsieve.scan.answers import IndexHits, MatchPlan, answer, match_answered
from hashsieve.scan.worker import FileResult, HashOptions, hash_evidence_file
from hashsieve.store import Store


def _told(hits: list[list[MatchHit]]) -> list[list[tuple]]:
    return [
        [(h.entry_id, h.hashset, h.algorithm, h.distance, h.variant, h.candidate) for h in x]
        for x in hits
    ]


@pytest.fixture(scope="module")
def results(sample_case: tuple[Path, Path]) -> list[FileResult]:
    evidence, _ = sample_case
    options = HashOptions(max_image_pixels=200_000_000)
    return [hash_evidence_file(str(p), options) for p in sorted(evidence.rglob("*")) if p.is_file()]


def test_the_rule_over_worker_answers_tells_what_the_matcher_tells(
    store: Store, sample_case: tuple[Path, Path], results: list[FileResult]
) -> None:
    _, sets = sample_case
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "NSRLFile.txt", "nsrl")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    matcher = Matcher(store)
    plan = MatchPlan.of(matcher)
    # As the cluster does: chunks answered apart, pickled, then matched in one client batch.
    hashed = []
    for at in range(0, len(results), 3):
        hashed += pickle.loads(pickle.dumps(answer(results[at : at + 3], plan)))
    expected = _told(matcher.match(results))
    assert _told(match_answered(matcher, [(r, h) for r, h in hashed])) == expected
    # Something of every kind was found, and files that matched nothing carry no answers.
    found = {t[2] for x in expected for t in x}
    assert {"md5", "sha1", "pdq"} <= found
    assert any(t[4] not in (None, "r0") for x in expected for t in x)  # a rotated copy
    quiet = [told for (_, hits), told in zip(hashed, expected, strict=True) if not hits]
    assert quiet and all(told == [] for told in quiet)


def test_an_empty_store_asks_nothing(store: Store, results: list[FileResult]) -> None:
    matcher = Matcher(store)
    plan = MatchPlan.of(matcher)
    assert not plan.enabled
    hashed = answer(results, plan)
    assert all(hits == IndexHits() for _, hits in hashed)
    assert match_answered(matcher, hashed) == [[] for _ in results]


def test_a_new_index_version_is_loaded_by_the_workers(
    store: Store, sample_case: tuple[Path, Path], results: list[FileResult]
) -> None:
    _, sets = sample_case
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    before = MatchPlan.of(Matcher(store))
    hits_before = sum(1 for _, h in answer(results, before) if h)
    import_hashset(store, sets / "projectvic.json", "vic")
    after = MatchPlan.of(Matcher(store))
    assert after.generation != before.generation
    assert sum(1 for _, h in answer(results, after) if h) > hits_before
