"""Command-line verbs of the sensors: ``sensor add|list|revoke``, ``icap``, ``agent``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from hashsieve.cli.common import friendly, open_store

CA_OPTION = click.option(
    "--ca",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Trust only this CA certificate (PEM) for the console's TLS certificate "
    "(a private CA, pinned); default: the system's CAs.",
)


@click.group("sensor")
def sensor() -> None:
    """Sensors (agents, ICAP services) that report to this console."""


@sensor.command("add")
@click.argument("name")
@click.pass_context
@friendly
def sensor_add(ctx: click.Context, name: str) -> None:
    """Register a sensor and print its token (shown once; stored hashed)."""
    from hashsieve.sensors.console import add_sensor

    token = add_sensor(open_store(ctx), name)
    click.echo(token)
    click.echo(f"sensor {name} added; give it this token (it is not shown again)", err=True)


@sensor.command("list")
@click.pass_context
def sensor_list(ctx: click.Context) -> None:
    """List sensors, when they were last seen, and whether they are revoked."""
    from hashsieve.sensors.console import list_sensors

    for s in list_sensors(open_store(ctx)):
        seen = s.last_seen.isoformat(timespec="seconds") if s.last_seen else "never"
        state = "revoked" if s.revoked_at else "active"
        click.echo(f"{s.name}\t{state}\tlast seen {seen}")


@sensor.command("revoke")
@click.argument("name")
@click.pass_context
@friendly
def sensor_revoke(ctx: click.Context, name: str) -> None:
    """Revoke a sensor's token: its requests are refused from now on."""
    from hashsieve.sensors.console import revoke_sensor

    revoke_sensor(open_store(ctx), name)
    click.echo(f"sensor {name} revoked", err=True)


@click.command("icap")
@click.option("--listen", default="127.0.0.1:1344", show_default=True, help="HOST:PORT.")
@click.option(
    "--mode",
    type=click.Choice(["monitor", "block"]),
    default="monitor",
    show_default=True,
    help="block: answer known media with a 403 page; monitor: alert only.",
)
@click.option("--console", "console_url", help="Console URL (alerts and the list).")
@click.option("--token", envvar="HASHSIEVE_SENSOR_TOKEN", help="Sensor token (env too).")
@CA_OPTION
@click.option("--workers", type=int, default=0, help="Hashing processes (default: CPUs).")
@click.option("--max-body", type=int, default=64, show_default=True, help="MB hashed at most.")
@click.option(
    "--pool",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="process: a decoder crash costs one response; thread: no copy of each body to a "
    "worker (lower latency, more images/s), but a crash stops the service.",
)
@click.option(
    "--robust/--no-robust",
    default=True,
    show_default=True,
    help="Also match candidate regions (letterboxed, windowed, watermarked copies).",
)
@click.option(
    "--hold-large/--stream-large",
    default=False,
    show_default=True,
    help="hold: read every media body whole before answering, so a known one over 60 KB "
    "gets the 403 page too (needs a proxy free of Squid bug 5352; Squid 5.x stalls); "
    "stream: such bodies are answered as they arrive and a known one is cut off.",
)
@click.option("--state", type=click.Path(path_type=Path), help="Outbox folder.")
@click.pass_context
@friendly
def icap_command(
    ctx: click.Context,
    listen: str,
    mode: str,
    console_url: str | None,
    token: str | None,
    workers: int,
    max_body: int,
    pool: str,
    robust: bool,
    hold_large: bool,
    state: Path | None,
    ca: Path | None = None,
) -> None:
    """ICAP RESPMOD service for web proxies (icap://HOST:PORT/respmod).

    With --console/--token it pulls the list from the console and sends alerts there;
    without, it uses this store's hash sets and prints alerts as JSON lines.
    """
    import asyncio
    import signal

    from hashsieve.sensors import console
    from hashsieve.sensors.client import ConsoleClient, Outbox
    from hashsieve.sensors.icap.server import IcapOptions, IcapService, print_alert
    from hashsieve.sensors.listcopy import ListCopy
    from hashsieve.sensors.outputs import parse_hostport

    host, port = parse_hostport(listen, 1344)
    lists = ListCopy()
    client = None
    settings = ctx.obj
    if console_url:
        if not token:
            raise click.UsageError("--console needs --token (or HASHSIEVE_SENSOR_TOKEN)")
        client = ConsoleClient(console_url, token, ca=ca)
        lists.apply(client.hashlist("0"))

        def refresh(copy: ListCopy) -> None:
            copy.apply(client.hashlist(copy.version))

    else:
        db = open_store(ctx)
        lists.apply(console.hashlist(db))

        def refresh(copy: ListCopy) -> None:
            copy.apply(console.hashlist(db, copy.version))

    folder = state or settings.home / "icap"
    outbox = Outbox(folder / "outbox.db", client).start() if client else None
    options = IcapOptions(
        mode=mode,  # type: ignore[arg-type]
        max_body=max_body * 1024 * 1024,
        pool=pool,  # type: ignore[arg-type]
        robust=robust,
        hold_large=hold_large,
        worker_memory_mb=settings.worker_memory_mb,
    )
    if workers:
        options.workers = workers
    service = IcapService(lists, options, outbox=outbox, refresh=refresh, on_alert=print_alert)

    async def run() -> None:
        # SIGTERM (systemd, kill) and Ctrl-C stop the service cleanly: its hashing
        # processes go with it instead of lingering as orphans.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.start(host, port)
        click.echo(
            f"ICAP {mode} on icap://{host}:{service.port}/respmod "
            f"(list {lists.version}, {len(lists)} entries)",
            err=True,
        )
        try:
            await stop.wait()
        finally:
            await service.close()

    try:
        asyncio.run(run())
    finally:
        if outbox is not None:
            outbox.close()


@click.command("agent")
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--console", "console_url", required=True, help="Console URL.")
@click.option("--token", envvar="HASHSIEVE_SENSOR_TOKEN", required=True, help="Sensor token.")
@CA_OPTION
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    help="State folder: list copy, seen files, outbox (default HOME/agent).",
)
@click.option("--cpu", type=float, default=25.0, show_default=True, help="CPU % for hashing.")
@click.option("--max-size", type=int, default=512, show_default=True, help="MB; larger skipped.")
@click.option("--rescan", type=float, default=3600, show_default=True, help="Seconds.")
@click.option("--refresh", type=float, default=300, show_default=True, help="Seconds.")
@click.option("--no-pdq", is_flag=True, help="Do not fetch or keep PDQ codes (crypto only).")
@click.option(
    "--watcher",
    type=click.Choice(["auto", "fanotify", "inotify"]),
    default="auto",
    show_default=True,
    help="auto: fanotify (one mark per filesystem) when root, else inotify (watchdog).",
)
@click.option(
    "--robust/--no-robust",
    default=True,
    show_default=True,
    help="Also match candidate regions (letterboxed, windowed, watermarked copies).",
)
@click.pass_context
@friendly
def agent_command(
    ctx: click.Context,
    roots: tuple[Path, ...],
    console_url: str,
    token: str,
    state: Path | None,
    cpu: float,
    max_size: int,
    rescan: float,
    refresh: float,
    no_pdq: bool,
    watcher: str,
    robust: bool,
    ca: Path | None = None,
) -> None:
    """Watch folders for known images and videos; alert the console (never content)."""
    import os
    import signal
    import threading

    from hashsieve.sensors.agent import Agent, AgentOptions
    from hashsieve.sensors.client import ConsoleClient

    with contextlib.suppress(OSError):
        os.nice(10)
    options = AgentOptions(
        roots=[r.resolve() for r in roots],
        state_dir=state or ctx.obj.home / "agent",
        cpu_percent=cpu,
        max_size=max_size * 1024 * 1024,
        rescan_seconds=rescan,
        refresh_seconds=refresh,
        use_pdq=not no_pdq,
        robust=robust,
        watcher=watcher,
    )
    client = ConsoleClient(console_url, token, ca=ca)
    client.check()
    agent = Agent(options, client).start()
    click.echo(
        f"agent watching {', '.join(map(str, options.roots))} ({agent.watcher}); "
        f"list {agent.lists.version} ({len(agent.lists)} entries)",
        err=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
