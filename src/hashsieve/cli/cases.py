"""``hashsieve case list`` and ``hashsieve case index``: the cases in the store, and the index
over their new files that cross-case links come from."""

from __future__ import annotations

import click

from hashsieve.cli.common import open_store


@click.group("case")
def case_group() -> None:
    """Cases in the store."""


@case_group.command("list")
@click.pass_context
def case_list(ctx: click.Context) -> None:
    """List cases."""
    for case in open_store(ctx).list_cases():
        click.echo(case.name)


@case_group.command("index")
@click.pass_context
def case_index(ctx: click.Context) -> None:
    """Rebuild the index over every case's new files (cross-case links; scans keep it up to
    date, this drops what was deleted since)."""
    from hashsieve.matching.crosscase import CrossCaseIndex

    n = CrossCaseIndex(open_store(ctx)).rebuild()
    click.echo(f"indexed {n:,} new files of every case")
