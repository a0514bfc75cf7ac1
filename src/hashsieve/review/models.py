"""Tables of the review workspace: reviewer decisions.

A reviewer's decision is kept apart from the scan's verdict and category: the scan says what the
hash sets know, the decision says what a person saw. Decisions are keyed by (case, SHA-256), so
byte-identical copies share one decision and a rescan that replaces a file's row keeps it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashsieve.store.models import Base, utcnow


class Decision(Base):
    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("case_id", "sha256", name="uq_review_decisions_case_sha"),)

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
