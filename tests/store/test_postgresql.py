"""The same store on a real PostgreSQL server: migrations, import, scan, report.

The private server of tests/postgres.py (fixture ``postgres_url``: a fresh database per test);
skipped with a clear message where the PostgreSQL server or the psycopg driver is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashsieve import Settings, Store, import_hashset, run_scan
from hashsieve.report.writers import write_jsonl


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
