"""Reviewer decisions: categories, victim/offender identified, series, tags, note; undo.

Every change is one transaction that writes the decision and its audit events together. Two
reviewers changing the same item: the last write wins and both writes are in the audit log.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashsieve.access import audit
from hashsieve.access.models import AuditEvent
from hashsieve.errors import HashsieveError
from hashsieve.review.models import Decision
from hashsieve.store import Store
from hashsieve.store.models import FileRecord

#: VICS categories a reviewer can set (US scheme; 0 = non-pertinent).
CATEGORIES = (0, 1, 2, 3, 4)
FIELDS = ("category", "victim_identified", "offender_identified", "series", "tags", "note")
MAX_TEXT = 2000


class DecisionError(HashsieveError):
    """A change that cannot be applied (bad value, unknown file, nothing to undo)."""


class NothingToUndo(DecisionError):
    """The user has no change left to undo in this case."""


@dataclass
class ChangeResult:
    batch: str | None
    decisions: list[dict[str, Any]]
    undoes: str | None = None


def _clean(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "category":
        if isinstance(value, bool) or not isinstance(value, int) or value not in CATEGORIES:
            raise DecisionError(f"category must be one of {CATEGORIES} or null, not {value!r}")
        return value
    if field in ("victim_identified", "offender_identified"):
        if not isinstance(value, bool):
            raise DecisionError(f"{field} must be true, false or null")
        return value
    if field == "tags":
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise DecisionError("tags must be a list of strings")
        tags = sorted({t.strip() for t in value if t.strip()})
        if any(len(t) > 100 for t in tags):
            raise DecisionError("a tag has at most 100 characters")
        return tags or None
    if not isinstance(value, str):
        raise DecisionError(f"{field} must be text or null")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise DecisionError(f"{field} has at most {MAX_TEXT} characters")
    return text or None


def clean_changes(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise DecisionError(f"unknown fields {sorted(unknown)} (known: {', '.join(FIELDS)})")
    if not changes:
        raise DecisionError("nothing to change")
    return {field: _clean(field, value) for field, value in changes.items()}


def _get(d: Decision, field: str) -> Any:
    value = getattr(d, field)
    if field == "tags":
        return json.loads(value) if value else None
    return value


def _set(d: Decision, field: str, value: Any) -> None:
    setattr(d, field, json.dumps(value) if field == "tags" and value is not None else value)


def decision_dict(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "sha256": d.sha256,
        **{field: _get(d, field) for field in FIELDS},
        "updated_by": d.updated_by,
        "updated_at": d.updated_at.isoformat(timespec="seconds"),
    }


def decisions_for(
    s: Session, case_id: int, sha256s: Iterable[str], *, lock: bool = False
) -> dict[str, Decision]:
    """``lock``: for a change, lock the rows (PostgreSQL ``FOR UPDATE``; SQLite has one writer)
    so that a concurrent reviewer's change waits and reads the committed value."""
    wanted = sorted(set(sha256s))
    found: dict[str, Decision] = {}
    for i in range(0, len(wanted), 500):
        query = select(Decision).where(
            (Decision.case_id == case_id) & Decision.sha256.in_(wanted[i : i + 500])
        )
        for d in s.scalars(query.order_by(Decision.id).with_for_update() if lock else query):
            found[d.sha256] = d
    return found


def group_members(store: Store, case_id: int, group_id: int) -> list[str]:
    """The distinct contents (SHA-256) of one group of a case."""
    with store.session() as s:
        return list(
            s.scalars(
                select(FileRecord.sha256)
                .where(
                    (FileRecord.case_id == case_id)
                    & (func.coalesce(FileRecord.group_id, FileRecord.id) == group_id)
                    & FileRecord.sha256.is_not(None)
                )
                .distinct()
            )
        )


def _representatives(s: Session, case_id: int, sha256s: list[str]) -> dict[str, FileRecord]:
    out: dict[str, FileRecord] = {}
    for i in range(0, len(sha256s), 500):  # a bulk change names up to 100,000 contents
        first = (
            select(func.min(FileRecord.id))
            .where((FileRecord.case_id == case_id) & FileRecord.sha256.in_(sha256s[i : i + 500]))
            .group_by(FileRecord.sha256)
        )
        out.update(
            (f.sha256 or "", f)
            for f in s.scalars(select(FileRecord).where(FileRecord.id.in_(first)))
        )
    return out


def apply_changes(
    store: Store,
    case_id: int,
    sha256s: Iterable[str],
    changes: dict[str, Any],
    username: str,
    *,
    client: str | None = None,
) -> ChangeResult:
    """Set ``changes`` on every content in ``sha256s``: one batch, saved at once (redone when it
    races another reviewer's batch on PostgreSQL: ``Store.retrying``)."""
    targets = list(sha256s)
    return store.retrying(
        lambda: _apply_changes(store, case_id, targets, changes, username, client=client)
    )


def _apply_changes(
    store: Store,
    case_id: int,
    sha256s: Iterable[str],
    changes: dict[str, Any],
    username: str,
    *,
    client: str | None = None,
) -> ChangeResult:
    values = clean_changes(changes)
    targets = sorted(set(sha256s))
    if not targets:
        raise DecisionError("no files to change")
    batch = secrets.token_hex(8)
    now = datetime.now(UTC)
    with store.session() as s:
        files = _representatives(s, case_id, targets)
        missing = [sha for sha in targets if sha not in files]
        if missing:
            raise DecisionError(f"{len(missing)} of the files are not in this case")
        existing = decisions_for(s, case_id, targets, lock=True)
        out = []
        for sha in targets:
            d = existing.get(sha)
            if d is None:
                d = Decision(case_id=case_id, sha256=sha, updated_by=username, updated_at=now)
                s.add(d)
            for field, new in values.items():
                old = _get(d, field)
                if old == new:
                    continue
                _set(d, field, new)
                d.updated_by, d.updated_at = username, now
                audit.record(
                    s,
                    username,
                    "set",
                    case_id=case_id,
                    file=files[sha],
                    field=field,
                    old=old,
                    new=new,
                    batch=batch,
                    client=client,
                )
            out.append(d)
        s.flush()  # once: the rows of a bulk change go in as batched inserts
        dicts = [decision_dict(d) for d in out]
    return ChangeResult(batch, [d for d in dicts if d is not None])


def undo_last(
    store: Store, case_id: int, username: str, *, client: str | None = None
) -> ChangeResult:
    """Revert the user's last change in the case that is not yet undone."""
    with store.session() as s:
        undone = select(AuditEvent.undoes).where(
            (AuditEvent.action == "undo") & AuditEvent.undoes.is_not(None)
        )
        last = s.scalar(
            select(AuditEvent.batch)
            .where(
                (AuditEvent.case_id == case_id)
                & (AuditEvent.username == username)
                & (AuditEvent.action == "set")
                & AuditEvent.batch.not_in(undone)
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        if last is None:
            raise NothingToUndo("nothing to undo")
        events = list(
            s.scalars(
                select(AuditEvent)
                .where((AuditEvent.batch == last) & (AuditEvent.action == "set"))
                .order_by(AuditEvent.id.desc())
            )
        )
        shas = sorted({e.sha256 for e in events if e.sha256})
        existing = decisions_for(s, case_id, shas)
        files = _representatives(s, case_id, shas)
        batch = secrets.token_hex(8)
        now = datetime.now(UTC)
        for e in events:
            d = existing.get(e.sha256 or "")
            if d is None or e.field is None:
                continue
            current = _get(d, e.field)
            restored = json.loads(e.old_value) if e.old_value is not None else None
            _set(d, e.field, restored)
            d.updated_by, d.updated_at = username, now
            audit.record(
                s,
                username,
                "undo",
                case_id=case_id,
                file=files.get(d.sha256),
                sha256=d.sha256,
                field=e.field,
                old=current,
                new=restored,
                batch=batch,
                undoes=last,
                client=client,
            )
        s.flush()
        out = [decision_dict(existing[sha]) for sha in shas if sha in existing]
    return ChangeResult(batch, [d for d in out if d is not None], undoes=last)
