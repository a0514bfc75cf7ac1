"""The append-only audit log: who viewed which file when, who changed what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashsieve.access.models import AuditEvent
from hashsieve.store import Store
from hashsieve.store.models import FileRecord


def record(
    s: Session,
    username: str,
    action: str,
    *,
    case_id: int | None = None,
    file: FileRecord | None = None,
    sha256: str | None = None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    batch: str | None = None,
    undoes: str | None = None,
    client: str | None = None,
) -> None:
    """Add one event in the caller's transaction (a change and its record commit together)."""
    s.add(
        AuditEvent(
            username=username,
            action=action,
            case_id=case_id if case_id is not None else (file.case_id if file else None),
            file_id=file.id if file else None,
            sha256=sha256 or (file.sha256 if file else None),
            path=file.path_text if file else None,
            field=field,
            old_value=None if field is None else json.dumps(old),
            new_value=None if field is None else json.dumps(new),
            batch=batch,
            undoes=undoes,
            client=client,
        )
    )


def log(store: Store, username: str, action: str, **kwargs: Any) -> None:
    with store.session() as s:
        record(s, username, action, **kwargs)


def logged_in_before(store: Store, username: str, client: str) -> bool:
    """Whether ``username`` has logged in from ``client`` before (the login limiter trusts it)."""
    with store.session() as s:
        found = s.scalar(
            select(AuditEvent.id)
            .where(
                (AuditEvent.username == username)
                & (AuditEvent.action == "login")
                & (AuditEvent.client == client)
            )
            .limit(1)
        )
    return found is not None


def event_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(timespec="seconds"),
        "username": e.username,
        "action": e.action,
        "case_id": e.case_id,
        "file_id": e.file_id,
        "sha256": e.sha256,
        "path": e.path,
        "field": e.field,
        "old": json.loads(e.old_value) if e.old_value is not None else None,
        "new": json.loads(e.new_value) if e.new_value is not None else None,
        "batch": e.batch,
        "undoes": e.undoes,
        "client": e.client,
    }


def events(
    store: Store,
    case_id: int,
    *,
    sha256: str | None = None,
    actions: tuple[str, ...] | None = None,
    after_id: int = 0,
    limit: int | None = 500,
) -> list[dict[str, Any]]:
    """Events of a case in order (optionally of one file's content or of some actions)."""
    q = select(AuditEvent).where((AuditEvent.case_id == case_id) & (AuditEvent.id > after_id))
    if sha256 is not None:
        q = q.where(AuditEvent.sha256 == sha256)
    if actions:
        q = q.where(AuditEvent.action.in_(actions))
    q = q.order_by(AuditEvent.id)
    if limit is not None:
        q = q.limit(limit)
    with store.session() as s:
        return [event_dict(e) for e in s.scalars(q)]


def iter_events(store: Store, case_id: int) -> Iterator[dict[str, Any]]:
    """Every event of a case, streamed (the audit export)."""
    with store.session() as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.id)
            .execution_options(yield_per=5000)
        )
        for e in rows:
            yield event_dict(e)
