"""Agencies together: signed hash-set feeds between hashsieve instances (docs/exchange.md).

An instance has an Ed25519 identity (:mod:`.identity`); it publishes hash sets and reviewed
series as feeds — append-only logs of additions and removals, served as signed, hash-chained
pages to peers admitted one by one (:mod:`.feeds`, :mod:`.api`); it subscribes to other
instances' feeds and syncs them, verifying every page before applying anything (:mod:`.sync`).
:mod:`.pytx` lets python-threatexchange (and HMA) fetch a feed; it is imported by
``threatexchange`` only, never by hashsieve itself.
"""

from __future__ import annotations

from hashsieve.exchange.feeds import (
    FeedError,
    add_peer,
    grant,
    list_feeds,
    list_peers,
    publish_hashset,
    publish_series,
    revoke_peer,
    withdraw,
)
from hashsieve.exchange.identity import IdentityError, init_identity, public_key
from hashsieve.exchange.protocol import FeedRefused, verify_page
from hashsieve.exchange.subscriber import SyncError, SyncResult, SyncTimer, subscribe, sync

__all__ = [
    "FeedError",
    "FeedRefused",
    "IdentityError",
    "SyncError",
    "SyncResult",
    "SyncTimer",
    "add_peer",
    "grant",
    "init_identity",
    "list_feeds",
    "list_peers",
    "public_key",
    "publish_hashset",
    "publish_series",
    "revoke_peer",
    "subscribe",
    "sync",
    "verify_page",
    "withdraw",
]
