"""The store's tables. SQLite today (WAL); written so that PostgreSQL can replace it.

Hash values are stored as binary digests (half the size of hex) and looked up through one
(algorithm, value) index; paths are stored as the raw bytes the filesystem gave (lossless for
names that are not valid UTF-8) next to a readable text form.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class HashSet(Base):
    __tablename__ = "hashsets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: "known" (known material) or "known-good" (NSRL and other ignorable files).
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    #: Category scheme of the set's codes: "us" (VICS US, default) or "uk" (CAID A/B/C).
    profile: Mapped[str] = mapped_column(String(16), default="us")
    default_category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    #: True once every row is in; an interrupted import is visible and can be deleted.
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Changes made to the set after its import (a subscribed feed's sync): the sensors' list
    #: version names it, so their copies refetch a set that changed.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HashEntry(Base):
    __tablename__ = "hash_entries"
    # No (algorithm, value) index: lookups go to the index folder (migration 0009_lists).
    # A set's rows are written together: on PostgreSQL a BRIN index finds them (0012).
    # Whoever writes rows here draws their ids under store.bulk.lock_entry_ids: an import
    # reserves ranges of the id sequence for its batches.
    __table_args__ = (Index("ix_hash_entries_hashset", "hashset_id", postgresql_using="brin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A foreign key on SQLite; on PostgreSQL its per-row check is dropped (migration
    #: 0009_lists): the catalogue writes a set before its rows and deletes its rows first.
    hashset_id: Mapped[int] = mapped_column(ForeignKey("hashsets.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(16))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    entry: Mapped[str] = mapped_column(Text)
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series: Mapped[str | None] = mapped_column(Text, nullable=True)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Provenance in columns (``entry`` is display text only): the known item an entry is part
    # of (a frame's video, a reference part's original entry), a frame's time, number and PDQ
    # quality, a part's label ("crop 4%").
    item: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    frame: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    part: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Where a shared entry comes from, as JSON ``{"agency", "case_ref", "contact"}`` (an
    #: exchange feed's deconfliction provenance); None for an imported set's entries.
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    root: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: "running" until the walk and every result are committed, then "completed".
    status: Mapped[str] = mapped_column(String(16), default="running")
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds: Mapped[float | None] = mapped_column(nullable=True)
    #: Who ran the scan (``Settings.examiner``): what another case's cross-case link names.
    examiner: Mapped[str | None] = mapped_column(String(100), nullable=True)


class FileRecord(Base):
    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("case_id", "path_key", name="uq_files_case_path"),
        Index("ix_files_case_verdict", "case_id", "verdict"),
        Index("ix_files_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"))
    path_key: Mapped[bytes] = mapped_column(LargeBinary)  # os.fsencode(path): lossless
    path_text: Mapped[str] = mapped_column(Text)  # readable form (undecodable bytes escaped)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sha1: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_kind: Mapped[str] = mapped_column(String(16))  # image, video, other
    mime: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The JPEG decode scale the PDQ hash was computed at (1 = full size).
    decode_scale: Mapped[int | None] = mapped_column(Integer, nullable=True)
    verdict: Mapped[str] = mapped_column(String(16))
    #: The most serious category among the file's matches (for ordering and summaries).
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    group_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metadata_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: How the content was found when not as a file: "deleted", "carved", "thumbnail", ...
    recovered: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Where recovered content starts in its container (bytes), when known.
    offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: A new picture already in other cases of the store: JSON list, one link per other case
    #: (hashsieve.matching.crosscase); NULL where there is none.
    crosscase_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (Index("ix_matches_file", "file_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    #: Kept by name too, so a case's record survives the deletion of the hash set.
    hashset_id: Mapped[int | None] = mapped_column(
        ForeignKey("hashsets.id", ondelete="SET NULL"), nullable=True
    )
    hashset: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    entry: Mapped[str] = mapped_column(Text)
    algorithm: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Which dihedral variant of the file's hash matched ("r0", "r90", ...), for PDQ.
    variant: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: For a video: the time (s) of the first matching frame in the scanned video.
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: For a video matched by vPDQ: the share (%) of its frames the known video covers.
    coverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The candidate region of the file that matched (robust matching); NULL = the whole image.
    candidate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The matched entry's origin (JSON, see ``HashEntry.origin``): "seen by agency B, case X".
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)
