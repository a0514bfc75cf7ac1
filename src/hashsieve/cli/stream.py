"""``hashsieve stream``: watch a live stream for known material."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hashsieve.cli.common import console, friendly, open_store


@click.command("stream")
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
@friendly
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

    store = open_store(ctx)
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
