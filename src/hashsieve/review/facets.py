"""The grid's facets: camera make, model and serial, picture time and GPS, one row per file.

The scan keeps EXIF metadata as JSON text (``files.metadata_json``); filtering a million files
by camera or sorting them by the time a picture was taken needs columns with indexes. The rows
are derived, not evidence: :func:`refresh` adds those of files newer than the newest row the
case has (file ids only grow; a rescan's replaced rows take new ids and the old facets go with
their files), so it costs one indexed look-up when nothing changed.
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text

from hashsieve.review.models import Facet
from hashsieve.store import Store
from hashsieve.store.models import FileRecord

FACETS = cast(Table, Facet.__table__)
BATCH = 5000
MAX_TEXT = 200


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] or None


def exif_time(value: Any) -> str | None:
    """``2024:05:01 10:00:00`` (EXIF) as ``2024-05-01T10:00:00``; None when it is not a time."""
    text = _text(value)
    if not text or len(text) < 19 or text.startswith("0000"):
        return None
    date, time = text[:10].replace(":", "-"), text[11:19]
    if len(date) != 10 or not date[:4].isdigit() or date[4] != "-" or time[2] != ":":
        return None
    return f"{date}T{time}"


def facet_row(file_id: int, case_id: int, metadata_json: str | None) -> dict[str, Any]:
    """The facet row of one file, from its stored metadata."""
    meta: dict[str, Any] = {}
    if metadata_json:
        try:
            loaded = json.loads(metadata_json)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            meta = loaded
    lat, lon = meta.get("GPSLatitude"), meta.get("GPSLongitude")
    return {
        "file_id": file_id,
        "case_id": case_id,
        "make": _text(meta.get("Make")),
        "model": _text(meta.get("Model")),
        "serial": _text(meta.get("BodySerialNumber")),
        "taken_at": exif_time(meta.get("DateTimeOriginal")) or exif_time(meta.get("DateTime")),
        "gps": isinstance(lat, int | float) and isinstance(lon, int | float),
    }


#: (database, case) -> the store's highest file id when the case's facets were last complete.
_COMPLETE: dict[tuple[str, int], int] = {}


def refresh(store: Store, case_id: int) -> int:
    """Add the facet rows of the case's files that have none yet; returns how many.

    When no file was added to the store since this process last completed the case's facets
    (the highest file id is the same), that is one primary-key look-up.
    """
    key = (str(store.engine.url), case_id)
    with store.session() as s:
        top = s.scalar(select(func.max(FileRecord.id))) or 0
        if _COMPLETE.get(key) == top:
            return 0
        last = s.scalar(select(func.max(Facet.file_id)).where(Facet.case_id == case_id)) or 0
    added = 0
    while True:
        with store.session() as s:
            rows = s.execute(
                select(FileRecord.id, FileRecord.metadata_json)
                .where((FileRecord.id > last) & (FileRecord.case_id == case_id))
                .order_by(FileRecord.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            s.execute(insert(FACETS), [facet_row(fid, case_id, meta) for fid, meta in rows])
        added += len(rows)
        last = rows[-1][0]
    _COMPLETE[key] = top
    if added and store.engine.dialect.name == "sqlite":
        # Statistics (a sample: milliseconds) let the planner drive a time sort from the
        # facets' index rather than sort a case's files; PostgreSQL's autovacuum keeps its own.
        with store.session() as s:
            s.execute(text("PRAGMA analysis_limit=1000"))
            s.execute(text("ANALYZE"))
    return added


def cameras(store: Store, case_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The case's cameras (make, model) with their file counts, most files first."""
    with store.session() as s:
        rows = s.execute(
            select(Facet.make, Facet.model, func.count())
            .where((Facet.case_id == case_id) & Facet.make.is_not(None))
            .group_by(Facet.make, Facet.model)
            .order_by(func.count().desc())
            .limit(limit)
        ).all()
    return [{"make": make, "model": model, "files": n} for make, model, n in rows]
