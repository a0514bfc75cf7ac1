"""The JSON API contract of the review workspace: auth, CSRF, roles, media, decisions, audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from starlette.routing import Mount

from hashsieve.access.auth import LoginLimiter
from hashsieve.access.models import AuditEvent
from hashsieve.review.models import Decision
from hashsieve.store import Store
from hashsieve.store.models import FileRecord
from hashsieve.web.app import create_app
from tests.review.conftest import CASE, PASSWORD, Api

_OPEN = {"/api/login", "/login"}  # the only routes open to anyone


def _routes() -> list[tuple[str, str]]:
    app = create_app(None, case=CASE)  # type: ignore[arg-type]  # routes only, no requests
    out = []

    def walk(routes: list) -> None:
        for route in routes:
            if isinstance(route, APIRoute) and route.path not in _OPEN:
                out.extend((method, route.path) for method in sorted(route.methods))
            elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.160)
                walk(route.original_router.routes)
            elif hasattr(route, "routes") and not isinstance(route, Mount):
                walk(route.routes)

    walk(app.routes)
    assert len(out) > 25, out
    return out


def _fill(path: str, file_id: int) -> str:
    return path.replace("{case}", CASE).replace("{file_id}", str(file_id))


def _groups(api: Api, **params: object) -> dict:
    r = api.client.get(f"/api/cases/{CASE}/groups", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _file_id(store: Store, name: str) -> int:
    with store.session() as s:
        return s.scalar(select(FileRecord.id).where(FileRecord.path_text.like(f"%/{name}")))  # type: ignore[return-value]


def _audit(store: Store, action: str) -> list[AuditEvent]:
    with store.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize(("method", "path"), _routes())
def test_every_route_refuses_an_anonymous_request(
    anon: TestClient, review_store: Store, method: str, path: str
) -> None:
    url = _fill(path, _file_id(review_store, "series-1.jpg"))
    r = anon.request(method, url, json={}, follow_redirects=False)
    # The JSON API and HMA's match routes (/m/..., bearer tokens) answer 401; pages redirect.
    if path.startswith(("/api/", "/m/")) or path == "/openapi.json":
        assert r.status_code == 401, (method, url, r.status_code)
    elif method == "GET":
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    else:
        assert r.status_code in (401, 403)


def test_openapi_is_served_to_logged_in_users_only(anon: TestClient, alice: Api) -> None:
    assert anon.get("/openapi.json").status_code == 401
    spec = alice.client.get("/openapi.json").json()
    assert "/api/cases/{case}/groups" in spec["paths"]
    assert "/api/login" in spec["paths"]


def test_login_sets_an_httponly_samesite_cookie(anon: TestClient) -> None:
    r = anon.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert anon.get(f"/api/cases/{CASE}").status_code == 200


def test_wrong_password_and_unknown_user_are_refused_alike(anon: TestClient) -> None:
    for name in ("alice", "mallory"):
        r = anon.post("/api/login", json={"username": name, "password": "wrong-password"})
        assert r.status_code == 401
        assert r.json() == {"detail": "wrong user name or password"}


def test_logins_are_rate_limited(review_store: Store) -> None:
    app = create_app(review_store, case=CASE, limiter=LoginLimiter(attempts=3, window=60))
    with TestClient(app) as client:
        for _ in range(3):
            bad = {"username": "alice", "password": "wrong-password"}
            assert client.post("/api/login", json=bad).status_code == 401
        r = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert len(_audit(review_store, "login-failed")) == 3


def test_login_page_form_logs_in_and_redirects(anon: TestClient) -> None:
    r = anon.get("/cases", follow_redirects=False)
    assert r.status_code == 303
    r = anon.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect


def test_state_changes_need_the_csrf_token(alice: Api, review_store: Store) -> None:
    sha = _groups(alice)["groups"][0]["tiles"][0]["sha256"]
    url = f"/api/cases/{CASE}/decisions"
    body = {"sha256": [sha], "set": {"category": 1}}
    assert alice.client.post(url, json=body).status_code == 403
    r = alice.client.post(url, json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = alice.client.post(
        url, json=body, headers={"X-CSRF-Token": alice.csrf, "Origin": "http://evil.example"}
    )
    assert r.status_code == 403
    assert alice.client.put("/api/settings", json={"blur": 3}).status_code == 403
    with review_store.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0
    assert alice.post(url, body).status_code == 200  # type: ignore[attr-defined]


def test_logout_ends_the_session(alice: Api) -> None:
    assert alice.client.post("/api/logout").status_code == 403  # CSRF applies to logout too
    assert alice.post("/api/logout").status_code == 200  # type: ignore[attr-defined]
    assert alice.client.get(f"/api/cases/{CASE}").status_code == 401


def test_roles(rita: Api, alice: Api, root: Api) -> None:
    sha = _groups(rita)["groups"][0]["tiles"][0]["sha256"]
    r = rita.post(f"/api/cases/{CASE}/decisions", {"sha256": [sha], "set": {"category": 1}})
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert rita.post(f"/api/cases/{CASE}/undo").status_code == 403  # type: ignore[attr-defined]
    assert rita.client.get(f"/api/cases/{CASE}/audit").status_code == 403
    assert alice.client.get(f"/api/cases/{CASE}/audit").status_code == 200
    assert alice.client.get("/api/users").status_code == 403
    users = root.client.get("/api/users").json()["users"]
    assert {u["username"]: u["role"] for u in users}["rita"] == "read-only"


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/op-test/files/..%2F..%2F..%2Fetc%2Fpasswd/thumb",
        "/api/cases/op-test/files/%2Fetc%2Fpasswd/image",
        "/api/cases/op-test/files/0/image",
        "/api/cases/op-test/files/999999/image",
        "/api/cases/..%2F..%2Fetc/files/1/image",
        "/api/cases/other-case/files/1/thumb",
        "/api/cases/op-test/files/1/../../../../etc/passwd",
        "/static/../../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/store/db.py",
    ],
)
def test_no_path_traversal(alice: Api, path: str) -> None:
    r = alice.client.get(path)
    assert r.status_code in (404, 422), (path, r.status_code)
    assert b"root:" not in r.content and b"make_engine" not in r.content


def test_media_is_served_from_the_case_only_and_never_cached(
    alice: Api, review_store: Store
) -> None:
    fid = _file_id(review_store, "series-1.jpg")
    with review_store.session() as s:
        path = s.get_one(FileRecord, fid).path_key
    before = os.stat(path)
    for kind in ("thumb", "image"):
        r = alice.client.get(f"/api/cases/{CASE}/files/{fid}/{kind}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["cache-control"] == "no-store"
        assert r.content[:2] == b"\xff\xd8"
    after = os.stat(path)
    assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)
    thumbs = review_store.home / "thumbs"
    assert any(thumbs.rglob("*.jpg"))  # cached in the home, never beside the evidence
    assert not any(p.name.endswith(".jpg.tmp") for p in Path(os.fsdecode(path)).parent.iterdir())
    # Another case's server does not serve this case's files.
    other = create_app(review_store, case="someone-else")
    with TestClient(other) as client:
        Api(client).login("alice")
        assert client.get(f"/api/cases/{CASE}/files/{fid}/thumb").status_code == 404


def test_views_are_audited(alice: Api, review_store: Store) -> None:
    fid = _file_id(review_store, "series-2.jpg")
    alice.client.get(f"/api/cases/{CASE}/files/{fid}")
    alice.client.get(f"/api/cases/{CASE}/files/{fid}/thumb")
    alice.client.get(f"/api/cases/{CASE}/files/{fid}/image")
    for action in ("view", "thumbnail", "image"):
        (event,) = _audit(review_store, action)
        assert (event.username, event.file_id) == ("alice", fid)
        assert event.path and event.path.endswith("series-2.jpg")
    assert len(_audit(review_store, "login")) == 1


def test_the_audit_log_is_append_only(alice: Api, review_store: Store) -> None:
    assert _audit(review_store, "login")
    for sql in ("UPDATE review_audit SET username = 'x'", "DELETE FROM review_audit"):
        with pytest.raises(DatabaseError, match="append-only"), review_store.session() as s:
            s.execute(text(sql))


def test_groups_put_new_material_first_with_copies_stacked(alice: Api) -> None:
    data = _groups(alice)
    sizes = [g["files"] for g in data["groups"]]
    assert sizes == sorted(sizes, reverse=True)
    series = data["groups"][0]
    assert series["files"] == 3 and len(series["tiles"]) == 3  # a near-duplicate series
    copies = [t for g in data["groups"] for t in g["tiles"] if t["copies"] == 2]
    assert len(copies) == 1  # other-1.jpg and its byte-identical copy: one tile
    assert all(t["verdict"] == "new" for g in data["groups"] for t in g["tiles"])
    known = {k["category"]: k["files"] for k in data["known"]}
    assert known == {1: 4, 2: 2}  # IMG_0001, IMG_0003, its copy in holiday.zip, resaved.jpg
    opened = _groups(alice, verdict="known", category=1)
    assert sum(g["files"] for g in opened["groups"]) == 4


def test_categorise_a_group_then_undo(alice: Api, review_store: Store) -> None:
    series = _groups(alice)["groups"][0]
    r = alice.post(
        f"/api/cases/{CASE}/decisions", {"group": series["group"], "set": {"category": 1}}
    )
    assert r.status_code == 200  # type: ignore[attr-defined]
    assert {d["category"] for d in r.json()["decisions"]} == {1}  # type: ignore[attr-defined]
    tiles = _groups(alice)["groups"][0]["tiles"]
    assert [t["review"]["category"] for t in tiles] == [1, 1, 1]
    assert all(t["category"] is None for t in tiles)  # the scan's category is kept apart
    sets = _audit(review_store, "set")
    assert len(sets) == 3 and {e.new_value for e in sets} == {"1"}
    assert len({e.batch for e in sets}) == 1

    sha = tiles[0]["sha256"]
    alice.post(
        f"/api/cases/{CASE}/decisions",
        {
            "sha256": [sha],
            "set": {
                "victim_identified": True,
                "series": "lake",
                "tags": ["outdoor", "boat"],
                "note": "n1",
            },
        },
    )
    r = alice.post(f"/api/cases/{CASE}/undo")
    assert r.status_code == 200  # type: ignore[attr-defined]
    (d,) = r.json()["decisions"]  # type: ignore[attr-defined]
    assert (d["category"], d["series"], d["tags"], d["victim_identified"]) == (1, None, None, None)
    r = alice.post(f"/api/cases/{CASE}/undo")
    assert {d["category"] for d in r.json()["decisions"]} == {None}  # type: ignore[attr-defined]
    assert alice.post(f"/api/cases/{CASE}/undo").status_code == 409  # type: ignore[attr-defined]
    assert len(_audit(review_store, "undo")) == 3 + 4


@pytest.mark.parametrize(
    "changes",
    [{"category": 7}, {"category": "1"}, {"victim_identified": "yes"}, {"colour": 1}, {}],
)
def test_bad_changes_are_refused(alice: Api, changes: dict) -> None:
    sha = _groups(alice)["groups"][0]["tiles"][0]["sha256"]
    r = alice.post(f"/api/cases/{CASE}/decisions", {"sha256": [sha], "set": changes})
    assert r.status_code == 422  # type: ignore[attr-defined]


def test_files_of_another_case_cannot_be_categorised(alice: Api) -> None:
    r = alice.post(f"/api/cases/{CASE}/decisions", {"sha256": ["0" * 64], "set": {"category": 1}})
    assert r.status_code == 422  # type: ignore[attr-defined]
    r = alice.post(f"/api/cases/{CASE}/decisions", {"file_ids": [999999], "set": {"category": 1}})
    assert r.status_code == 404  # type: ignore[attr-defined]


def test_two_reviewers_last_write_wins_and_both_are_audited(
    alice: Api, bob: Api, review_store: Store
) -> None:
    group = _groups(alice)["groups"][1]["group"]
    alice.post(f"/api/cases/{CASE}/decisions", {"group": group, "set": {"category": 2}})
    bob.post(f"/api/cases/{CASE}/decisions", {"group": group, "set": {"category": 3}})
    tiles = next(g for g in _groups(alice)["groups"] if g["group"] == group)["tiles"]
    assert [(t["review"]["category"], t["review"]["updated_by"]) for t in tiles] == [(3, "bob")]
    sets = [(e.username, e.old_value, e.new_value) for e in _audit(review_store, "set")]
    assert sets == [("alice", "null", "2"), ("bob", "2", "3")]
    # Alice's undo restores what she replaced; Bob's write stays in the record.
    alice.post(f"/api/cases/{CASE}/undo")
    assert [(e.username, e.new_value) for e in _audit(review_store, "undo")] == [("alice", "null")]


def test_file_detail_has_paths_hashes_matches_and_metadata(alice: Api, review_store: Store) -> None:
    fid = _file_id(review_store, "series-1.jpg")
    d = alice.client.get(f"/api/cases/{CASE}/files/{fid}").json()
    assert d["identifying_metadata"]["BodySerialNumber"] == "SN-0042"
    assert d["identifying_metadata"]["Make"] == "ExampleCam"
    assert d["gps"] == {
        "lat": pytest.approx(52.3731, abs=1e-3),
        "lon": pytest.approx(4.8922, abs=1e-3),
    }
    assert (d["width"], d["height"]) == (800, 600)
    assert len(d["md5"]) == 32 and len(d["pdq"]) == 64
    (point,) = [p for p in d["map"]["points"] if p["highlight"]]
    assert point["x"] == pytest.approx(184.89, abs=0.01) and point["y"] == pytest.approx(
        37.63, abs=0.01
    )

    known = _file_id(review_store, "IMG_0001.jpg")
    d = alice.client.get(f"/api/cases/{CASE}/files/{known}").json()
    assert {m["hashset"] for m in d["matches"]} >= {"vic"}
    copy = _file_id(review_store, "copy-of-other-1.jpg")
    d = alice.client.get(f"/api/cases/{CASE}/files/{copy}").json()
    assert len(d["paths"]) == 2


def test_find_similar(alice: Api, review_store: Store) -> None:
    fid = _file_id(review_store, "series-1.jpg")
    near = alice.client.get(f"/api/cases/{CASE}/files/{fid}/similar?distance=31").json()
    names = {t["name"] for t in near["tiles"]}
    assert {"series-1.jpg", "series-2.jpg", "series-3.jpg"} <= names
    assert near["tiles"][0]["distance"] == 0
    exact = alice.client.get(f"/api/cases/{CASE}/files/{fid}/similar?distance=0").json()
    assert {t["name"] for t in exact["tiles"]} <= {"series-1.jpg", "series-3.jpg"}


def test_dashboard_counts_scans_and_hashsets(alice: Api) -> None:
    d = alice.client.get(f"/api/cases/{CASE}").json()
    assert d["verdicts"]["new"] == 6 and d["files"] == 16  # holiday.zip and its member
    assert d["scans"][0]["status"] == "completed" and not d["scanning"]
    assert {h["name"]: h["files_matched"] for h in d["hashsets"]}["vic"] >= 4


def test_settings_are_per_user_and_checked(alice: Api, bob: Api) -> None:
    r = alice.client.put(
        "/api/settings",
        json={"blur": 30, "greyscale": False, "thumb_size": 200, "break_minutes": 20},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert r.status_code == 200 and r.json()["blur"] == 30
    assert alice.client.get("/api/me").json()["settings"]["thumb_size"] == 200
    assert bob.client.get("/api/me").json()["settings"]["blur"] == 14
    for bad in ({"blur": 99}, {"greyscale": "no"}, {"zoom": 2}):
        r = alice.client.put("/api/settings", json=bad, headers={"X-CSRF-Token": alice.csrf})
        assert r.status_code == 422
    page = alice.client.get("/cases/op-test/groups").text
    assert "--blur: 30px; --grey: 0; --thumb: 200px" in page


def test_html_pages_render_for_a_logged_in_user(alice: Api, review_store: Store) -> None:
    fid = _file_id(review_store, "series-1.jpg")
    for path in (
        "/cases",
        f"/cases/{CASE}",
        f"/cases/{CASE}/groups",
        f"/cases/{CASE}/groups?verdict=known&category=1",
        f"/cases/{CASE}/files/{fid}",
        f"/cases/{CASE}/files/{fid}/similar",
        f"/cases/{CASE}/map",
        f"/cases/{CASE}/report",
        f"/cases/{CASE}/audit",
        "/settings",
    ):
        r = alice.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]


def test_report_has_counts_series_blurred_thumbnails_and_the_audit_log(
    alice: Api, review_store: Store
) -> None:
    group = _groups(alice)["groups"][0]["group"]
    alice.post(f"/api/cases/{CASE}/decisions", {"group": group, "set": {"series": "lake"}})
    data = alice.client.get(f"/api/cases/{CASE}/report").json()
    assert data["series"] == [{"series": "lake", "contents": 3}]
    assert any(e["action"] == "set" for e in data["audit"])
    html = alice.client.get(f"/cases/{CASE}/report").text
    assert "report=true" in html
    fid = _file_id(review_store, "series-1.jpg")
    plain = alice.client.get(f"/api/cases/{CASE}/files/{fid}/thumb?size=128").content
    blurred = alice.client.get(f"/api/cases/{CASE}/files/{fid}/thumb?size=128&report=true").content
    assert plain != blurred
    lines = alice.client.get(f"/api/cases/{CASE}/audit.jsonl").text.splitlines()
    assert {json.loads(line)["action"] for line in lines} >= {"set", "report", "thumbnail"}


def _mark_recovered(store: Store, name: str, how: str = "deleted", offset: int = 4096) -> int:
    fid = _file_id(store, name)
    with store.session() as s:
        row = s.get(FileRecord, fid)
        assert row is not None
        row.recovered, row.offset = how, offset
    return fid


def test_recovered_files_are_marked_and_can_be_listed_alone(
    alice: Api, review_store: Store
) -> None:
    fid = _mark_recovered(review_store, "series-2.jpg")
    tiles = {t["file_id"]: t for g in _groups(alice)["groups"] for t in g["tiles"]}
    assert tiles[fid]["recovered"] == "deleted" and tiles[fid]["offset"] == 4096
    assert all(t["recovered"] is None for i, t in tiles.items() if i != fid)

    for value in ("deleted", "any"):
        only = _groups(alice, recovered=value)
        assert only["recovered"] == value and only["total_groups"] == 1
        assert [t["file_id"] for g in only["groups"] for t in g["tiles"]] == [fid]
    assert _groups(alice, recovered="carved")["total_groups"] == 0
    r = alice.client.get(f"/api/cases/{CASE}/groups", params={"recovered": "lost"})
    assert r.status_code == 422

    detail = alice.client.get(f"/api/cases/{CASE}/files/{fid}").json()
    assert detail["recovered"] == "deleted" and detail["offset"] == 4096


def test_pages_show_the_recovered_badge(alice: Api, review_store: Store) -> None:
    fid = _mark_recovered(review_store, "series-2.jpg")
    page = alice.client.get(f"/cases/{CASE}/groups", params={"recovered": "deleted"}).text
    assert page.count('class="badge recovered"') == 1 and "recovered: deleted" in page
    assert f'data-file="{fid}"' in page and "series-1.jpg" not in page
    everything = alice.client.get(f"/cases/{CASE}/groups").text
    assert everything.count('class="badge recovered"') == 1
    detail = alice.client.get(f"/cases/{CASE}/files/{fid}").text
    assert "recovered: deleted" in detail and "at byte 4096" in detail
