"""Drop ix_hash_entries_lookup, the (algorithm, value) B-tree over every hash entry.

Matching never used it: digests are looked up in the sorted arrays of the index folder and PDQ
codes in the multi-index (hashsieve.index), about 5x faster batched. It cost every import a
random B-tree insert per row (a 1M-line MD5 list took 2.3x as long with it; worse as it outgrew
the page cache at 10M and 100M lines) and about 40 bytes of disk per entry. A set's own rows are
still found through ix_hash_entries_hashset.

Revision ID: 0009_lists
Revises: 0008
"""

from alembic import op

revision = "0009_lists"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_hash_entries_lookup", table_name="hash_entries")


def downgrade() -> None:
    op.create_index("ix_hash_entries_lookup", "hash_entries", ["algorithm", "value"])
