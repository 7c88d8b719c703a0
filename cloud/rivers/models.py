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


# --- patrols and problems ---------------------------------------------------------------

PROBLEM_STATUSES = ("reported", "assigned", "fixed", "verified", "reopened")
OPEN_PROBLEM_STATUSES = ("reported", "assigned", "fixed", "reopened")  # not yet verified
PROBLEM_STEPS = ("reported", "assigned", "fixed", "verified", "reopened")


class PatrolReport(Base):
    """A patrol or situation report on a river, as filed: never changed afterwards. A
    correction or an addition is a ``PatrolReportNote`` beside it."""

    __tablename__ = "patrol_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), index=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("river_sites.id"))
    text: Mapped[str] = mapped_column(Text)
    # Where the patrol was, WGS-84 degrees; None when not given.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    patrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    filed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PatrolReportNote(Base):
    """A note added to a report later (a correction, an addition), with who and when."""

    __tablename__ = "patrol_report_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("patrol_reports.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    by_user: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class RiverProblem(Base):
    """A problem on a river: reported, assigned to a chief of the river, fixed by them,
    then verified or reopened. ``status`` is its newest step; the steps are its history."""

    __tablename__ = "river_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), index=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("river_sites.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_reports.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)  # PROBLEM_STATUSES
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProblemStep(Base):
    """One step of a problem (reported, assigned, fixed, verified, reopened): who, when,
    their note; for ``assigned`` to whom."""

    __tablename__ = "river_problem_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("river_problems.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))  # PROBLEM_STEPS
    by_user: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PatrolPhoto(Base):
    """A photo of a report or of a problem's step: its blob (by SHA-256), its kind as its
    bytes tell it, its size. The same bytes held twice are one blob and two rows."""

    __tablename__ = "patrol_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_reports.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("river_problem_steps.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1.. in the order they were given
