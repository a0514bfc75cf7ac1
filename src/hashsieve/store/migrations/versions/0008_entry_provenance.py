"""hash_entries.item, seconds, frame, quality, part: an entry's provenance in columns, no longer
packed into its ``entry`` text (which stays as display text)

Existing rows are backfilled once by parsing the old texts: a known video's frame
``"clip.txt @12.400s frame 372 q87"`` and a reference part ``"a.jpg (crop 4%)"``. The regexes
live here, not imported from the code, so this migration never changes when the code does.

Revision ID: 0008
Revises: 0007
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FRAME = re.compile(
    r"^(?P<item>.+) @(?P<seconds>\d+(?:\.\d+)?)s frame (?P<frame>\d+) q(?P<quality>\d+)$",
    re.DOTALL,
)
_PART = re.compile(r"^(?P<item>.+) \((?P<part>(?:crop|top) [\d./]+%)\)$", re.DOTALL)
_PART_ALGORITHMS = ("pdq-crop", "pdq-top")
_CHUNK = 10_000  # rows read and updated per round trip


def upgrade() -> None:
    with op.batch_alter_table("hash_entries") as batch:
        batch.add_column(sa.Column("item", sa.Text(), nullable=True))
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("frame", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quality", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("part", sa.String(32), nullable=True))
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    entries = sa.table(
        "hash_entries",
        sa.column("id", sa.Integer),
        sa.column("algorithm", sa.String),
        sa.column("entry", sa.Text),
        sa.column("item", sa.Text),
        sa.column("seconds", sa.Float),
        sa.column("frame", sa.Integer),
        sa.column("quality", sa.Integer),
        sa.column("part", sa.String),
    )
    # Only rows that can carry provenance: frames are plain PDQ with the frame marker (the LIKE
    # keeps a 10M-row MD5 set out of Python), parts are their own algorithms.
    candidates = (
        (entries.c.algorithm == "pdq") & entries.c.entry.like("% @%s frame %")
    ) | entries.c.algorithm.in_(_PART_ALGORITHMS)
    update = (
        sa.update(entries)
        .where(entries.c.id == sa.bindparam("row_id"))
        .values(
            item=sa.bindparam("new_item"),
            seconds=sa.bindparam("new_seconds"),
            frame=sa.bindparam("new_frame"),
            quality=sa.bindparam("new_quality"),
            part=sa.bindparam("new_part"),
        )
    )
    last = 0
    while True:
        # Pages by id, not one open cursor: updating while a cursor is open is not portable.
        rows = conn.execute(
            sa.select(entries.c.id, entries.c.algorithm, entries.c.entry)
            .where(candidates & (entries.c.id > last))
            .order_by(entries.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        changes = [c for row in rows if (c := _parsed(row.id, row.algorithm, row.entry))]
        if changes:
            conn.execute(update, changes)


def _parsed(row_id: int, algorithm: str, entry: str) -> dict[str, object] | None:
    values: dict[str, object] = {
        "row_id": row_id,
        "new_item": None,
        "new_seconds": None,
        "new_frame": None,
        "new_quality": None,
        "new_part": None,
    }
    if algorithm == "pdq":
        if (m := _FRAME.match(entry)) is None:
            return None
        values["new_item"] = m["item"]
        values["new_seconds"] = float(m["seconds"])
        values["new_frame"] = int(m["frame"])
        values["new_quality"] = int(m["quality"])
    else:
        m = _PART.match(entry)
        # A part whose text carries no label is still a part of an original: itself.
        values["new_item"] = m["item"] if m else entry
        values["new_part"] = m["part"] if m else None
    return values


def downgrade() -> None:
    with op.batch_alter_table("hash_entries") as batch:
        batch.drop_column("part")
        batch.drop_column("quality")
        batch.drop_column("frame")
        batch.drop_column("seconds")
        batch.drop_column("item")
