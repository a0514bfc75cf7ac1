"""The regression table over ../shared/realworld: how a scan's rows become table rows.

Shared by ``make_expected.py`` (which writes ``expected.tsv`` once, to be read by hand) and
``test_regression.py`` (which compares a fresh scan with it row by row).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import astuple, dataclass
from pathlib import Path

from hashsieve import run_scan
from hashsieve.config import Settings
from hashsieve.store import Store
from tests.conftest import REALWORLD

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.tsv"
COLUMNS = ("path", "verdict", "media_type", "reason", "members")

#: One scan per folder (the top-level README goes with the media): what each scan is given.
SCANS = {"media": ["media", "README.md"], "disk-images": ["disk-images"]}


@dataclass(frozen=True, slots=True)
class Row:
    path: str  # relative to ../shared/realworld; members as container!/member
    verdict: str
    media_type: str
    reason: str  # the error's code (before ':'), empty when none
    members: str  # rows listed under a container (disk image, archive), empty for a plain file

    def differences(self, other: Row) -> list[str]:
        return [
            f"{name}: {old!r} -> {new!r}"
            for name, old, new in zip(COLUMNS, astuple(self), astuple(other), strict=True)
            if old != new
        ]


def scan_rows(folder: str, home: Path) -> dict[str, Row]:
    """Scan one folder of the corpus into a fresh home; its rows by relative path."""
    settings = Settings(home=home, workers=os.cpu_count() or 2)
    jsonl = home / "scan.jsonl"
    store = Store(settings)
    try:
        run_scan(store, "realworld", [str(REALWORLD / p) for p in SCANS[folder]], jsonl_path=jsonl)
    finally:
        store.close()
    prefix = f"{REALWORLD}/"
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    paths = [r["path"].removeprefix(prefix) for r in records]
    rows: dict[str, Row] = {}
    for path, record in zip(paths, records, strict=True):
        under = sum(1 for p in paths if p.startswith(f"{path}!/"))
        error = record.get("error") or ""
        rows[path] = Row(
            path=path,
            verdict=record["verdict"],
            media_type=record.get("media_type") or "",
            reason=error.split(":", 1)[0] if error else "",
            members=str(under) if under else "",
        )
    return rows


def folder_of(path: str) -> str:
    return next(f for f, roots in SCANS.items() if any(path.split("/")[0] == r for r in roots))


def read_expected() -> dict[str, Row]:
    with EXPECTED.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader((line for line in fh if not line.startswith("#")), delimiter="\t")
        header = next(reader)
        assert tuple(header) == COLUMNS, header
        return {r[0]: Row(*r) for r in reader}


def write_expected(rows: dict[str, Row]) -> None:
    with EXPECTED.open("w", encoding="utf-8", newline="") as fh:
        fh.write(
            "# Expected scan of ../shared/realworld, one row per scanned file or member; written"
            " by make_expected.py, reviewed by hand (see README.md).\n"
        )
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for path in sorted(rows):
            writer.writerow(astuple(rows[path]))
