"""Alerts: the list a prosecutor works from, one alert with its explanation and steps,
and the lifecycle (acknowledge, resolve with a note)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import case, select

from cloud.alerts import policy, service
from cloud.alerts.changes import ALERTS_CHANGED
from cloud.alerts.models import OPEN_STATUSES, Alert
from cloud.alerts.schemas import (
    AcknowledgeIn,
    AlertDetailOut,
    AlertOut,
    AlertStepOut,
    ResolveIn,
)
from cloud.identity.deps import PrincipalDep
from cloud.identity.policy import require
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.responses import error_responses

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ERRORS = error_responses(401, 403, 404, 422)
_SEVERITY_ORDER = case(
    {"critical": 0, "major": 1, "minor": 2, "warning": 3}, value=Alert.severity, else_=4
)


@router.get("", response_model=list[AlertOut], responses=_ERRORS)
def list_alerts(
    principal: PrincipalDep,
    session: SessionDep,
    status: Annotated[
        Literal["active", "open", "acknowledged", "resolved", "all"], Query()
    ] = "active",
    cause: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    """Alerts, the most severe and newest first; ``active``: open or acknowledged."""
    require(policy.may_see_alerts(principal), "see alerts")
    query = select(Alert).where(policy.visible_alerts(principal))
    if status == "active":
        query = query.where(Alert.status.in_(OPEN_STATUSES))
    elif status != "all":
        query = query.where(Alert.status == status)
    if cause is not None:
        query = query.where(Alert.cause == cause)
    if person_id is not None:
        query = query.where(Alert.person_id == person_id)
    query = query.order_by(_SEVERITY_ORDER, Alert.raised_at.desc(), Alert.id.desc()).limit(limit)
    return [_out(alert) for alert in session.scalars(query)]


@router.get("/{alert_id}", response_model=AlertDetailOut, responses=_ERRORS)
def get_alert(alert_id: AlertId, principal: PrincipalDep, session: SessionDep) -> AlertDetailOut:
    """One alert: why it was raised, and each step of its life with who and when."""
    alert = policy.visible_alert(session, principal, alert_id)
    return _detail(session, alert)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertDetailOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def acknowledge(
    alert_id: AlertId,
    body: AcknowledgeIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> AlertDetailOut:
    """Someone is on it: stops the escalation."""
    require(policy.may_handle_alerts(principal), "handle alerts")
    policy.visible_alert(session, principal, alert_id)
    alert = service.acknowledge(session, alert_id, principal.user_id, now, body.note)
    runtime.changes.publish(session, ALERTS_CHANGED, [str(alert_id)])
    session.commit()
    return _detail(session, alert)


@router.post(
    "/{alert_id}/resolve",
    response_model=AlertDetailOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def resolve(
    alert_id: AlertId,
    body: ResolveIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> AlertDetailOut:
    """Close it with a note of what was done; the same cause later opens a new alert."""
    require(policy.may_handle_alerts(principal), "handle alerts")
    policy.visible_alert(session, principal, alert_id)
    alert = service.resolve(session, alert_id, principal.user_id, body.note, now)
    runtime.changes.publish(session, ALERTS_CHANGED, [str(alert_id)])
    session.commit()
    return _detail(session, alert)


def _out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        cause=alert.cause,
        severity=alert.severity,
        status=alert.status,
        summary=alert.summary,
        person_id=alert.person_id,
        device_id=alert.device_id,
        gateway_id=alert.gateway_id,
        zone_id=alert.zone_id,
        site_id=alert.site_id,
        case_id=alert.case_id,
        happened_at=alert.happened_at,
        raised_at=alert.raised_at,
        updated_at=alert.updated_at,
        last_evidence_at=alert.last_evidence_at,
        occurrences=alert.occurrences,
        cause_ended_at=alert.cause_ended_at,
        acknowledged_at=alert.acknowledged_at,
        resolved_at=alert.resolved_at,
        resolution_note=alert.resolution_note,
        escalation_level=alert.escalation_level,
        escalated_at=alert.escalated_at,
    )


def _detail(session: SessionDep, alert: Alert) -> AlertDetailOut:
    steps = [
        AlertStepOut(
            step=step.step,
            at=step.at,
            by_user=step.by_user,
            note=step.note,
            details=json.loads(step.details_json) if step.details_json else None,
        )
        for step in service.steps_of(session, alert.id)
    ]
    return AlertDetailOut(
        **_out(alert).model_dump(), explanation=service.explanation_of(alert), steps=steps
    )
