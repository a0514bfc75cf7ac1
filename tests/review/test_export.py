"""Sharing: the reviewers' categories as VICS 2.0 that the sieve itself imports (round trip)."""

from __future__ import annotations

import json
from pathlib import Path

from hashsieve import import_hashset, run_scan
from hashsieve.config import Settings
from hashsieve.report.ordering import file_line, iter_review
from hashsieve.store import Store
from tests.review.conftest import CASE, Api


def test_reviewed_vics_round_trips_into_another_store(
    alice: Api, review_store: Store, sample_case: tuple[Path, Path], tmp_path: Path
) -> None:
    evidence, _ = sample_case
    groups = alice.client.get(f"/api/cases/{CASE}/groups").json()["groups"]
    series, copies = groups[0], next(g for g in groups if g["tiles"][0]["copies"] == 2)
    alice.post(
        f"/api/cases/{CASE}/decisions",
        {
            "group": series["group"],
            "set": {"category": 1, "series": "lake", "victim_identified": True},
        },
    )
    alice.post(f"/api/cases/{CASE}/decisions", {"group": copies["group"], "set": {"category": 0}})

    r = alice.client.get(f"/api/cases/{CASE}/export/vics")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    vics = r.json()
    assert vics["@odata.context"].endswith("$metadata#Media")
    media = vics["value"]
    assert len(media) == 4
    for item in media:
        names = {a["HashName"] for a in item["AlternativeHashes"]}
        assert names == {"SHA256", "PDQ"} and len(item["MD5"]) == 32
    assert {m["Category"] for m in media} == {0, 1}
    assert {m.get("Series") for m in media if m["Category"] == 1} == {"lake"}
    path = tmp_path / "reviewed.json"
    path.write_text(r.text)

    # Another agency: a fresh store that knows only what this review exported.
    other = Store(Settings(home=tmp_path / "agency-b", workers=2))
    try:
        summary = import_hashset(other, path, "from-op-test")
        assert summary.refused == 0 and summary.by_algorithm["pdq"] == 4
        run_scan(other, "rescan", [str(evidence)])
        case = other.get_case("rescan")
        lines = {
            Path(str(line["path"])).name: line
            for line in (file_line(f, m) for f, m in iter_review(other, case.id))
        }
    finally:
        other.close()
    for name in ("series-1.jpg", "series-2.jpg", "series-3.jpg"):
        assert (lines[name]["verdict"], lines[name]["category"]) == ("known", 1), name
        assert {m["series"] for m in lines[name]["matches"]} == {"lake"}  # type: ignore[union-attr]
    for name in ("other-1.jpg", "copy-of-other-1.jpg"):
        assert lines[name]["verdict"] == "known-good"  # category 0: non-pertinent
    assert lines["other-2.jpg"]["verdict"] == "new"  # not categorised, not exported
    events = alice.client.get(f"/api/cases/{CASE}/audit").json()["events"]
    assert any(e["action"] == "export" and e["new"] == 4 for e in events)
    assert json.loads(path.read_text())["@hashsieve.case"] == CASE
