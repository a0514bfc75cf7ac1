"""access: case membership (which users may see a case)

A case with no members is open to every user, as before; once a case has members only they (and
admins) see it. ``hashsieve user assign NAME CASE`` and ``unassign`` change it.

Revision ID: 0009_access
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_access"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_case_members",
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("review_users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_case_members_user", "review_case_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_review_case_members_user", table_name="review_case_members")
    op.drop_table("review_case_members")
