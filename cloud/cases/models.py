"""Cases and their steps; for now the public-interest cases linked to rivers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime


class Case(Base):
    """A case of the procuratorate. ``step`` is where its workflow stands now."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # as the office numbers it
    kind: Mapped[str] = mapped_column(String(16))  # public_interest
    variant: Mapped[str] = mapped_column(String(16))  # administrative | civil
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    agency: Mapped[str | None] = mapped_column(String(200))  # the agency a suggestion is to
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # 15 days to reply, not 2 months
    step: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CaseRiver(Base):
    """A river the case is about (river chief and prosecutor on one case)."""

    __tablename__ = "case_rivers"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    river_id: Mapped[int] = mapped_column(
        ForeignKey("rivers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseStep(Base):
    """One step of a case's workflow, as recorded: never edited, a correction is a step."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)  # the day it happened (the document's date)
    due: Mapped[date | None] = mapped_column(Date)  # the deadline it starts, if any
    note: Mapped[str | None] = mapped_column(Text)
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
