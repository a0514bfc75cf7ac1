"""``hashsieve image``: what a forensic disk image says about itself, and whether its media
still hashes to what the acquisition recorded (library: :mod:`hashsieve.sources.disk`)."""

from __future__ import annotations

import json
import sys

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from hashsieve.cli.common import console, stdout


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    sys.exit(2)


@click.group("image")
def image_group() -> None:
    """Forensic disk images (E01, raw, VMDK, VHD, QCOW2, DMG): their notes and their integrity."""


@image_group.command("info")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
def info(path: str, as_json: bool) -> None:
    """Kind, segments, media and sector size, the acquisition's stored hashes and case notes
    (EWF), partitions and file systems."""
    from hashsieve.sources.disk import image_info
    from hashsieve.sources.readers import ArchiveError

    try:
        found = image_info(path)
    except ArchiveError as exc:
        _fail(exc)
        return
    if as_json:
        stdout.print_json(json.dumps(found.as_dict()))
        return
    stdout.print(f"[bold]{path}[/bold]: {found.kind}, {len(found.segments)} segment(s)")
    stdout.print(f"media size {found.media_size:,} bytes, sector size {found.sector_size}")
    for algorithm, value in found.stored_hashes.items():
        stdout.print(f"stored {algorithm}: {value}")
    for key, value in found.case.items():
        stdout.print(f"{key.replace('_', ' ')}: {value}")
    table = Table("volume", "offset", "length", "description", "file system")
    for volume in found.volumes:
        table.add_row(
            str(volume["name"]),
            f"{volume['offset']:,}",
            f"{volume['length']:,}",
            str(volume["description"]),
            str(volume["filesystem"] or f"[red]{volume['problem']}[/red]"),
        )
    stdout.print(table)
    for problem in found.problems:
        stdout.print(f"[red]problem:[/red] {problem}")


@image_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def verify(path: str) -> None:
    """Recompute MD5 and SHA-1 over the media and compare them with the hashes the acquisition
    stored; exit status 1 when they differ (0 when they match or none was stored)."""
    from hashsieve.sources.disk import verify_image
    from hashsieve.sources.readers import ArchiveError

    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("verify", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = verify_image(path, advance)
        except ArchiveError as exc:
            _fail(exc)
            return
    for algorithm, value in result.computed.items():
        stored = result.stored.get(algorithm)
        verdict = "" if stored is None else (" matches" if stored == value else f" != {stored}")
        stdout.print(f"{algorithm}: {value}{verdict}")
    if result.matches is None:
        stdout.print("no hash stored in the image: nothing to compare")
    elif result.matches:
        stdout.print("[green]verified[/green]: the media hashes to what the acquisition stored")
    else:
        stdout.print("[red]MISMATCH[/red]: the media does not hash to what was stored")
        sys.exit(1)
