"""the grid's sort indexes carry group_id (and the id tie of the path sort)

With series collapsed the grid keeps one file per group (``group_id IS NULL OR group_id = id``).
The group-size index had group_id already; the size, file-time and path indexes did not, so
counting a collapsed filter or walking it for jump positions looked up every file's table row
(55 s for a million files by size, against under a second from the index alone).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NEW = {
    "ix_files_grid_size": ["case_id", "verdict", "size", "id", "group_id"],
    "ix_files_grid_mtime": ["case_id", "verdict", "mtime_ns", "id", "group_id"],
    "ix_files_grid_path": ["case_id", "verdict", "path_key", "id", "group_id"],
}
OLD = {
    "ix_files_grid_size": ["case_id", "verdict", "size", "id"],
    "ix_files_grid_mtime": ["case_id", "verdict", "mtime_ns", "id"],
    "ix_files_grid_path": ["case_id", "verdict", "path_key"],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    for name, columns in indexes.items():
        op.drop_index(name, "files")
        op.create_index(name, "files", columns)


def upgrade() -> None:
    _replace(NEW)
    if op.get_bind().dialect.name == "sqlite":
        # Statistics for the new indexes (a sample: milliseconds): without them SQLite guesses
        # an unknown index selective and sorted a million rows rather than walk the right one.
        op.execute("PRAGMA analysis_limit=1000")
        op.execute("ANALYZE files")


def downgrade() -> None:
    _replace(OLD)
