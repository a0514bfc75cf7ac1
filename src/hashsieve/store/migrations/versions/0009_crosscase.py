"""files.crosscase_json, scans.examiner: a new picture already in another case of the store says
so in its row (hashsieve.matching.crosscase), and who ran each scan

``crosscase_json`` holds the links found when the file was stored: per other case, its name, the
examiner who scanned the copy there, when, that case's reviewers' category, how it matched
(``sha256`` or ``pdq``) and the distance. NULL where there is none (every row stored before).

Revision ID: 0009_crosscase
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_crosscase"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("crosscase_json", sa.Text(), nullable=True))
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("examiner", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("examiner")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("crosscase_json")
