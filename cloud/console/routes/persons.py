"""Supervised persons: the table (``/console/persons``) with the form that adds one, and a
person's page (``/console/persons/{id}``): facts and term, bracelets worn, the map of
their zones and today's track, alerts, roll calls, locate requests and travel permits.

Who may see and change them is ``cloud.supervision.policy``'s; every change goes through
``cloud.supervision.service`` with the viewer as ``by_user``. A change the service
refuses shows the page again with its reason beside the form and what was typed kept
(answered 422); one it accepts is committed and the page is asked for again (303).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cloud.console import alert_views
from cloud.console import person_views as views
from cloud.console.forms import checked_form
from cloud.console.i18n import local_time
from cloud.console.pages import PREFIX, Viewer, ViewerDep, redirect, render
from cloud.console.routes.devices import load_track, map_data
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError, StorageUnavailableError
from cloud.fleet import policy as fleet_policy
from cloud.identity.policy import require
from cloud.supervision import service
from cloud.supervision.measures import Measure
from cloud.supervision.models import SupervisedPerson, TravelPermit
from cloud.supervision.policy import (
    may_manage_supervision,
    may_read_supervision,
    visible_person,
)
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.runtime import Runtime
from core import contract as c

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PERSONS = f"{PREFIX}/persons"
ROLL_CALL_WINDOW = c.COMMANDS[c.CMD_ROLL_CALL][1][1][1:]  # (lowest, highest) seconds
Form = Mapping[str, str]
# What a refused form brings back: its section's reason, and what was typed in it.
Problems = dict[str, str]
Typed = dict[str, Form]


# ---------------------------------------------------------------- the table


@router.get("/persons", response_model=None)
def persons_page(
    request: Request, viewer: ViewerDep, session: SessionDep, measure: str = "", status: str = ""
) -> Response:
    require(may_read_supervision(viewer.principal), "see supervised persons")
    return persons_response(request, viewer, session, views.parse_filter(measure, status))


def persons_response(
    request: Request,
    viewer: Viewer,
    session: Session,
    person_filter: views.PersonFilter,
    typed: Form | None = None,
    problem: str | None = None,
) -> Response:
    today = viewer.now.astimezone(viewer.zone).date()
    context = {
        "lines": views.person_lines(session, viewer.principal, person_filter, today),
        "filter": person_filter,
        "typed": typed or {},
        "problem": problem,
        "may_manage": may_manage_supervision(viewer.principal),
        "prosecutors": views.prosecutors(session),
        "measure_limits": views.MEASURE_LIMITS,
        "measure_bases": views.MEASURE_BASES,
        **labels(),
    }
    return render(
        request, "persons.html", context, viewer=viewer, status_code=422 if problem else 200
    )


@router.post("/persons", response_model=None)
async def add_person(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    require(may_manage_supervision(viewer.principal), "add supervised persons")
    form = await checked_form(request, viewer)
    try:
        person = service.add_person(
            session,
            views.text(form, "reference", 64),
            views.text(form, "name", 128),
            measure=measure_of(form),
            legal_basis=views.optional_text(form, "legal_basis"),
            term_start=views.optional_day(form, "term_start", "term start"),
            term_end=views.optional_day(form, "term_end", "term end"),
            prosecutor_id=prosecutor_of(form),
            now=viewer.now,
        )
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        return persons_response(request, viewer, session, views.PersonFilter(), form, str(exc))
    session.commit()
    return redirect(f"{PERSONS}/{person.id}")


def measure_of(form: Form) -> Measure | None:
    value = views.text(form, "measure", 32)
    if not value:
        return None
    try:
        return Measure(value)
    except ValueError:
        raise InvalidRequestError(f"no measure {value!r}") from None


def prosecutor_of(form: Form) -> int | None:
    value = views.text(form, "prosecutor_id", 16)
    return views.whole(form, "prosecutor_id", "prosecutor") if value else None


def labels() -> dict[str, Any]:
    return {
        "measure_labels": views.MEASURE_LABELS,
        "person_status_labels": views.PERSON_STATUS_LABELS,
        "trip_status_labels": views.TRIP_STATUS_LABELS,
        "level_labels": views.LEVEL_LABELS,
        "roll_call_status_labels": views.ROLL_CALL_STATUS_LABELS,
        "origin_labels": views.ORIGIN_LABELS,
        "zone_rule_labels": views.ZONE_RULE_LABELS,
        "zone_role_labels": views.ZONE_ROLE_LABELS,
        "zone_shape_labels": views.ZONE_SHAPE_LABELS,
        "cause_labels": alert_views.CAUSE_LABELS,  # alerts are named as their pages name them
        "severity_labels": alert_views.SEVERITY_LABELS,
        "alert_status_labels": alert_views.ALERT_STATUS_LABELS,
    }


# ---------------------------------------------------------------- a person's page


@router.get("/persons/{person_id}", response_model=None)
def person_page(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    person = visible_person(session, viewer.principal, person_id)
    return person_response(request, viewer, session, runtime, person)


def person_response(
    request: Request,
    viewer: Viewer,
    session: Session,
    runtime: Runtime,
    person: SupervisedPerson,
    problems: Problems | None = None,
    typed: Typed | None = None,
) -> Response:
    record = views.person_record(session, person)
    worn = record.worn
    track, track_unavailable = None, False
    if worn is not None and fleet_policy.may_read_tracks(viewer.principal):
        period = views.today_period(viewer.now, viewer.zone, worn.started_at)
        try:
            track = load_track(session, runtime.influx, worn.device_id, period)
        except StorageUnavailableError:
            track_unavailable = True
    today = viewer.now.astimezone(viewer.zone).date()
    approver = viewer.user.approval_level
    located = [
        {**fix, "time": local_time(request_row.located_at, viewer.zone, viewer.language)}
        for request_row in record.locates
        if (fix := views.located_fix(request_row)) is not None
    ]
    context = {
        "person": person,
        "record": record,
        "worn": worn,
        "days_left": views.days_left(person.term_end, today),
        "prosecutor": views.usernames(session, [person.prosecutor_id]).get(
            person.prosecutor_id or 0
        ),
        "bracelets": views.unassigned_bracelets(session),
        "track": track,
        "track_unavailable": track_unavailable,
        "problems": problems or {},
        "typed": typed or {},
        "may_manage": may_manage_supervision(viewer.principal),
        "approver": approver,
        "may_approve": lambda permit: views.may_approve(approver, permit),
        "may_refuse": lambda permit: views.may_refuse(approver, permit),
        "trip_days": views.trip_days,
        "local_days": views.LOCAL_DAYS,
        "renewable": person.measure == Measure.corrections_ep.value,
        "roll_call_window": ROLL_CALL_WINDOW,
        "default_window_s": runtime.settings.roll_call_window_s,
        "located_fix": views.located_fix,
        "map": {
            "zones": [views.zone_data(z) for z in record.zones if z.active],
            "track": map_data(track, viewer) if track and track.fixes else None,
            "located": located,
        },
        "page_path": f"{PERSONS}/{person.id}",
        **labels(),
    }
    status = 422 if problems else 200
    return render(request, "person.html", context, viewer=viewer, status_code=status)


Action = Callable[[SupervisedPerson, Form, int], object]


async def act(
    request: Request,
    viewer: Viewer,
    session: Session,
    runtime: Runtime,
    person_id: int,
    section: str,
    action: Action,
) -> Response:
    """A change to a person from one of their page's forms, through the service: on a
    refusal the page again with the reason in the form's section, else the page anew."""
    require(may_manage_supervision(viewer.principal), "change supervision")
    person = visible_person(session, viewer.principal, person_id)
    form = await checked_form(request, viewer)
    try:
        action(person, form, viewer.user.id)
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        person = visible_person(session, viewer.principal, person_id)
        return person_response(
            request, viewer, session, runtime, person, {section: str(exc)}, {section: form}
        )
    session.commit()
    return redirect(f"{PERSONS}/{person_id}#{section}")


@router.post("/persons/{person_id}/renew", response_model=None)
async def renew(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, form: Form, by_user: int) -> object:
        new_end = views.day(form, "new_end", "new end")
        note = views.optional_text(form, "note")
        return service.renew_term(session, person, new_end, by_user, viewer.now, note)

    return await act(request, viewer, session, runtime, person_id, "term", action)


@router.post("/persons/{person_id}/bracelet", response_model=None)
async def assign_bracelet(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, form: Form, by_user: int) -> object:
        device_id = views.text(form, "device_id", 32)
        if not device_id:
            raise InvalidRequestError("choose a bracelet")
        return service.assign_bracelet(session, person, device_id, viewer.now, by_user)

    return await act(request, viewer, session, runtime, person_id, "bracelets", action)


@router.post("/persons/{person_id}/roll-calls", response_model=None)
async def send_roll_call(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, form: Form, by_user: int) -> object:
        window_s = views.whole(form, "window_s", "window")
        return service.send_roll_call(session, person, window_s, viewer.now, by_user=by_user)

    return await act(request, viewer, session, runtime, person_id, "roll-calls", action)


@router.post("/persons/{person_id}/roll-calls-per-day", response_model=None)
async def set_roll_calls_per_day(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, form: Form, _by_user: int) -> object:
        count = views.whole(form, "per_day", "roll calls a day")
        service.set_roll_calls_per_day(session, person, count)
        return None

    return await act(request, viewer, session, runtime, person_id, "random-roll-calls", action)


@router.post("/persons/{person_id}/locate", response_model=None)
async def locate_now(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, _form: Form, by_user: int) -> object:
        return service.locate_now(session, person, viewer.now, by_user)

    return await act(request, viewer, session, runtime, person_id, "locate", action)


@router.post("/persons/{person_id}/trips", response_model=None)
async def request_trip(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    def action(person: SupervisedPerson, form: Form, by_user: int) -> object:
        destination = views.text(form, "destination", 200)
        return service.request_trip(
            session,
            person,
            destination,
            views.local_moment(form, "starts_at", "start", viewer.zone),
            views.local_moment(form, "ends_at", "end", viewer.zone),
            by_user,
            viewer.now,
            reason=views.optional_text(form, "reason"),
            destination_zone=destination_circle(form, destination),
        )

    return await act(request, viewer, session, runtime, person_id, "trips", action)


def destination_circle(form: Form, destination: str) -> service.ZoneInput | None:
    """The trip's destination as a circle, when one is given (all three fields)."""
    fields = ("zone_lat", "zone_lon", "zone_radius_m")
    if not any(views.text(form, name) for name in fields):
        return None
    if not all(views.text(form, name) for name in fields):
        raise InvalidRequestError("a destination circle needs its latitude, longitude and radius")
    geometry = {
        "lat": views.decimal(form, "zone_lat", "latitude"),
        "lon": views.decimal(form, "zone_lon", "longitude"),
        "radius_m": views.decimal(form, "zone_radius_m", "radius"),
    }
    return service.ZoneInput(destination or "destination", "inclusion", "circle", geometry)


def permit_of(session: Session, person: SupervisedPerson, permit_id: int) -> TravelPermit:
    permit = service.get_permit(session, permit_id)
    if permit.person_id != person.id:
        raise NotFoundError(f"no travel permit {permit_id}")
    return permit


@router.post("/persons/{person_id}/trips/{permit_id}/decide", response_model=None)
async def decide_trip(
    person_id: int,
    permit_id: int,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    def action(person: SupervisedPerson, form: Form, by_user: int) -> object:
        permit = permit_of(session, person, permit_id)
        decision = views.text(form, "decision", 16)
        if decision not in ("approve", "refuse"):
            raise InvalidRequestError("a trip is approved or refused")
        note = views.optional_text(form, "note")
        if decision == "refuse" and note is None:
            raise InvalidRequestError("say why the trip is refused")
        level = viewer.user.approval_level or ""
        return service.decide_trip(
            session, permit, decision == "approve", level, by_user, viewer.now, note
        )

    return await act(request, viewer, session, runtime, person_id, "trips", action)


@router.post("/persons/{person_id}/trips/{permit_id}/cancel", response_model=None)
async def cancel_trip(
    person_id: int,
    permit_id: int,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    def action(person: SupervisedPerson, _form: Form, _by_user: int) -> object:
        return service.cancel_trip(
            session, permit_of(session, person, permit_id), viewer.now, viewer.user.id
        )

    return await act(request, viewer, session, runtime, person_id, "trips", action)
