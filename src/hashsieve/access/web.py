"""Request plumbing shared by the routes: the logged-in user, roles, CSRF, the case and file."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy import select

from hashsieve.access import membership
from hashsieve.access.auth import Principal, session_principal
from hashsieve.errors import UnknownCaseError
from hashsieve.store import Store
from hashsieve.store.models import Case, FileRecord

SESSION_COOKIE = "hashsieve_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

#: The largest integer SQLite and PostgreSQL store (signed 64 bits): every integer a route takes
#: (ids, offsets, limits, cursors) is bounded by it in the schema, so a bigger one is a 422.
DB_INT_MAX = 2**63 - 1


class NotAuthenticated(Exception):
    """No valid session: 401 for the API, a redirect to the login page for HTML pages."""


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def principal(request: Request) -> Principal:
    user = session_principal(get_store(request), request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise NotAuthenticated()
    request.state.principal = user
    return user


User = Annotated[Principal, Depends(principal)]


def writer(user: User) -> Principal:
    if not user.can_write:
        raise HTTPException(403, f"the {user.role} role cannot change decisions")
    return user


def admin(user: User) -> Principal:
    if user.role != "admin":
        raise HTTPException(403, "only an admin may do this")
    return user


def auditor(user: User) -> Principal:
    if user.role not in ("admin", "reviewer"):
        raise HTTPException(403, "the read-only role cannot read the audit log")
    return user


def check_origin(request: Request) -> None:
    """Refuse a state change sent from another site (by the Origin header a browser sends)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, "cross-origin request refused")


async def csrf(request: Request, user: User) -> Principal:
    """Every state change carries the session's CSRF token (header or form field)."""
    check_origin(request)
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not token or not hmac.compare_digest(token, user.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token")
    return user


def get_case(request: Request, user: User, case: Annotated[str, Path(max_length=200)]) -> Case:
    """The case named in the path, when this user may see it (else 404, as if absent)."""
    served = request.app.state.case
    if served is not None and case != served:
        raise HTTPException(404, f"this server reviews case {served!r} only")
    store = get_store(request)
    try:
        found = store.get_case(case)
    except UnknownCaseError:
        found = None
    if found is None or not membership.can_see(store, user, found):
        raise HTTPException(404, f"no case named {case!r}")
    return found


CaseDep = Annotated[Case, Depends(get_case)]


def get_file(
    request: Request, case: CaseDep, file_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)]
) -> FileRecord:
    """A file of this case, by its id: never a path from the request."""
    with get_store(request).session() as s:
        file = s.scalar(
            select(FileRecord).where((FileRecord.id == file_id) & (FileRecord.case_id == case.id))
        )
    if file is None:
        raise HTTPException(404, "no such file in this case")
    return file


FileDep = Annotated[FileRecord, Depends(get_file)]
