"""The review grid at case scale: filters, sorts and windows over a case's files.

A grid lists files, one per near-duplicate group when series are collapsed (the group's first
file, ``group_id = id``; its tile shows the group's size), in windows of up to 1,000. A window
follows the last one by a keyset cursor (``next``): two index seeks (the rest of the cursor's
key by id, then the later keys), so scrolling a million files costs the same at any depth. The
count and ``offset`` jumps (the scroll bar dragged far) come from one walk of the filter's
(key, id) pairs in index order that keeps every :data:`STRIDE`-th cursor (:func:`positions`,
kept until the case's files or decisions change): a jump is a seek from the nearest mark.
Every filter and sort is a column with an index (migrations ``0009_review`` and ``0011``): the
tests read the query plans. Camera, serial, picture time and GPS come from
:mod:`hashsieve.review.facets`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from hashsieve.access.models import AuditEvent
from hashsieve.access.web import DB_INT_MAX
from hashsieve.errors import HashsieveError
from hashsieve.review import facets, kept
from hashsieve.review.decisions import decision_dict, decisions_for
from hashsieve.review.models import Decision, Facet
from hashsieve.sources.readers import RecoveredKind
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord

Verdicts = Literal["new", "known", "known-good", "other", "unreadable", "all"]
Sort = Literal["group", "taken", "mtime", "path", "size", "id"]
#: The direction each sort takes unless ``order`` says otherwise.
DEFAULT_ORDER: dict[str, Literal["asc", "desc"]] = {
    "group": "desc",
    "size": "desc",
    "taken": "asc",
    "mtime": "asc",
    "path": "asc",
    "id": "asc",
}
MAX_WINDOW = 1000
#: "All in the filter" acts on at most this many files in one request.
MAX_SELECTION = 100_000
Count = Annotated[int | None, Field(ge=0, le=DB_INT_MAX)]
Text = Annotated[str | None, Field(max_length=200, pattern="^[^\x00]*$")]


class GridError(HashsieveError):
    """A grid request that cannot be answered (a cursor from another query, a selection too big)."""


class GridFilter(BaseModel):
    """What the grid shows and in which order: every field is a URL parameter of the same name."""

    model_config = ConfigDict(extra="ignore")

    verdict: Verdicts = "new"
    #: The hash sets' category (``none``: known without one).
    category: Annotated[str | None, Field(pattern="^([0-9]{1,4}|none)$")] = None
    #: The reviewers' category (``none``: not categorised yet; ``any``: categorised).
    review: Literal["none", "any", "0", "1", "2", "3", "4"] | None = None
    kind: Literal["image", "video", "other"] | None = None
    size_min: Count = None
    size_max: Count = None
    width_min: Count = None
    width_max: Count = None
    height_min: Count = None
    height_max: Count = None
    #: A path prefix, or a glob (``*`` any text, ``/`` included; ``?`` one character).
    path: Annotated[str | None, Field(max_length=1000, pattern="^[^\x00]*$")] = None
    make: Text = None
    model: Text = None
    serial: Text = None
    taken_from: datetime | None = None
    taken_to: datetime | None = None
    mtime_from: datetime | None = None
    mtime_to: datetime | None = None
    gps: bool | None = None
    recovered: RecoveredKind | Literal["any", "none"] | None = None
    group_min: Count = None
    group_max: Count = None
    sort: Sort = "group"
    order: Literal["asc", "desc"] | None = None
    #: One tile per near-duplicate group (its first file); false: every file.
    collapse: bool = True
    #: Set by :func:`_prepared`: the facet filter matches many files, so each row of the
    #: sort's index probes its facet row instead of the matches being read and sorted.
    _probe: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An empty form field (``?review=&kind=``) means no filter, as if left out."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @property
    def direction(self) -> Literal["asc", "desc"]:
        return self.order or DEFAULT_ORDER[self.sort]

    def uses_facets(self) -> bool:
        return self.sort == "taken" or any(
            v is not None
            for v in (self.make, self.model, self.serial, self.taken_from, self.taken_to, self.gps)
        )

    def query(self) -> dict[str, Any]:
        """The filter as URL parameters (defaults left out)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump(exclude_defaults=True).items():
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            out[name] = value
        return out


# --- conditions ----------------------------------------------------------------------------------


def _ns(when: datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        seconds = aware.timestamp()
    except (OverflowError, ValueError):  # year 1 or 9999 pushed past the range by its offset
        seconds = -1e11 if aware.year < 1970 else 1e11
    return max(-DB_INT_MAX, min(DB_INT_MAX, int(seconds * 1e9)))


def _exif(when: datetime) -> str:
    return when.replace(tzinfo=None).isoformat(timespec="seconds")


def _upper(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _path_condition(path: str, dialect: str) -> ColumnElement[bool]:
    star, query = path.find("*"), path.find("?")
    cut = min(i for i in (star, query, len(path)) if i >= 0)
    literal_prefix = os.fsencode(path[:cut])
    cond: ColumnElement[bool] = true()
    if literal_prefix:  # an index range on path_key for the literal part
        cond = FileRecord.path_key >= literal_prefix
        upper = _upper(literal_prefix)
        if upper is not None:
            cond = cond & (FileRecord.path_key < upper)
    if cut == len(path):
        return cond
    if dialect == "sqlite":
        pattern = path.replace("[", "[[]")
        return cond & FileRecord.path_text.op("GLOB")(pattern)
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return cond & FileRecord.path_text.like(like, escape="\\")


def _decided(case_id: int, category: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        (Decision.case_id == case_id) & (Decision.sha256 == FileRecord.sha256) & category
    )


def conditions(case_id: int, flt: GridFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE conditions of the filter (without the sort's facet join)."""
    f = FileRecord
    conds: list[ColumnElement[bool]] = [f.case_id == case_id]
    if flt.verdict != "all":
        conds.append(f.verdict == flt.verdict)
    if flt.collapse:
        conds.append(or_(f.group_id.is_(None), f.group_id == f.id))
    if flt.category == "none":
        conds.append(f.category.is_(None))
    elif flt.category is not None:
        conds.append(f.category == int(flt.category))
    if flt.review == "none":
        conds.append(~_decided(case_id, Decision.category.is_not(None)))
    elif flt.review == "any":
        conds.append(_decided(case_id, Decision.category.is_not(None)))
    elif flt.review is not None:
        conds.append(_decided(case_id, Decision.category == int(flt.review)))
    if flt.kind is not None:
        conds.append(f.media_kind == flt.kind)
    for column, low, high in (
        (f.size, flt.size_min, flt.size_max),
        (f.width, flt.width_min, flt.width_max),
        (f.height, flt.height_min, flt.height_max),
        (func.coalesce(f.group_size, 1), flt.group_min, flt.group_max),
    ):
        if low is not None:
            conds.append(column >= low)
        if high is not None:
            conds.append(column <= high)
    if flt.mtime_from is not None:
        conds.append(f.mtime_ns >= _ns(flt.mtime_from))
    if flt.mtime_to is not None:
        conds.append(f.mtime_ns <= _ns(flt.mtime_to))
    if flt.recovered == "any":
        conds.append(f.recovered.is_not(None))
    elif flt.recovered == "none":
        conds.append(f.recovered.is_(None))
    elif flt.recovered is not None:
        conds.append(f.recovered == flt.recovered)
    if flt.path:
        conds.append(_path_condition(flt.path, dialect))
    facet = _facet_conditions(flt)
    if facet:
        if flt.sort == "taken":  # the facet table is joined already
            conds.extend(facet)
        elif flt._probe:  # the sort's index drives; a primary-key probe per row
            conds.append(exists().where((Facet.file_id == f.id) & and_(*facet)))
        else:  # few matches: read from the facets' index, sorted per window
            conds.append(
                f.id.in_(select(Facet.file_id).where(and_(Facet.case_id == case_id, *facet)))
            )
    return conds


def _facet_conditions(flt: GridFilter) -> list[ColumnElement[bool]]:
    facet: list[ColumnElement[bool]] = []
    if flt.make is not None:
        facet.append(Facet.make == flt.make)
    if flt.model is not None:
        facet.append(Facet.model == flt.model)
    if flt.serial is not None:
        facet.append(Facet.serial == flt.serial)
    if flt.taken_from is not None:
        facet.append(Facet.taken_at >= _exif(flt.taken_from))
    if flt.taken_to is not None:
        facet.append(Facet.taken_at <= _exif(flt.taken_to))
    if flt.gps is not None:
        facet.append(Facet.gps.is_(true()) if flt.gps else Facet.gps.is_(false()))
    return facet


#: A facet filter (camera, serial, picture time, GPS) matching more files of the case than
#: this is checked row by row from the sort's index (a window reads about 200 / share rows);
#: fewer are read from the facets' index and sorted (a window sorts all of them). The two
#: cost the same near 10,000 matches in a million files; Canon, 98,000 of a million: 36 ms
#: against 185 ms of CPU a window.
FACET_PROBE = 10_000


def _prepared(store: Store, case: Case, flt: GridFilter) -> GridFilter:
    """The filter with its facet strategy chosen by the number of matches (kept per version)."""
    facet = _facet_conditions(flt)
    if not facet or flt.sort == "taken":
        return flt
    facets.refresh(store, case.id)
    with store.session() as s:
        version = kept.files_version(s, store, case.id)
        fields = ("make", "model", "serial", "taken_from", "taken_to", "gps")
        named = json.dumps({k: str(getattr(flt, k)) for k in fields}, sort_keys=True)
        key = None if version is None else ("facet matches", *version, named)
        matches = _KEPT.get(
            key,
            lambda: (
                s.scalar(
                    select(func.count()).select_from(Facet).where(Facet.case_id == case.id, *facet)
                )
                or 0
            ),
        )
    out = flt.model_copy()
    out._probe = matches > FACET_PROBE
    return out


# --- windows -------------------------------------------------------------------------------------

COLUMNS = (
    FileRecord.id,
    FileRecord.sha256,
    FileRecord.path_key,
    FileRecord.media_kind,
    FileRecord.verdict,
    FileRecord.category,
    FileRecord.width,
    FileRecord.height,
    FileRecord.size,
    FileRecord.mtime_ns,
    FileRecord.group_id,
    FileRecord.group_size,
    FileRecord.recovered,
)


def _sort_column(flt: GridFilter) -> Any:
    return {
        "group": FileRecord.group_size,
        "size": FileRecord.size,
        "mtime": FileRecord.mtime_ns,
        "path": FileRecord.path_key,
        "taken": Facet.taken_at,
        "id": FileRecord.id,
    }[flt.sort]


def _tie(flt: GridFilter) -> Any:
    """The column that breaks ties (the file id, read from the facets' index for ``taken``)."""
    return Facet.file_id if flt.sort == "taken" else FileRecord.id


def _base(case_id: int, flt: GridFilter, dialect: str, *columns: Any) -> Select[Any]:
    if flt.sort == "taken":  # driven by the facets' (case, taken_at, file) index
        query = (
            select(*columns)
            .select_from(Facet)
            .join(FileRecord, FileRecord.id == Facet.file_id)
            .where(Facet.case_id == case_id)
        )
    else:
        query = select(*columns).select_from(FileRecord)
    return query.where(and_(*conditions(case_id, flt, dialect)))


def _nulls_first(desc: bool, dialect: str) -> bool:
    """Where NULL keys go: each database's own index order (SQLite: NULL is the smallest value;
    PostgreSQL: the largest), so that both read a sort from its index without sorting."""
    return desc if dialect == "postgresql" else not desc


def _ordered(query: Select[Any], flt: GridFilter, dialect: str) -> Select[Any]:
    key, tie = _sort_column(flt), _tie(flt)
    if key is FileRecord.id:
        return query.order_by(FileRecord.id.desc() if flt.direction == "desc" else FileRecord.id)
    if flt.direction == "desc":
        return query.order_by(key.desc(), tie.desc())
    return query.order_by(key.asc(), tie)


def _encode(segment: str, value: Any, file_id: int) -> str:
    if isinstance(value, bytes):
        value = {"b": base64.b64encode(value).decode()}
    raw = json.dumps([segment, value, file_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        segment, value, file_id = json.loads(raw)
        if isinstance(value, dict):
            value = base64.b64decode(value["b"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise GridError("the cursor is not one this grid gave") from None
    if (
        segment not in ("null", "value")
        or not isinstance(file_id, int)
        or isinstance(file_id, bool)
        or not isinstance(value, str | int | float | bytes | None)
    ):
        raise GridError("the cursor is not one this grid gave")
    if not -DB_INT_MAX <= file_id <= DB_INT_MAX or (
        isinstance(value, int) and not -DB_INT_MAX <= value <= DB_INT_MAX
    ):
        raise GridError("the cursor is out of range")
    return segment, value, file_id


def _segments(
    flt: GridFilter, cursor: tuple[str, Any, int] | None, dialect: str
) -> list[tuple[str, ColumnElement[bool]]]:
    """The keyset pieces still to read, in order: the rows with a NULL key and the others."""
    key = _sort_column(flt)
    desc = flt.direction == "desc"
    fid = _tie(flt)
    if key is FileRecord.id:
        if cursor is None:
            return [("value", true())]
        return [("value", fid < cursor[2] if desc else fid > cursor[2])]
    null_all: tuple[str, ColumnElement[bool]] = ("null", key.is_(None))
    value_all: tuple[str, ColumnElement[bool]] = ("value", key.is_not(None))
    nulls_first = _nulls_first(desc, dialect)
    if cursor is None:
        return [null_all, value_all] if nulls_first else [value_all, null_all]
    segment, value, last = cursor
    if segment == "null":
        after_null = ("null", key.is_(None) & (fid < last if desc else fid > last))
        return [after_null, value_all] if nulls_first else [after_null]
    # Two pieces, not one row-value comparison ``(key, id) < (v, last)``: SQLite bounds an
    # index range by the row value's first column only, so that form walked every entry with
    # the same key (a quarter of a million singletons of group size 1) before the window.
    same = ("value", (key == value) & (fid < last if desc else fid > last))
    beyond = ("value", key < value if desc else key > value)
    return [same, beyond] if nulls_first else [same, beyond, null_all]


def _key_index(flt: GridFilter) -> int:
    """Where the sort key is in a window's row (``taken``: appended after the file columns)."""
    key = _sort_column(flt)
    return next((i for i, c in enumerate(COLUMNS) if c is key), len(COLUMNS))


def _read(
    s: Session,
    case_id: int,
    flt: GridFilter,
    cursor: tuple[str, Any, int] | None,
    n: int,
    dialect: str,
) -> list[Any]:
    """Up to ``n`` rows after ``cursor`` in the filter's order: one index seek per piece."""
    columns = (*COLUMNS, _sort_column(flt)) if flt.sort == "taken" else COLUMNS
    conn = s.connection()  # Core, not the ORM: a window is plain tuples
    rows: list[Any] = []
    for _, cond in _segments(flt, cursor, dialect):
        query = _ordered(_base(case_id, flt, dialect, *columns).where(cond), flt, dialect)
        rows.extend(conn.execute(query.limit(n - len(rows))).all())
        if len(rows) >= n:
            break
    return rows


def _cursor_of(flt: GridFilter, row: Any) -> tuple[str, Any, int]:
    value = row[_key_index(flt)]
    return ("null" if value is None else "value", value, row[0])


# --- positions: counts and offset jumps ----------------------------------------------------------

#: Every STRIDE-th tile's cursor is kept per filter: an offset jump seeks from the nearest one
#: (an index seek, then at most STRIDE - 1 rows skipped) instead of skipping every row before it.
STRIDE = 100
#: Filters whose positions are kept (least recently used dropped first).
MAX_KEPT = 64


@dataclass(frozen=True)
class Positions:
    """A filter's tile count and ``marks[j]``: the cursor after tile ``(j + 1) * STRIDE - 1``."""

    total: int
    marks: tuple[tuple[str, Any, int], ...]


_KEPT = kept.Kept(MAX_KEPT)


def _version(s: Session, store: Store, case_id: int, flt: GridFilter) -> tuple[Any, ...] | None:
    """What a filter's positions depend on (None: nothing is kept while a scan runs)."""
    files = kept.files_version(s, store, case_id)
    if files is None:
        return None
    decided: tuple[Any, ...] = ()
    if flt.review is not None:  # the reviewers' categories decide which tiles are in
        # Every change and undo of a decision is audited: the case's last one names the
        # decisions' version for every server process (the audit's (case, id) index, read
        # backwards past any thumbnail views since).
        decided = (
            s.scalar(
                select(AuditEvent.id)
                .where((AuditEvent.case_id == case_id) & AuditEvent.action.in_(("set", "undo")))
                .order_by(AuditEvent.id.desc())
                .limit(1)
            ),
        )
    return (*files, json.dumps(flt.query(), sort_keys=True, default=str), *decided)


def _build(s: Session, case_id: int, flt: GridFilter, dialect: str) -> Positions:
    """One walk of the filter's (key, id) pairs in order, from the sort's index."""
    key, tie = _sort_column(flt), _tie(flt)
    query = _ordered(_base(case_id, flt, dialect, key, tie), flt, dialect)
    compiled = query.compile(s.get_bind(), compile_kwargs={"render_postcompile": True})
    params: Any = (
        tuple(compiled.params[name] for name in compiled.positiontup or ())
        if dialect == "sqlite"
        else compiled.params
    )
    # The driver's cursor, not Result rows: a third of a million pairs at a microsecond each.
    cursor = s.connection().exec_driver_sql(compiled.string, params).cursor
    marks: list[tuple[str, Any, int]] = []
    total = 0
    while batch := cursor.fetchmany(STRIDE * 100):
        for value, file_id in batch[STRIDE - 1 :: STRIDE]:
            if isinstance(value, memoryview):
                value = bytes(value)
            marks.append(("null" if value is None else "value", value, file_id))
        total += len(batch)
    cursor.close()
    return Positions(total, tuple(marks))


def positions(store: Store, case: Case, flt: GridFilter) -> Positions:
    """The filter's count and jump marks, kept until the case's files or decisions change."""
    if flt.uses_facets():
        facets.refresh(store, case.id)
    flt = _prepared(store, case, flt)
    with store.session() as s:
        dialect = s.get_bind().dialect.name
        version = _version(s, store, case.id, flt)
        return _KEPT.get(version, lambda: _build(s, case.id, flt, dialect))


def _rows(
    s: Session,
    case: Case,
    flt: GridFilter,
    after: str | None,
    offset: int,
    limit: int,
    marks: Positions | None,
) -> tuple[list[Any], str | None]:
    dialect = s.get_bind().dialect.name
    start = _decode(after) if after else None
    skip = 0
    if offset:  # a jump: keyset seek from the nearest mark, then skip what is left
        assert marks is not None
        if offset >= marks.total:
            return [], None
        m = offset // STRIDE
        start = marks.marks[m - 1] if m else None
        skip = offset - m * STRIDE
    rows = _read(s, case.id, flt, start, skip + limit + 1, dialect)[skip:]
    more = len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    return rows, _encode(*_cursor_of(flt, rows[-1]))


def window(
    store: Store,
    case: Case,
    flt: GridFilter,
    *,
    after: str | None = None,
    offset: int = 0,
    limit: int = 200,
    count: bool = False,
) -> dict[str, Any]:
    """One window of the grid: up to ``limit`` tiles after the cursor ``after`` (or ``offset``).

    ``next`` is the cursor of the window that follows (None at the end); ``total`` is the number
    of tiles the filter selects, counted when ``count`` is asked for (the page asks after its
    first screen). Counting and jumping walk the filter once; later ones reuse that walk
    (:func:`positions`) until the case's files or decisions change.
    """
    limit = max(1, min(int(limit), MAX_WINDOW))
    marks = positions(store, case, flt) if count or offset else None
    if flt.uses_facets():
        facets.refresh(store, case.id)
    flt = _prepared(store, case, flt)
    with store.session() as s:
        rows, cursor = _rows(s, case, flt, after, offset, limit, marks)
        decided = decisions_for(s, case.id, [r[1] for r in rows if r[1]])
        items = [_item(r, decided.get(r[1] or "")) for r in rows]
    return {
        "case": case.name,
        "filter": flt.query(),
        "offset": offset,
        "limit": limit,
        "total": marks.total if count and marks is not None else None,
        "items": items,
        "next": cursor,
    }


def _item(r: Any, decision: Decision | None) -> dict[str, Any]:
    fid, sha, key, kind, verdict, cat, width, height, size, _, gid, gsize, recovered = r[:13]
    return {
        "file_id": fid,
        "sha256": sha,
        "name": os.path.basename(os.fsdecode(key)),
        "media_kind": kind,
        "verdict": verdict,
        "category": cat,
        "width": width,
        "height": height,
        "size": size,
        "group": gid if gid is not None else fid,
        "group_size": gsize or 1,
        "recovered": recovered,
        "review": decision_dict(decision) if decision is not None else None,
    }


def selection(store: Store, case: Case, flt: GridFilter, *, limit: int | None = None) -> list[str]:
    """The contents (SHA-256) of every file the filter selects, whole groups when collapsed.

    "Select all in the filter" acts on these; more than ``limit`` (default
    :data:`MAX_SELECTION`) is refused: narrow the filter.
    """
    limit = MAX_SELECTION if limit is None else limit
    if flt.uses_facets():
        facets.refresh(store, case.id)
    flt = _prepared(store, case, flt)
    with store.session() as s:
        dialect = s.get_bind().dialect.name
        query = _base(case.id, flt, dialect, FileRecord.id, FileRecord.group_id, FileRecord.sha256)
        rows = s.execute(query.limit(limit + 1)).all()
        if len(rows) > limit:
            raise GridError(f"the filter selects more than {limit} files: narrow it first")
        shas = {sha for _, _, sha in rows if sha}
        if flt.collapse:
            groups = sorted({gid for _, gid, _ in rows if gid is not None})
            shas |= set(group_contents(s, case.id, groups))
    if len(shas) > limit:
        raise GridError(f"the filter selects more than {limit} files: narrow it first")
    return sorted(shas)


def group_contents(s: Session, case_id: int, groups: Sequence[int]) -> list[str]:
    """The distinct contents of these groups of a case."""
    out: set[str] = set()
    for i in range(0, len(groups), 500):
        out.update(
            sha
            for sha in s.scalars(
                select(FileRecord.sha256).where(
                    (FileRecord.case_id == case_id)
                    & FileRecord.group_id.in_(groups[i : i + 500])
                    & FileRecord.sha256.is_not(None)
                )
            )
            if sha
        )
    return sorted(out)


def query_plan(
    store: Store,
    case: Case,
    flt: GridFilter,
    *,
    after: str | None = None,
    settings: tuple[str, ...] = (),
    walk: bool = False,
) -> list[str]:
    """The plans of the grid's window queries, one after the other for each keyset piece
    (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN under ``settings`` such as
    ``enable_seqscan = off``), for the tests and the bench; ``walk``: the plan of the walk that
    counts the filter and marks its positions."""
    flt = _prepared(store, case, flt)
    out: list[str] = []
    with store.session() as s:
        dialect = s.get_bind().dialect.name
        conn = s.connection()
        for setting in settings if dialect != "sqlite" else ():
            conn.exec_driver_sql(f"SET LOCAL {setting}")
        pieces = _segments(flt, _decode(after) if after else None, dialect)
        if walk:
            pieces = [("all", true())]
        for _, segment in pieces:
            columns = (_sort_column(flt), _tie(flt)) if walk else COLUMNS
            query = _ordered(_base(case.id, flt, dialect, *columns).where(segment), flt, dialect)
            if not walk:
                query = query.limit(200)
            compiled = query.compile(s.get_bind())
            if dialect == "sqlite":
                params = tuple(compiled.params[name] for name in compiled.positiontup or ())
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", params).all()
                out += [str(r[-1]) for r in rows]
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params).all()
                out += [str(r[0]) for r in rows]
    return out
