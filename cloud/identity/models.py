"""People who sign in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime


class Role(StrEnum):
    """What a person is, which decides what they may see (each domain's ``policy``)."""

    prosecutor = "prosecutor"
    river_chief = "river_chief"
    lawyer = "lawyer"
    party = "party"
    administrator = "administrator"


class User(Base):
    """A person who logs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who may approve a supervised person's trip (外出): "local" (up to 7 days), "county"
    # (any length), or nobody (None).
    approval_level: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
