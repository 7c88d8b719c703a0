"""Monitoring sites and the river chiefs assigned to them."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base


class RiverSite(Base):
    """A river monitoring site, where river stations are placed."""

    __tablename__ = "river_sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    river: Mapped[str] = mapped_column(String(128))
    # Where it is, WGS-84 degrees; None until known (the site is then not on the map).
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class SiteAssignment(Base):
    """A river chief's site: they see only these."""

    __tablename__ = "site_assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(
        ForeignKey("river_sites.id", ondelete="CASCADE"), primary_key=True
    )
