"""A scanned sample case with users, copied fresh for each test; a logged-in API client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashsieve import import_hashset, run_scan
from hashsieve.access.auth import add_user
from hashsieve.config import Settings
from hashsieve.store import Store
from hashsieve.web.app import create_app

CASE = "op-test"
PASSWORD = "correct horse battery"
USERS = {"alice": "reviewer", "bob": "reviewer", "root": "admin", "rita": "read-only"}


@pytest.fixture(scope="session")
def scanned_home(sample_case: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the sample case, scanned once; tests work on copies of it."""
    evidence, sets = sample_case
    home = tmp_path_factory.mktemp("review-home") / "home"
    store = Store(Settings(home=home, workers=2))
    import_hashset(store, sets / "projectvic.json", "vic")
    import_hashset(store, sets / "NSRLFile.txt", "nsrl")
    import_hashset(store, sets / "ncmec-md5.txt", "ncmec", category=1)
    run_scan(store, CASE, [str(evidence)])
    for name, role in USERS.items():
        add_user(store, name, PASSWORD, role)
    store.close()
    return home


@pytest.fixture
def review_store(scanned_home: Path, tmp_path: Path) -> Iterator[Store]:
    home = tmp_path / "home"
    shutil.copytree(scanned_home, home)
    store = Store(Settings(home=home, workers=2))
    yield store
    store.close()


@dataclass
class Api:
    """A TestClient and the CSRF token of its session."""

    client: TestClient
    csrf: str = ""

    def login(self, username: str, password: str = PASSWORD) -> Api:
        r = self.client.post("/api/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]
        return self

    def post(self, url: str, json: object = None) -> object:
        return self.client.post(url, json=json or {}, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def app(review_store: Store):  # type: ignore[no-untyped-def]
    return create_app(review_store, case=CASE)


@pytest.fixture
def anon(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        yield client


def _client(app, username: str) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        yield Api(client).login(username)


@pytest.fixture
def alice(app) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    yield from _client(app, "alice")


@pytest.fixture
def bob(app) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    yield from _client(app, "bob")


@pytest.fixture
def rita(app) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    yield from _client(app, "rita")


@pytest.fixture
def root(app) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    yield from _client(app, "root")


GRID_CASE = "op-grid"
#: The generated case of the grid tests: files, of which the first GRID_REAL are real pictures.
GRID_FILES = 1500
GRID_REAL = 300


@pytest.fixture(scope="session")
def grid_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a generated case of 1,500 files (rows written directly, 300 real JPEGs)."""
    from tests.review.synthetic import add_case

    root = tmp_path_factory.mktemp("grid-home")
    store = Store(Settings(home=root / "home", workers=1))
    add_case(store, GRID_CASE, GRID_FILES, pictures=root / "evidence", real=GRID_REAL)
    for name, role in USERS.items():
        add_user(store, name, PASSWORD, role)
    store.close()
    return root / "home"


@pytest.fixture
def grid_store(grid_home: Path, tmp_path: Path) -> Iterator[Store]:
    home = tmp_path / "home"
    shutil.copytree(grid_home, home)
    store = Store(Settings(home=home, workers=1))
    yield store
    store.close()


@pytest.fixture
def grid_alice(grid_store: Store) -> Iterator[Api]:
    with TestClient(create_app(grid_store, case=GRID_CASE)) as client:
        yield Api(client).login("alice")
