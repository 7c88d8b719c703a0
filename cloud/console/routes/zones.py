"""A person's zones (``/console/persons/{id}/zones``): drawn on a map (a polygon or a
circle), with their rule, role, weekly schedule and dwell time; an existing one's shape
edited, deactivated, or taken off the person.

The browser turns what was drawn back into WGS-84 (``FieldMap.fromMap``) and posts it
as the hidden fields ``shape`` and ``geometry`` (JSON); the service checks and stores it.
A refusal shows the editor again with the reason and what was typed and drawn kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cloud.console import person_views as views
from cloud.console.forms import checked_form
from cloud.console.pages import PREFIX, Viewer, ViewerDep, redirect, render
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.identity.policy import require
from cloud.supervision import service
from cloud.supervision.models import SupervisedPerson, Zone
from cloud.supervision.policy import may_manage_supervision, visible_person
from cloud.web.deps import SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)

EDITABLE_ROLES = ("home", "county", "other")  # destinations come with a trip
Form = Mapping[str, str]


def zones_path(person: SupervisedPerson) -> str:
    return f"{PREFIX}/persons/{person.id}/zones"


@router.get("/persons/{person_id}/zones", response_model=None)
def zones_page(
    person_id: int,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    edit: int | None = None,
) -> Response:
    person = visible_person(session, viewer.principal, person_id)
    editing = zone_of(session, person, edit) if edit is not None else None
    return zones_response(request, viewer, session, person, editing)


def zones_response(
    request: Request,
    viewer: Viewer,
    session: Session,
    person: SupervisedPerson,
    editing: Zone | None,
    typed: Form | None = None,
    problem: str | None = None,
) -> Response:
    zones = views.person_zones(session, person.id)
    typed = dict(typed or {})
    if editing is not None and not typed:
        typed = {
            "name": editing.name,
            "rule": editing.rule,
            "role": editing.role,
            "schedule": editing.schedule,
            "dwell_s": str(editing.dwell_s),
            "shape": editing.shape,
            "geometry": json.dumps(views.zone_data(editing)["geometry"]),
        }
    data: dict[str, Any] = {
        "zones": [views.zone_data(z) for z in zones],
        "editing": views.zone_data(editing) if editing is not None else None,
    }
    drawn = drawn_zone(typed)
    if problem and drawn is not None:  # what was drawn before the refusal, drawn again
        data["editing"] = {**drawn, "id": editing.id if editing else None, "active": True}
    context = {
        "person": person,
        "zones": zones,
        "editing": editing,
        "typed": typed,
        "problem": problem,
        "data": data,
        "may_manage": may_manage_supervision(viewer.principal),
        "roles": EDITABLE_ROLES,
        "geometry_text": views.geometry_text,
        "page_path": zones_path(person),
        "zone_rule_labels": views.ZONE_RULE_LABELS,
        "zone_role_labels": views.ZONE_ROLE_LABELS,
        "zone_shape_labels": views.ZONE_SHAPE_LABELS,
    }
    status = 422 if problem else 200
    return render(request, "zones.html", context, viewer=viewer, status_code=status)


def drawn_zone(typed: Form) -> dict[str, Any] | None:
    """The shape a refused form carried, to draw it again (None: nothing usable)."""
    try:
        geometry = json.loads(typed.get("geometry", ""))
    except ValueError:
        return None
    if not isinstance(geometry, dict) or typed.get("shape") not in ("circle", "polygon"):
        return None
    try:
        if typed["shape"] == "circle":
            geometry = {k: float(geometry[k]) for k in ("lat", "lon", "radius_m")}
        else:
            geometry = {"vertices": [[float(a), float(b)] for a, b in geometry["vertices"]]}
    except (KeyError, TypeError, ValueError):
        return None
    return {"shape": typed["shape"], "geometry": geometry, "rule": typed.get("rule", "inclusion")}


def zone_of(session: Session, person: SupervisedPerson, zone_id: int) -> Zone:
    """One of the person's zones, or NotFoundError (another person's zone is not here)."""
    zone = views.person_zone(session, person.id, zone_id)
    if zone is None:
        raise NotFoundError(f"no zone {zone_id} of this person")
    return zone


def zone_input(form: Form) -> service.ZoneInput:
    """The zone as the form gives it; the geometry as the page's script wrote it."""
    raw = views.text(form, "geometry", 60_000)
    if not raw:
        raise InvalidRequestError("draw the zone on the map first: a polygon or a circle")
    try:
        geometry = json.loads(raw)
    except ValueError:
        raise InvalidRequestError("the drawn zone did not arrive readable; draw it again") from None
    if not isinstance(geometry, dict):
        raise InvalidRequestError("the drawn zone did not arrive readable; draw it again")
    role = views.text(form, "role", 16)
    if role not in EDITABLE_ROLES:
        raise InvalidRequestError(f"a zone's role is one of {', '.join(EDITABLE_ROLES)}")
    return service.ZoneInput(
        name=views.text(form, "name", 200),
        rule=views.text(form, "rule", 16),
        shape=views.text(form, "shape", 16),
        geometry=geometry,
        role=role,
        schedule=views.text(form, "schedule", 500),
        dwell_s=views.whole(form, "dwell_s", "dwell time"),
    )


async def change(
    request: Request,
    viewer: Viewer,
    session: Session,
    person_id: int,
    zone_id: int | None,
    apply: Any,
) -> Response:
    """One change to a person's zones through the service; refused: the editor again."""
    require(may_manage_supervision(viewer.principal), "change zones")
    person = visible_person(session, viewer.principal, person_id)
    zone = zone_of(session, person, zone_id) if zone_id is not None else None
    form = await checked_form(request, viewer)
    try:
        apply(person, zone, form)
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        person = visible_person(session, viewer.principal, person_id)
        zone = zone_of(session, person, zone_id) if zone_id is not None else None
        return zones_response(request, viewer, session, person, zone, form, str(exc))
    session.commit()
    return redirect(zones_path(person))


@router.post("/persons/{person_id}/zones", response_model=None)
async def add_zone(
    person_id: int, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    def apply(person: SupervisedPerson, _zone: Zone | None, form: Form) -> None:
        zone = service.add_zone(session, zone_input(form), viewer.user.id, viewer.now)
        service.assign_zone(session, zone, person)

    return await change(request, viewer, session, person_id, None, apply)


@router.post("/persons/{person_id}/zones/{zone_id}", response_model=None)
async def update_zone(
    person_id: int, zone_id: int, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    def apply(_person: SupervisedPerson, zone: Zone | None, form: Form) -> None:
        assert zone is not None
        service.update_zone(session, zone, zone_input(form), viewer.now, viewer.user.id)

    return await change(request, viewer, session, person_id, zone_id, apply)


@router.post("/persons/{person_id}/zones/{zone_id}/active", response_model=None)
async def set_zone_active(
    person_id: int, zone_id: int, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    def apply(_person: SupervisedPerson, zone: Zone | None, form: Form) -> None:
        assert zone is not None
        service.set_zone_active(
            zone, views.text(form, "active", 4) == "1", viewer.now, viewer.user.id
        )

    return await change(request, viewer, session, person_id, zone_id, apply)


@router.post("/persons/{person_id}/zones/{zone_id}/unassign", response_model=None)
async def unassign_zone(
    person_id: int, zone_id: int, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    def apply(person: SupervisedPerson, zone: Zone | None, _form: Form) -> None:
        assert zone is not None
        service.unassign_zone(session, zone, person)

    return await change(request, viewer, session, person_id, zone_id, apply)
