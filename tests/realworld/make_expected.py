"""Write tests/realworld/expected.tsv from a scan of ../shared/realworld (one per folder).

Run it once, when the corpus or a deliberate change of hashsieve alters verdicts:

    .venv/bin/python -m tests.realworld.make_expected

then READ the diff (``git diff tests/realworld/expected.tsv``) row by row before committing it:
the table is the reviewed record of what hashsieve says about each file, and the test fails on
any change. Notes on rows that stay doubtful go into tests/realworld/README.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.conftest import REALWORLD
from tests.realworld.table import EXPECTED, SCANS, Row, scan_rows, write_expected


def main() -> int:
    if not REALWORLD.is_dir():
        print(f"no corpus at {REALWORLD}", file=sys.stderr)
        return 1
    rows: dict[str, Row] = {}
    for folder in SCANS:
        with tempfile.TemporaryDirectory() as tmp:
            rows.update(scan_rows(folder, Path(tmp) / "home"))
    write_expected(rows)
    print(f"{len(rows)} rows written to {EXPECTED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
