"""files.recovered and files.offset: content found other than as a file (a deleted file of a
disk image, a carved or thumbnail picture) and where it starts in its container

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("recovered", sa.String(16), nullable=True))
        batch.add_column(sa.Column("offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("offset")
        batch.drop_column("recovered")
