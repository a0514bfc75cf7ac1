"""Shared fixtures: a store in a temporary home, and the generated sample case."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashsieve.config import Settings
from hashsieve.store import Store

from .postgres import PostgresServer

REPO = Path(__file__).resolve().parents[1]
#: The public PDQ and vPDQ reference media: ../shared/conformance, or $HASHSIEVE_CONFORMANCE.
CONFORMANCE = Path(
    os.environ.get("HASHSIEVE_CONFORMANCE") or REPO.parent / "shared" / "conformance"
)

#: The field's own public test files (decoder crash cases, exotic formats, disk images):
#: ../shared/realworld, or $HASHSIEVE_REALWORLD.
REALWORLD = Path(os.environ.get("HASHSIEVE_REALWORLD") or REPO.parent / "shared" / "realworld")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def needs_conformance(path: Path) -> pytest.MarkDecorator:
    """Mark a test that reads ``path`` (under :data:`CONFORMANCE`): skipped where it is absent on
    a developer machine, failed in CI (``CI`` set), where its absence is a broken set-up and a
    skip would let the conformance checks pass unseen."""
    return pytest.mark.conformance(path)


def needs_realworld(path: Path = REALWORLD) -> pytest.MarkDecorator:
    """As :func:`needs_conformance`, for a test that reads ``path`` under :data:`REALWORLD`."""
    return pytest.mark.conformance(path)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance(path): needs the conformance media at path")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("conformance"):
        path = Path(mark.args[0])
        if not path.exists():
            message = f"conformance data not found at {path} (set HASHSIEVE_CONFORMANCE)"
            if in_ci():
                pytest.fail(f"{message}; CI must run with it", pytrace=False)
            pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", workers=2)


@pytest.fixture
def store(settings: Settings) -> Store:
    s = Store(settings)
    yield s
    s.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the session (tests/postgres.py); skips without one."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database of its own on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def sample_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's evidence folder and hash sets (generated once per test session)."""
    from hashsieve.cli.demo import build_case

    return build_case(tmp_path_factory.mktemp("sample"))


def run_cli(
    home: Path, *args: str, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would."""
    env = {**os.environ, "HASHSIEVE_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "hashsieve.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"hashsieve {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def scan_rows(store: Store, case: str, evidence: Path, jsonl: Path) -> dict[str, dict]:
    """Scan ``evidence`` into ``case``; its JSON Lines rows by file name."""
    import json

    from hashsieve import run_scan

    run_scan(store, case, [str(evidence)], jsonl_path=jsonl)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return {Path(r["path"]).name: r for r in rows}
