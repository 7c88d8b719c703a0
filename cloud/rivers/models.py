"""Rivers, their chiefs by level, monitoring sites, and the river chiefs' site grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime

CHIEF_LEVELS = ("district", "town", "village")
WATERBODIES = ("river", "lake")  # a lake includes a reservoir: its phosphorus limits differ


class River(Base):
    """A river (or a lake) with its code and its course, WGS-84 GeoJSON."""

    __tablename__ = "rivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    # A LineString or MultiLineString (a lake: a Polygon), WGS-84; None until drawn.
    geometry_json: Mapped[str | None] = mapped_column(Text)
    # The bounding box, for the map's window queries without reading the geometry.
    min_lat: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RiverChief(Base):
    """A river chief (河长) of one river at one level: district, town or village."""

    __tablename__ = "river_chiefs"
    __table_args__ = (UniqueConstraint("river_id", "level", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16))  # district | town | village
    since: Mapped[datetime] = mapped_column(UtcDateTime)


class RiverSite(Base):
    """A river monitoring site, where river stations are placed."""

    __tablename__ = "river_sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    river: Mapped[str] = mapped_column(String(128))  # the river's name, as shown
    river_id: Mapped[int | None] = mapped_column(ForeignKey("rivers.id"), index=True)
    waterbody: Mapped[str] = mapped_column(String(8), default="river", server_default="river")
    # The class its water-function zone asks for (1..5, GB 3838-2002); None: not set.
    target_class: Mapped[int | None] = mapped_column(Integer)
    # Where it is, WGS-84 degrees; None until known (the site is then not on the map).
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class SiteCondition(Base):
    """A site's water as the rivers' checks last judged it: the newest classed sample."""

    __tablename__ = "site_conditions"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("river_sites.id", ondelete="CASCADE"), primary_key=True
    )
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sample_ts: Mapped[int | None] = mapped_column(BigInteger)  # device time of that sample
    device_id: Mapped[str | None] = mapped_column(String(32))
    water_class: Mapped[int | None] = mapped_column(Integer)  # 1..6 (6: inferior V)
    deciding_json: Mapped[str] = mapped_column(Text, default="[]")  # parameter names
    # Parameters of the newest sample left out, with why: {"ph": ["stuck"], ...}
    suspect_json: Mapped[str] = mapped_column(Text, default="{}")
    samples: Mapped[int] = mapped_column(Integer, default=0)  # judged in the window
    # The newest sample the class check has handled: runs up to it were raised or ended.
    class_seen_ts: Mapped[int | None] = mapped_column(BigInteger)
    # What that check judged against ("river:3"): a new target or water body starts afresh.
    class_seen_for: Mapped[str | None] = mapped_column(String(16))


RULE_KINDS = ("above", "below", "class_worse", "silent")


class WaterRule(Base):
    """An alert rule a prosecutor or a river chief set on a site or on a whole river.

    ``above`` / ``below``: a parameter's trusted values above / below ``threshold`` for
    ``duration_s``; ``class_worse``: each of the last ``days`` local days classed worse
    than ``class_limit``; ``silent``: no sample for ``duration_s``.
    """

    __tablename__ = "water_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str | None] = mapped_column(
        ForeignKey("river_sites.id", ondelete="CASCADE"), index=True
    )
    river_id: Mapped[int | None] = mapped_column(
        ForeignKey("rivers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    parameter: Mapped[str | None] = mapped_column(String(32))
    threshold: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    days: Mapped[int | None] = mapped_column(Integer)
    class_limit: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16), default="major")
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StationLatest(Base):
    """A river station's newest water sample (device time), kept at ingest: the class of
    every site now without asking InfluxDB for the last point of each of its series."""

    __tablename__ = "station_latest"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[int] = mapped_column(BigInteger)
    boot: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    # Physical values, one column per parameter of the contract (None: not in the sample).
    water_temp: Mapped[float | None] = mapped_column(Float)
    ph: Mapped[float | None] = mapped_column(Float)
    dissolved_oxygen: Mapped[float | None] = mapped_column(Float)
    conductivity: Mapped[float | None] = mapped_column(Float)
    turbidity: Mapped[float | None] = mapped_column(Float)
    permanganate_index: Mapped[float | None] = mapped_column(Float)
    ammonia_nitrogen: Mapped[float | None] = mapped_column(Float)
    total_phosphorus: Mapped[float | None] = mapped_column(Float)
    total_nitrogen: Mapped[float | None] = mapped_column(Float)
    statuses_json: Mapped[str] = mapped_column(Text)  # non-normal statuses by name
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SiteAssignment(Base):
    """A site given to a river chief directly (beyond the sites of the rivers they chair)."""

    __tablename__ = "site_assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(
        ForeignKey("river_sites.id", ondelete="CASCADE"), primary_key=True
    )
