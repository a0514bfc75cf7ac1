"""Tables of who may use the web app and what they did: users, sessions, settings, audit log.

The audit log is append-only (SQLite triggers refuse UPDATE and DELETE on it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashsieve.store.models import Base, utcnow

ROLES = ("admin", "reviewer", "read-only")
#: Roles allowed to change decisions.
WRITERS = ("admin", "reviewer")


class User(Base):
    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSession(Base):
    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the cookie's token: a stolen database does not yield live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("review_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseMember(Base):
    """A user assigned to a case. A case with members is visible to them and to admins only;
    a case without any is open to every user (docs/security.md)."""

    __tablename__ = "review_case_members"
    __table_args__ = (Index("ix_review_case_members_user", "user_id"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("review_users.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserSettings(Base):
    __tablename__ = "review_user_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("review_users.id", ondelete="CASCADE"), primary_key=True
    )
    blur: Mapped[int] = mapped_column(Integer, default=14)  # CSS pixels of blur
    greyscale: Mapped[bool] = mapped_column(Boolean, default=True)
    thumb_size: Mapped[int] = mapped_column(Integer, default=160)  # CSS pixels
    break_minutes: Mapped[int] = mapped_column(Integer, default=45)  # 0 = no reminder


class AuditEvent(Base):
    """Who viewed which file when, who changed what (append-only).

    No foreign keys: the record of a view must outlive the file row, the user and the case.
    """

    __tablename__ = "review_audit"
    __table_args__ = (
        Index("ix_review_audit_case", "case_id", "id"),
        Index("ix_review_audit_user_batch", "username", "batch"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    username: Mapped[str] = mapped_column(String(100))
    #: login, login-failed, logout, view, thumbnail, image, set, undo, export, settings
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    file_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    field: Mapped[str | None] = mapped_column(String(32), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    #: One keyboard action = one batch (a whole group categorised at once); undo works by batch.
    batch: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: For an undo: the batch it reverts.
    undoes: Mapped[str | None] = mapped_column(String(32), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
