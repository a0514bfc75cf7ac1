"""Tables of the sensor console: sensors (tokens stored hashed), their alerts, list settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashsieve.store.models import Base, utcnow

ALERT_STATUSES = ("new", "acknowledged", "resolved")


class Sensor(Base):
    __tablename__ = "sensors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: SHA-256 of the bearer token: a stolen database does not yield working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SensorAlert(Base):
    __tablename__ = "sensor_alerts"
    __table_args__ = (
        UniqueConstraint("sensor_id", "alert_id", name="uq_sensor_alerts_sensor_alert"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"))
    #: Chosen by the sensor; a retried delivery carries the same id and is ignored.
    alert_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # "file" (agent) or "http" (ICAP)
    host: Mapped[str | None] = mapped_column(Text, nullable=True)
    username: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)  # path or URL
    client: Mapped[str | None] = mapped_column(Text, nullable=True)
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "blocked", "seen"
    hashset: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[int | None] = mapped_column(Integer, nullable=True)
    algorithm: Mapped[str | None] = mapped_column(String(16), nullable=True)
    distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entry: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")
    status_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SensorSetting(Base):
    __tablename__ = "sensor_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
