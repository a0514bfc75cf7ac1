"""``hashsieve user add|list`` and ``hashsieve serve``: the review workspace and sensor console."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hashsieve.cli.common import console, friendly, open_store, stdout


@click.group()
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
@friendly
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user; the password is prompted for (or read from stdin) and stored argon2-hashed."""
    from hashsieve.access.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    add_user(open_store(ctx), name, password, role)
    stdout.print(f"added {role} {name}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users and their roles."""
    from hashsieve.access.auth import list_users

    for u in list_users(open_store(ctx)):
        click.echo(f"{u.username}\t{u.role}" + ("\tdisabled" if u.disabled else ""))


@user.command("assign")
@click.argument("name")
@click.argument("case_name", metavar="CASE")
@click.pass_context
@friendly
def user_assign(ctx: click.Context, name: str, case_name: str) -> None:
    """Give a user access to a case; a case with members is theirs (and admins') only."""
    from hashsieve.access.membership import assign, members

    store = open_store(ctx)
    assign(store, name, case_name)
    stdout.print(f"case {case_name} members: {', '.join(members(store, case_name))}")


@user.command("unassign")
@click.argument("name")
@click.argument("case_name", metavar="CASE")
@click.pass_context
@friendly
def user_unassign(ctx: click.Context, name: str, case_name: str) -> None:
    """Take a user off a case (a case left without members is open to every user again)."""
    from hashsieve.access.membership import members, unassign

    store = open_store(ctx)
    unassign(store, name, case_name)
    left = members(store, case_name)
    stdout.print(
        f"case {case_name} members: {', '.join(left)}" if left else f"case {case_name}: open"
    )


@click.command()
@click.option("--case", "case_name", help="Serve only this case (default: every case).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8642, show_default=True, type=int)
@click.option("--webhook", help="POST each sensor alert as JSON to this URL (retried).")
@click.option("--cef-syslog", help="Send each sensor alert as CEF over syslog to HOST:PORT.")
@click.option("--cef-tcp", is_flag=True, help="Use TCP for --cef-syslog (default UDP).")
@click.option(
    "--exchange-sync",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Sync the exchange subscriptions every this many seconds (0: never).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM, the chain after it); needs --tls-key.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on the port (for the match API's load; docs/sensors.md).",
)
@click.pass_context
@friendly
def serve(
    ctx: click.Context,
    case_name: str | None,
    host: str,
    port: int,
    webhook: str | None = None,
    cef_syslog: str | None = None,
    cef_tcp: bool = False,
    exchange_sync: float = 300.0,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    workers: int = 1,
) -> None:
    """Serve the review workspace (log in with a user made by 'hashsieve user add').

    Anywhere but on 127.0.0.1, serve HTTPS (--tls-cert/--tls-key): sensors send their tokens
    only over HTTPS to a console that is not on their own machine (docs/security.md).
    """
    import uvicorn

    from hashsieve.sensors.client import is_loopback
    from hashsieve.web.app import create_app, warm_up

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls = tls_cert is not None
    from hashsieve.web.workers import exit_on_sigterm, fork_workers, shared_socket

    # Before the store is opened and any thread starts: the copies share nothing by accident.
    primary, stop_workers = fork_workers(workers)
    exit_on_sigterm()
    store = open_store(ctx)
    if case_name:
        store.get_case(case_name)
    app = create_app(store, case=case_name, secure_cookies=tls)
    warm_up(app)
    from hashsieve.sensors.outputs import forwarder

    app.state.alert_forwarder = forwarder(webhook_url=webhook, cef=cef_syslog, cef_tcp=cef_tcp)
    scheme = "https" if tls else "http"
    where = f"{scheme}://{host}:{port}" + (f"/cases/{case_name}" if case_name else "")
    if primary:
        console.print(f"review workspace on {where}")
    if primary and not tls and not is_loopback(host):
        console.print(
            "[yellow]warning:[/yellow] plain HTTP on a network address: passwords and sessions "
            "travel in clear and sensors refuse to send their tokens; use --tls-cert/--tls-key"
        )
    timer = None
    if exchange_sync > 0 and primary:  # once, whatever the number of workers
        from hashsieve.exchange.subscriber import SyncTimer

        timer = SyncTimer(store, exchange_sync).start()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    try:
        uvicorn.Server(config).run(sockets=[shared_socket(host, port)] if workers > 1 else None)
    finally:
        if timer is not None:
            timer.stop()
        stop_workers()
