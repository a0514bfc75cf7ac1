"""sensors: per-sensor tokens (hashed), alerts from agents and ICAP services, the list key

A merge revision: joins the review (0003), video (0004) and candidate (0005) heads, so the
history has one head again.

Revision ID: 0006
Revises: 0003, 0004, 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = ("0003", "0004", "0005")
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("last_seen", TZ, nullable=True),
    )
    op.create_table(
        "sensor_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "sensor_id",
            sa.Integer(),
            sa.ForeignKey("sensors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("observed_at", TZ, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("hashset", sa.String(200), nullable=True),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("algorithm", sa.String(16), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("entry", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("status_by", sa.String(100), nullable=True),
        sa.Column("status_at", TZ, nullable=True),
        sa.UniqueConstraint("sensor_id", "alert_id", name="uq_sensor_alerts_sensor_alert"),
    )
    op.create_index("ix_sensor_alerts_status", "sensor_alerts", ["status", "id"])
    op.create_table(
        "sensor_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sensor_settings")
    op.drop_index("ix_sensor_alerts_status", "sensor_alerts")
    op.drop_table("sensor_alerts")
    op.drop_table("sensors")
