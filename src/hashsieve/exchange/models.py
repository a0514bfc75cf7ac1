"""Tables of the exchange: feeds and their log, peers and their grants, subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashsieve.store.models import Base, utcnow


class Feed(Base):
    __tablename__ = "exchange_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: Who publishes it, as peers see it ("Agency B").
    agency: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: chain(last_seq) (hashsieve.exchange.protocol).
    head: Mapped[str] = mapped_column(String(64))


class LogEntry(Base):
    """One addition or removal of a feed; never changed once written except ``live``."""

    __tablename__ = "exchange_log"
    __table_args__ = (
        UniqueConstraint("feed_id", "seq", name="uq_exchange_log_feed_seq"),
        Index("ix_exchange_log_key", "feed_id", "algorithm", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("exchange_feeds.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))
    algorithm: Mapped[str] = mapped_column(String(16))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    #: The entry as served (canonical JSON, with its seq): what the chain is computed over.
    record: Mapped[str] = mapped_column(Text)
    chain: Mapped[str] = mapped_column(String(64))
    #: True for an addition not yet removed (the feed's current content).
    live: Mapped[bool] = mapped_column(Boolean)


class Peer(Base):
    __tablename__ = "exchange_peers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the bearer token: a stolen database does not yield working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Grant(Base):
    __tablename__ = "exchange_grants"

    peer_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_peers.id", ondelete="CASCADE"), primary_key=True
    )
    feed_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_feeds.id", ondelete="CASCADE"), primary_key=True
    )


class Subscription(Base):
    __tablename__ = "exchange_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The local hash set the feed fills (``subscribe --as``).
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    feed: Mapped[str] = mapped_column(String(100))
    publisher_key: Mapped[str] = mapped_column(String(64))
    hashset_id: Mapped[int | None] = mapped_column(
        ForeignKey("hashsets.id", ondelete="SET NULL"), nullable=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    chain: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
