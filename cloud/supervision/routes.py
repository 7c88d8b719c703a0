"""Supervised persons, their bracelets, zones, roll calls, locating and travel permits.

Who may: administrators and prosecutors read and change everything here; others
nothing. Every change goes through ``service`` with the caller as ``by_user``.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import PermissionDeniedError
from cloud.identity.deps import PrincipalDep
from cloud.identity.models import User
from cloud.identity.policy import require
from cloud.identity.principal import Principal
from cloud.supervision import policy, service
from cloud.supervision.models import (
    LocateRequest,
    RollCall,
    SupervisedPerson,
    TravelPermit,
    Zone,
)
from cloud.supervision.schemas import (
    AssignBraceletIn,
    BraceletWorn,
    DecisionIn,
    LocateOut,
    PersonDetailOut,
    PersonIn,
    PersonOut,
    RenewalIn,
    RollCallIn,
    RollCallOut,
    TripIn,
    TripOut,
    ZoneIn,
    ZoneOut,
)
from cloud.web.deps import NowDep, SessionDep
from cloud.web.responses import error_responses

router = APIRouter(tags=["supervision"])

Reference = Annotated[str, Path(min_length=1, max_length=64)]
_READ = error_responses(401, 403, 404, 422)
_WRITE = error_responses(401, 403, 404, 409, 422)


def _allowed(principal: Principal, what: str) -> None:
    require(policy.may_manage_supervision(principal), what)


@router.get("/persons", response_model=list[PersonOut], responses=_READ)
def list_persons(principal: PrincipalDep, session: SessionDep) -> list[PersonOut]:
    """Every supervised person, with the bracelet worn now."""
    _allowed(principal, "see supervised persons")
    persons = session.scalars(select(SupervisedPerson).order_by(SupervisedPerson.reference))
    return [_person_out(session, p) for p in persons]


@router.post("/persons", response_model=PersonOut, status_code=201, responses=_WRITE)
def add_person(
    body: PersonIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> PersonOut:
    """A person under supervision, with the measure's term (checked against its limit)."""
    _allowed(principal, "add supervised persons")
    person = service.add_person(
        session,
        body.reference,
        body.name,
        measure=body.measure,
        legal_basis=body.legal_basis,
        term_start=body.term_start,
        term_end=body.term_end,
        prosecutor_id=principal.user_id,
        now=now,
    )
    session.commit()
    return _person_out(session, person)


@router.get("/persons/{reference}", response_model=PersonDetailOut, responses=_READ)
def get_person(
    reference: Reference, principal: PrincipalDep, session: SessionDep
) -> PersonDetailOut:
    _allowed(principal, "see supervised persons")
    person = service.get_person(session, reference)
    return _detail(session, person)


@router.post("/persons/{reference}/bracelet", response_model=PersonDetailOut, responses=_WRITE)
def assign_bracelet(
    reference: Reference,
    body: AssignBraceletIn,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> PersonDetailOut:
    """The person wears this bracelet from now on (the one before comes off; both kept)."""
    _allowed(principal, "assign bracelets")
    person = service.get_person(session, reference)
    service.assign_bracelet(session, person, body.device_id, now, principal.user_id)
    session.commit()
    return _detail(session, person)


@router.post("/persons/{reference}/renewals", response_model=PersonDetailOut, responses=_WRITE)
def renew(
    reference: Reference, body: RenewalIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> PersonDetailOut:
    """Extend the term after review, as far as the measure allows."""
    _allowed(principal, "renew terms")
    person = service.get_person(session, reference)
    service.renew_term(session, person, body.new_end, principal.user_id, now, body.note)
    session.commit()
    return _detail(session, person)


@router.get("/persons/{reference}/zones", response_model=list[ZoneOut], responses=_READ)
def person_zones(
    reference: Reference, principal: PrincipalDep, session: SessionDep
) -> list[ZoneOut]:
    _allowed(principal, "see zones")
    person = service.get_person(session, reference)
    return [_zone_out(z) for z in service.zones_of(session, person.id)]


@router.post(
    "/persons/{reference}/zones", response_model=ZoneOut, status_code=201, responses=_WRITE
)
def add_zone(
    reference: Reference, body: ZoneIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ZoneOut:
    """A new zone for this person (WGS-84); the bracelet gets it in its next config."""
    _allowed(principal, "configure zones")
    person = service.get_person(session, reference)
    zone = service.add_zone(session, _zone_input(body), principal.user_id, now)
    service.assign_zone(session, zone, person)
    session.commit()
    return _zone_out(zone)


@router.put("/zones/{zone_id}", response_model=ZoneOut, responses=_WRITE)
def update_zone(
    zone_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ZoneIn,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> ZoneOut:
    _allowed(principal, "configure zones")
    zone = service.update_zone(
        session, service.get_zone(session, zone_id), _zone_input(body), now, principal.user_id
    )
    session.commit()
    return _zone_out(zone)


@router.delete("/zones/{zone_id}", response_model=ZoneOut, responses=_WRITE)
def deactivate_zone(
    zone_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> ZoneOut:
    """Stop applying the zone (kept, with the alerts it raised)."""
    _allowed(principal, "configure zones")
    zone = service.get_zone(session, zone_id)
    service.set_zone_active(zone, False, now, principal.user_id)
    session.commit()
    return _zone_out(zone)


@router.post(
    "/persons/{reference}/roll-calls", response_model=RollCallOut, status_code=201, responses=_WRITE
)
def roll_call(
    reference: Reference,
    body: RollCallIn,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> RollCallOut:
    """Send a roll call now: the bracelet vibrates; the wearer answers within the window."""
    _allowed(principal, "run roll calls")
    person = service.get_person(session, reference)
    call = service.send_roll_call(session, person, body.window_s, now, by_user=principal.user_id)
    session.commit()
    return _roll_call_out(call)


@router.get("/persons/{reference}/roll-calls", response_model=list[RollCallOut], responses=_READ)
def roll_calls(
    reference: Reference, principal: PrincipalDep, session: SessionDep
) -> list[RollCallOut]:
    _allowed(principal, "see roll calls")
    person = service.get_person(session, reference)
    calls = service.roll_calls_of(session, person.id, 200)
    return [_roll_call_out(c) for c in calls]


@router.post(
    "/persons/{reference}/locate", response_model=LocateOut, status_code=201, responses=_WRITE
)
def locate(
    reference: Reference, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> LocateOut:
    """ "Target located": ask the bracelet for a fresh fix; it shows here when it comes."""
    _allowed(principal, "locate persons")
    person = service.get_person(session, reference)
    request = service.locate_now(session, person, now, principal.user_id)
    session.commit()
    return _locate_out(request)


@router.get("/persons/{reference}/locate", response_model=list[LocateOut], responses=_READ)
def locate_requests(
    reference: Reference, principal: PrincipalDep, session: SessionDep
) -> list[LocateOut]:
    _allowed(principal, "locate persons")
    person = service.get_person(session, reference)
    requests = service.locate_requests_of(session, person.id, 50)
    return [_locate_out(r) for r in requests]


@router.post(
    "/persons/{reference}/travel-permits", response_model=TripOut, status_code=201, responses=_WRITE
)
def request_trip(
    reference: Reference, body: TripIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> TripOut:
    """A trip out of the county (外出): up to 7 days approved locally, up to 30 by the county."""
    _allowed(principal, "request trips")
    person = service.get_person(session, reference)
    permit = service.request_trip(
        session,
        person,
        body.destination,
        body.starts_at,
        body.ends_at,
        principal.user_id,
        now,
        reason=body.reason,
    )
    session.commit()
    return _trip_out(permit)


@router.get("/persons/{reference}/travel-permits", response_model=list[TripOut], responses=_READ)
def trips(reference: Reference, principal: PrincipalDep, session: SessionDep) -> list[TripOut]:
    _allowed(principal, "see trips")
    person = service.get_person(session, reference)
    permits = service.permits_of(session, person.id)
    return [_trip_out(p) for p in permits]


@router.post("/travel-permits/{permit_id}/decision", response_model=TripOut, responses=_WRITE)
def decide_trip(
    permit_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: DecisionIn,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> TripOut:
    """Approve or refuse at the caller's approval level (``User.approval_level``)."""
    _allowed(principal, "decide trips")
    level = _approval_level(session, principal)
    permit = service.decide_trip(
        session,
        service.get_permit(session, permit_id),
        body.approve,
        level,
        principal.user_id,
        now,
        body.note,
    )
    session.commit()
    return _trip_out(permit)


def _approval_level(session: Session, principal: Principal) -> str:
    user = session.get(User, principal.user_id)
    if user is None or user.approval_level is None:
        raise PermissionDeniedError("you may not decide trips: no approval level is set for you")
    return user.approval_level


def _zone_input(body: ZoneIn) -> service.ZoneInput:
    return service.ZoneInput(
        body.name, body.rule, body.shape, body.geometry, body.role, body.schedule, body.dwell_s
    )


def _person_out(session: Session, person: SupervisedPerson) -> PersonOut:
    current = service.current_assignment(session, person.id)
    return PersonOut(
        id=person.id,
        reference=person.reference,
        name=person.name,
        measure=person.measure,
        legal_basis=person.legal_basis,
        term_start=person.term_start,
        term_end=person.term_end,
        status=person.status,
        prosecutor_id=person.prosecutor_id,
        roll_calls_per_day=person.roll_calls_per_day,
        bracelet=current.device_id if current is not None else None,
    )


def _detail(session: Session, person: SupervisedPerson) -> PersonDetailOut:
    return PersonDetailOut(
        **_person_out(session, person).model_dump(),
        bracelets=[
            BraceletWorn(device_id=a.device_id, started_at=a.started_at, ended_at=a.ended_at)
            for a in service.assignments_of(session, person.id)
        ],
        zone_ids=[z.id for z in service.zones_of(session, person.id)],
    )


def _zone_out(zone: Zone) -> ZoneOut:
    return ZoneOut(
        id=zone.id,
        name=zone.name,
        rule=zone.rule,
        role=zone.role,
        shape=zone.shape,
        geometry=service.zone_geometry(zone),
        schedule=zone.schedule,
        dwell_s=zone.dwell_s,
        active=zone.active,
    )


def _roll_call_out(call: RollCall) -> RollCallOut:
    return RollCallOut(
        id=call.id,
        device_id=call.device_id,
        command_id=call.command_id,
        origin=call.origin,
        status=call.status,
        window_s=call.window_s,
        issued_at=call.issued_at,
        due_at=call.due_at,
        answered_at=call.answered_at,
        response_s=call.response_s,
    )


def _locate_out(request: LocateRequest) -> LocateOut:
    return LocateOut(
        id=request.id,
        device_id=request.device_id,
        command_id=request.command_id,
        requested_at=request.requested_at,
        located_at=request.located_at,
        fix=json.loads(request.fix_json) if request.fix_json else None,
    )


def _trip_out(permit: TravelPermit) -> TripOut:
    return TripOut(
        id=permit.id,
        person_id=permit.person_id,
        destination=permit.destination,
        starts_at=permit.starts_at,
        ends_at=permit.ends_at,
        approval_level=permit.approval_level,
        status=permit.status,
        decided_by=permit.decided_by,
        decided_at=permit.decided_at,
        returned_at=permit.returned_at,
    )
