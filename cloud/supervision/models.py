"""Supervised persons, their bracelets over time, zones, rule state, travel and roll calls.

Zones are kept in WGS-84 degrees (``geometry_json``); the console converts drawn
GCJ-02 shapes back before they arrive here. Rule state (``ZoneTrack``) is what lets a
restarted or second replica carry on where the last stopped.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime


class SupervisedPerson(Base):
    """A person under non-custodial supervision: the measure, its basis and its term."""

    __tablename__ = "supervised_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # case reference
    name: Mapped[str] = mapped_column(String(128))
    # A cloud.supervision.measures name: bail, residential_surveillance, corrections_ep.
    measure: Mapped[str | None] = mapped_column(String(32))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    term_start: Mapped[date | None] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    prosecutor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # Random roll calls a day (0: none); answered within the bracelet's window.
    roll_calls_per_day: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TermRenewal(Base):
    """A term extended after review (community corrections: by at most 3 months)."""

    __tablename__ = "term_renewals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    previous_end: Mapped[date] = mapped_column(Date)
    new_end: Mapped[date] = mapped_column(Date)
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class BraceletAssignment(Base):
    """Which bracelet a person wore from when until when: evidence, never rewritten."""

    __tablename__ = "bracelet_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # SHA-256 of the zones last sent to this bracelet in its config (the scheduler sends
    # them again when the person's zones change).
    zones_sent_hash: Mapped[str | None] = mapped_column(String(64))


class Zone(Base):
    """An inclusion or exclusion zone, a circle or a polygon in WGS-84, with a schedule."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(16))  # inclusion | exclusion
    # What the zone is for: home, county (suspended by a travel permit), destination
    # (a permit's, never an alert), other.
    role: Mapped[str] = mapped_column(String(16), default="other")
    shape: Mapped[str] = mapped_column(String(16))  # circle | polygon
    # circle: {"lat", "lon", "radius_m"}; polygon: {"vertices": [[lat, lon], ...]}
    geometry_json: Mapped[str] = mapped_column(Text)
    schedule: Mapped[str] = mapped_column(Text, default="")  # core.schedule text; "" = always
    dwell_s: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ZoneAssignment(Base):
    """A zone applies to a person."""

    __tablename__ = "zone_assignments"

    zone_id: Mapped[int] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("supervised_persons.id"), primary_key=True, index=True
    )


class ZoneTrack(Base):
    """Where a person stands with a zone, decided by sure fixes held for the dwell time.

    ``state`` is inside, outside or unknown; a ``candidate`` is the other state seen in
    sure fixes since ``candidate_since_ts`` but not held long enough yet. Times are
    device time (Unix seconds). ``boot``/``seq`` is the fix that last changed the row:
    an older fix arriving later does not change it.
    """

    __tablename__ = "zone_tracks"

    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(8), default="unknown")
    since_ts: Mapped[int | None] = mapped_column(BigInteger)
    candidate: Mapped[str | None] = mapped_column(String(8))
    candidate_since_ts: Mapped[int | None] = mapped_column(BigInteger)
    candidate_fix_json: Mapped[str | None] = mapped_column(Text)
    violating_since_ts: Mapped[int | None] = mapped_column(BigInteger)
    # The bracelet whose fix last changed the row: (boot, seq) order is per bracelet, so
    # a person's next bracelet starts its own.
    device_id: Mapped[str | None] = mapped_column(String(32))
    boot: Mapped[int | None] = mapped_column(BigInteger)
    seq: Mapped[int | None] = mapped_column(BigInteger)


class DeviceCondition(Base):
    """A bracelet's conditions that alerts follow: strap, battery, power (device time)."""

    __tablename__ = "device_conditions"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    strap_open_since_ts: Mapped[int | None] = mapped_column(BigInteger)
    low_battery_since_ts: Mapped[int | None] = mapped_column(BigInteger)
    powered_off_boot: Mapped[int | None] = mapped_column(BigInteger)  # the boot that ended


class TravelPermit(Base):
    """Outgoing supervision (外出): a trip requested, decided by the level the rules name."""

    __tablename__ = "travel_permits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    destination: Mapped[str] = mapped_column(String(200))
    destination_zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approval_level: Mapped[str] = mapped_column(String(16))  # local | county
    # requested, approved, refused, cancelled, returned, overdue
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RollCall(Base):
    """A roll call sent to a bracelet, and what came of it."""

    __tablename__ = "roll_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    command_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    origin: Mapped[str] = mapped_column(String(16))  # manual | random
    window_s: Mapped[int] = mapped_column(Integer)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # scheduled, sent, answered, missed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # device time
    response_s: Mapped[int | None] = mapped_column(Integer)
    fix_json: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LocateRequest(Base):
    """ "Target located": a locate-now command and the fresh fix that answered it."""

    __tablename__ = "locate_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("supervised_persons.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    command_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    located_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # device time of the fix
    fix_json: Mapped[str | None] = mapped_column(Text)
