"""The only writer of supervision's tables: persons and terms, bracelets worn over time,
zones and who they apply to, travel permits, roll calls and locate requests.

Each function works in the caller's session and transaction; ``now`` is UTC.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.fleet import service as fleet
from cloud.fleet.models import Device
from cloud.supervision.geometry import valid_polygon_problem
from cloud.supervision.measures import Measure, check_renewal, check_term
from cloud.supervision.models import (
    BraceletAssignment,
    LocateRequest,
    RollCall,
    SupervisedPerson,
    TermRenewal,
    TravelPermit,
    Zone,
    ZoneAssignment,
)
from cloud.supervision.zones import core_zone
from core import contract as c
from core import schedule as weekly
from core.errors import CoreError
from core.messages import ConfigZone
from core.receiver import DeviceKind

log = logging.getLogger(__name__)

ZONE_RULES = ("inclusion", "exclusion")
ZONE_ROLES = ("home", "county", "destination", "other")
# The bracelet's limits (contract v1, config key 11): a person's zones must fit its config.
MAX_RADIUS_M = c.MAX_ZONE_RADIUS_M
MAX_VERTICES = c.MAX_ZONE_VERTICES
MAX_DWELL_S = 3600
# Outgoing supervision (Community Corrections Law art. 27 and its rules): up to 7 days
# by the local office, longer by the county agency, at most 30 days a trip.
LOCAL_APPROVAL_MAX_DAYS = 7
TRIP_MAX_DAYS = 30

# --- persons ------------------------------------------------------------------------------


def add_person(
    session: Session,
    reference: str,
    name: str,
    *,
    measure: Measure | None = None,
    legal_basis: str | None = None,
    term_start: date | None = None,
    term_end: date | None = None,
    prosecutor_id: int | None = None,
    now: datetime | None = None,
) -> SupervisedPerson:
    if not 1 <= len(reference) <= 64:
        raise InvalidRequestError("a case reference has 1 to 64 characters")
    if not 1 <= len(name.strip()) <= 128:
        raise InvalidRequestError("a name has 1 to 128 characters")
    if find_person(session, reference) is not None:
        raise ConflictError(f"supervised person {reference} exists")
    if (term_start is None) != (term_end is None):
        raise InvalidRequestError("a term has a start and an end")
    if term_start is not None and term_end is not None:
        if measure is None:
            raise InvalidRequestError("a term belongs to a measure")
        check_term(measure, term_start, term_end)
    person = SupervisedPerson(
        reference=reference,
        name=name.strip(),
        measure=measure.value if measure is not None else None,
        legal_basis=legal_basis,
        term_start=term_start,
        term_end=term_end,
        prosecutor_id=prosecutor_id,
        status="active",
        roll_calls_per_day=0,
        created_at=now,
    )
    session.add(person)
    session.flush()
    return person


def find_person(session: Session, reference: str) -> SupervisedPerson | None:
    return session.scalar(select(SupervisedPerson).where(SupervisedPerson.reference == reference))


def get_person(session: Session, reference: str) -> SupervisedPerson:
    person = find_person(session, reference)
    if person is None:
        raise NotFoundError(f"no supervised person {reference}")
    return person


def person_by_id(session: Session, person_id: int) -> SupervisedPerson:
    person = session.get(SupervisedPerson, person_id)
    if person is None:
        raise NotFoundError(f"no supervised person {person_id}")
    return person


def renew_term(
    session: Session,
    person: SupervisedPerson,
    new_end: date,
    by_user: int | None,
    now: datetime,
    note: str | None = None,
) -> TermRenewal:
    """Extend the term after review, as far as the measure allows; kept as history."""
    if person.measure is None or person.term_end is None:
        raise InvalidRequestError("this person has no term to renew")
    check_renewal(Measure(person.measure), person.term_end, new_end)
    renewal = TermRenewal(
        person_id=person.id,
        previous_end=person.term_end,
        new_end=new_end,
        by_user=by_user,
        at=now,
        note=note,
    )
    person.term_end = new_end
    session.add(renewal)
    return renewal


def set_roll_calls_per_day(session: Session, person: SupervisedPerson, count: int) -> None:
    if not 0 <= count <= 12:
        raise InvalidRequestError("random roll calls: 0 to 12 a day")
    person.roll_calls_per_day = count


# --- bracelets worn -------------------------------------------------------------------


def current_assignment(session: Session, person_id: int) -> BraceletAssignment | None:
    return session.scalar(
        select(BraceletAssignment).where(
            BraceletAssignment.person_id == person_id, BraceletAssignment.ended_at.is_(None)
        )
    )


def assign_bracelet(
    session: Session, person: SupervisedPerson, device_id: str, now: datetime, by_user: int | None
) -> BraceletAssignment:
    """The person wears this bracelet from now; a bracelet they wore before comes off."""
    device = session.get(Device, device_id, with_for_update=True)
    if device is None:
        raise NotFoundError(f"no device {device_id}")
    if device.kind != DeviceKind.bracelet.value:
        raise InvalidRequestError(f"{device_id} is not a bracelet")
    if device.person_id is not None and device.person_id != person.id:
        raise ConflictError(f"{device_id} is worn by another person")
    current = current_assignment(session, person.id)
    if current is not None:
        if current.device_id == device_id:
            return current
        unassign_bracelet(session, current, now, by_user)
    for other in session.scalars(
        select(Device).where(Device.person_id == person.id, Device.id != device_id)
    ):
        other.person_id = None  # worn without a recorded assignment (registered so): off now
    device.person_id = person.id
    assignment = BraceletAssignment(
        person_id=person.id, device_id=device_id, started_at=now, by_user=by_user
    )
    session.add(assignment)
    session.flush()
    return assignment


def unassign_bracelet(
    session: Session, assignment: BraceletAssignment, now: datetime, by_user: int | None
) -> None:
    assignment.ended_at = now
    device = session.get(Device, assignment.device_id)
    if device is not None and device.person_id == assignment.person_id:
        device.person_id = None


def assignments_of(session: Session, person_id: int) -> Sequence[BraceletAssignment]:
    return session.scalars(
        select(BraceletAssignment)
        .where(BraceletAssignment.person_id == person_id)
        .order_by(BraceletAssignment.started_at, BraceletAssignment.id)
    ).all()


# --- zones ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneInput:
    """A zone as a person draws or types it (WGS-84 degrees)."""

    name: str
    rule: str
    shape: str
    geometry: dict[str, Any]
    role: str = "other"
    schedule: str = ""
    dwell_s: int = 30


def check_zone(spec: ZoneInput) -> tuple[dict[str, Any], str]:
    """The geometry to store and the schedule's normal text, or InvalidRequestError."""
    if not 1 <= len(spec.name.strip()) <= 128:
        raise InvalidRequestError("a zone's name has 1 to 128 characters")
    if spec.rule not in ZONE_RULES:
        raise InvalidRequestError("a zone is an inclusion or an exclusion zone")
    if spec.role not in ZONE_ROLES:
        raise InvalidRequestError(f"a zone's role is one of {', '.join(ZONE_ROLES)}")
    if not 0 <= spec.dwell_s <= MAX_DWELL_S:
        raise InvalidRequestError(f"dwell time: 0 to {MAX_DWELL_S} s")
    geometry = _geometry(spec.shape, spec.geometry)
    try:
        windows = weekly.parse_windows(spec.schedule) if spec.schedule.strip() else []
    except (CoreError, ValueError) as exc:
        raise InvalidRequestError(f"schedule: {exc}") from exc
    if len(windows) > c.MAX_ZONE_WINDOWS:
        raise InvalidRequestError(f"a schedule has at most {c.MAX_ZONE_WINDOWS} windows")
    return geometry, weekly.format_windows(windows) if windows else ""


def _geometry(shape: str, raw: dict[str, Any]) -> dict[str, Any]:
    geometry: dict[str, Any]
    try:
        if shape == "circle":
            geometry = {
                "lat": float(raw["lat"]),
                "lon": float(raw["lon"]),
                "radius_m": float(raw["radius_m"]),
            }
            if not 1 <= geometry["radius_m"] <= MAX_RADIUS_M:
                raise InvalidRequestError(f"a circle's radius is 1 m to {MAX_RADIUS_M} m")
        elif shape == "polygon":
            vertices = [[float(lat), float(lon)] for lat, lon in raw["vertices"]]
            if len(vertices) > 1 and vertices[0] == vertices[-1]:
                vertices = vertices[:-1]
            if not 3 <= len(vertices) <= MAX_VERTICES:
                raise InvalidRequestError(f"a polygon has 3 to {MAX_VERTICES} vertices")
            problem = valid_polygon_problem([(lat, lon) for lat, lon in vertices])
            if problem is not None:
                raise InvalidRequestError(f"the polygon is not valid: {problem}")
            geometry = {"vertices": vertices}
        else:
            raise InvalidRequestError("a zone is a circle or a polygon")
        core_zone(shape, geometry)
    except (CoreError, KeyError, TypeError, ValueError) as exc:
        raise InvalidRequestError(f"zone geometry: {exc}") from exc
    return geometry


def add_zone(session: Session, spec: ZoneInput, by_user: int | None, now: datetime) -> Zone:
    geometry, schedule = check_zone(spec)
    zone = Zone(
        name=spec.name.strip(),
        rule=spec.rule,
        role=spec.role,
        shape=spec.shape,
        geometry_json=json.dumps(geometry),
        schedule=schedule,
        dwell_s=spec.dwell_s,
        active=True,
        created_by=by_user,
        created_at=now,
        updated_at=now,
    )
    session.add(zone)
    session.flush()
    return zone


def update_zone(
    session: Session, zone: Zone, spec: ZoneInput, now: datetime, by_user: int | None = None
) -> Zone:
    geometry, schedule = check_zone(spec)
    if spec.shape == "polygon":
        persons = session.scalars(
            select(ZoneAssignment.person_id).where(ZoneAssignment.zone_id == zone.id)
        ).all()
        for person_id in persons:
            _check_fits(session, person_id, zone.id, len(geometry["vertices"]))
    zone.name = spec.name.strip()
    zone.rule = spec.rule
    zone.role = spec.role
    zone.shape = spec.shape
    zone.geometry_json = json.dumps(geometry)
    zone.schedule = schedule
    zone.dwell_s = spec.dwell_s
    zone.updated_at = now
    zone.updated_by = by_user
    return zone


def get_zone(session: Session, zone_id: int) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise NotFoundError(f"no zone {zone_id}")
    return zone


def set_zone_active(zone: Zone, active: bool, now: datetime, by_user: int | None = None) -> None:
    zone.active = active
    zone.updated_at = now
    zone.updated_by = by_user


def _check_fits(session: Session, person_id: int, zone_id: int, vertices: int) -> None:
    """InvalidRequestError unless the person's zones, with ``zone_id`` having ``vertices``
    (0: a circle), still fit the bracelet's config."""
    others = [
        z
        for z in zones_of(session, person_id)
        if z.active and z.role != "destination" and z.id != zone_id
    ]
    total = vertices + sum(
        len(zone_geometry(z).get("vertices", ())) for z in others if z.shape == "polygon"
    )
    if len(others) + 1 > c.MAX_ZONES:
        raise InvalidRequestError(f"a person has at most {c.MAX_ZONES} zones on the bracelet")
    if total > c.MAX_ZONE_VERTICES_TOTAL:
        raise InvalidRequestError(
            f"the bracelet holds {c.MAX_ZONE_VERTICES_TOTAL} polygon vertices in all; "
            f"this person's zones would need {total}: simplify a polygon or use a circle"
        )


def assign_zone(session: Session, zone: Zone, person: SupervisedPerson) -> None:
    if zone.role != "destination":
        vertices = len(zone_geometry(zone).get("vertices", ())) if zone.shape == "polygon" else 0
        _check_fits(session, person.id, zone.id, vertices)
    if session.get(ZoneAssignment, (zone.id, person.id)) is None:
        session.add(ZoneAssignment(zone_id=zone.id, person_id=person.id))
        session.flush()


def unassign_zone(session: Session, zone: Zone, person: SupervisedPerson) -> None:
    session.execute(
        delete(ZoneAssignment).where(
            ZoneAssignment.zone_id == zone.id, ZoneAssignment.person_id == person.id
        )
    )


def zones_of(session: Session, person_id: int) -> Sequence[Zone]:
    return session.scalars(
        select(Zone)
        .join(ZoneAssignment, ZoneAssignment.zone_id == Zone.id)
        .where(ZoneAssignment.person_id == person_id)
        .order_by(Zone.id)
    ).all()


def zone_geometry(zone: Zone) -> dict[str, Any]:
    value = json.loads(zone.geometry_json)
    return value if isinstance(value, dict) else {}


# --- travel (外出) ----------------------------------------------------------------------


def approval_level(starts_at: datetime, ends_at: datetime) -> str:
    """Who decides a trip: the local office up to 7 days, the county beyond."""
    days = (ends_at - starts_at).total_seconds() / 86400
    return "local" if days <= LOCAL_APPROVAL_MAX_DAYS else "county"


def request_trip(
    session: Session,
    person: SupervisedPerson,
    destination: str,
    starts_at: datetime,
    ends_at: datetime,
    by_user: int | None,
    now: datetime,
    *,
    reason: str | None = None,
    destination_zone: ZoneInput | None = None,
) -> TravelPermit:
    if not 1 <= len(destination.strip()) <= 200:
        raise InvalidRequestError("a destination has 1 to 200 characters")
    if ends_at <= starts_at:
        raise InvalidRequestError("a trip ends after it starts")
    if ends_at - starts_at > timedelta(days=TRIP_MAX_DAYS):
        raise InvalidRequestError(f"a trip lasts at most {TRIP_MAX_DAYS} days")
    if ends_at <= now:
        raise InvalidRequestError("a trip that has ended cannot be requested")
    zone_id = None
    if destination_zone is not None:
        zone = add_zone(
            session,
            ZoneInput(
                destination_zone.name,
                "inclusion",
                destination_zone.shape,
                destination_zone.geometry,
                role="destination",
            ),
            by_user,
            now,
        )
        zone_id = zone.id
    permit = TravelPermit(
        person_id=person.id,
        destination=destination.strip(),
        destination_zone_id=zone_id,
        reason=reason,
        starts_at=starts_at,
        ends_at=ends_at,
        approval_level=approval_level(starts_at, ends_at),
        status="requested",
        requested_by=by_user,
        requested_at=now,
    )
    session.add(permit)
    session.flush()
    return permit


def decide_trip(
    session: Session,
    permit: TravelPermit,
    approve: bool,
    approver_level: str,
    by_user: int | None,
    now: datetime,
    note: str | None = None,
) -> TravelPermit:
    """Approve or refuse; a county-level trip needs a county-level approver."""
    if permit.status != "requested":
        raise ConflictError(f"travel permit {permit.id} is {permit.status}")
    if approver_level not in ("local", "county"):
        raise InvalidRequestError("an approver is local or county level")
    if approve and permit.approval_level == "county" and approver_level != "county":
        raise InvalidRequestError(
            f"a trip of more than {LOCAL_APPROVAL_MAX_DAYS} days is approved at county level"
        )
    permit.status = "approved" if approve else "refused"
    permit.decided_by = by_user
    permit.decided_at = now
    permit.decision_note = note
    if approve and permit.destination_zone_id is not None:
        zone = get_zone(session, permit.destination_zone_id)
        assign_zone(session, zone, person_by_id(session, permit.person_id))
    return permit


def cancel_trip(
    session: Session, permit: TravelPermit, now: datetime, by_user: int | None = None
) -> TravelPermit:
    if permit.status not in ("requested", "approved"):
        raise ConflictError(f"travel permit {permit.id} is {permit.status}")
    permit.status = "cancelled"
    permit.decided_at = now
    permit.decided_by = by_user
    return permit


def permits_of(session: Session, person_id: int) -> Sequence[TravelPermit]:
    """A person's travel permits, newest request first."""
    return session.scalars(
        select(TravelPermit)
        .where(TravelPermit.person_id == person_id)
        .order_by(TravelPermit.requested_at.desc(), TravelPermit.id.desc())
    ).all()


def roll_calls_of(session: Session, person_id: int, limit: int) -> Sequence[RollCall]:
    """A person's latest roll calls, newest first."""
    return session.scalars(
        select(RollCall)
        .where(RollCall.person_id == person_id)
        .order_by(RollCall.id.desc())
        .limit(limit)
    ).all()


def locate_requests_of(session: Session, person_id: int, limit: int) -> Sequence[LocateRequest]:
    """A person's latest locate-now requests, newest first."""
    return session.scalars(
        select(LocateRequest)
        .where(LocateRequest.person_id == person_id)
        .order_by(LocateRequest.id.desc())
        .limit(limit)
    ).all()


def get_permit(session: Session, permit_id: int) -> TravelPermit:
    permit = session.get(TravelPermit, permit_id)
    if permit is None:
        raise NotFoundError(f"no travel permit {permit_id}")
    return permit


# --- roll calls and locating --------------------------------------------------------------


def _worn_device(session: Session, person: SupervisedPerson) -> Device:
    assignment = current_assignment(session, person.id)
    device = session.get(Device, assignment.device_id) if assignment is not None else None
    if device is None:
        raise ConflictError(f"{person.reference} wears no bracelet")
    return device


def send_roll_call(
    session: Session,
    person: SupervisedPerson,
    window_s: int,
    now: datetime,
    *,
    origin: str = "manual",
    by_user: int | None = None,
    roll_call: RollCall | None = None,
) -> RollCall:
    """Send a roll call to the person's bracelet: it vibrates, the wearer answers in time."""
    low, high = c.COMMANDS[c.CMD_ROLL_CALL][1][1][1:]
    if not low <= window_s <= high:
        raise InvalidRequestError(f"a roll call's window is {low} to {high} s")
    device = _worn_device(session, person)
    message = fleet.issue_command(
        session, device, c.CMD_ROLL_CALL, {1: window_s}, now, expires_in_s=window_s
    )
    if roll_call is None:
        roll_call = RollCall(
            person_id=person.id,
            origin=origin,
            window_s=window_s,
            scheduled_at=now,
            requested_by=by_user,
        )
        session.add(roll_call)
    roll_call.device_id = device.id
    roll_call.command_id = message.id
    roll_call.issued_at = now
    roll_call.due_at = now + timedelta(seconds=window_s)
    roll_call.status = "sent"
    session.flush()
    return roll_call


def locate_now(
    session: Session, person: SupervisedPerson, now: datetime, by_user: int | None
) -> LocateRequest:
    """ "Target located": ask the bracelet for a fresh fix now."""
    device = _worn_device(session, person)
    message = fleet.issue_command(session, device, c.CMD_LOCATE_NOW, {}, now, expires_in_s=600)
    request = LocateRequest(
        person_id=person.id,
        device_id=device.id,
        command_id=message.id,
        requested_by=by_user,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    return request


# --- zones on the bracelet ------------------------------------------------------------

ZONE_WARN_MARGIN_M = 100  # how near an inclusion zone's edge the bracelet warns its wearer


def bracelet_zones(zones: Sequence[Zone]) -> list[ConfigZone]:
    """A person's active zones as the bracelet's config carries them (WGS-84, 1e-7°).

    Destination zones stay in the cloud: the bracelet warns about the zones it must keep.
    """
    out: list[ConfigZone] = []
    for zone in zones:
        if not zone.active or zone.role == "destination":
            continue
        geometry = zone_geometry(zone)
        rule = c.ZONE_INCLUSION if zone.rule == "inclusion" else c.ZONE_EXCLUSION
        windows = [
            (w.days, w.start_min, w.end_min)
            for w in (weekly.parse_windows(zone.schedule) if zone.schedule else [])
        ]
        if zone.shape == "circle":
            circle = (
                round(geometry["lat"] * 1e7),
                round(geometry["lon"] * 1e7),
                round(geometry["radius_m"]),
            )
            out.append(ConfigZone(zone.id, rule, circle=circle, windows=windows))
        else:
            vertices = [(round(lat * 1e7), round(lon * 1e7)) for lat, lon in geometry["vertices"]]
            out.append(ConfigZone(zone.id, rule, polygon=vertices, windows=windows))
    return out


def zones_hash(zones: Sequence[ConfigZone], settings: dict[str, int]) -> str:
    text = json.dumps([[z.as_dict() for z in zones], sorted(settings.items())], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def sync_bracelet_zones(
    session: Session,
    assignment: BraceletAssignment,
    person_zones: Sequence[Zone],
    now: datetime,
    utc_offset_min: int,
) -> bool:
    """Queue a config with the wearer's zones (``person_zones``, all of theirs) when they
    differ from what was sent; the config's other settings stay as last issued. True
    when a config was queued."""
    zones = bracelet_zones(person_zones)
    dwell = min((z.dwell_s for z in person_zones if z.active), default=30)
    zone_settings = {
        "utc_offset_min": utc_offset_min,
        "zone_dwell_s": dwell,
        "zone_warn_margin_m": ZONE_WARN_MARGIN_M,
    }
    wanted = zones_hash(zones, zone_settings)
    if assignment.zones_sent_hash == wanted:
        return False
    device = session.get(Device, assignment.device_id)
    if device is None:
        return False
    last = fleet.last_issued_config(session, device)
    settings = (
        {} if last is None else {c.CONFIG_SETTINGS[sid][0]: v for sid, v in last.settings.items()}
    )
    settings.update(zone_settings)
    try:
        with session.begin_nested():
            fleet.issue_config(session, device, settings, now, zones)
    except InvalidRequestError as exc:
        # Zones made before the limits (or changed outside the service): the bracelet keeps
        # what it has; said once, not on every tick.
        log.warning(
            "zones of person %s do not fit bracelet %s: %s", assignment.person_id, device.id, exc
        )
        assignment.zones_sent_hash = wanted
        return False
    assignment.zones_sent_hash = wanted
    return True
