"""exchange: signed hash-set feeds between instances (issue #15)

The publishing side: feeds, their append-only log (one row per addition or removal, with its
sequence number and hash chain), peers (tokens stored hashed) and which feeds each was given.
The subscribing side: subscriptions (the publisher's key pinned, the last verified sequence and
chain). ``hashsets.revision`` counts the changes a feed made to a set (sensors refetch a set whose
revision moved); ``hash_entries.origin`` and ``matches.origin`` carry where a shared entry comes
from (agency, case reference, contact: deconfliction), as JSON.

Revision ID: 0009_exchange
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_exchange"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchange_feeds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("agency", sa.String(200), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("head", sa.String(64), nullable=False),
    )
    op.create_table(
        "exchange_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "feed_id",
            sa.Integer(),
            sa.ForeignKey("exchange_feeds.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("feed_id", "seq", name="uq_exchange_log_feed_seq"),
    )
    op.create_index("ix_exchange_log_key", "exchange_log", ["feed_id", "algorithm", "value"])
    op.create_table(
        "exchange_peers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("last_seen", TZ, nullable=True),
    )
    op.create_table(
        "exchange_grants",
        sa.Column(
            "peer_id",
            sa.Integer(),
            sa.ForeignKey("exchange_peers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "feed_id",
            sa.Integer(),
            sa.ForeignKey("exchange_feeds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "exchange_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed", sa.String(100), nullable=False),
        sa.Column("publisher_key", sa.String(64), nullable=False),
        sa.Column(
            "hashset_id",
            sa.Integer(),
            sa.ForeignKey("hashsets.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("synced_at", TZ, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    with op.batch_alter_table("hashsets") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("hash_entries") as batch:
        batch.add_column(sa.Column("origin", sa.Text(), nullable=True))
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("origin", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("hash_entries") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("hashsets") as batch:
        batch.drop_column("revision")
    op.drop_table("exchange_subscriptions")
    op.drop_table("exchange_grants")
    op.drop_table("exchange_peers")
    op.drop_index("ix_exchange_log_key", "exchange_log")
    op.drop_table("exchange_log")
    op.drop_table("exchange_feeds")
