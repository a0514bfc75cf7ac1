"""Pages and their JSON twins, media, decisions, export: thin views over the review library."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from hashsieve.access import audit, membership
from hashsieve.access.auth import Principal, list_users
from hashsieve.access.preferences import (
    Preferences,
    SettingsError,
    get_preferences,
    update_preferences,
)
from hashsieve.access.web import (
    DB_INT_MAX,
    CaseDep,
    FileDep,
    User,
    admin,
    auditor,
    client_of,
    csrf,
    get_store,
    writer,
)
from hashsieve.config import PDQ_MATCH_THRESHOLD
from hashsieve.hashsets.categories import category_label
from hashsieve.matching.verdict import Verdict
from hashsieve.review import export, geo, grid, queries, thumbs
from hashsieve.review.decisions import DecisionError, NothingToUndo, apply_changes, undo_last
from hashsieve.review.decisions import group_members as members_of_group
from hashsieve.sources.readers import RECOVERED_KINDS
from hashsieve.store.models import Case

router = APIRouter()
Writer = Annotated[Principal, Depends(writer)]
Csrf = Annotated[Principal, Depends(csrf)]
Auditor = Annotated[Principal, Depends(auditor)]
Admin = Annotated[Principal, Depends(admin)]


def _render(request: Request, template: str, data: dict[str, Any]) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    user: Principal | None = getattr(request.state, "principal", None)
    prefs = get_preferences(get_store(request), user.user_id) if user else Preferences()
    return templates.TemplateResponse(
        request,
        template,
        {
            "data": data,
            "user": user,
            "prefs": prefs,
            "served_case": request.app.state.case,
            "category_label": category_label,
            "categories": queries.categories(),
            "recovered_kinds": RECOVERED_KINDS,
        },
    )


def _json(data: dict[str, Any]) -> Response:
    """Plain data as JSON without FastAPI's encoder (15 ms for a window of 200 tiles; 1 ms so)."""
    return Response(json.dumps(data, separators=(",", ":")), media_type="application/json")


def twin(
    path: str, template: str, *, plain: bool = False, **route: Any
) -> Callable[[Callable[..., Any]], Any]:
    """Register ``fn`` as ``/api{path}`` (JSON) and ``path`` (the HTML page of the same data).

    ``plain``: ``fn`` returns JSON types only (str, int, float, bool, None, lists, dicts), so its
    answer is dumped as it is.
    """

    def register(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if plain:

            @functools.wraps(fn)
            def api(*args: Any, **kwargs: Any) -> Response:
                return _json(fn(*args, **kwargs))

            router.get("/api" + path, **route)(api)
        else:
            router.get("/api" + path, **route)(fn)

        @functools.wraps(fn)
        def page(*args: Any, **kwargs: Any) -> Response:
            return _render(kwargs["request"], template, fn(*args, **kwargs))

        router.get(path, response_class=HTMLResponse, include_in_schema=False)(page)
        return fn

    return register


@router.get("/", include_in_schema=False)
def home(request: Request, _user: User) -> Response:
    served = request.app.state.case
    return RedirectResponse(f"/cases/{served}" if served else "/cases", status_code=303)


@twin("/cases", "cases.html", tags=["cases"])
def cases(request: Request, user: User) -> dict[str, Any]:
    """The cases this server reviews: files per verdict, reviewed so far and by whom, scans."""
    listed = queries.case_list(get_store(request), request.app.state.case)
    visible = membership.visible_names(get_store(request), user, [c["name"] for c in listed])
    return {"cases": [c for c in listed if c["name"] in visible]}


@twin("/cases/{case}", "dashboard.html", tags=["cases"])
def dashboard(request: Request, user: User, case: CaseDep) -> dict[str, Any]:
    """Counts per verdict and category, reviewed counts, scans (live), hash sets in use."""
    store = get_store(request)
    data = queries.dashboard(store, case)
    data["known"] = queries.known_sections(store, case)
    data["map"] = queries.case_map(store, case)
    return data


@twin("/cases/{case}/groups", "groups.html", tags=["review"])
def groups(
    request: Request,
    user: User,
    case: CaseDep,
    verdict: Annotated[str, Query(pattern="^(new|known|known-good|other|unreadable)$")] = "new",
    category: Annotated[str | None, Query(pattern="^([0-9]+|none)$")] = None,
    recovered: Annotated[
        str | None, Query(pattern=f"^({'|'.join((*RECOVERED_KINDS, 'any'))})$")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Groups largest first: copies stacked in a tile, near-duplicates in one series.

    ``recovered`` keeps only recovered files (``deleted``, ``carved``, ``thumbnail``,
    ``embedded``, ``shadow``; ``any``: every recovered file).
    """
    return queries.groups(
        get_store(request),
        case,
        verdict=verdict,
        category=int(category) if category and category != "none" else None,
        uncategorised=category == "none",
        recovered=recovered,
        offset=offset,
        limit=limit,
    )


@twin("/cases/{case}/grid", "grid.html", plain=True, tags=["review"])
def grid_window(
    request: Request,
    user: User,
    case: CaseDep,
    flt: Annotated[grid.GridFilter, Query()],
    after: Annotated[str | None, Query(max_length=400)] = None,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=grid.MAX_WINDOW)] = 200,
    count: bool = False,
) -> dict[str, Any]:
    """The dense grid: one window of tiles in the filter's order (one per group when collapsed).

    Every filter is a parameter (verdict, category, review, kind, size, width, height, path
    prefix or glob, make, model, serial, taken and file times, gps, recovered, group size;
    ``sort`` and ``order``). ``next`` is the cursor of the following window (``after``);
    ``offset`` jumps; ``count`` adds the number of tiles the filter selects (the page asks for
    it after its first screen: on a million files counting takes longer than a window).
    """
    return grid.window(
        get_store(request),
        case,
        flt,
        after=after,
        offset=offset,
        limit=limit,
        count=count,
    )


@twin("/cases/{case}/files/{file_id}", "file.html", tags=["review"])
def file_detail(request: Request, user: User, case: CaseDep, file: FileDep) -> dict[str, Any]:
    """Every path, hashes, matches, identifying metadata, GPS on the offline map (audited)."""
    store = get_store(request)
    audit.log(store, user.username, "view", file=file, client=client_of(request))
    data = queries.file_detail(store, case, file)
    if data.get("crosscase"):  # only links to cases this user may see (docs/security.md)
        links = data["crosscase"]
        seen = membership.visible_names(store, user, {str(x.get("case")) for x in links})
        data["crosscase"] = [x for x in links if str(x.get("case")) in seen]
    data["map"] = geo.map_view(queries.places(store, case, include=file.id), highlight=file.id)
    data["history"] = (
        audit.events(store, case.id, sha256=file.sha256, actions=("set", "undo"))
        if file.sha256
        else []
    )
    return data


@twin("/cases/{case}/files/{file_id}/similar", "similar.html", tags=["review"])
def similar(
    request: Request,
    user: User,
    case: CaseDep,
    file: FileDep,
    distance: Annotated[int, Query(ge=0, le=128)] = PDQ_MATCH_THRESHOLD,
) -> dict[str, Any]:
    """Every content of the case within ``distance`` PDQ bits of this file."""
    return queries.similar(get_store(request), case, file, distance)


@twin("/cases/{case}/map", "map.html", tags=["review"])
def places(request: Request, user: User, case: CaseDep) -> dict[str, Any]:
    """Every GPS position in the case's metadata, on an offline world map."""
    return {"case": case.name, "map": geo.map_view(queries.places(get_store(request), case))}


@twin("/cases/{case}/report", "report.html", tags=["share"])
def case_report(request: Request, user: User, case: CaseDep) -> dict[str, Any]:
    """The case report (printable): counts, categories, series, blurred thumbnails, audit log."""
    store = get_store(request)
    audit.log(store, user.username, "report", case_id=case.id, client=client_of(request))
    return export.report(store, case, user.username)


@twin("/cases/{case}/audit", "audit.html", tags=["share"])
def audit_log(
    request: Request,
    user: Auditor,
    case: CaseDep,
    after: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """The case's audit log (append-only): views, changes, exports."""
    events = audit.events(get_store(request), case.id, after_id=after, limit=limit)
    return {"case": case.name, "after": after, "events": events}


@router.get(
    "/api/cases/{case}/audit.jsonl",
    tags=["share"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def audit_export(request: Request, user: Auditor, case: CaseDep) -> StreamingResponse:
    """The whole audit log of a case as JSON Lines."""
    store = get_store(request)
    audit.log(store, user.username, "export", case_id=case.id, field="format", new="audit-jsonl")

    def lines() -> Iterator[str]:
        for event in audit.iter_events(store, case.id):
            yield json.dumps(event) + "\n"

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{case.name}-audit.jsonl"'},
    )


@twin("/settings", "settings.html", tags=["session"])
def settings(request: Request, user: User) -> dict[str, Any]:
    """The user's wellness settings."""
    from dataclasses import asdict

    return {
        "username": user.username,
        "role": user.role,
        **asdict(get_preferences(get_store(request), user.user_id)),
    }


@router.get("/api/me", tags=["session"])
def me(request: Request, user: User) -> dict[str, Any]:
    """Who is logged in, the CSRF token for state changes, and the user's settings."""
    from dataclasses import asdict

    prefs = get_preferences(get_store(request), user.user_id)
    return {
        "username": user.username,
        "role": user.role,
        "csrf_token": user.csrf_token,
        "settings": asdict(prefs),
    }


@router.put("/api/settings", tags=["session"])
def put_settings(request: Request, user: Csrf, body: dict[str, Any]) -> dict[str, Any]:
    """Change wellness settings: blur (0-40), greyscale, thumb_size (96-320), break_minutes."""
    from dataclasses import asdict

    try:
        prefs = update_preferences(get_store(request), user.user_id, body)
    except SettingsError as exc:
        raise HTTPException(422, str(exc)) from None
    return asdict(prefs)


@router.post("/settings", include_in_schema=False)
def post_settings(
    request: Request,
    user: Csrf,
    blur: Annotated[int, Form()],
    thumb_size: Annotated[int, Form()],
    break_minutes: Annotated[int, Form()],
    greyscale: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        update_preferences(
            get_store(request),
            user.user_id,
            {
                "blur": blur,
                "thumb_size": thumb_size,
                "break_minutes": break_minutes,
                "greyscale": greyscale is not None,
            },
        )
    except SettingsError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/settings", status_code=303)


@router.get("/api/users", tags=["session"])
def users(request: Request, _user: Admin) -> dict[str, Any]:
    """The users (admins only)."""
    return {
        "users": [
            {"username": u.username, "role": u.role, "disabled": u.disabled}
            for u in list_users(get_store(request))
        ]
    }


# --- media ---------------------------------------------------------------------------------------


def _media(rendered: thumbs.Rendered) -> Response:
    return Response(
        rendered.data,
        media_type=rendered.media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


#: What a media route answers: a JPEG, an SVG placeholder, or a video as it was found.
MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in ("image/jpeg", "image/svg+xml", "video/*")}}
}


@router.get(
    "/api/cases/{case}/files/{file_id}/thumb",
    tags=["media"],
    response_class=Response,
    responses=MEDIA,
)
def thumbnail(
    request: Request,
    user: User,
    file: FileDep,
    size: Annotated[int, Query(ge=64, le=512)] = 256,
    report: bool = False,
) -> Response:
    """A thumbnail of a file of the case (audited; ``report``: blurred in its pixels)."""
    store = get_store(request)
    audit.log(store, user.username, "thumbnail", file=file, client=client_of(request))
    return _media(thumbs.thumbnail(store, file, size, report=report))


#: Thumbnails one batch request may ask for.
MAX_BATCH = 120


@router.get(
    "/api/cases/{case}/thumbs",
    tags=["media"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def thumbnails(
    request: Request,
    user: User,
    case: CaseDep,
    ids: Annotated[list[Annotated[int, Field(ge=1, le=DB_INT_MAX)]], Query(max_length=MAX_BATCH)],
    size: Annotated[int, Query(ge=64, le=512)] = 128,
) -> Response:
    """Thumbnails of many files of the case in one request, as ``data:`` URLs by file id
    (each one audited, in one transaction): the grid asks for a screen of them at once."""
    store = get_store(request)
    thumbnails = thumbs.batch(store, case.id, ids, size, user.username, client_of(request))
    return _json({"size": size, "thumbs": thumbnails})


@router.get(
    "/api/cases/{case}/files/{file_id}/image",
    tags=["media"],
    response_class=Response,
    responses=MEDIA,
)
def image(request: Request, user: User, file: FileDep) -> Response:
    """The picture itself, re-encoded for display (audited)."""
    store = get_store(request)
    audit.log(store, user.username, "image", file=file, client=client_of(request))
    return _media(thumbs.display_image(store, file))


# --- decisions -----------------------------------------------------------------------------------


Id = Annotated[int, Field(ge=0, le=DB_INT_MAX)]


class DecisionRequest(BaseModel):
    """What to change (``set``) on which contents: SHA-256 values, file ids, whole groups, or
    every file a grid filter selects (``filter``: "select all in the filter")."""

    sha256: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10_000
    )
    file_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    group: Id | None = None
    groups: list[Id] = Field(default_factory=list, max_length=10_000)
    filter: grid.GridFilter | None = None
    changes: dict[str, Any] = Field(alias="set")


def _targets(request: Request, case: Case, body: DecisionRequest) -> list[str]:
    store = get_store(request)
    targets = list(body.sha256)
    if body.group is not None:
        targets += members_of_group(store, case.id, body.group)
    if body.groups:
        with store.session() as s:
            targets += grid.group_contents(s, case.id, body.groups)
    if body.filter is not None:
        targets += grid.selection(store, case, body.filter)
    if body.file_ids:
        from sqlalchemy import select

        from hashsieve.store.models import FileRecord

        with store.session() as s:
            found = s.execute(
                select(FileRecord.id, FileRecord.sha256).where(
                    (FileRecord.case_id == case.id) & FileRecord.id.in_(body.file_ids)
                )
            ).all()
        if len(found) != len(set(body.file_ids)) or any(sha is None for _, sha in found):
            raise HTTPException(404, "some files are not in this case or have no content hash")
        targets += [sha for _, sha in found if sha]
    if not targets:
        raise HTTPException(422, "name the files: sha256, file_ids or group")
    return targets


#: A change's answer lists the decisions it made up to this many.
MAX_ECHO = 5000


@router.post("/api/cases/{case}/decisions", tags=["review"])
def decide(
    request: Request, _writer: Writer, user: Csrf, case: CaseDep, body: DecisionRequest
) -> dict[str, Any]:
    """Set category (0-4), victim/offender identified, series, tags or note; saved at once."""
    try:
        result = apply_changes(
            get_store(request),
            case.id,
            _targets(request, case, body),
            body.changes,
            user.username,
            client=client_of(request),
        )
    except DecisionError as exc:
        raise HTTPException(422, str(exc)) from None
    decisions = result.decisions
    return {
        "batch": result.batch,
        "files": len(decisions),
        # a big "all in the filter" change: the count only (the grid reloads its windows)
        "decisions": decisions if len(decisions) <= MAX_ECHO else [],
    }


@router.post("/api/cases/{case}/undo", tags=["review"], responses={409: {"description": "Nothing"}})
def undo(request: Request, _writer: Writer, user: Csrf, case: CaseDep) -> dict[str, Any]:
    """Undo the user's last change in this case."""
    try:
        result = undo_last(get_store(request), case.id, user.username, client=client_of(request))
    except NothingToUndo as exc:
        raise HTTPException(409, str(exc)) from None
    decisions = result.decisions
    return {
        "batch": result.batch,
        "undoes": result.undoes,
        "files": len(decisions),
        "decisions": decisions if len(decisions) <= MAX_ECHO else [],
    }


# --- sharing -------------------------------------------------------------------------------------


@router.get("/api/cases/{case}/export/vics", tags=["share"])
def export_vics(request: Request, user: User, case: CaseDep) -> Response:
    """The reviewers' categorisations as a VICS 2.0 hash set (MD5, SHA1, SHA256 and PDQ)."""
    import io

    store = get_store(request)
    out = io.StringIO()
    n = export.write_reviewed_vics(store, case, out)
    audit.log(
        store,
        user.username,
        "export",
        case_id=case.id,
        field="vics-media",
        new=n,
        client=client_of(request),
    )
    return Response(
        out.getvalue(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{case.name}-reviewed-vics.json"'},
    )


__all__ = ["Verdict", "router"]
