"""An entry's provenance lives in columns (item, seconds, frame, quality, part), not in its text:
imports fill them, and migration 0008 backfills a store written before them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from hashsieve import Settings, Store, import_hashset
from hashsieve.hashsets.catalogue import iter_records
from hashsieve.samples.images import jpeg_bytes, photo_like
from hashsieve.store import db
from hashsieve.store.models import HashEntry

A = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"
B = "c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c"

Row = tuple[str, str | None, float | None, int | None, int | None, str | None]


def _columns(store: Store) -> dict[tuple[str, str], Row]:
    """(algorithm, entry) -> (algorithm, item, seconds, frame, quality, part)."""
    with store.session() as s:
        rows = s.execute(
            select(
                HashEntry.algorithm,
                HashEntry.entry,
                HashEntry.item,
                HashEntry.seconds,
                HashEntry.frame,
                HashEntry.quality,
                HashEntry.part,
            )
        )
        return {(r[0], r[1]): (r[0], *r[2:]) for r in rows}


def test_vpdq_import_stores_frames_in_columns_and_exports_from_them(
    store: Store, tmp_path: Path
) -> None:
    clip = tmp_path / "videos" / "dir" / "clip 1.txt"
    clip.parent.mkdir(parents=True)
    clip.write_text(f"0,100,{A},0.000\n372,87,{B},12.400\n")
    import_hashset(store, tmp_path / "videos", "videos", category=1)
    columns = _columns(store)
    assert columns[("pdq", "dir/clip 1.txt @12.400s frame 372 q87")] == (
        "pdq",
        "dir/clip 1.txt",
        12.4,
        372,
        87,
        None,
    )
    assert columns[("pdq", "dir/clip 1.txt @0.000s frame 0 q100")][1:4] == ("dir/clip 1.txt", 0, 0)
    # Read back from the columns, not the text: the store's records round-trip.
    records = {r.frame: r for r in iter_records(store, "videos")}
    assert (records[372].item, records[372].seconds, records[372].quality) == (
        "dir/clip 1.txt",
        12.4,
        87,
    )


def test_media_import_stores_parts_with_their_original(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "reference" / "series a"
    folder.mkdir(parents=True)
    (folder / "one.jpg").write_bytes(jpeg_bytes(photo_like(3, (800, 600))))
    import_hashset(store, tmp_path / "reference", "originals", category=1)
    columns = _columns(store)
    assert columns[("pdq-crop", "series a/one.jpg (crop 4%)")] == (
        "pdq-crop",
        "series a/one.jpg",
        None,
        None,
        None,
        "crop 4%",
    )
    assert columns[("pdq-top", "series a/one.jpg (top 60%)")][1::4] == (
        "series a/one.jpg",
        "top 60%",
    )
    parts = [row for (algo, _), row in columns.items() if algo in ("pdq-crop", "pdq-top")]
    assert parts and all(row[1] == "series a/one.jpg" and row[5] for row in parts)
    # The original's own hashes are no part of anything.
    assert columns[("pdq", "series a/one.jpg")][1:] == (None,) * 5
    assert columns[("md5", "series a/one.jpg")][1:] == (None,) * 5


# --- migration 0008 ---------------------------------------------------------------------------

OLD_ROWS = [
    # (algorithm, entry) as a store before 0008 held them
    ("pdq", "dir/clip 1.txt @12.400s frame 372 q87"),
    ("pdq", "a.jpg (crop 4%) @1.5s frame 15 q90"),  # a video named like a part: still a frame
    ("pdq-crop", "a.jpg (crop 4%)"),
    ("pdq-crop", "b.png (crop 4/0/2/2%)"),
    ("pdq-top", "a.jpg (top 60%)"),
    ("pdq-top", "unlabelled"),  # a part without a label is its own original
    ("pdq", "a.jpg"),
    ("pdq", "notes @ 3s frame 2"),  # looks almost like a frame: plain text
    ("md5", "clip.txt @1.000s frame 30 q90"),  # a frame's text, but a digest is never a frame
]
EXPECTED: dict[tuple[str, str], Row] = {
    ("pdq", OLD_ROWS[0][1]): ("pdq", "dir/clip 1.txt", 12.4, 372, 87, None),
    ("pdq", OLD_ROWS[1][1]): ("pdq", "a.jpg (crop 4%)", 1.5, 15, 90, None),
    ("pdq-crop", OLD_ROWS[2][1]): ("pdq-crop", "a.jpg", None, None, None, "crop 4%"),
    ("pdq-crop", OLD_ROWS[3][1]): ("pdq-crop", "b.png", None, None, None, "crop 4/0/2/2%"),
    ("pdq-top", OLD_ROWS[4][1]): ("pdq-top", "a.jpg", None, None, None, "top 60%"),
    ("pdq-top", OLD_ROWS[5][1]): ("pdq-top", "unlabelled", None, None, None, None),
    ("pdq", OLD_ROWS[6][1]): ("pdq", None, None, None, None, None),
    ("pdq", OLD_ROWS[7][1]): ("pdq", None, None, None, None, None),
    ("md5", OLD_ROWS[8][1]): ("md5", None, None, None, None, None),
}


def _backfilled(
    url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[tuple[str, str], Row]:
    """Rows written at revision 0007, then the store opened (which upgrades it to head)."""
    engine = db.make_engine(url)
    command.upgrade(db.alembic_config(engine), "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO hashsets (id, name, kind, format, source, profile, imported_at,"
                " entries, refused, complete) VALUES (1, 'old', 'known', 'media', 'x', 'us',"
                " :now, :n, 0, :complete)"
            ),
            {"now": datetime.now(UTC), "n": len(OLD_ROWS), "complete": True},
        )
        for algo, entry in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO hash_entries (hashset_id, algorithm, value, entry)"
                    " VALUES (1, :algo, :value, :entry)"
                ),
                {"algo": algo, "value": bytes(32), "entry": entry},
            )
    engine.dispose()
    monkeypatch.setenv("HASHSIEVE_DATABASE_URL", url)
    store = Store(Settings(home=home))
    try:
        assert store.engine.url == engine.url  # the old database, not a new one
        return _columns(store)
    finally:
        store.close()


def test_migration_backfills_provenance_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert _backfilled(url, tmp_path / "home", monkeypatch) == EXPECTED


def test_migration_backfills_provenance_on_postgresql(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _backfilled(postgres_url, tmp_path / "home", monkeypatch) == EXPECTED
