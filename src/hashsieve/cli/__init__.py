"""The command line: each command parses its input, calls the library, formats the output.

One module per command group; this module holds the root group and adds them to it.
"""

from __future__ import annotations

from pathlib import Path

import click

from hashsieve.cli import cases, exchange, hashsets, image, report, review, scan, sensors, stream
from hashsieve.config import VERSION, Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="HASHSIEVE_HOME",
    help="Where the store lives (default ~/.hashsieve; env HASHSIEVE_HOME).",
)
@click.version_option(VERSION, prog_name="hashsieve")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Match seized media against known and known-good hash sets; put the new material first."""
    ctx.obj = Settings(home=home) if home else Settings()


for _command in (
    hashsets.hashset,
    cases.case_group,
    scan.scan,
    scan.hash_command,
    report.report,
    review.user,
    review.serve,
    stream.stream_command,
    sensors.sensor,
    sensors.icap_command,
    sensors.agent_command,
    image.image_group,
    exchange.exchange_group,
):
    main.add_command(_command)

__all__ = ["main"]
