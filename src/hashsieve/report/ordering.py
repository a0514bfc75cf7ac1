"""Near-duplicate groups and the review order: new material first, largest groups first.

Byte-identical copies (same SHA-256) and new images within the PDQ group threshold of each
other (transitively) form one group, so an examiner sees a series once, not once per copy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Select, Table, case, func, nulls_last, select, update
from sqlalchemy.orm import Session

from hashsieve.config import Settings
from hashsieve.index.pdq_index import MultiIndexPdqIndex
from hashsieve.matching.verdict import VERDICT_ORDER, Verdict
from hashsieve.store import Store
from hashsieve.store.models import FileRecord, Match

FILES = cast(Table, FileRecord.__table__)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def assign_groups(store: Store, case_id: int, settings: Settings) -> int:
    """(Re)compute every file's group in the case; returns the number of new-material groups."""
    with store.session() as s:
        rows = s.execute(
            select(
                FileRecord.id,
                FileRecord.sha256,
                FileRecord.pdq,
                FileRecord.quality,
                FileRecord.verdict,
            )
            .where(FileRecord.case_id == case_id)
            .order_by(FileRecord.id)
        ).all()
    if not rows:
        return 0
    uf = _UnionFind(len(rows))
    first_by_sha: dict[str, int] = {}
    for i, (_, sha256, *_rest) in enumerate(rows):
        if sha256:
            uf.union(first_by_sha.setdefault(sha256, i), i)
    new_pdq = [
        i
        for i, (_, _, pdq, quality, verdict) in enumerate(rows)
        if verdict == Verdict.NEW and pdq and (quality or 0) >= settings.pdq_min_quality
    ]
    if len(new_pdq) > 1:
        codes = np.frombuffer(
            b"".join(bytes.fromhex(rows[i][2] or "") for i in new_pdq), dtype=np.uint8
        ).reshape(-1, 32)
        index = MultiIndexPdqIndex()
        index.add(np.arange(len(new_pdq), dtype=np.uint32), codes)
        q_rows, ids, _ = index.query(codes, settings.group_threshold)
        for a, b in zip(q_rows.tolist(), ids.tolist(), strict=True):
            if a != b:
                uf.union(new_pdq[a], new_pdq[b])
    roots = [uf.find(i) for i in range(len(rows))]
    sizes: dict[int, int] = {}
    for r in roots:
        sizes[r] = sizes.get(r, 0) + 1
    updates = [
        {"fid": rows[i][0], "gid": rows[root][0], "gsize": sizes[root]}
        for i, root in enumerate(roots)
    ]
    with store.session() as s:
        from sqlalchemy import bindparam

        s.connection().execute(
            update(FILES)
            .where(FILES.c.id == bindparam("fid"))
            .values(group_id=bindparam("gid"), group_size=bindparam("gsize")),
            updates,
        )
    return len({roots[i] for i in range(len(rows)) if rows[i][4] == Verdict.NEW})


def review_order(case_id: int) -> Select[Any]:
    """Files of a case in review order."""
    verdict_rank = case(
        *((FileRecord.verdict == v.value, rank) for v, rank in VERDICT_ORDER.items()), else_=99
    )
    is_new = FileRecord.verdict == Verdict.NEW.value
    return (
        select(FileRecord)
        .where(FileRecord.case_id == case_id)
        .order_by(
            verdict_rank,
            case((is_new, -func.coalesce(FileRecord.group_size, 1)), else_=0),
            case((is_new, FileRecord.group_id), else_=0),
            nulls_last(FileRecord.category),
            FileRecord.path_key,
        )
    )


def matches_by_file(session: Session, file_ids: list[int]) -> dict[int, list[Match]]:
    """The matches of these files (best first), in one query."""
    by_file: dict[int, list[Match]] = {file_id: [] for file_id in file_ids}
    for match in session.scalars(
        select(Match)
        .where(Match.file_id.in_(file_ids))
        .order_by(Match.file_id, Match.distance, Match.id)
    ):
        by_file[match.file_id].append(match)
    return by_file


def iter_review(store: Store, case_id: int) -> Iterator[tuple[FileRecord, list[Match]]]:
    """(file, its matches) in review order, streamed; matches read a chunk of files at a time."""
    with store.session() as s:
        files = s.scalars(review_order(case_id).execution_options(yield_per=2000))
        for chunk in files.partitions():
            chunk = cast(list[FileRecord], chunk)
            by_file = matches_by_file(s, [f.id for f in chunk])
            for file in chunk:
                yield file, by_file[file.id]


def file_line(file: FileRecord, matches: list[Match]) -> dict[str, object]:
    """The JSON Lines form of a stored file (the same fields the scan writes as it goes)."""
    return {
        "path": os.fsdecode(file.path_key),
        "size": file.size,
        "md5": file.md5,
        "sha1": file.sha1,
        "sha256": file.sha256,
        "media_type": file.mime,
        "pdq": file.pdq,
        "quality": file.quality,
        "decode_scale": file.decode_scale,
        "verdict": file.verdict,
        "category": file.category,
        "matches": [
            {
                "hashset": m.hashset,
                "entry": m.entry,
                "algorithm": m.algorithm,
                "distance": m.distance,
                "category": m.category,
                **({"series": m.series} if m.series else {}),
                **({"variant": m.variant} if m.variant and m.variant != "r0" else {}),
                **({"seconds": round(m.seconds, 3)} if m.seconds is not None else {}),
                **({"coverage": round(m.coverage, 1)} if m.coverage is not None else {}),
                **({"candidate": m.candidate} if m.candidate else {}),
                **({"seen_by": json.loads(m.origin)} if m.origin else {}),
            }
            for m in matches
        ],
        "error": file.error,
        "recovered": file.recovered,
        "offset": file.offset,
        "width": file.width,
        "height": file.height,
        "group": file.group_id,
        "group_size": file.group_size,
        "metadata": json.loads(file.metadata_json) if file.metadata_json else None,
        # Other cases of the store holding it already (matching/crosscase.py).
        **({"crosscase": json.loads(file.crosscase_json)} if file.crosscase_json else {}),
    }


def write_review_jsonl(store: Store, case_id: int, path: Path) -> int:
    """Rewrite ``path`` with every file of the case in review order (atomic replace)."""
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for file, matches in iter_review(store, case_id):
            out.write(json.dumps(file_line(file, matches)) + "\n")
            n += 1
    os.replace(tmp, path)
    return n
