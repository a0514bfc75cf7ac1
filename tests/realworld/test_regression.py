"""The regression table: every file of ../shared/realworld scanned (one scan per folder, fresh
home, the scan's workers, memory limit and timeouts), each row compared with the reviewed
``expected.tsv`` (verdict, media type, reason code, members of a container). A change fails
with the file's name and the old and new values; regenerate with ``make_expected.py`` and review
the diff when a change is deliberate."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REALWORLD, needs_realworld
from tests.realworld.table import EXPECTED, SCANS, Row, folder_of, read_expected, scan_rows

_EXPECTED = read_expected()

Scan = Callable[[str], dict[str, Row]]


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """A folder's rows by path, scanned on first use (one scan per folder for the module)."""
    cache: dict[str, dict[str, Row]] = {}

    def rows(folder: str) -> dict[str, Row]:
        if folder not in cache:
            cache[folder] = scan_rows(folder, tmp_path_factory.mktemp(folder) / "home")
        return cache[folder]

    return rows


@needs_realworld()
@pytest.mark.parametrize("path", sorted(_EXPECTED))
def test_row_matches_the_table(path: str, scan: Scan) -> None:
    rows = scan(folder_of(path))
    assert path in rows, f"{path}: in {EXPECTED.name} but not scanned any more"
    changes = _EXPECTED[path].differences(rows[path])
    assert not changes, f"{path}: " + "; ".join(changes)


@needs_realworld()
@pytest.mark.parametrize("folder", sorted(SCANS))
def test_no_row_outside_the_table(folder: str, scan: Scan) -> None:
    rows = scan(folder)
    unexpected = sorted(set(rows) - set(_EXPECTED))
    assert not unexpected, f"scanned but not in {EXPECTED.name}: {unexpected}"


@needs_realworld()
def test_every_file_of_the_corpus_has_a_row() -> None:
    on_disk = {
        str(Path(root, name).relative_to(REALWORLD))
        for root, _dirs, files in os.walk(REALWORLD)
        for name in files
    }
    assert on_disk - set(_EXPECTED) == set()
