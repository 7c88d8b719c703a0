"""What the alert inbox and an alert's page show, read through ``cloud.alerts.policy``.

The inbox is one query: the alerts this person may see, with the person's and the zone's
names joined in, open and acknowledged first by severity (critical > major > minor >
warning) then newest, the resolved after them newest first. An alert's page reads the
alert, its steps with who took them, and its explanation (what ``cloud.supervision``
stored when it decided: the rule, the fixes, the decision) turned into what the page
writes in words; the texts are translated where they are shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cloud.alerts import policy as alerts_policy
from cloud.alerts.models import OPEN_STATUSES, Alert, AlertStep
from cloud.alerts.service import SEVERITIES, explanation_of, steps_of
from cloud.console.i18n import N_
from cloud.errors import InvalidRequestError
from cloud.identity.models import User
from cloud.identity.principal import Principal
from cloud.supervision.causes import CAUSES
from cloud.supervision.models import SupervisedPerson, Zone

INBOX_LIMIT = 200  # rows the inbox lists; the page says how many match in all
LATE_AFTER = timedelta(minutes=1)  # raised this long after it happened: a late record

SEVERITY_LABELS = {
    "critical": N_("Critical"),
    "major": N_("Major"),
    "minor": N_("Minor"),
    "warning": N_("Warning"),
}
ALERT_STATUS_LABELS = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "resolved": N_("Resolved"),
}
# The status filter's choices: the three statuses, and the two unresolved ones together.
UNRESOLVED = "unresolved"
STATUS_CHOICES = {UNRESOLVED: N_("Open or acknowledged"), **ALERT_STATUS_LABELS}
CAUSE_LABELS = {
    "sos": N_("SOS pressed"),
    "strap_opened": N_("Strap opened"),
    "zone_entered": N_("Entered an exclusion zone"),
    "zone_left": N_("Left an inclusion zone"),
    "curfew_broken": N_("Outside during curfew"),
    "trip_overdue": N_("Not back from a trip"),
    "power_off": N_("Bracelet powered off"),
    "no_fix": N_("No position fix"),
    "gateway_unreachable": N_("Gateway unreachable"),
    "term_exceeded": N_("Monitored past the term"),
    "roll_call_missed": N_("Roll call missed"),
    "low_battery": N_("Bracelet battery low"),
    "term_ending": N_("Term ending soon"),
    "class_worse": N_("Water worse than its target class"),
    "station_silent": N_("River station silent"),
}
STEP_LABELS = {
    "raised": N_("Raised"),
    "updated": N_("Updated"),
    "recurred": N_("Recurred"),
    "cause_ended": N_("Cause ended"),
    "escalated": N_("Escalated"),
    "acknowledged": N_("Acknowledged"),
    "resolved": N_("Resolved"),
}
VERDICT_LABELS = {
    "inside": N_("inside"),
    "outside": N_("outside"),
    "undecided": N_("undecided (too coarse)"),
}
SOURCE_LABELS = {"gnss": N_("satellite (GNSS)"), "cell": N_("cell towers"), "wifi": N_("Wi-Fi")}
ZONE_ROLE_LABELS = {
    "home": N_("home"),
    "county": N_("county"),
    "destination": N_("trip destination"),
    "other": N_("other"),
}


# ---------------------------------------------------------------- the inbox


@dataclass(frozen=True, slots=True)
class InboxFilter:
    status: str | None = None  # a status, or UNRESOLVED
    cause: str | None = None
    severity: str | None = None

    @property
    def active(self) -> bool:
        return self != InboxFilter()

    def query_string(self) -> str:
        """The filter as an address's query (empty fields left out)."""
        pairs = [(k, v) for k, v in self._pairs() if v]
        return "&".join(f"{k}={v}" for k, v in pairs)  # whitelisted values: nothing to quote

    def _pairs(self) -> Iterable[tuple[str, str | None]]:
        return (("status", self.status), ("cause", self.cause), ("severity", self.severity))


def parse_filter(status: str, cause: str, severity: str) -> InboxFilter:
    """The inbox's filters from the form's strings (empty: no filter); whitelisted."""
    return InboxFilter(
        status=_choice(status, tuple(STATUS_CHOICES), "status"),
        cause=_choice(cause, CAUSES, "cause"),
        severity=_choice(severity, SEVERITIES, "severity"),
    )


def _choice(value: str, choices: Sequence[str], what: str) -> str | None:
    if value == "":
        return None
    if value not in choices:
        raise InvalidRequestError(f"{what} must be one of {', '.join(choices)}")
    return value


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as the inbox lists it."""

    id: int
    severity: str
    cause: str
    status: str
    person_name: str | None
    gateway_id: str | None
    device_id: str | None
    zone_name: str | None
    happened_at: datetime  # device time, where a device said so
    raised_at: datetime  # when the cloud knew
    occurrences: int
    cause_ended_at: datetime | None
    escalation_level: int

    @property
    def delay(self) -> timedelta | None:
        """How late the cloud learnt of it, when that is more than a minute (a late record)."""
        waited = self.raised_at - self.happened_at
        return waited if waited > LATE_AFTER else None

    @property
    def unresolved(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Inbox:
    lines: list[AlertLine]
    total: int  # alerts matching the filter, of which ``lines`` are the first


def _filtered(query: Any, principal: Principal, chosen: InboxFilter) -> Any:
    query = query.where(alerts_policy.visible_alerts(principal))
    if chosen.status == UNRESOLVED:
        query = query.where(Alert.status.in_(OPEN_STATUSES))
    elif chosen.status is not None:
        query = query.where(Alert.status == chosen.status)
    if chosen.cause is not None:
        query = query.where(Alert.cause == chosen.cause)
    if chosen.severity is not None:
        query = query.where(Alert.severity == chosen.severity)
    return query


def inbox(
    session: Session, principal: Principal, chosen: InboxFilter, limit: int = INBOX_LIMIT
) -> Inbox:
    """The alerts this person may see that match the filter, in the inbox's order."""
    unresolved = Alert.status.in_(OPEN_STATUSES)
    severity_rank = case(
        {name: rank for rank, name in enumerate(SEVERITIES)},
        value=Alert.severity,
        else_=len(SEVERITIES),
    )
    query = _filtered(
        select(Alert, SupervisedPerson.name, Zone.name)
        .outerjoin(SupervisedPerson, SupervisedPerson.id == Alert.person_id)
        .outerjoin(Zone, Zone.id == Alert.zone_id),
        principal,
        chosen,
    ).order_by(
        case((unresolved, 0), else_=1),
        case((unresolved, severity_rank), else_=0),
        Alert.raised_at.desc(),
        Alert.id.desc(),
    )
    lines = [
        line_of(alert, person_name, zone_name)
        for alert, person_name, zone_name in session.execute(query.limit(limit))
    ]
    total = session.scalar(_filtered(select(func.count(Alert.id)), principal, chosen))
    return Inbox(lines, int(total or 0))


def line_of(alert: Alert, person_name: str | None, zone_name: str | None) -> AlertLine:
    return AlertLine(
        id=alert.id,
        severity=alert.severity,
        cause=alert.cause,
        status=alert.status,
        person_name=person_name,
        gateway_id=alert.gateway_id,
        device_id=alert.device_id,
        zone_name=zone_name,
        happened_at=alert.happened_at,
        raised_at=alert.raised_at,
        occurrences=alert.occurrences,
        cause_ended_at=alert.cause_ended_at,
        escalation_level=alert.escalation_level,
    )


def open_count(session: Session, principal: Principal) -> int:
    """Alerts open (not yet acknowledged) that this person may see: the navigation's count."""
    total = session.scalar(
        select(func.count(Alert.id)).where(
            Alert.status == "open", alerts_policy.visible_alerts(principal)
        )
    )
    return int(total or 0)


def visible_ids(session: Session, principal: Principal, ids: Iterable[str]) -> list[int]:
    """Of the alert ids a change named, those this person may see (the live stream's)."""
    wanted = sorted({int(i) for i in ids if i.isdigit()})
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Alert.id).where(Alert.id.in_(wanted), alerts_policy.visible_alerts(principal))
        )
    )


# ---------------------------------------------------------------- an alert's page


@dataclass(frozen=True, slots=True)
class FixLine:
    """A location fix an explanation kept: why the rule decided as it did."""

    at: datetime | None  # device time
    lat: float
    lon: float
    accuracy_m: int | None
    source: str | None
    verdict: str | None  # inside | outside | undecided, for the zone
    edge_distance_m: float | None  # < 0 inside
    boot: int | None
    seq: int | None

    def as_json(self, time_text: str, latest: bool) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "verdict": self.verdict,
            "time": time_text,
            "latest": latest,
        }


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing an explanation says, as the page writes it: ``kind`` says how to show
    ``value`` (time, duration in seconds, percent, words to translate, plain text)."""

    label: str
    value: Any
    kind: str = "text"


@dataclass(frozen=True, slots=True)
class RuleView:
    """The rule that raised the alert, as recorded when it decided."""

    cause: str
    zone_name: str | None = None
    zone_rule: str | None = None  # inclusion | exclusion
    zone_role: str | None = None
    schedule: str | None = None  # None: always
    dwell_s: int | None = None
    settings: list[Fact] = field(default_factory=list)  # the rule's thresholds

    @property
    def is_zone_rule(self) -> bool:
        return self.zone_rule is not None


@dataclass(frozen=True, slots=True)
class Explanation:
    rule: RuleView | None
    decision: str | None  # the text the rule recorded (the system's words, not translated)
    state: str | None  # inside | outside: the standing that made it a violation
    state_since: datetime | None
    window_opened_at: datetime | None  # the schedule's window that was on, when it opened
    held_s: int | None
    fixes: list[FixLine]  # what decided it
    latest_fixes: list[FixLine]  # the newest evidence of an update (occurrence)
    latest_decision: str | None
    facts: list[Fact]  # the rest: the event, the roll call, the permit, ...


@dataclass(frozen=True, slots=True)
class StepLine:
    step: str
    at: datetime
    by: str | None  # username
    note: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertPage:
    alert: Alert
    line: AlertLine
    person: SupervisedPerson | None
    zone: Zone | None  # as it is now (the explanation keeps the rule as it was)
    zone_geometry: dict[str, Any] | None
    steps: list[StepLine]
    explanation: Explanation
    acknowledged_by: str | None
    resolved_by: str | None

    @property
    def zone_changed_since(self) -> bool:
        return self.zone is not None and self.zone.updated_at > self.alert.raised_at


def alert_page(session: Session, principal: Principal, alert_id: int) -> AlertPage:
    """An alert this person may see, with what its page shows; NotFoundError otherwise."""
    alert = alerts_policy.visible_alert(session, principal, alert_id)
    person = session.get(SupervisedPerson, alert.person_id) if alert.person_id else None
    zone = session.get(Zone, alert.zone_id) if alert.zone_id else None
    steps = steps_of(session, alert.id)
    names = _usernames(
        session, [s.by_user for s in steps] + [alert.acknowledged_by, alert.resolved_by]
    )
    return AlertPage(
        alert=alert,
        line=line_of(alert, person.name if person else None, zone.name if zone else None),
        person=person,
        zone=zone,
        zone_geometry=_geometry(zone),
        steps=[_step_line(step, names) for step in steps],
        explanation=explain(explanation_of(alert)),
        acknowledged_by=names.get(alert.acknowledged_by) if alert.acknowledged_by else None,
        resolved_by=names.get(alert.resolved_by) if alert.resolved_by else None,
    )


def _usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: username for user_id, username in rows}


def _geometry(zone: Zone | None) -> dict[str, Any] | None:
    if zone is None:
        return None
    value = json.loads(zone.geometry_json)
    return {"shape": zone.shape, **value} if isinstance(value, dict) else None


def _step_line(step: AlertStep, names: Mapping[int, str]) -> StepLine:
    details = json.loads(step.details_json) if step.details_json else {}
    if not isinstance(details, dict):
        details = {}
    for key in ("at", "recurred_after"):
        if key in details:
            details[key] = _moment(details[key])
    return StepLine(
        step=step.step,
        at=step.at,
        by=names.get(step.by_user) if step.by_user is not None else None,
        note=step.note,
        details=details,
    )


def map_data(page: AlertPage, when: Any) -> dict[str, Any] | None:
    """What alert.js draws: the zone (WGS-84, as stored) and the fixes as circles of their
    accuracy; ``when`` writes a time as the page does. None: nothing to draw."""
    shown = page.explanation
    fixes = [fix.as_json(when(fix.at), False) for fix in shown.fixes]
    fixes += [fix.as_json(when(fix.at), True) for fix in shown.latest_fixes]
    if not fixes and page.zone_geometry is None:
        return None
    zone = None
    if page.zone_geometry is not None and page.zone is not None:
        zone = {**page.zone_geometry, "name": page.zone.name, "rule": page.zone.rule}
    return {"zone": zone, "fixes": fixes}


# ---------------------------------------------------------------- the explanation


_RULE_SETTINGS = {  # a rule's threshold -> its label and how it is shown
    "below_pct": (N_("Battery at or below"), "percent"),
    "absent_after_s": (N_("No fix for longer than"), "duration"),
    "window_s": (N_("Time to answer"), "duration"),
    "grace_s": (N_("Grace after the deadline"), "duration"),
    "silent_after_s": (N_("Silent for longer than"), "duration"),
    "reminder_days": (N_("Reminder, days before the end"), "text"),
}


def explain(raw: Mapping[str, Any]) -> Explanation:
    """An alert's stored explanation as the page shows it (unknown parts are skipped
    here, never guessed at: the page also offers the record as stored)."""
    latest = raw.get("latest") if isinstance(raw.get("latest"), Mapping) else {}
    assert isinstance(latest, Mapping)
    return Explanation(
        rule=_rule(raw.get("rule")),
        decision=_text(raw.get("decision")),
        state=_text(raw.get("state")),
        state_since=_from_ts(raw.get("state_since_ts")),
        window_opened_at=_from_ts(raw.get("window_opened_ts")),
        held_s=raw.get("held_s") if isinstance(raw.get("held_s"), int) else None,
        fixes=_fixes(raw.get("fixes")),
        latest_fixes=_fixes(latest.get("fixes")),
        latest_decision=_text(latest.get("decision")),
        facts=list(_facts(raw)),
    )


def _rule(raw: Any) -> RuleView | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("cause"), str):
        return None
    settings = [
        Fact(label, raw[key], kind) for key, (label, kind) in _RULE_SETTINGS.items() if key in raw
    ]
    if "zone" not in raw:
        return RuleView(cause=raw["cause"], settings=settings)
    schedule = _text(raw.get("schedule"))
    return RuleView(
        cause=raw["cause"],
        zone_name=_text(raw.get("zone")),
        zone_rule=_text(raw.get("rule")),
        zone_role=_text(raw.get("role")),
        schedule=None if schedule in (None, "", "always") else schedule,
        dwell_s=raw.get("dwell_s") if isinstance(raw.get("dwell_s"), int) else None,
        settings=settings,
    )


def _fixes(raw: Any) -> list[FixLine]:
    if not isinstance(raw, list):
        return []
    out = []
    for fix in raw:
        if not isinstance(fix, Mapping) or fix.get("lat") is None or fix.get("lon") is None:
            continue
        distance = fix.get("edge_distance_m")
        out.append(
            FixLine(
                at=_from_ts(fix.get("ts")),
                lat=float(fix["lat"]),
                lon=float(fix["lon"]),
                accuracy_m=_int(fix.get("accuracy_m")),
                source=_text(fix.get("source")),
                verdict=_text(fix.get("verdict")),
                edge_distance_m=float(distance) if distance is not None else None,
                boot=_int(fix.get("boot")),
                seq=_int(fix.get("seq")),
            )
        )
    return out


def _facts(raw: Mapping[str, Any]) -> Iterable[Fact]:
    """The parts of an explanation beyond rule, fixes and decision, as labelled facts."""
    event = raw.get("event")
    if isinstance(event, Mapping):
        yield Fact(N_("Reported by the bracelet at"), _from_ts(event.get("ts")), "time")
        if event.get("battery_pct") is not None:
            yield Fact(N_("Battery"), event["battery_pct"], "percent")
    health = raw.get("health")
    if isinstance(health, Mapping):
        yield Fact(N_("Battery"), health.get("battery_pct"), "percent")
        yield Fact(N_("Measured at"), _from_ts(health.get("ts")), "time")
        yield Fact(N_("Charging"), N_("yes") if health.get("charging") else N_("no"), "words")
    roll_call = raw.get("roll_call")
    if isinstance(roll_call, Mapping):
        yield Fact(N_("Roll call sent at"), _moment(roll_call.get("issued_at")), "time")
        yield Fact(N_("Answer due by"), _moment(roll_call.get("due_at")), "time")
    permit = raw.get("permit")
    if isinstance(permit, Mapping):
        yield Fact(N_("Trip to"), _text(permit.get("destination")))
        yield Fact(N_("Trip from"), _moment(permit.get("starts_at")), "time")
        yield Fact(N_("Trip until"), _moment(permit.get("ends_at")), "time")
    term = raw.get("term")
    if isinstance(term, Mapping):
        yield Fact(N_("Term"), f"{term.get('start') or '?'} \u2013 {term.get('end') or '?'}")
    gateway = raw.get("gateway")
    if isinstance(gateway, Mapping) and "last_contact" in gateway:
        yield Fact(N_("Gateway's last contact"), _moment(gateway.get("last_contact")), "time")
    if "last_fix_at" in raw:
        yield Fact(N_("Last fix at"), _moment(raw.get("last_fix_at")), "time")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _from_ts(value: Any) -> datetime | None:
    number = _int(value)
    return None if number is None else datetime.fromtimestamp(number, UTC)


def _moment(value: Any) -> datetime | None:
    """A time the service kept as text (ISO 8601, or ``str(datetime)``)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
