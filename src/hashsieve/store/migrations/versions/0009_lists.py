"""Lists at national scale: drop ix_hash_entries_lookup; on PostgreSQL, also the per-row foreign
key check of hash_entries.hashset_id.

``ix_hash_entries_lookup``, the (algorithm, value) B-tree over every hash entry: matching never
used it (digests are looked up in the sorted arrays of the index folder, PDQ codes in the
multi-index, hashsieve.index), and it cost every import a random B-tree insert per row (a 1M-line
MD5 list took 2.3x as long with it, worse once it outgrew the page cache) and about 40 bytes of
disk per entry. A set's own rows are still found through ix_hash_entries_hashset.

On PostgreSQL the foreign key hash_entries.hashset_id -> hashsets.id runs a trigger with a query
per inserted row: two thirds of a COPY's time (200,000 PDQ rows: 19.0 s with it, 6.4-7.5 s
without, same server). Entries are written and deleted only by the catalogue
(hashsieve.hashsets.catalogue), which creates the set before its rows and deletes a set's rows
before the set, so the constraint is dropped there. SQLite keeps it (its check is an index probe
in the same process, and dropping it would copy the whole table).

Revision ID: 0009_lists
Revises: 0008
"""

from alembic import op

revision = "0009_lists"
down_revision = "0008"
branch_labels = None
depends_on = None

_FK = "hash_entries_hashset_id_fkey"  # PostgreSQL's name for the constraint of 0001


def upgrade() -> None:
    op.drop_index("ix_hash_entries_lookup", table_name="hash_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE hash_entries DROP CONSTRAINT IF EXISTS {_FK}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            _FK, "hash_entries", "hashsets", ["hashset_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index("ix_hash_entries_lookup", "hash_entries", ["algorithm", "value"])
