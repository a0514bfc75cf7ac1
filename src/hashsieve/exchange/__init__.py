"""Agencies together: signed hash-set feeds between hashsieve instances (docs/exchange.md).

An instance has an Ed25519 identity (:mod:`.identity`); it publishes hash sets and reviewed
series as feeds — append-only logs of additions and removals, served as signed, hash-chained
pages to peers admitted one by one (:mod:`.feeds`, :mod:`.api`); it subscribes to other
instances' feeds and syncs them, verifying every page before applying anything (:mod:`.sync`).
:mod:`.pytx` lets python-threatexchange (and HMA) fetch a feed; it is imported by
``threatexchange`` only, never by hashsieve itself.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The public names, loaded on first use: ``hashsieve.exchange.pytx`` (imported by
#: threatexchange's CLI) needs only :mod:`.protocol`, not the store below the rest.
_WHERE = {
    "FeedError": "feeds",
    "add_peer": "feeds",
    "grant": "feeds",
    "list_feeds": "feeds",
    "list_peers": "feeds",
    "publish_hashset": "feeds",
    "publish_series": "feeds",
    "revoke_peer": "feeds",
    "withdraw": "feeds",
    "IdentityError": "identity",
    "init_identity": "identity",
    "public_key": "identity",
    "FeedRefused": "protocol",
    "verify_page": "protocol",
    "SyncError": "subscriber",
    "SyncResult": "subscriber",
    "SyncTimer": "subscriber",
    "subscribe": "subscriber",
    "sync": "subscriber",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
