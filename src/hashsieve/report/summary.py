"""Counts per verdict and per category for a case (the end-of-scan table and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hashsieve.hashsets.categories import category_label
from hashsieve.matching.verdict import VERDICT_ORDER, Verdict
from hashsieve.store import Store
from hashsieve.store.models import FileRecord


@dataclass
class CaseSummary:
    verdicts: dict[str, int]
    categories: dict[str, int]
    files: int


def case_summary(store: Store, case_name: str) -> CaseSummary:
    case = store.get_case(case_name)
    with store.session() as s:
        counts = dict(
            s.execute(
                select(FileRecord.verdict, func.count())
                .where(FileRecord.case_id == case.id)
                .group_by(FileRecord.verdict)
            ).all()
        )
        cats = s.execute(
            select(FileRecord.category, func.count())
            .where((FileRecord.case_id == case.id) & (FileRecord.verdict == Verdict.KNOWN.value))
            .group_by(FileRecord.category)
            .order_by(FileRecord.category)
        ).all()
    verdicts = {
        v.value: counts.get(v.value, 0)
        for v in sorted(VERDICT_ORDER, key=lambda v: VERDICT_ORDER[v])
    }
    categories = {
        ("uncategorised" if c is None else f"{c} {category_label(c, 'us')}"): n for c, n in cats
    }
    return CaseSummary(verdicts, categories, sum(counts.values()))
