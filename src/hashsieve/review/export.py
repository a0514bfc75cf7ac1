"""Sharing what reviewers learned: a VICS 2.0 ``#Media`` set of their categorisations, and the
data of the printable case report (with the audit log).

The VICS file carries MD5 and SHA1 as fields and SHA256 and PDQ in ``AlternativeHashes``, so
another agency's sieve (this one included: ``hashsieve hashset import``) matches the same pictures
by bytes and by look.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import func, select

from hashsieve.access import audit
from hashsieve.config import VERSION
from hashsieve.hashsets.categories import category_label
from hashsieve.report.summary import case_summary
from hashsieve.review.decisions import decision_dict
from hashsieve.review.models import Decision
from hashsieve.review.queries import groups
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, Match

VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def reviewed_media(store: Store, case: Case) -> list[dict[str, Any]]:
    """One VICS Media per content a reviewer categorised."""
    with store.session() as s:
        first = (
            select(func.min(FileRecord.id))
            .where(FileRecord.case_id == case.id)
            .group_by(FileRecord.sha256)
        )
        rows = s.execute(
            select(Decision, FileRecord)
            .join(
                FileRecord,
                (FileRecord.sha256 == Decision.sha256) & (FileRecord.case_id == Decision.case_id),
            )
            .where(
                (Decision.case_id == case.id)
                & Decision.category.is_not(None)
                & FileRecord.id.in_(first)
            )
            .order_by(FileRecord.md5)
        ).all()
    media = []
    for media_id, (d, f) in enumerate(rows, 1):
        md5 = (f.md5 or "").upper()
        item: dict[str, Any] = {"MediaID": media_id, "Category": d.category, "MD5": md5}
        if f.sha1:
            item["SHA1"] = f.sha1.upper()
        item["MediaSize"] = f.size
        if f.mime:
            item["MimeType"] = f.mime
        item["IsPrecategorized"] = "true"
        item["PrecategorizationSource"] = f"hashsieve review of case {case.name}"
        if d.series:
            item["Series"] = d.series
        for key, value in (
            ("VictimIdentified", _flag(d.victim_identified)),
            ("OffenderIdentified", _flag(d.offender_identified)),
        ):
            if value is not None:
                item[key] = value
        tags = json.loads(d.tags) if d.tags else []
        if tags:
            item["Tags"] = ", ".join(tags)
        alternatives = [{"MD5": md5, "HashName": "SHA256", "HashValue": f.sha256}]
        if f.pdq:
            alternatives.append({"MD5": md5, "HashName": "PDQ", "HashValue": f.pdq})
        item["AlternativeHashes"] = alternatives
        media.append(item)
    return media


def write_reviewed_vics(store: Store, case: Case, out: TextIO) -> int:
    """Write the reviewers' categorisations as a VICS 2.0 ``#Media`` hash set; returns the count."""
    media = reviewed_media(store, case)
    out.write("{\n")
    out.write(f'"@odata.context": {json.dumps(VICS_CONTEXT)},\n')
    out.write(f'"@hashsieve.case": {json.dumps(case.name)},\n')
    out.write(f'"@hashsieve.version": {json.dumps(VERSION)},\n')
    out.write('"value": [')
    for i, item in enumerate(media):
        out.write(",\n" if i else "\n")
        out.write(json.dumps(item, separators=(",", ":")))
    out.write("\n]\n}\n")
    return len(media)


def report(store: Store, case: Case, username: str) -> dict[str, Any]:
    """The case report: counts, categories, series, the largest new groups, and the audit log."""
    summary = case_summary(store, case.name)
    with store.session() as s:
        decisions = list(s.scalars(select(Decision).where(Decision.case_id == case.id)))
        match_series = Counter(
            series
            for series in s.scalars(
                select(Match.series)
                .join(FileRecord, FileRecord.id == Match.file_id)
                .where((FileRecord.case_id == case.id) & Match.series.is_not(None))
            )
        )
    reviewed = Counter(d.category for d in decisions if d.category is not None)
    series = Counter(d.series for d in decisions if d.series)
    events = audit.events(store, case.id, limit=None)
    views = Counter(
        (e["username"], e["action"])
        for e in events
        if e["action"] in ("view", "thumbnail", "image")
    )
    return {
        "case": case.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generated_by": username,
        "files": summary.files,
        "verdicts": summary.verdicts,
        "categories": summary.categories,
        "reviewed": {f"{c} {category_label(c)}": n for c, n in sorted(reviewed.items())},
        "flags": {
            "victim_identified": sum(1 for d in decisions if d.victim_identified),
            "offender_identified": sum(1 for d in decisions if d.offender_identified),
        },
        "series": [{"series": k, "contents": n} for k, n in sorted(series.items())],
        "hashset_series": [{"series": k, "files": n} for k, n in sorted(match_series.items())],
        "decisions": [decision_dict(d) for d in decisions],
        "groups": groups(store, case, limit=100)["groups"],
        "views": [{"username": u, "action": a, "count": n} for (u, a), n in sorted(views.items())],
        "audit": [e for e in events if e["action"] not in ("thumbnail",)],
    }
