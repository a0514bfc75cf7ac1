"""Tables of the review workspace: reviewer decisions.

A reviewer's decision is kept apart from the scan's verdict and category: the scan says what the
hash sets know, the decision says what a person saw. Decisions are keyed by (case, SHA-256), so
byte-identical copies share one decision and a rescan that replaces a file's row keeps it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashsieve.store.models import Base, utcnow


class Decision(Base):
    __tablename__ = "review_decisions"
    __table_args__ = (
        UniqueConstraint("case_id", "sha256", name="uq_review_decisions_case_sha"),
        Index("ix_review_decisions_category", "case_id", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    series: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of strings
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Facet(Base):
    """What the grid filters and sorts on that the scan keeps only in ``files.metadata_json``.

    One row per file of a case (filled by :func:`hashsieve.review.facets.refresh` from the
    files' EXIF metadata), so camera, serial, picture time and GPS filters use indexes.
    """

    __tablename__ = "review_facets"
    __table_args__ = (
        Index("ix_review_facets_taken", "case_id", "taken_at", "file_id"),
        Index("ix_review_facets_camera", "case_id", "make", "model"),
        Index("ix_review_facets_serial", "case_id", "serial"),
        Index("ix_review_facets_case_file", "case_id", "file_id"),
    )

    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    make: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: EXIF DateTimeOriginal (else DateTime) as ``YYYY-MM-DDTHH:MM:SS`` (sorts as text).
    taken_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gps: Mapped[bool] = mapped_column(Boolean, default=False)
