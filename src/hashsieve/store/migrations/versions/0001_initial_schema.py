"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 01:33:38.767456
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hashsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("default_category", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hash_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hashset_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("series", sa.Text(), nullable=True),
        sa.Column("victim_identified", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["hashset_id"], ["hashsets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hash_entries", schema=None) as batch_op:
        batch_op.create_index("ix_hash_entries_hashset", ["hashset_id"], unique=False)
        batch_op.create_index("ix_hash_entries_lookup", ["algorithm", "value"], unique=False)

    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("path_key", sa.LargeBinary(), nullable=False),
        sa.Column("path_text", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("media_kind", sa.String(length=16), nullable=False),
        sa.Column("mime", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "path_key", name="uq_files_case_path"),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_case_verdict", ["case_id", "verdict"], unique=False)
        batch_op.create_index("ix_files_sha256", ["sha256"], unique=False)

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("hashset_id", sa.Integer(), nullable=True),
        sa.Column("hashset", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("series", sa.Text(), nullable=True),
        sa.Column("variant", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["hashset_id"], ["hashsets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index("ix_matches_file", ["file_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_file")

    op.drop_table("matches")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_sha256")
        batch_op.drop_index("ix_files_case_verdict")

    op.drop_table("files")
    op.drop_table("scans")
    with op.batch_alter_table("hash_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_hash_entries_lookup")
        batch_op.drop_index("ix_hash_entries_hashset")

    op.drop_table("hash_entries")
    op.drop_table("hashsets")
    op.drop_table("cases")
