"""``hashsieve case list``: the cases in the store."""

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
