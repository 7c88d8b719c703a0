"""What the supervision pages read: the persons' table, a person's page, their zones.

Every query is filtered by ``cloud.supervision.policy``; writes never happen here (they
go through ``cloud.supervision.service``). Also the small pure parts the pages share:
labels of codes, the forms' values read as dates, times and numbers, and the maps' JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cloud.alerts.models import OPEN_STATUSES, Alert
from cloud.console import device_views
from cloud.console.i18n import N_, NOTHING
from cloud.errors import InvalidRequestError
from cloud.fleet.models import Device
from cloud.identity.models import Role, User
from cloud.identity.principal import Principal
from cloud.supervision import service
from cloud.supervision.measures import RULES, Measure
from cloud.supervision.models import (
    BraceletAssignment,
    LocateRequest,
    RollCall,
    SupervisedPerson,
    TermRenewal,
    TravelPermit,
    Zone,
)
from cloud.supervision.policy import visible_persons
from cloud.supervision.service import LOCAL_APPROVAL_MAX_DAYS, zone_geometry
from core import devices

# ---------------------------------------------------------------- what codes read as

MEASURE_LABELS = {
    Measure.bail.value: N_("Bail pending trial"),
    Measure.residential_surveillance.value: N_("Residential surveillance"),
    Measure.corrections_ep.value: N_("Community corrections, electronic positioning"),
}
PERSON_STATUS_LABELS = {"active": N_("Under supervision"), "ended": N_("Supervision ended")}
TRIP_STATUS_LABELS = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "refused": N_("Refused"),
    "cancelled": N_("Cancelled"),
    "returned": N_("Returned"),
    "overdue": N_("Overdue"),
}
LEVEL_LABELS = {"local": N_("Local office"), "county": N_("County agency")}
ROLL_CALL_STATUS_LABELS = {
    "scheduled": N_("Scheduled"),
    "sent": N_("Sent, waiting"),
    "answered": N_("Answered"),
    "missed": N_("Missed"),
}
ORIGIN_LABELS = {"manual": N_("Sent by hand"), "random": N_("Random")}
ZONE_RULE_LABELS = {
    "inclusion": N_("Inclusion (must stay inside)"),
    "exclusion": N_("Exclusion (must stay out)"),
}
ZONE_ROLE_LABELS = {
    "home": N_("Home"),
    "county": N_("County"),
    "destination": N_("Trip destination"),
    "other": N_("Other"),
}
ZONE_SHAPE_LABELS = {"circle": N_("Circle"), "polygon": N_("Polygon")}
MEASURE_LIMITS = {measure.value: rule.max_months for measure, rule in RULES.items()}
MEASURE_BASES = {measure.value: rule.basis for measure, rule in RULES.items()}

ALERTS_SHOWN = 100
ROLL_CALLS_SHOWN = 20
LOCATES_SHOWN = 10

# ---------------------------------------------------------------- the forms' values


def text(form: Mapping[str, str], name: str, limit: int = 2000) -> str:
    """A form field, stripped and cut to ``limit`` characters."""
    return form.get(name, "").strip()[:limit]


def optional_text(form: Mapping[str, str], name: str, limit: int = 2000) -> str | None:
    return text(form, name, limit) or None


def day(form: Mapping[str, str], name: str, what: str) -> date:
    value = text(form, name, 32)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def optional_day(form: Mapping[str, str], name: str, what: str) -> date | None:
    return day(form, name, what) if text(form, name) else None


def local_moment(form: Mapping[str, str], name: str, what: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` field in the console's zone, in UTC."""
    value = text(form, name, 32)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{what}: {value!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def whole(form: Mapping[str, str], name: str, what: str) -> int:
    value = text(form, name, 16)
    try:
        return int(value)
    except ValueError:
        raise InvalidRequestError(f"{what}: {value!r} is not a whole number") from None


def decimal(form: Mapping[str, str], name: str, what: str) -> float:
    value = text(form, name, 32)
    try:
        number = float(value)
    except ValueError:
        raise InvalidRequestError(f"{what}: {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidRequestError(f"{what}: {value!r} is not a number")
    return number


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """A UTC time as a ``datetime-local`` input shows it in the console's zone."""
    return "" if moment is None else moment.astimezone(zone).strftime(device_views.INPUT_FORMAT)


# ---------------------------------------------------------------- the persons' table


@dataclass(frozen=True, slots=True)
class PersonFilter:
    measure: str | None = None
    status: str | None = None

    @property
    def active(self) -> bool:
        return self != PersonFilter()


def parse_filter(measure: str, status: str) -> PersonFilter:
    if measure and measure not in MEASURE_LABELS:
        raise InvalidRequestError(f"measure must be one of {', '.join(MEASURE_LABELS)}")
    if status and status not in PERSON_STATUS_LABELS:
        raise InvalidRequestError(f"status must be one of {', '.join(PERSON_STATUS_LABELS)}")
    return PersonFilter(measure or None, status or None)


@dataclass(frozen=True, slots=True)
class PersonLine:
    """A row of the persons' table, as shown."""

    id: int
    reference: str
    name: str
    measure: str | None
    term_start: date | None
    term_end: date | None
    days_left: int | None  # < 0: the term ended that many days ago
    status: str
    bracelet: str | None  # worn now
    prosecutor: str | None  # the responsible prosecutor's username
    open_alerts: int


def days_left(term_end: date | None, today: date) -> int | None:
    return None if term_end is None else (term_end - today).days


def person_lines(
    session: Session, principal: Principal, person_filter: PersonFilter, today: date
) -> list[PersonLine]:
    """The visible persons matching the filter, with their bracelet worn now, their
    prosecutor and their alerts not yet resolved, in one query."""
    open_alerts = (
        select(Alert.person_id.label("person_id"), func.count().label("open"))
        .where(Alert.status.in_(OPEN_STATUSES), Alert.person_id.is_not(None))
        .group_by(Alert.person_id)
        .subquery()
    )
    query = (
        select(
            SupervisedPerson,
            BraceletAssignment.device_id,
            User.username,
            func.coalesce(open_alerts.c.open, 0),
        )
        .outerjoin(
            BraceletAssignment,
            and_(
                BraceletAssignment.person_id == SupervisedPerson.id,
                BraceletAssignment.ended_at.is_(None),
            ),
        )
        .outerjoin(User, User.id == SupervisedPerson.prosecutor_id)
        .outerjoin(open_alerts, open_alerts.c.person_id == SupervisedPerson.id)
        .where(visible_persons(principal))
        .order_by(SupervisedPerson.reference)
    )
    if person_filter.measure is not None:
        query = query.where(SupervisedPerson.measure == person_filter.measure)
    if person_filter.status is not None:
        query = query.where(SupervisedPerson.status == person_filter.status)
    return [
        PersonLine(
            id=person.id,
            reference=person.reference,
            name=person.name,
            measure=person.measure,
            term_start=person.term_start,
            term_end=person.term_end,
            days_left=days_left(person.term_end, today),
            status=person.status,
            bracelet=device_id,
            prosecutor=username,
            open_alerts=int(count),
        )
        for person, device_id, username, count in session.execute(query)
    ]


def prosecutors(session: Session) -> list[User]:
    """Who may be responsible for a person: the active prosecutors, by name."""
    return list(
        session.scalars(
            select(User)
            .where(User.role == Role.prosecutor.value, User.active.is_(True))
            .order_by(User.username)
        )
    )


# ---------------------------------------------------------------- a person's page


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """Everything a person's page lists, newest first where it is a history."""

    assignments: list[BraceletAssignment]  # oldest first
    renewals: list[TermRenewal]
    alerts: list[Alert]
    roll_calls: list[RollCall]
    locates: list[LocateRequest]
    permits: list[TravelPermit]
    zones: list[Zone]
    usernames: dict[int, str]

    @property
    def worn(self) -> BraceletAssignment | None:
        return next((a for a in self.assignments if a.ended_at is None), None)

    def who(self, user_id: int | None) -> str:
        return self.usernames.get(user_id, NOTHING) if user_id is not None else NOTHING


def person_record(session: Session, person: SupervisedPerson) -> PersonRecord:
    pid = person.id
    assignments = list(service.assignments_of(session, pid))
    renewals = list(
        session.scalars(
            select(TermRenewal).where(TermRenewal.person_id == pid).order_by(TermRenewal.id)
        )
    )
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.person_id == pid)
            .order_by(Alert.happened_at.desc(), Alert.id.desc())
            .limit(ALERTS_SHOWN)
        )
    )
    roll_calls = list(service.roll_calls_of(session, pid, ROLL_CALLS_SHOWN))
    locates = list(service.locate_requests_of(session, pid, LOCATES_SHOWN))
    permits = list(service.permits_of(session, pid))
    zones = person_zones(session, pid)
    user_ids = {a.by_user for a in assignments} | {r.by_user for r in renewals}
    user_ids |= {p.requested_by for p in permits} | {p.decided_by for p in permits}
    user_ids |= {r.requested_by for r in roll_calls} | {r.requested_by for r in locates}
    return PersonRecord(
        assignments,
        renewals,
        alerts,
        roll_calls,
        locates,
        permits,
        zones,
        usernames(session, user_ids),
    )


def usernames(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({uid for uid in user_ids if uid is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {uid: name for uid, name in rows}


def person_zones(session: Session, person_id: int) -> list[Zone]:
    """The zones assigned to a person, active and not, by id."""
    return list(service.zones_of(session, person_id))


def person_zone(session: Session, person_id: int, zone_id: int) -> Zone | None:
    """One of the person's zones (None: no such zone, or not theirs)."""
    return next((z for z in person_zones(session, person_id) if z.id == zone_id), None)


def unassigned_bracelets(session: Session) -> list[str]:
    """Bracelets nobody wears now, by id: those that may be put on a person."""
    return list(
        session.scalars(
            select(Device.id)
            .where(Device.kind == devices.BRACELET, Device.person_id.is_(None))
            .order_by(Device.id)
        )
    )


def may_approve(approval_level: str | None, permit: TravelPermit) -> bool:
    """Whether an approver of this level may approve the trip (the service decides)."""
    if permit.status != "requested":
        return False
    return approval_level == "county" or (
        approval_level == "local" and permit.approval_level == "local"
    )


def may_refuse(approval_level: str | None, permit: TravelPermit) -> bool:
    return permit.status == "requested" and approval_level in LEVEL_LABELS


def trip_days(permit: TravelPermit) -> float:
    return (permit.ends_at - permit.starts_at).total_seconds() / 86400


# ---------------------------------------------------------------- today's track


def today_period(now: datetime, zone: ZoneInfo, worn_since: datetime) -> device_views.Period:
    """Today in the console's zone, from local midnight (or since the bracelet was put on,
    if later: fixes before that are not this person's) to the next minute."""
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(midnight.astimezone(UTC), worn_since)
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return device_views.Period(start, max(end, start + timedelta(minutes=1)))


# ---------------------------------------------------------------- the maps' JSON


def zone_data(zone: Zone) -> dict[str, Any]:
    """A zone as the maps draw it (WGS-84, as stored)."""
    return {
        "id": zone.id,
        "name": zone.name,
        "rule": zone.rule,
        "role": zone.role,
        "shape": zone.shape,
        "geometry": zone_geometry(zone),
        "active": zone.active,
    }


def located_fix(request: LocateRequest) -> dict[str, Any] | None:
    """The fix that answered a locate request, as stored (WGS-84)."""
    if not request.fix_json:
        return None
    value = json.loads(request.fix_json)
    return value if isinstance(value, dict) else None


def geometry_text(zone: Zone) -> str:
    """A zone's stored geometry in words of numbers (WGS-84), for the table."""
    geometry = zone_geometry(zone)
    if zone.shape == "circle":
        return f"{geometry['lat']:.6f}, {geometry['lon']:.6f} · r {geometry['radius_m']:.0f} m"
    vertices = geometry.get("vertices", [])
    return "; ".join(f"{lat:.6f}, {lon:.6f}" for lat, lon in vertices)


LOCAL_DAYS = LOCAL_APPROVAL_MAX_DAYS
