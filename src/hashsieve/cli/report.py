"""``hashsieve report``: a case's results in review order (JSON Lines, CSV, VICS)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hashsieve.cli.common import console, friendly, open_store


@click.command()
@click.option("--case", "case_name", required=True)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(["jsonl", "csv", "vics"]),
    default="jsonl",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output file (default: standard output).",
)
@click.pass_context
@friendly
def report(ctx: click.Context, case_name: str, format_name: str, output: Path | None) -> None:
    """Write a case report in review order (new material first), or a VICS 2.0 case export."""
    from hashsieve.report.writers import REPORTS

    store = open_store(ctx)
    case = store.get_case(case_name)
    writer = REPORTS.get(format_name)
    if output is None:
        writer(store, case.id, case.name, sys.stdout)
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        n = writer(store, case.id, case.name, out)
    console.print(f"wrote {n:,} records to {output}")
