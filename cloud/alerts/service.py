"""The only writer of alerts: raise or update, end a cause, acknowledge, resolve, escalate.

All in the caller's session and transaction. Raising is safe between replicas: the
partial unique index on ``subject_key`` allows one alert that is not resolved, and an
insert that loses the race (inside a savepoint) updates the winner instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.alerts.models import OPEN_STATUSES, Alert, AlertStep
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError

SEVERITIES = ("critical", "major", "minor", "warning")
NOTE_MAX = 2000


@dataclass(frozen=True)
class AlertDraft:
    """What a rule or a check found: enough to raise an alert or update the open one."""

    subject_key: str
    cause: str
    severity: str
    summary: str
    happened_at: datetime
    explanation: Mapping[str, Any]
    person_id: int | None = None
    device_id: str | None = None
    gateway_id: str | None = None
    zone_id: int | None = None
    site_id: str | None = None
    case_id: int | None = None
    # An update replaces the summary (a site's class got worse); else the first stays.
    refresh_summary: bool = False
    evidence_at: datetime | None = None  # the newest record behind it (device time)


def open_alert(session: Session, subject_key: str) -> Alert | None:
    """The alert of this subject and cause that is not resolved, if any."""
    return session.scalar(
        select(Alert).where(Alert.subject_key == subject_key, Alert.status.in_(OPEN_STATUSES))
    )


def raise_alert(
    session: Session, draft: AlertDraft, now: datetime, occurrences: int = 1
) -> tuple[Alert, bool]:
    """Open an alert, or update the open one of the same subject and cause.

    Returns the alert and whether it is new. An update counts ``occurrences`` more (the
    evidence of one batch comes as one update), keeps the first ``happened_at`` and
    clears an ended cause: the cause is back.
    """
    if draft.severity not in SEVERITIES:
        raise InvalidRequestError(f"unknown severity {draft.severity}")
    existing = open_alert(session, draft.subject_key)
    if existing is None:
        alert = _new_alert(draft, now)
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:
            existing = open_alert(session, draft.subject_key)
            if existing is None:
                raise
        else:
            _step(session, alert, "raised", now, details={"summary": draft.summary})
            if occurrences > 1:
                alert.occurrences = occurrences
            return alert, True
    _update(session, existing, draft, now, occurrences)
    return existing, False


def end_cause(
    session: Session, subject_key: str, ended_at: datetime, now: datetime, reason: str
) -> Alert | None:
    """The cause of the open alert no longer holds (the person is back, the strap closed).

    The alert stays open until a person resolves it; it only shows that it ended.
    """
    alert = open_alert(session, subject_key)
    if alert is None or alert.cause_ended_at is not None:
        return None
    alert.cause_ended_at = ended_at
    alert.updated_at = now
    _step(session, alert, "cause_ended", now, note=reason, details={"at": ended_at.isoformat()})
    return alert


def acknowledge(
    session: Session, alert_id: int, user_id: int, now: datetime, note: str | None = None
) -> Alert:
    """A person has seen the alert and is on it."""
    alert = _get(session, alert_id)
    if alert.status != "open":
        raise ConflictError(f"alert {alert_id} is {alert.status}, not open")
    alert.status = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = user_id
    alert.updated_at = now
    _step(session, alert, "acknowledged", now, by_user=user_id, note=_note(note, False))
    return alert


def resolve(session: Session, alert_id: int, user_id: int, note: str, now: datetime) -> Alert:
    """Close the alert with a note saying what was done; a later recurrence opens a new one."""
    alert = _get(session, alert_id)
    if alert.status == "resolved":
        raise ConflictError(f"alert {alert_id} is resolved already")
    text = _note(note, True)
    alert.status = "resolved"
    alert.resolved_at = now
    alert.resolved_by = user_id
    alert.resolution_note = text
    alert.updated_at = now
    _step(session, alert, "resolved", now, by_user=user_id, note=text)
    return alert


def escalate_due(session: Session, after_s: Mapping[str, int], now: datetime) -> list[Alert]:
    """Escalate every open, unacknowledged alert left longer than its severity allows.

    ``after_s`` maps a severity to the seconds it may wait, per level: an alert at level
    n escalates again once it has waited (n + 1) times that long since it was raised.
    """
    escalated: list[Alert] = []
    for alert in session.scalars(
        select(Alert)
        .where(Alert.status == "open")
        .order_by(Alert.id)
        .with_for_update(skip_locked=True)  # one the ingest is updating: next tick
    ):
        limit = after_s.get(alert.severity)
        if not limit:
            continue
        waited = (now - alert.raised_at).total_seconds()
        if waited < limit * (alert.escalation_level + 1):
            continue
        alert.escalation_level += 1
        alert.escalated_at = now
        alert.updated_at = now
        _step(
            session,
            alert,
            "escalated",
            now,
            details={"level": alert.escalation_level, "waited_s": int(waited)},
        )
        escalated.append(alert)
    return escalated


def steps_of(session: Session, alert_id: int) -> list[AlertStep]:
    return list(
        session.scalars(
            select(AlertStep).where(AlertStep.alert_id == alert_id).order_by(AlertStep.id)
        )
    )


def explanation_of(alert: Alert) -> dict[str, Any]:
    value = json.loads(alert.explanation_json)
    return value if isinstance(value, dict) else {}


def _new_alert(draft: AlertDraft, now: datetime) -> Alert:
    return Alert(
        subject_key=draft.subject_key,
        cause=draft.cause,
        severity=draft.severity,
        status="open",
        person_id=draft.person_id,
        device_id=draft.device_id,
        gateway_id=draft.gateway_id,
        zone_id=draft.zone_id,
        site_id=draft.site_id,
        case_id=draft.case_id,
        summary=draft.summary,
        happened_at=draft.happened_at,
        raised_at=now,
        updated_at=now,
        last_evidence_at=draft.evidence_at or draft.happened_at,
        occurrences=1,
        escalation_level=0,
        explanation_json=json.dumps(dict(draft.explanation), ensure_ascii=False, default=str),
    )


def _update(
    session: Session, alert: Alert, draft: AlertDraft, now: datetime, occurrences: int
) -> None:
    evidence = draft.evidence_at or draft.happened_at
    if evidence > alert.last_evidence_at:
        alert.last_evidence_at = evidence
    alert.occurrences += occurrences
    alert.updated_at = now
    details: dict[str, Any] = {"summary": draft.summary}
    if alert.cause_ended_at is not None:
        # The cause is back before anyone resolved the alert: the same alert again.
        details["recurred_after"] = alert.cause_ended_at.isoformat()
        alert.cause_ended_at = None
        _step(session, alert, "recurred", now, details=details)
    if _more_severe(draft.severity, alert.severity):
        alert.severity = draft.severity
    if draft.refresh_summary:
        alert.summary = draft.summary
    history = explanation_of(alert)
    latest = dict(draft.explanation)
    history["latest"] = latest
    alert.explanation_json = json.dumps(history, ensure_ascii=False, default=str)


def _more_severe(new: str, old: str) -> bool:
    return SEVERITIES.index(new) < SEVERITIES.index(old)


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    return alert


def _note(note: str | None, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise InvalidRequestError("resolving an alert needs a note saying what was done")
    if len(text) > NOTE_MAX:
        raise InvalidRequestError(f"a note has at most {NOTE_MAX} characters")
    return text or None


def _step(
    session: Session,
    alert: Alert,
    step: str,
    now: datetime,
    *,
    by_user: int | None = None,
    note: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AlertStep(
            alert_id=alert.id,
            step=step,
            at=now,
            by_user=by_user,
            note=note,
            details_json=json.dumps(dict(details), ensure_ascii=False, default=str)
            if details
            else None,
        )
    )
