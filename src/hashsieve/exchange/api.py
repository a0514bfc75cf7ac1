"""Routes of the exchange: peers fetch the signed pages of the feeds they were given.

``Authorization: Bearer <peer token>`` on every route; a feed not given to the peer (or that
does not exist: the two are not told apart) is a 403. Every page served, and every refusal, is
in the audit log (peer, feed, range; never the token).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response

from hashsieve.access import audit
from hashsieve.access.web import DB_INT_MAX, client_of, get_store
from hashsieve.exchange import feeds
from hashsieve.exchange.identity import signing_key
from hashsieve.exchange.models import Peer

router = APIRouter()


def peer_auth(request: Request) -> Peer:
    """The peer named by the bearer token; 401 for a missing, unknown or revoked token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    peer = (
        feeds.authenticate(get_store(request), token.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if peer is None:
        raise HTTPException(401, "a valid peer token is needed", {"WWW-Authenticate": "Bearer"})
    return peer


PeerDep = Annotated[Peer, Depends(peer_auth)]
FeedName = Annotated[str, Path(min_length=1, max_length=100, pattern=feeds.NAME_PATTERN)]


@router.get("/api/exchange/feeds", tags=["exchange"])
def get_feeds(request: Request, peer: PeerDep) -> dict[str, Any]:
    """The feeds given to this peer, with their last sequence numbers."""
    return {"peer": peer.name, "feeds": feeds.granted_feeds(get_store(request), peer)}


@router.get("/api/exchange/feeds/{name}", tags=["exchange"])
def get_feed_page(
    request: Request,
    peer: PeerDep,
    name: FeedName,
    after: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=feeds.PAGE_MAX)] = feeds.PAGE_DEFAULT,
) -> Response:
    """The signed page of the feed's changes after sequence number ``after`` (docs/exchange.md):
    follow ``last`` (as ``after``) until it reaches ``head``."""
    store = get_store(request)
    user = f"peer:{peer.name}"
    if not feeds.granted(store, peer, name):
        audit.log(store, user, "feed-refused", field="feed", new=name, client=client_of(request))
        raise HTTPException(403, "this feed was not given to this peer")
    key = getattr(request.app.state, "exchange_key", None)
    if key is None:
        key = request.app.state.exchange_key = signing_key(store.settings)
    page = feeds.signed_page(store, key, name, after, limit)
    audit.log(
        store,
        user,
        "feed-page",
        field="feed",
        old={"feed": name, "after": after},
        new={"feed": name, "last": page.last, "entries": page.entries},
        client=client_of(request),
    )
    return Response(page.body, media_type="application/json")
