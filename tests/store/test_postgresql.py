"""The same store on a real PostgreSQL server: migrations, import, scan, report.

The private server of tests/postgres.py (fixture ``postgres_url``: a fresh database per test);
skipped with a clear message where the PostgreSQL server or the psycopg driver is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hashsieve import Settings, Store, import_hashset, run_scan
from hashsieve.access.auth import add_user
from hashsieve.report.writers import write_jsonl
from hashsieve.store.models import FileRecord, Match, Scan

from ..postgres import PostgresServer


def test_scan_and_report_on_postgresql(
    postgres_url: str,
    tmp_path: Path,
    sample_case: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HASHSIEVE_DATABASE_URL", postgres_url)
    store = Store(Settings(home=tmp_path / "home", workers=2))
    assert store.engine.dialect.name == "postgresql"
    evidence, sets = sample_case
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    summary = run_scan(store, "pg", [str(evidence)])
    assert summary.verdicts["known"] == 6 and summary.verdicts["new"] == 6

    class Sink(list[str]):
        def write(self, text: str) -> None:
            self.append(text)

    sink = Sink()
    case = store.get_case("pg")
    write_jsonl(store, case.id, case.name, sink)  # type: ignore[arg-type]
    records = [json.loads(line) for line in "".join(sink).splitlines()]
    assert records[0]["verdict"] == "new"
    assert {r["verdict"] for r in records} >= {"new", "known", "unreadable", "other"}
    store.close()


# --- several examiners on one PostgreSQL at once ---------------------------------------------

CASES = ("op-a", "op-b")
PASSWORD = "correct horse battery"


def _open(url: str, home: Path) -> Store:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HASHSIEVE_DATABASE_URL", url)
        return Store(Settings(home=home, workers=1))


@pytest.fixture(scope="module")
def two_scans(
    postgres_server: PostgresServer,
    sample_case: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Path, list[subprocess.CompletedProcess[str]]]:
    """Hash sets imported, then two cases scanned at the same time by two ``hashsieve scan``
    processes on one database and one index folder."""
    url = postgres_server.new_database()
    home = tmp_path_factory.mktemp("pg-two") / "home"
    evidence, sets = sample_case
    env = {**os.environ, "HASHSIEVE_HOME": str(home), "HASHSIEVE_DATABASE_URL": url}
    env["HASHSIEVE_ROBUST"] = "0"  # the whole-image hashes are enough here, and quicker
    store = _open(url, home)
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    for name in ("alice", "bob"):
        add_user(store, name, PASSWORD, "reviewer")
    store.close()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashsieve.cli",
                "scan",
                str(evidence),
                "--case",
                case,
                "--workers",
                "1",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case in CASES
    ]
    done = [
        subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in procs
    ]
    return url, home, done


def test_two_scans_at_once_on_postgresql(
    two_scans: tuple[str, Path, list[subprocess.CompletedProcess[str]]],
) -> None:
    url, home, done = two_scans
    for proc in done:
        assert proc.returncode == 0, proc.stderr
        assert "deadlock" not in proc.stderr.lower() and "serializ" not in proc.stderr.lower()
    store = _open(url, home)
    try:
        by_case = {}
        with store.session() as s:
            for case in CASES:
                case_id = store.get_case(case).id
                rows = s.execute(
                    select(FileRecord.path_text, FileRecord.verdict, FileRecord.sha256).where(
                        FileRecord.case_id == case_id
                    )
                ).all()
                paths = [r.path_text for r in rows]
                assert len(paths) == len(set(paths))  # none twice
                scan = s.execute(select(Scan.status, Scan.files).where(Scan.case_id == case_id))
                assert scan.one() == ("completed", len(paths))  # none lost
                n_matches = s.scalar(
                    select(func.count())
                    .select_from(Match)
                    .join(FileRecord, FileRecord.id == Match.file_id)
                    .where(FileRecord.case_id == case_id)
                )
                by_case[case] = (sorted((r.path_text, r.verdict) for r in rows), n_matches)
        assert by_case[CASES[0]] == by_case[CASES[1]]
        verdicts = [v for _, v in by_case[CASES[0]][0]]
        assert verdicts.count("known") == 6 and verdicts.count("new") == 6
    finally:
        store.close()


def test_two_reviewers_decide_on_one_case_at_once(
    two_scans: tuple[str, Path, list[subprocess.CompletedProcess[str]]],
) -> None:
    from fastapi.testclient import TestClient

    from hashsieve.access.models import AuditEvent
    from hashsieve.review.models import Decision
    from hashsieve.web.app import create_app

    url, home, _ = two_scans
    store = _open(url, home)
    case = CASES[0]
    with store.session() as s:
        shas = sorted(
            set(
                s.scalars(
                    select(FileRecord.sha256).where(
                        (FileRecord.case_id == store.get_case(case).id)
                        & FileRecord.sha256.is_not(None)
                    )
                )
            )
        )
    app = create_app(store, case=case)
    rounds = 6
    statuses: dict[str, list[int]] = {"alice": [], "bob": []}
    barrier = threading.Barrier(2)

    errors: list[str] = []

    def review(name: str, category: int) -> None:
        try:
            decide(name, category)
        except Exception as exc:
            errors.append(f"{name}: {exc!r}")

    def decide(name: str, category: int) -> None:
        with TestClient(app) as client:
            r = client.post("/api/login", json={"username": name, "password": PASSWORD})
            csrf = r.json()["csrf_token"]
            barrier.wait()
            for i in range(rounds):
                body = {"sha256": shas, "set": {"category": category, "note": f"{name} {i}"}}
                r = client.post(
                    f"/api/cases/{case}/decisions", json=body, headers={"X-CSRF-Token": csrf}
                )
                statuses[name].append(r.status_code)

    threads = [
        threading.Thread(target=review, args=("alice", 1)),
        threading.Thread(target=review, args=("bob", 2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert statuses == {"alice": [200] * rounds, "bob": [200] * rounds}
        with store.session() as s:
            decisions = s.execute(select(Decision.sha256, Decision.note)).all()
            notes = {
                n: s.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where((AuditEvent.field == "note") & (AuditEvent.username == n))
                )
                for n in ("alice", "bob")
            }
        assert sorted(d.sha256 for d in decisions) == shas  # one decision per content
        assert {d.note for d in decisions} <= {"alice 5", "bob 5"}  # a whole last batch won
        # every batch changed every note (the other's, or its own of the round before)
        assert notes == {"alice": rounds * len(shas), "bob": rounds * len(shas)}
    finally:
        store.close()
