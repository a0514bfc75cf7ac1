"""review at case scale: review_facets (camera, serial, picture time, GPS per file) and the
indexes the grid's filters and sorts use (group size, size, file time, path; facets)

The grid lists a case's files (one per near-duplicate group when series are collapsed) in
windows ordered by one of these keys; each index starts with (case_id, verdict) because every
grid query names both, and ends with the id the keyset cursor breaks ties with.

Revision ID: 0009_review
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_review"
down_revision = "0008"
branch_labels = None
depends_on = None

FILE_INDEXES = {
    # group_id last: the "one per group" test (group_id = id) is answered from the index.
    "ix_files_grid_group": ["case_id", "verdict", "group_size", "id", "group_id"],
    "ix_files_grid_size": ["case_id", "verdict", "size", "id"],
    "ix_files_grid_mtime": ["case_id", "verdict", "mtime_ns", "id"],
    "ix_files_grid_path": ["case_id", "verdict", "path_key"],
    "ix_files_grid_kind": ["case_id", "media_kind", "verdict"],
}


def upgrade() -> None:
    op.create_table(
        "review_facets",
        sa.Column(
            "file_id",
            sa.Integer(),
            sa.ForeignKey("files.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("make", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("serial", sa.String(200), nullable=True),
        sa.Column("taken_at", sa.String(32), nullable=True),
        sa.Column("gps", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_review_facets_taken", "review_facets", ["case_id", "taken_at", "file_id"])
    op.create_index("ix_review_facets_camera", "review_facets", ["case_id", "make", "model"])
    op.create_index("ix_review_facets_serial", "review_facets", ["case_id", "serial"])
    op.create_index("ix_review_facets_case_file", "review_facets", ["case_id", "file_id"])
    for name, columns in FILE_INDEXES.items():
        op.create_index(name, "files", columns)
    op.create_index("ix_review_decisions_category", "review_decisions", ["case_id", "category"])


def downgrade() -> None:
    op.drop_index("ix_review_decisions_category", "review_decisions")
    for name in FILE_INDEXES:
        op.drop_index(name, "files")
    op.drop_index("ix_review_facets_case_file", "review_facets")
    op.drop_index("ix_review_facets_serial", "review_facets")
    op.drop_index("ix_review_facets_camera", "review_facets")
    op.drop_index("ix_review_facets_taken", "review_facets")
    op.drop_table("review_facets")
