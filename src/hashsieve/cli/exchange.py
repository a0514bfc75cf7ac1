"""``hashsieve exchange ...``: identity, publishing feeds, peers, subscribing, syncing.

Scripts read the last line: ``init`` ends with the public key alone, ``peer add`` with the
peer's token alone. ``sync`` exits 1 when a feed is refused (nothing of it applied).
"""

from __future__ import annotations

import sys

import click

from hashsieve.cli.common import friendly, open_store


@click.group("exchange")
def exchange_group() -> None:
    """Share hash sets with other agencies' instances: signed feeds (docs/exchange.md)."""


@exchange_group.command("init")
@click.pass_context
@friendly
def init(ctx: click.Context) -> None:
    """Give this instance its Ed25519 key pair (once); print its public key on the last line."""
    from hashsieve.exchange.identity import init_identity, key_path

    key = init_identity(ctx.obj)
    click.echo(f"identity in {key_path(ctx.obj)} (private, 0600; never exported)", err=True)
    click.echo(key)


@exchange_group.command("publish")
@click.argument("hashsets", nargs=-1)
@click.option("--feed", "feed", required=True, help="Feed name (letters, digits, _ . -).")
@click.option("--agency", help='Who publishes, as peers see it ("Agency B").')
@click.option("--case", "case_name", help="With --series: the case whose reviewed series it is.")
@click.option("--series", help="Publish the files reviewers put in this series (deconfliction).")
@click.option("--case-ref", help="With --series: the case reference peers see.")
@click.option("--contact", help="With --series: whom peers should call.")
@click.pass_context
@friendly
def publish(
    ctx: click.Context,
    hashsets: tuple[str, ...],
    feed: str,
    agency: str | None,
    case_name: str | None,
    series: str | None,
    case_ref: str | None,
    contact: str | None,
) -> None:
    """Make feed FEED hold the hash sets HASHSETS (or a case's reviewed --series): appends the
    additions and removals that differ from what the feed held."""
    from hashsieve.exchange import feeds

    store = open_store(ctx)
    if series:
        if hashsets or not (case_name and case_ref and contact):
            raise click.UsageError("--series takes --case, --case-ref and --contact, no HASHSET")
        done = feeds.publish_series(
            store, case_name, series, feed, case_ref=case_ref, contact=contact, agency=agency
        )
    elif hashsets:
        done = feeds.publish_hashset(store, hashsets, feed, agency=agency)
    else:
        raise click.UsageError("name the HASHSETS, or --series with --case")
    click.echo(f"feed {done.feed}: +{done.added} -{done.removed}, at sequence {done.seq}")


@exchange_group.command("withdraw")
@click.argument("algorithm")
@click.argument("value")
@click.option("--feed", required=True)
@click.pass_context
@friendly
def withdraw(ctx: click.Context, algorithm: str, value: str, feed: str) -> None:
    """Take one hash out of a feed (peers remove it at their next sync)."""
    from hashsieve.exchange import feeds

    done = feeds.withdraw(open_store(ctx), feed, algorithm, value)
    click.echo(f"feed {done.feed}: -{done.removed}, at sequence {done.seq}")


@exchange_group.command("feeds")
@click.pass_context
def list_feeds(ctx: click.Context) -> None:
    """List this instance's feeds: name, agency, last sequence number, live entries."""
    from hashsieve.exchange import feeds

    for f in feeds.list_feeds(open_store(ctx)):
        click.echo(f"{f['name']}\t{f['agency'] or '-'}\tseq {f['seq']}\t{f['entries']} entries")


@exchange_group.group("peer")
def peer() -> None:
    """Peers admitted to this instance's feeds, one by one."""


@peer.command("add")
@click.argument("name")
@click.option("--key", "public_key", required=True, help="The peer's public key (its init).")
@click.option("--feed", "feeds_", multiple=True, help="A feed given to the peer (repeatable).")
@click.pass_context
@friendly
def peer_add(ctx: click.Context, name: str, public_key: str, feeds_: tuple[str, ...]) -> None:
    """Admit a peer; print its token alone on the last line (shown once, stored hashed)."""
    from hashsieve.exchange import feeds

    token = feeds.add_peer(open_store(ctx), name, public_key, feeds_)
    given = ", ".join(feeds_) or "no feed yet ('exchange peer grant')"
    click.echo(f"peer {name} added ({given}); give it this token, not shown again:", err=True)
    click.echo(token)


@peer.command("grant")
@click.argument("name")
@click.option("--feed", required=True)
@click.pass_context
@friendly
def peer_grant(ctx: click.Context, name: str, feed: str) -> None:
    """Give a peer one more feed."""
    from hashsieve.exchange import feeds

    feeds.grant(open_store(ctx), name, feed)
    click.echo(f"peer {name} may read feed {feed}", err=True)


@peer.command("revoke")
@click.argument("name")
@click.pass_context
@friendly
def peer_revoke(ctx: click.Context, name: str) -> None:
    """Refuse a peer's token from now on."""
    from hashsieve.exchange import feeds

    feeds.revoke_peer(open_store(ctx), name)
    click.echo(f"peer {name} revoked", err=True)


@peer.command("list")
@click.pass_context
def peer_list(ctx: click.Context) -> None:
    """List peers, their feeds and when they were last seen."""
    from hashsieve.exchange import feeds

    for p in feeds.list_peers(open_store(ctx)):
        state = "revoked" if p["revoked"] else "active"
        click.echo(
            f"{p['name']}\t{state}\t{','.join(p['feeds']) or '-'}\t"
            f"last seen {p['last_seen'] or 'never'}"
        )


@exchange_group.command("subscribe")
@click.argument("url")
@click.option("--feed", required=True, help="The publisher's feed name.")
@click.option("--key", "public_key", required=True, help="The publisher's public key (pinned).")
@click.option("--token", envvar="HASHSIEVE_EXCHANGE_TOKEN", required=True, help="Token it gave.")
@click.option("--as", "name", required=True, help="The local hash set the feed fills.")
@click.pass_context
@friendly
def subscribe(
    ctx: click.Context, url: str, feed: str, public_key: str, token: str, name: str
) -> None:
    """Subscribe to FEED of the instance at URL (e.g. https://agency-a:8642) into hash set AS;
    'hashsieve exchange sync' (or serve's timer) pulls it."""
    from hashsieve.exchange.subscriber import subscribe as do_subscribe

    do_subscribe(open_store(ctx), url, feed, public_key, token, name)
    click.echo(f"subscribed to {feed} at {url} as hash set {name}; run 'hashsieve exchange sync'")


@exchange_group.command("sync")
@click.argument("names", nargs=-1)
@click.pass_context
@friendly
def sync(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Pull what changed in every subscription (or those named); verify every page first.
    Exits 1 when a feed is refused: nothing of it is applied."""
    from hashsieve.exchange.subscriber import sync as do_sync

    results = do_sync(open_store(ctx), names)
    for r in results:
        if r.ok:
            click.echo(f"{r.name}: +{r.added} -{r.removed}, at sequence {r.seq}")
        else:
            click.echo(f"{r.name}: refused: {r.error}", err=True)
    if any(not r.ok for r in results):
        sys.exit(1)


@exchange_group.command("subscriptions")
@click.pass_context
def subscriptions(ctx: click.Context) -> None:
    """List subscriptions: set, publisher, feed, position, last sync, last error."""
    from hashsieve.exchange.subscriber import list_subscriptions

    for s in list_subscriptions(open_store(ctx)):
        synced = s.synced_at.isoformat(timespec="seconds") if s.synced_at else "never"
        click.echo(
            f"{s.name}\t{s.url}\t{s.feed}\tseq {s.seq}\tsynced {synced}"
            + (f"\terror: {s.error}" if s.error else "")
        )
