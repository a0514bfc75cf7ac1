"""``hashsieve hashset import|list|delete|export``: the hash sets in the store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import (
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hashsieve.cli.common import console, friendly, open_store, stdout
from hashsieve.hashing.algorithms import LISTED_ALGORITHMS

if TYPE_CHECKING:
    from hashsieve.hashsets.catalogue import ImportSummary

# Written out, not imported: importing hashsieve.hashsets loads every format (about a second)
# and this module is read by every command's start-up. tests/test_contracts.py proves they agree
# with hashsets.categories.UNCATEGORISED_POLICIES and catalogue.EXPORT_FORMATS.
UNCATEGORISED_CHOICES = ("refuse", "non-pertinent", "known")
EXPORT_CHOICES = ("md5sum", "sha1sum", "sha256sum", "hashdeep")


@click.group()
def hashset() -> None:
    """Import, list, delete and export hash sets."""


@hashset.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Name of the hash set in the store.")
@click.option("--known-good", is_flag=True, help="Matches mean known-good (NSRL always is).")
@click.option(
    "--category",
    type=int,
    help="Category for entries that carry none (lists, VICS records without a Category).",
)
@click.option(
    "--profile",
    type=click.Choice(["us", "uk"]),
    default="us",
    show_default=True,
    help="Category scheme: VICS US (0-4) or UK CAID (A/B/C).",
)
@click.option("--format", "format_name", help="Skip detection and read as this format.")
@click.option(
    "--algorithm",
    type=click.Choice(LISTED_ALGORITHMS),
    help="What a list's hashes are when it does not say (64 hex digits: sha256 or pdq).",
)
@click.option(
    "--uncategorised",
    type=click.Choice(UNCATEGORISED_CHOICES),
    default=UNCATEGORISED_CHOICES[0],
    show_default=True,
    help="VICS records with no Category, or one outside the profile: refuse them, take them "
    "as non-pertinent (0; C4All omits Category 0), or as known material to review.",
)
@click.pass_context
@friendly
def hashset_import(
    ctx: click.Context,
    path: Path,
    name: str,
    known_good: bool,
    category: int | None,
    profile: str,
    format_name: str | None,
    algorithm: str | None,
    uncategorised: str,
) -> None:
    """Import a hash-set file (or folder); its format is detected from its content.

    Formats: VICS JSON (1.x and 2.0), NSRL RDSv3 SQLite and NSRLFile.txt, plain lists of
    MD5/SHA-1/SHA-256/PDQ hex, md5sum/sha1sum/sha256sum and BSD-style checksum files, hashdeep,
    HashKeeper, EnCase .hash, python-threatexchange files, CSV with a header, a folder of vPDQ
    files, and a folder of known originals (images and videos), which are hashed here, read-only,
    with the reference parts that catch cropped and boxed copies (docs/robust-matching.md).
    UTF-8 (with or without BOM) and UTF-16 (with BOM) text are read. An import that takes
    nothing exits with status 2 and keeps no set.
    """
    from hashsieve.hashsets.catalogue import (
        NothingImportedError,
        delete_hashset,
        import_hashset,
        list_hashsets,
    )

    store = open_store(ctx)
    # A set left incomplete by an interrupted import (killed, or its store's disk full) is
    # never matched; rerunning the import replaces it (docs/reliability.md).
    if any(i.name == name and not i.complete for i in list_hashsets(store)):
        removed = delete_hashset(store, name)
        console.print(
            f"replacing the incomplete set {name!r} left by an interrupted import "
            f"({removed:,} rows)"
        )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)
        try:
            summary = import_hashset(
                store,
                path,
                name,
                known_good=known_good,
                category=category,
                profile=profile,
                format_name=format_name,
                algorithm=algorithm,
                uncategorised=uncategorised,
                progress=lambda n: bar.update(task, completed=n),
            )
        except NothingImportedError as exc:
            _print_problems(exc.summary)  # why each row went, before the one-line reason
            raise
    algos = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_algorithm.items()))
    stdout.print(
        f"imported [bold]{name}[/bold] ({summary.format}, {summary.kind}): "
        f"{summary.taken:,} taken ({algos or 'none'}), {summary.refused:,} refused "
        f"in {summary.seconds:.1f} s"
    )
    for note in summary.notes():
        stdout.print(f"  {note}", markup=False)
    _print_problems(summary)


def _print_problems(summary: ImportSummary) -> None:
    for problem in summary.problems[:20]:
        stdout.print(f"  refused {problem.entry}: {problem.message}", markup=False)
    if summary.refused > 20:
        stdout.print(f"  ... and {summary.refused - 20:,} more refused rows")


@hashset.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hash set.")
@click.pass_context
def hashset_list(ctx: click.Context, as_json: bool) -> None:
    """List the hash sets in the store."""
    from hashsieve.hashsets.catalogue import list_hashsets

    sets = list_hashsets(open_store(ctx))
    if as_json:
        for info in sets:
            click.echo(json.dumps(dataclasses.asdict(info)))
        return
    table = Table("name", "kind", "format", "profile", "entries", "refused", "hashes", "imported")
    for i in sets:
        hashes = ", ".join(f"{k} {v:,}" for k, v in sorted(i.by_algorithm.items()))
        table.add_row(
            i.name,
            i.kind,
            i.format,
            i.profile,
            f"{i.entries:,}",
            f"{i.refused:,}",
            hashes,
            i.imported_at + ("" if i.complete else " (incomplete)"),
        )
    stdout.print(table)


@hashset.command("delete")
@click.argument("name")
@click.pass_context
@friendly
def hashset_delete(ctx: click.Context, name: str) -> None:
    """Delete a hash set (cases keep the record of what it matched)."""
    from hashsieve.hashsets.catalogue import delete_hashset

    removed = delete_hashset(open_store(ctx), name)
    stdout.print(f"deleted {name} ({removed:,} entries)")


@hashset.command("export")
@click.argument("name")
@click.option(
    "--format",
    "format_name",
    default="vics",
    show_default=True,
    # VICS, a plain list of any algorithm lists carry, checksum and hashdeep files, or a folder
    # of vPDQ files.
    type=click.Choice(["vics", *LISTED_ALGORITHMS, *EXPORT_CHOICES, "vpdq"]),
)
@click.option(
    "--algorithm",
    type=click.Choice(["md5", "sha1", "sha256"]),
    default="md5",
    show_default=True,
    help="hashdeep: the one hash column to write.",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="File (vpdq: folder)."
)
@click.pass_context
@friendly
def hashset_export(
    ctx: click.Context, name: str, format_name: str, algorithm: str, output: Path
) -> None:
    """Export a stored hash set: VICS 2.0 JSON, a plain list of one algorithm, an
    md5sum/sha1sum/sha256sum checksum file, a hashdeep file, or a folder of vPDQ files.
    EnCase .hash sets are read, not written (their layout is not documented well enough)."""
    from hashsieve.hashsets.catalogue import export_hashset

    if format_name == "vpdq":  # known videos: one vPDQ file per video, into a folder
        from hashsieve.hashsets.vpdq import export_vpdq

        videos = export_vpdq(open_store(ctx), name, output)
        stdout.print(f"wrote {len(videos):,} videos to {output}")
        return
    with open(output, "w", encoding="utf-8") as out:
        n = export_hashset(open_store(ctx), name, format_name, out, algorithm=algorithm)
    stdout.print(f"wrote {n:,} records to {output}")


# --- cases, scans, reports -------------------------------------------------------------------
