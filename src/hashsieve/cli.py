"""The command line: each command parses its input, calls the library, formats the output."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
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

from hashsieve import __version__
from hashsieve.config import Settings
from hashsieve.errors import HashsieveError

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True)
stdout = Console()


def _friendly(fn: F) -> F:
    """Turn library errors into one clear line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HashsieveError as exc:
            console.print(f"[red]error:[/red] {exc}")
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _store(ctx: click.Context) -> Any:
    from hashsieve.store import Store

    settings: Settings = ctx.obj
    return Store(settings)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="HASHSIEVE_HOME",
    help="Where the store lives (default ~/.hashsieve; env HASHSIEVE_HOME).",
)
@click.version_option(__version__, prog_name="hashsieve")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Match seized media against known and known-good hash sets; put the new material first."""
    ctx.obj = Settings(home=home) if home else Settings()


# --- hash sets -------------------------------------------------------------------------------


@main.group()
def hashset() -> None:
    """Import, list, delete and export hash sets."""


@hashset.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Name of the hash set in the store.")
@click.option("--known-good", is_flag=True, help="Matches mean known-good (NSRL always is).")
@click.option("--category", type=int, help="Category for entries that carry none (lists).")
@click.option(
    "--profile",
    type=click.Choice(["us", "uk"]),
    default="us",
    show_default=True,
    help="Category scheme: VICS US (0-4) or UK CAID (A/B/C).",
)
@click.option("--format", "format_name", help="Skip detection and read as this format.")
@click.pass_context
@_friendly
def hashset_import(
    ctx: click.Context,
    path: Path,
    name: str,
    known_good: bool,
    category: int | None,
    profile: str,
    format_name: str | None,
) -> None:
    """Import a hash-set file (or folder); its format is detected from its content.

    Formats: VICS JSON (1.x and 2.0), NSRL RDSv3 SQLite and NSRLFile.txt, plain lists of
    MD5/SHA-1/SHA-256/PDQ hex, python-threatexchange files, CSV with a header, a folder of vPDQ
    files, and a folder of known originals (images and videos), which are hashed here, read-only,
    with the reference parts that catch cropped and boxed copies (docs/robust-matching.md).
    """
    from hashsieve.catalogue import import_hashset

    store = _store(ctx)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)
        summary = import_hashset(
            store,
            path,
            name,
            known_good=known_good,
            category=category,
            profile=profile,
            format_name=format_name,
            progress=lambda n: bar.update(task, completed=n),
        )
    algos = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_algorithm.items()))
    stdout.print(
        f"imported [bold]{name}[/bold] ({summary.format}, {summary.kind}): "
        f"{summary.taken:,} taken ({algos or 'none'}), {summary.refused:,} refused "
        f"in {summary.seconds:.1f} s"
    )
    for problem in summary.problems[:20]:
        stdout.print(f"  refused {problem.entry}: {problem.message}", markup=False)
    if summary.refused > 20:
        stdout.print(f"  ... and {summary.refused - 20:,} more refused rows")


@hashset.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hash set.")
@click.pass_context
def hashset_list(ctx: click.Context, as_json: bool) -> None:
    """List the hash sets in the store."""
    from hashsieve.catalogue import list_hashsets

    sets = list_hashsets(_store(ctx))
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
@_friendly
def hashset_delete(ctx: click.Context, name: str) -> None:
    """Delete a hash set (cases keep the record of what it matched)."""
    from hashsieve.catalogue import delete_hashset

    removed = delete_hashset(_store(ctx), name)
    stdout.print(f"deleted {name} ({removed:,} entries)")


@hashset.command("export")
@click.argument("name")
@click.option(
    "--format",
    "format_name",
    default="vics",
    show_default=True,
    type=click.Choice(["vics", "md5", "sha1", "sha256", "pdq", "vpdq"]),
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="File (vpdq: folder)."
)
@click.pass_context
@_friendly
def hashset_export(ctx: click.Context, name: str, format_name: str, output: Path) -> None:
    """Export a stored hash set as VICS 2.0 JSON or a plain list of one algorithm."""
    from hashsieve.catalogue import export_hashset

    if format_name == "vpdq":  # known videos: one vPDQ file per video, into a folder
        from hashsieve.hashsets.vpdq import export_vpdq

        videos = export_vpdq(_store(ctx), name, output)
        stdout.print(f"wrote {len(videos):,} videos to {output}")
        return
    with open(output, "w", encoding="utf-8") as out:
        n = export_hashset(_store(ctx), name, format_name, out)
    stdout.print(f"wrote {n:,} records to {output}")


# --- cases, scans, reports -------------------------------------------------------------------


@main.group("case")
def case_group() -> None:
    """Cases in the store."""


@case_group.command("list")
@click.pass_context
def case_list(ctx: click.Context) -> None:
    """List cases."""
    for case in _store(ctx).list_cases():
        click.echo(case.name)


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


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--case", "case_name", required=True, help="Case name (created if new).")
@click.option(
    "--jsonl",
    type=click.Path(path_type=Path),
    help="Write one JSON line per file as it goes; rewritten in review order at the end.",
)
@click.option("--workers", type=int, help="Worker processes (default: all cores).")
@click.option(
    "--full-decode",
    is_flag=True,
    help="Decode images at full size (slower; the fast reduced decode is the default).",
)
@click.option(
    "--robust/--no-robust",
    default=None,
    help="Also match candidate regions (borders, windows, boxes removed; default on, "
    "env HASHSIEVE_ROBUST=0 turns it off).",
)
@click.pass_context
@_friendly
def scan(
    ctx: click.Context,
    paths: tuple[str, ...],
    case_name: str,
    jsonl: Path | None,
    workers: int | None,
    full_decode: bool,
    robust: bool | None,
) -> None:
    """Scan folders or files into a case, archives among them opened in memory; rerun the same
    command to resume after a crash."""
    import os

    from hashsieve.scan.executor import start_forkserver

    for p in paths:
        if not os.path.lexists(p):
            raise click.BadParameter(f"{p}: no such file or folder", param_hint="PATHS")
    settings: Settings = ctx.obj
    # The workers' start-up overlaps this process's imports (the preload reads the limit).
    os.environ.setdefault("HASHSIEVE_WORKER_MEMORY_MB", str(settings.worker_memory_mb))
    start_forkserver()
    from hashsieve.scan.pipeline import run_scan

    if workers:
        settings = dataclasses.replace(settings, workers=workers)
    if robust is not None:
        settings = dataclasses.replace(settings, robust=robust)
    store = _store(ctx)
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


@main.command()
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
@_friendly
def report(ctx: click.Context, case_name: str, format_name: str, output: Path | None) -> None:
    """Write a case report in review order (new material first), or a VICS 2.0 case export."""
    from hashsieve.report.writers import REPORTS

    store = _store(ctx)
    case = store.get_case(case_name)
    writer = REPORTS.get(format_name)
    if output is None:
        writer(store, case.id, case.name, sys.stdout)
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        n = writer(store, case.id, case.name, out)
    console.print(f"wrote {n:,} records to {output}")


@main.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--full-decode", is_flag=True, help="Decode images at full size.")
@click.pass_context
def hash_command(ctx: click.Context, files: tuple[str, ...], full_decode: bool) -> None:
    """Print one JSON line per file: path, md5, sha1, sha256, pdq, quality. Nothing is stored."""
    from hashsieve.scan.worker import HashOptions, hash_file

    settings: Settings = ctx.obj
    options = HashOptions(max_image_pixels=settings.max_image_pixels, fast_decode=not full_decode)
    failed = False
    for path in files:
        r = hash_file(path, options)
        failed |= r.md5 is None
        click.echo(json.dumps(r.identity()))
    if failed:
        sys.exit(1)


# --- review workspace ------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Users of the review workspace (hashsieve serve)."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["reviewer", "admin", "read-only"]),
    default="reviewer",
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
@_friendly
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user; the password is prompted for (or read from stdin) and stored argon2-hashed."""
    from hashsieve.review.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    add_user(_store(ctx), name, password, role)
    stdout.print(f"added {role} {name}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users and their roles."""
    from hashsieve.review.auth import list_users

    for u in list_users(_store(ctx)):
        click.echo(f"{u.username}\t{u.role}" + ("\tdisabled" if u.disabled else ""))


@main.command()
@click.option("--case", "case_name", help="Serve only this case (default: every case).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8642, show_default=True, type=int)
@click.option("--webhook", help="POST each sensor alert as JSON to this URL (retried).")
@click.option("--cef-syslog", help="Send each sensor alert as CEF over syslog to HOST:PORT.")
@click.option("--cef-tcp", is_flag=True, help="Use TCP for --cef-syslog (default UDP).")
@click.pass_context
@_friendly
def serve(
    ctx: click.Context,
    case_name: str | None,
    host: str,
    port: int,
    webhook: str | None = None,
    cef_syslog: str | None = None,
    cef_tcp: bool = False,
) -> None:
    """Serve the review workspace (log in with a user made by 'hashsieve user add')."""
    import uvicorn

    from hashsieve.review.app import create_app

    store = _store(ctx)
    if case_name:
        store.get_case(case_name)
    app = create_app(store, case=case_name)
    from hashsieve.sensors.outputs import forwarder

    app.state.alert_forwarder = forwarder(webhook_url=webhook, cef=cef_syslog, cef_tcp=cef_tcp)
    where = f"http://{host}:{port}" + (f"/cases/{case_name}" if case_name else "")
    console.print(f"review workspace on {where}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


# --- live streams ----------------------------------------------------------------------------


@main.command("stream")
@click.argument("url")
@click.option(
    "--case",
    "case_name",
    default="streams",
    show_default=True,
    help="Case whose folder receives the evidence recordings.",
)
@click.option(
    "--evidence-dir",
    type=click.Path(path_type=Path),
    help="Write recordings here instead (default: HOME/cases/CASE/streams).",
)
@click.option("--fps", type=float, default=2.0, show_default=True, help="Frames hashed a second.")
@click.option(
    "--buffer",
    "buffer_s",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds of stream kept before a match.",
)
@click.option(
    "--after",
    "after_s",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds recorded after the last match.",
)
@click.option("--webhook", help="POST each alert as JSON to this URL.")
@click.option("--jsonl", type=click.Path(path_type=Path), help="Append alerts here (JSON lines).")
@click.option("--max-seconds", type=float, help="Stop after this long (default: run until ^C).")
@click.pass_context
@_friendly
def stream_command(
    ctx: click.Context,
    url: str,
    case_name: str,
    evidence_dir: Path | None,
    fps: float,
    buffer_s: float,
    after_s: float,
    webhook: str | None,
    jsonl: Path | None,
    max_seconds: float | None,
) -> None:
    """Watch a live stream (rtmp, srt, udp, rtsp, HLS .m3u8, or a file) for known material.

    Alerts go to the terminal, to standard output as JSON lines (or --jsonl), and to --webhook;
    each match records the buffered and following stream, unchanged, into the case folder.
    """
    from hashsieve.stream import StreamOptions, monitor_stream

    store = _store(ctx)
    folder = evidence_dir or store.settings.home / "cases" / case_name / "streams"
    options = StreamOptions(
        frames_per_second=fps,
        buffer_seconds=buffer_s,
        after_seconds=after_s,
        evidence_dir=folder,
        max_seconds=max_seconds,
    )
    out = open(jsonl, "a", encoding="utf-8") if jsonl else sys.stdout  # noqa: SIM115
    monitor = monitor_stream(store, url, options, jsonl=out, webhook=webhook)
    console.print(f"watching {url}; evidence to {folder}")
    try:
        monitor.run()
    except KeyboardInterrupt:
        monitor.stop()
        monitor._finish_recording()
    finally:
        if jsonl:
            out.close()


from hashsieve.sensors.cli import register as _register_sensors  # noqa: E402

_register_sensors(main, _store, _friendly)  # sensor add|list|revoke, icap, agent


if __name__ == "__main__":
    main()
