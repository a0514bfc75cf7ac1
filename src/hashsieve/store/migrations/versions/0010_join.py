"""Join the five feature migrations of the same parent (access, cross-case, exchange, lists,
review at scale) into one line again: a store has one head, so the next migration has one parent.

Revision ID: 0010
Revises: 0009_access, 0009_crosscase, 0009_exchange, 0009_lists, 0009_review
"""

revision = "0010"
down_revision = ("0009_access", "0009_crosscase", "0009_exchange", "0009_lists", "0009_review")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
