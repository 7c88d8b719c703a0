"""Alerts and the steps of their lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime

# An alert is open or acknowledged until a person resolves it; while it is, the same
# subject and cause update it instead of opening another (the partial unique index).
OPEN_STATUSES = ("open", "acknowledged")


class Alert(Base):
    """Something a person must look at: what, about whom, since when, and why."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_one_open_per_subject",
            "subject_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alerts_status_raised", "status", "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "<subject kind>:<subject id>:<cause>[:<detail>]": what "the same alert" means.
    subject_key: Mapped[str] = mapped_column(String(160))
    cause: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(32), index=True)
    gateway_id: Mapped[str | None] = mapped_column(String(32))
    zone_id: Mapped[int | None] = mapped_column(Integer)
    site_id: Mapped[str | None] = mapped_column(String(64), index=True)  # a river site's
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)  # a case's deadline
    summary: Mapped[str] = mapped_column(Text)
    # When it happened (device time where a device said so) and when the system knew.
    happened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_evidence_at: Mapped[datetime] = mapped_column(UtcDateTime)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    cause_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    explanation_json: Mapped[str] = mapped_column(Text)  # why: rule, fixes, zone, schedule


class AlertStep(Base):
    """One step of an alert's life: raised, updated, acknowledged, escalated, resolved."""

    __tablename__ = "alert_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[str | None] = mapped_column(Text)
