"""What the review pages show, as plain data: dashboard, groups, file detail, similar, places.

Every page of the web app and its JSON twin are built from these functions; they take a store
and return dicts and lists ready for JSON.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select

from hashsieve.config import PDQ_MATCH_THRESHOLD
from hashsieve.hashsets.categories import US_CATEGORIES, category_label
from hashsieve.matching.crosscase import current_links
from hashsieve.matching.verdict import Verdict
from hashsieve.report.ordering import file_line
from hashsieve.report.summary import case_summary
from hashsieve.review import geo, kept
from hashsieve.review.decisions import decision_dict, decisions_for
from hashsieve.review.models import Decision
from hashsieve.sources import readers
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord, HashSet, Match, Scan

GROUP_KEY = func.coalesce(FileRecord.group_id, FileRecord.id)
#: Metadata shown in the detail view, in this order.
METADATA_FIELDS = (
    "Make",
    "Model",
    "BodySerialNumber",
    "LensModel",
    "LensSerialNumber",
    "CameraOwnerName",
    "Software",
    "DateTimeOriginal",
    "DateTime",
    "GPSLatitude",
    "GPSLongitude",
    "Orientation",
)


def categories() -> list[dict[str, Any]]:
    return [{"code": c, "label": label} for c, label in US_CATEGORIES.items()]


#: Per case and version of its files: verdict counts, known sections, the map (see kept).
_KEPT = kept.Kept(256)


def _files_key(store: Store, case_id: int, what: str) -> tuple[Any, ...] | None:
    with store.session() as s:
        version = kept.files_version(s, store, case_id)
    return None if version is None else (what, *version)


def dashboard(store: Store, case: Case) -> dict[str, Any]:
    """Counts of a case: those of its files (a walk of a million rows) kept per version of its
    files; reviewers' counts, scans and hash sets read each time."""
    summary = _KEPT.get(
        _files_key(store, case.id, "summary"), lambda: case_summary(store, case.name)
    )
    used_key = _files_key(store, case.id, "matched")
    with store.session() as s:
        scans = []
        for scan in s.scalars(select(Scan).where(Scan.case_id == case.id).order_by(Scan.id)):
            stored = (  # a running scan's rows so far (a count, so not for finished ones)
                scan.files
                if scan.status == "completed"
                else s.scalar(select(func.count()).where(FileRecord.scan_id == scan.id)) or 0
            )
            scans.append(
                {
                    "id": scan.id,
                    "roots": json.loads(scan.root),
                    "status": scan.status,
                    "started_at": scan.started_at.isoformat(timespec="seconds"),
                    "finished_at": scan.finished_at.isoformat(timespec="seconds")
                    if scan.finished_at
                    else None,
                    "files": scan.files if scan.status == "completed" else stored,
                }
            )
        used: dict[str, int] = _KEPT.get(
            used_key,
            lambda: dict(
                s.execute(
                    select(Match.hashset, func.count(func.distinct(Match.file_id)))
                    .join(FileRecord, FileRecord.id == Match.file_id)
                    .where(FileRecord.case_id == case.id)
                    .group_by(Match.hashset)
                ).all()
            ),
        )
        hashsets = [
            {
                "name": hs.name,
                "kind": hs.kind,
                "format": hs.format,
                "entries": hs.entries,
                "complete": hs.complete,
                "files_matched": used.get(hs.name, 0),
            }
            for hs in s.scalars(select(HashSet).order_by(HashSet.name))
        ]
        for name, n in used.items():  # sets deleted since: the case keeps their record
            if not any(h["name"] == name for h in hashsets):
                hashsets.append({"name": name, "deleted": True, "files_matched": n})
        reviewed = dict(
            s.execute(
                select(Decision.category, func.count())
                .where((Decision.case_id == case.id) & Decision.category.is_not(None))
                .group_by(Decision.category)
            ).all()
        )
    return {
        "case": case.name,
        "files": summary.files,
        "verdicts": summary.verdicts,
        "categories": summary.categories,
        "reviewed": {
            f"{code} {category_label(code)}": reviewed.get(code, 0) for code in US_CATEGORIES
        },
        "reviewers": reviewers(store, case.id).get(case.id, []),
        "scans": scans,
        "scanning": any(sc["status"] == "running" for sc in scans),
        "hashsets": hashsets,
    }


def reviewers(store: Store, case_id: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """Per case: who categorised how many contents (the last reviewer of each decision)."""
    cond: Any = Decision.category.is_not(None)
    if case_id is not None:
        cond = cond & (Decision.case_id == case_id)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with store.session() as s:
        for cid, who, n in s.execute(
            select(Decision.case_id, Decision.updated_by, func.count())
            .where(cond)
            .group_by(Decision.case_id, Decision.updated_by)
            .order_by(Decision.case_id, func.count().desc())
        ):
            out[cid].append({"username": who, "categorised": n})
    return out


def case_list(store: Store, served: str | None = None) -> list[dict[str, Any]]:
    """Every case with its counts: files per verdict, reviewed so far (by whom), its scans.

    A case's verdict counts are kept per version of its files (see :mod:`kept`)."""
    with store.session() as s:
        cases = list(s.scalars(select(Case).order_by(Case.name)))
        if served is not None:
            cases = [c for c in cases if c.name == served]
        ids = [c.id for c in cases]
        keys: dict[int, tuple[Any, ...] | None] = {}
        for cid in ids:
            version = kept.files_version(s, store, cid)
            keys[cid] = None if version is None else ("verdicts", *version)
        verdicts: dict[int, dict[str, int]] = defaultdict(dict)
        missing = []
        for cid in ids:
            got = _KEPT.peek(keys[cid])
            if got is not None:
                verdicts[cid] = got
            else:
                missing.append(cid)
        for cid, verdict, n in s.execute(
            select(FileRecord.case_id, FileRecord.verdict, func.count())
            .where(FileRecord.case_id.in_(missing))
            .group_by(FileRecord.case_id, FileRecord.verdict)
        ):
            verdicts[cid][verdict] = n
        for cid in missing:
            _KEPT.put(keys[cid], dict(verdicts[cid]))
        scans: dict[int, list[Scan]] = defaultdict(list)
        for scan in s.scalars(select(Scan).where(Scan.case_id.in_(ids)).order_by(Scan.id)):
            scans[scan.case_id].append(scan)
    by_whom = reviewers(store)
    out = []
    for c in cases:
        counts = verdicts[c.id]
        last = scans[c.id][-1] if scans[c.id] else None
        out.append(
            {
                "name": c.name,
                "created_at": c.created_at.isoformat(timespec="seconds"),
                "files": sum(counts.values()),
                "verdicts": {v.value: counts.get(v.value, 0) for v in Verdict},
                "reviewed": sum(r["categorised"] for r in by_whom.get(c.id, [])),
                "reviewers": by_whom.get(c.id, []),
                "scans": len(scans[c.id]),
                "scanning": any(sc.status == "running" for sc in scans[c.id]),
                "last_scan": None
                if last is None
                else {
                    "id": last.id,
                    "status": last.status,
                    "started_at": last.started_at.isoformat(timespec="seconds"),
                    "finished_at": last.finished_at.isoformat(timespec="seconds")
                    if last.finished_at
                    else None,
                },
            }
        )
    return out


#: The ``recovered`` values a listing can be narrowed to (``any``: every recovered file).
RECOVERED_KINDS = readers.RECOVERED_KINDS


def _verdict_filter(
    case_id: int,
    verdict: str,
    category: int | None,
    uncategorised: bool,
    recovered: str | None = None,
) -> Any:
    cond = (FileRecord.case_id == case_id) & (FileRecord.verdict == verdict)
    if recovered == "any":
        cond = cond & FileRecord.recovered.is_not(None)
    elif recovered is not None:
        cond = cond & (FileRecord.recovered == recovered)
    if uncategorised:
        cond = cond & FileRecord.category.is_(None)
    elif category is not None:
        cond = cond & (FileRecord.category == category)
    return cond


def known_sections(store: Store, case: Case) -> list[dict[str, Any]]:
    """Known material collapsed by category: one section per category with its counts."""
    key = _files_key(store, case.id, "known")
    return list(_KEPT.get(key, lambda: _known_sections(store, case)))


def _known_sections(store: Store, case: Case) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(
            select(FileRecord.category, func.count(), func.count(func.distinct(FileRecord.sha256)))
            .where((FileRecord.case_id == case.id) & (FileRecord.verdict == Verdict.KNOWN.value))
            .group_by(FileRecord.category)
            .order_by(func.coalesce(FileRecord.category, 1000))
        ).all()
    return [
        {
            "category": c,
            "label": category_label(c),
            "files": n,
            "tiles": tiles,
            "query": f"verdict=known&category={'none' if c is None else c}",
        }
        for c, n, tiles in rows
    ]


def groups(
    store: Store,
    case: Case,
    *,
    verdict: str = Verdict.NEW.value,
    category: int | None = None,
    uncategorised: bool = False,
    recovered: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """Groups of a case, largest first; each group's tiles are its distinct contents.

    A tile stacks byte-identical copies (``copies``); a group is a near-duplicate series (new
    material within the PDQ group threshold) or one content and its copies. ``recovered``
    keeps only files recovered that way (``deleted``, ``carved``, ...; ``any``: all of them).
    """
    cond = _verdict_filter(case.id, verdict, category, uncategorised, recovered)
    with store.session() as s:
        total = s.scalar(select(func.count(func.distinct(GROUP_KEY))).where(cond)) or 0
        page = s.execute(
            select(GROUP_KEY.label("g"), func.count().label("n"))
            .where(cond)
            .group_by(GROUP_KEY)
            .order_by(func.count().desc(), GROUP_KEY)
            .offset(offset)
            .limit(limit)
        ).all()
        keys = [g for g, _ in page]
        members: dict[int, list[FileRecord]] = defaultdict(list)
        if keys:
            for f in s.scalars(
                select(FileRecord).where(cond & GROUP_KEY.in_(keys)).order_by(FileRecord.path_key)
            ):
                members[f.group_id if f.group_id is not None else f.id].append(f)
        shas = [f.sha256 for fs in members.values() for f in fs if f.sha256]
        decided = decisions_for(s, case.id, shas)
        out = []
        for g, n in page:
            tiles: dict[str, dict[str, Any]] = {}
            for f in members[g]:
                key = f.sha256 or f"file-{f.id}"
                tile = tiles.get(key)
                if tile is None:
                    tiles[key] = _tile(f, decided.get(f.sha256 or ""))
                else:
                    tile["copies"] += 1
            out.append({"group": g, "files": n, "tiles": list(tiles.values())})
    return {
        "case": case.name,
        "verdict": verdict,
        "category": category,
        "uncategorised": uncategorised,
        "recovered": recovered,
        "offset": offset,
        "limit": limit,
        "total_groups": total,
        "groups": out,
        "known": known_sections(store, case) if verdict == Verdict.NEW.value else [],
    }


def _tile(f: FileRecord, decision: Decision | None) -> dict[str, Any]:
    return {
        "file_id": f.id,
        "sha256": f.sha256,
        "name": os.path.basename(os.fsdecode(f.path_key)),
        "copies": 1,
        "media_kind": f.media_kind,
        "verdict": f.verdict,
        "category": f.category,
        "width": f.width,
        "height": f.height,
        "recovered": f.recovered,
        "offset": f.offset,
        "review": decision_dict(decision),
    }


def file_detail(store: Store, case: Case, file: FileRecord) -> dict[str, Any]:
    """Everything about one file: every path of its content, hashes, matches, metadata."""
    with store.session() as s:
        matches = list(
            s.scalars(select(Match).where(Match.file_id == file.id).order_by(Match.distance))
        )
        copies = []
        if file.sha256:
            for other in s.scalars(
                select(FileRecord)
                .where((FileRecord.case_id == case.id) & (FileRecord.sha256 == file.sha256))
                .order_by(FileRecord.path_key)
            ):
                copies.append({"file_id": other.id, "path": other.path_text})
                if other.id != file.id:
                    for m in s.scalars(select(Match).where(Match.file_id == other.id)):
                        if not any(x.entry == m.entry and x.hashset == m.hashset for x in matches):
                            matches.append(m)
        else:
            copies.append({"file_id": file.id, "path": file.path_text})
        group_size = (
            s.scalar(
                select(func.count()).where(
                    (FileRecord.case_id == case.id) & (GROUP_KEY == (file.group_id or file.id))  # noqa: SIM300
                )
            )
            or 1
        )
        decision = decisions_for(s, case.id, [file.sha256 or ""]).get(file.sha256 or "")
        line = file_line(file, matches)
        if line.get("crosscase"):  # other cases' categories as their reviewers have them now
            line["crosscase"] = current_links(s, line["crosscase"])  # type: ignore[arg-type]
    metadata = line.get("metadata") or {}
    assert isinstance(metadata, dict)
    return {
        **line,
        "file_id": file.id,
        "case": case.name,
        "name": os.path.basename(os.fsdecode(file.path_key)),
        "media_kind": file.media_kind,
        "paths": copies,
        "group_size": group_size,
        "category_label": category_label(file.category) if file.verdict == "known" else None,
        "identifying_metadata": {k: metadata[k] for k in METADATA_FIELDS if k in metadata},
        "gps": _gps(metadata),
        "review": decision_dict(decision),
    }


def _gps(metadata: dict[str, Any]) -> dict[str, float] | None:
    lat, lon = metadata.get("GPSLatitude"), metadata.get("GPSLongitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return {"lat": float(lat), "lon": float(lon)}
    return None


#: Points the dashboard's small map draws at most (evenly spaced; the map page has them all).
DASHBOARD_POINTS = 500


def case_map(store: Store, case: Case) -> dict[str, Any]:
    """The dashboard's map of the case's GPS positions, kept per version of its files.

    ``positions`` is how many there are; ``points`` at most :data:`DASHBOARD_POINTS` of them
    (a page of 5,000 linked points was 1.2 MB and a second to render)."""

    def make() -> dict[str, Any]:
        points = places(store, case)
        step = max(1, -(-len(points) // DASHBOARD_POINTS))
        return {**geo.map_view(points[::step]), "positions": len(points)}

    return dict(_KEPT.get(_files_key(store, case.id, "map"), make))


#: GPS positions a map shows at most (the first files of the case; a file asked for is added).
MAX_PLACES = 5000


def places(store: Store, case: Case, *, include: int | None = None) -> list[dict[str, Any]]:
    """GPS positions found in the case's metadata (one point per file, up to MAX_PLACES).

    Files are found through the facets' GPS column (an index, not a scan of every file's
    metadata); ``include`` adds that file's position when it has one.
    """
    from hashsieve.review import facets
    from hashsieve.review.models import Facet

    facets.refresh(store, case.id)
    points = []
    with store.session() as s:
        with_gps = select(Facet.file_id).where((Facet.case_id == case.id) & Facet.gps.is_(True))
        ids = list(s.scalars(with_gps.order_by(Facet.file_id).limit(MAX_PLACES)))
        if include is not None and include not in ids:
            ids += list(s.scalars(with_gps.where(Facet.file_id == include)))
        for i in range(0, len(ids), 500):
            rows = s.execute(
                select(FileRecord.id, FileRecord.path_key, FileRecord.metadata_json).where(
                    FileRecord.id.in_(ids[i : i + 500])
                )
            )
            for file_id, key, meta in rows:
                gps = _gps(json.loads(meta or "{}"))
                if gps:
                    points.append(
                        {"file_id": file_id, "name": os.path.basename(os.fsdecode(key)), **gps}
                    )
    return points


def similar(
    store: Store, case: Case, file: FileRecord, distance: int = PDQ_MATCH_THRESHOLD
) -> dict[str, Any]:
    """Every content of the case whose PDQ hash is within ``distance`` bits of the file's."""
    distance = max(0, min(int(distance), 128))
    result: dict[str, Any] = {
        "case": case.name,
        "file_id": file.id,
        "pdq": file.pdq,
        "distance": distance,
        "tiles": [],
    }
    if not file.pdq:
        return result
    with store.session() as s:
        rows = s.execute(
            select(FileRecord.id, FileRecord.sha256, FileRecord.pdq)
            .where((FileRecord.case_id == case.id) & FileRecord.pdq.is_not(None))
            .order_by(FileRecord.id)
        ).all()
        if not rows:
            return result
        codes = np.frombuffer(b"".join(bytes.fromhex(r[2] or "") for r in rows), np.uint8).reshape(
            -1, 32
        )
        probe = np.frombuffer(bytes.fromhex(file.pdq), np.uint8)
        dist = np.unpackbits(codes ^ probe, axis=1).sum(axis=1)
        best: dict[str, tuple[int, int]] = {}
        for (fid, sha, _), d in zip(rows, dist.tolist(), strict=True):
            if d <= distance:
                key = sha or f"file-{fid}"
                if key not in best or d < best[key][0]:
                    best[key] = (d, fid)
        ids = {fid: d for d, fid in best.values()}
        files = {f.id: f for f in s.scalars(select(FileRecord).where(FileRecord.id.in_(ids)))}
        decided = decisions_for(s, case.id, [f.sha256 for f in files.values() if f.sha256])
        tiles = []
        for fid, d in sorted(ids.items(), key=lambda kv: (kv[1], kv[0])):
            f = files[fid]
            tile = _tile(f, decided.get(f.sha256 or ""))
            tile["distance"] = d
            tiles.append(tile)
    result["tiles"] = tiles
    return result
