"""``hashsieve scan`` and ``hashsieve hash``: hash files, match them, store the verdicts."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hashsieve.cli.common import console, friendly, open_store, stdout
from hashsieve.config import Settings


class _RichScanProgress:
    """One bar over bytes (the ETA), with files done, files/s and bytes/s beside it."""

    columns = (
        SpinnerColumn(),
        BarColumn(),
        TextColumn("{task.fields[files]:,}/{task.fields[total_files]} files"),
        DownloadColumn(),
        TextColumn("{task.fields[rate]:,.0f} files/s"),
        TransferSpeedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.files = 0
        self.walked: tuple[int, int, bool] = (0, 0, False)
        self.extra: tuple[int, int] = (0, 0)  # archive members, found after the walk
        self.task = bar.add_task("scan", total=None, files=0, total_files="?", rate=0.0)

    def total(self, files: int, size: int, final: bool) -> None:
        self.walked = (files, size, final)
        self._show_total()

    def more(self, files: int, size: int) -> None:
        self.extra = (self.extra[0] + files, self.extra[1] + size)
        self._show_total()

    def _show_total(self) -> None:
        files, size, final = self.walked
        files, size = files + self.extra[0], size + self.extra[1]
        self.bar.update(self.task, total=size, total_files=f"{files:,}" + ("" if final else "+"))

    def advance(self, files: int, size: int) -> None:
        self.files += files
        elapsed = self.bar.tasks[self.task].elapsed or 0.0
        rate = self.files / elapsed if elapsed > 0 else 0.0
        self.bar.update(self.task, advance=size, files=self.files, rate=rate)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--case", "case_name", required=True, help="Case name (created if new).")
@click.option(
    "--jsonl",
    type=click.Path(path_type=Path),
    help="Write one JSON line per file as it goes; rewritten in review order at the end.",
)
@click.option("--workers", type=int, help="Worker processes (default: all cores; local pool only).")
@click.option(
    "--examiner",
    help="Who runs this scan, recorded with it (default: HASHSIEVE_EXAMINER, else the login "
    "name); another case meeting the same pictures names them.",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Hash and match on a Dask cluster: its scheduler (tcp://HOST:8786), or local:N for a "
    "cluster of N processes on this machine. Workers read the evidence and the index by the "
    "same paths (docs/deploy.md). Default: local worker processes.",
)
@click.option(
    "--full-decode",
    is_flag=True,
    help="Decode JPEGs to RGB, not straight to luma (bit-identical to pdqhash; slower). Both "
    "are full size and give the field's PDQ (docs/hash-definition.md).",
)
@click.option(
    "--robust/--no-robust",
    default=None,
    help="Also match candidate regions (borders, windows, boxes removed; default on, "
    "env HASHSIEVE_ROBUST=0 turns it off).",
)
@click.option(
    "--images/--no-images",
    default=True,
    help="Open the disk images found (E01, raw, VMDK, VHD, QCOW2, DMG) and scan their files "
    "(default on; off: an image is hashed as one file).",
)
@click.option(
    "--shadow-copies",
    is_flag=True,
    default=False,
    help="Also scan the Volume Shadow Copies of NTFS volumes in disk images: each store's "
    "files as IMAGE!/p1/vss1/... (vss1 the oldest), marked recovered=shadow (default off).",
)
@click.pass_context
@friendly
def scan(
    ctx: click.Context,
    paths: tuple[str, ...],
    case_name: str,
    jsonl: Path | None,
    workers: int | None,
    examiner: str | None,
    cluster: str | None,
    full_decode: bool,
    robust: bool | None,
    images: bool,
    shadow_copies: bool,
) -> None:
    """Scan folders or files into a case, archives among them opened in memory; rerun the same
    command to resume after a crash."""
    import os

    from hashsieve.workers.executor import WORKER_PRELOAD, start_forkserver

    for p in paths:
        if not os.path.lexists(p):
            raise click.BadParameter(f"{p}: no such file or folder", param_hint="PATHS")
    settings: Settings = ctx.obj
    # The workers' start-up overlaps this process's imports (the preload reads the limit).
    os.environ.setdefault("HASHSIEVE_WORKER_MEMORY_MB", str(settings.worker_memory_mb))
    if cluster is None:
        # Each worker runs this command's script again (multiprocessing's spawn does, as
        # ``__mp_main__``), which imports the CLI: loaded once in the forkserver instead, a
        # worker starts on its first file 0.15 s of CPU sooner.
        start_forkserver([*WORKER_PRELOAD, "hashsieve.cli"])
    from hashsieve.scan.pipeline import run_scan

    if workers:
        settings = dataclasses.replace(settings, workers=workers)
    if examiner:
        settings = dataclasses.replace(settings, examiner=examiner[:100])
    if robust is not None:
        settings = dataclasses.replace(settings, robust=robust)
    if not images:
        settings = dataclasses.replace(settings, disk_images=False)
    if shadow_copies:
        settings = dataclasses.replace(settings, shadow_copies=True)
    store = open_store(ctx)
    columns = _RichScanProgress.columns
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        progress = _RichScanProgress(bar)
        summary = run_scan(
            store,
            case_name,
            list(paths),
            settings=settings,
            jsonl_path=jsonl,
            progress=progress,
            fast_decode=not full_decode,
            cluster=cluster,
        )
    _print_case_summary(store, case_name)
    rate = summary.files_per_second
    mb = summary.bytes / 1e6
    stdout.print(
        f"scanned {summary.files:,} files ({mb:,.1f} MB) in {summary.seconds:.1f} s: "
        f"{rate:,.1f} files/s, {mb / max(summary.seconds, 1e-9):,.1f} MB/s"
        + (f"; {summary.skipped:,} already done by an earlier run" if summary.skipped else "")
    )


def _print_case_summary(store: Any, case_name: str) -> None:
    from hashsieve.report.summary import case_summary

    s = case_summary(store, case_name)
    table = Table("verdict", "files", title=f"case {case_name}")
    for verdict, n in s.verdicts.items():
        table.add_row(verdict, f"{n:,}")
    stdout.print(table)
    if s.categories:
        cats = Table("category", "files", title="known, by category")
        for label, n in s.categories.items():
            cats.add_row(label, f"{n:,}")
        stdout.print(cats)


@click.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--full-decode", is_flag=True, help="Decode JPEGs to RGB, not straight to luma.")
@click.pass_context
def hash_command(ctx: click.Context, files: tuple[str, ...], full_decode: bool) -> None:
    """Print one JSON line per file: path, md5, sha1, sha256, pdq, quality. Nothing is stored."""
    from hashsieve.hashing.content import HashOptions, hash_file

    settings: Settings = ctx.obj
    options = HashOptions(max_image_pixels=settings.max_image_pixels, fast_decode=not full_decode)
    failed = False
    for path in files:
        r = hash_file(path, options)
        failed |= r.md5 is None
        click.echo(json.dumps(r.identity()))
    if failed:
        sys.exit(1)
