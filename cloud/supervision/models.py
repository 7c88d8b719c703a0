"""Supervised persons."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base


class SupervisedPerson(Base):
    """A person under non-custodial supervision, as far as a bracelet's assignment needs."""

    __tablename__ = "supervised_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # case reference
    name: Mapped[str] = mapped_column(String(128))
