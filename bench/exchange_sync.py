"""Exchange load: an incremental sync of 10,000 changes into a large subscribed set, and one
instance serving feed pages to 50 peers at once (issue #15; docs/exchange.md).

    .venv/bin/python bench/exchange_sync.py                       # 10M entries, 10k changes
    .venv/bin/python bench/exchange_sync.py --entries 1000000     # where 10M takes too long

Setup (not timed): agency B holds a subscribed MD5 set of ``--entries`` rows, imported through
the catalogue's bulk import (with its store index), at position N of agency A's feed. A's log
holds chain(N) and the additions that the changes remove — an incremental sync reads nothing
older, so the rest of the history plays no part. A then appends ``--changes`` changes (half
removals of B's entries, half new hashes) and serves them with a real ``hashsieve serve``.

Timed: ``hashsieve.exchange.subscriber.sync`` over HTTP — fetch, verify every signature and the
chain, apply in one transaction, update the store's MD5 index in place. Then ``--peers`` threads
fetch the same page at once, each with its own peer token (every page audited). Results:
``bench/results/exchange_sync.json``. The bar: the sync under 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from procs import cpu_seconds

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "exchange_sync.json"
FEED = "shared"


def md5_of(i: int) -> str:
    return hashlib.md5(i.to_bytes(8, "big")).hexdigest()


def build(root: Path, entries: int, changes: int) -> dict[str, object]:
    from sqlalchemy import insert

    from hashsieve.config import Settings
    from hashsieve.exchange import feeds
    from hashsieve.exchange.identity import init_identity
    from hashsieve.exchange.models import Feed, LogEntry, Subscription
    from hashsieve.exchange.protocol import ADD, canonical, genesis, link
    from hashsieve.hashsets.catalogue import import_hashset
    from hashsieve.store import Store
    from hashsieve.store.models import HashSet

    a = Store(Settings(home=root / "a"))
    b = Store(Settings(home=root / "b"))
    a_key = init_identity(a.settings)
    b_key = init_identity(b.settings)

    started = time.perf_counter()
    listing = root / "b-set.md5"
    with open(listing, "w") as out:
        for start in range(0, entries, 100_000):
            out.write(
                "".join(f"{md5_of(i)}\n" for i in range(start, min(entries, start + 100_000)))
            )
    import_hashset(b, listing, "from-a", category=1, algorithm="md5")
    listing.unlink()
    built_b = time.perf_counter() - started

    # A's feed at position N: the additions the removals will take away (their entries as B
    # holds them) and chain(N); nothing older is read by an incremental sync.
    n = entries
    removed = [md5_of(i) for i in range(0, n, max(1, n // (changes // 2)))][: changes // 2]
    feeds.ensure_feed(a, FEED, agency="Agency A")
    chain = genesis(FEED)
    rows = []
    for seq, value in enumerate(removed, start=n - len(removed)):
        entry = {
            "seq": seq,
            "op": ADD,
            "algorithm": "md5",
            "value": value,
            "category": 1,
            "entry": f"b-set.md5:{int(value, 16) % 1000}",
        }
        chain = link(chain, entry)
        rows.append(
            {
                "feed_id": 1,
                "seq": seq,
                "op": ADD,
                "algorithm": "md5",
                "value": bytes.fromhex(value),
                "record": canonical(entry).decode(),
                "chain": chain,
                "live": True,
            }
        )
    chain = link(chain, {"seq": n, "op": ADD, "algorithm": "md5", "value": "00" * 16})
    rows.append(
        {
            "feed_id": 1,
            "seq": n,
            "op": ADD,
            "algorithm": "md5",
            "value": bytes(16),
            "record": canonical(
                {"seq": n, "op": ADD, "algorithm": "md5", "value": "00" * 16}
            ).decode(),
            "chain": chain,
            "live": True,
        }
    )
    with a.session() as s:
        s.execute(insert(LogEntry), rows)
        feed = s.get_one(Feed, 1)
        feed.last_seq, feed.head = n, chain
    token = feeds.add_peer(a, "agency-b", b_key, [FEED])
    peers = [feeds.add_peer(a, f"peer-{i}", b_key, [FEED]) for i in range(50)]
    with b.session() as s:
        hs = s.query(HashSet).filter(HashSet.name == "from-a").one()
        sub = Subscription(
            name="from-a",
            url="",
            feed=FEED,
            publisher_key=a_key,
            hashset_id=hs.id,
            seq=n,
            chain=chain,
        )
        s.add(sub)
        s.flush()
        sub_id = sub.id

    # The changes: removals of B's entries, additions of new hashes.
    added = [secrets.token_hex(16) for _ in range(changes - len(removed))]
    published = feeds.append(
        a,
        FEED,
        [{"algorithm": "md5", "value": v, "category": 2} for v in added],
        [("md5", v, None, None, None) for v in removed],
    )
    a.close()
    b.close()
    return {
        "a_key": a_key,
        "token": token,
        "peers": peers,
        "sub_id": sub_id,
        "built_b_s": round(built_b, 1),
        "published": [published.added, published.removed, published.seq],
        "removed_sample": removed[:3],
        "added_sample": added[:3],
    }


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashsieve.cli",
            "serve",
            "--port",
            str(port),
            "--exchange-sync",
            "0",
        ],
        env={**os.environ, "HASHSIEVE_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/login", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--changes", type=int, default=10_000)
    ap.add_argument("--peers", type=int, default=50)
    ap.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"building {args.entries:,} entries in {root} ...", flush=True)
    setup = build(root, args.entries, args.changes)
    print(
        f"  B's set built in {setup['built_b_s']} s; A published {setup['published']}", flush=True
    )
    proc, url = serve(root / "a")
    try:
        from sqlalchemy import update

        from hashsieve.config import Settings
        from hashsieve.exchange.models import Subscription
        from hashsieve.exchange.subscriber import _save_token, sync
        from hashsieve.matching.matcher import Matcher
        from hashsieve.store import Store

        b = Store(Settings(home=root / "b"))
        with b.session() as s:
            s.execute(
                update(Subscription).where(Subscription.id == setup["sub_id"]).values(url=url)
            )
        _save_token(b, int(setup["sub_id"]), str(setup["token"]))  # type: ignore[call-overload]
        load = os.getloadavg()[0]
        server_cpu = cpu_seconds(proc.pid)
        cpu = time.process_time()
        started = time.perf_counter()
        [result] = sync(b)
        sync_s = time.perf_counter() - started
        sync_cpu = time.process_time() - cpu
        sync_server_cpu = cpu_seconds(proc.pid) - server_cpu
        if not result.ok:
            raise SystemExit(f"sync refused: {result.error}")
        matcher = Matcher(b)
        gone = matcher.lookup("md5", [bytes.fromhex(v) for v in setup["removed_sample"]])  # type: ignore[union-attr]
        new = matcher.lookup("md5", [bytes.fromhex(v) for v in setup["added_sample"]])  # type: ignore[union-attr]
        if gone or len(new) != 3:
            raise SystemExit("the sync did not change the index as it should")
        print(
            f"sync: +{result.added} -{result.removed} into {args.entries:,} entries in "
            f"{sync_s:.2f} s (CPU {sync_cpu:.2f} s here + {sync_server_cpu:.2f} s in the "
            f"publisher; load {load:.1f})",
            flush=True,
        )

        # 50 peers at once, each its own token, the same 10k-change page.
        after = int(setup["published"][2]) - args.changes  # type: ignore[index]
        times: list[float] = []
        errors: list[str] = []

        def fetch(token: str) -> None:
            request = urllib.request.Request(
                f"{url}/api/exchange/feeds/{FEED}?after={after}",
                headers={"Authorization": f"Bearer {token}"},
            )
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=300) as r:
                    if len(json.loads(r.read())["entries"]) != args.changes:
                        errors.append("short page")
            except OSError as exc:
                errors.append(str(exc))
            times.append(time.perf_counter() - t0)

        threads = [
            threading.Thread(target=fetch, args=(t,))
            for t in setup["peers"][: args.peers]  # type: ignore[index]
        ]
        load_peers = os.getloadavg()[0]
        server_cpu = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        peers_server_cpu = cpu_seconds(proc.pid) - server_cpu
        times.sort()
        peers = {
            "peers": args.peers,
            "entries_per_page": args.changes,
            "wall_s": round(wall, 2),
            "pages_per_s": round(args.peers / wall, 1),
            "p50_s": round(statistics.median(times), 2),
            "p95_s": round(times[int(0.95 * (len(times) - 1))], 2),
            "errors": len(errors),
            "server_cpu_s": round(peers_server_cpu, 2),
            "load": round(load_peers, 1),
        }
        print(f"{args.peers} peers at once: {peers}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    results = {
        "entries": args.entries,
        "changes": args.changes,
        "sync_s": round(sync_s, 2),
        "sync_cpu_s": round(sync_cpu, 2),
        "sync_publisher_cpu_s": round(sync_server_cpu, 2),
        "sync_load": round(load, 1),
        "added": result.added,
        "removed": result.removed,
        "setup_b_s": setup["built_b_s"],
        "serve_to_peers": peers,
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
