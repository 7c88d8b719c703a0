"""Supervision's time-driven checks: what should have come and did not.

Run by the scheduler (``cloud.scheduler``) on one replica at a time. Each check is
idempotent: run twice at the same moment it raises nothing the second time, because
an open alert of the same subject and cause already stands.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts import service as alerts
from cloud.errors import ConflictError, InvalidRequestError
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import gateway_alive, latest
from cloud.supervision import service
from cloud.supervision.causes import DEFAULT_SEVERITIES, gateway_key, person_key
from cloud.supervision.evaluate import AlertPolicy
from cloud.supervision.models import (
    BraceletAssignment,
    DeviceCondition,
    RollCall,
    SupervisedPerson,
    TravelPermit,
    Zone,
    ZoneAssignment,
    ZoneTrack,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckSettings:
    absent_after_s: int = 900
    gateway_silent_after_s: int = 120
    term_reminder_days: int = 7
    roll_call_grace_s: int = 120
    roll_call_window_s: int = 300
    trip_grace_s: int = 900
    roll_call_hours: tuple[int, int] = (8, 21)  # random roll calls between these local hours
    # Keeps random roll calls unguessable from the code: the deployment's secret.
    salt: bytes = b""


@dataclass
class CheckReport:
    raised: int = 0
    ended: int = 0
    roll_calls_sent: int = 0
    configs_sent: int = 0


class Checks:
    def __init__(
        self,
        session: Session,
        now: datetime,
        tz: ZoneInfo,
        settings: CheckSettings,
        policy: AlertPolicy | None = None,
    ) -> None:
        self._session = session
        self._now = now
        self._tz = tz
        self._settings = settings
        self._policy = policy or AlertPolicy()
        self.report = CheckReport()

    def run_all(self) -> CheckReport:
        self.bracelet_zones()
        self.absence()
        self.terms()
        self.roll_calls()
        self.trips()
        return self.report

    # --- zones on the bracelets -----------------------------------------------------------

    def bracelet_zones(self) -> None:
        """Send each worn bracelet its wearer's zones when they changed since last sent."""
        offset = self._now.astimezone(self._tz).utcoffset()
        offset_min = int(offset.total_seconds() // 60) if offset is not None else 0
        assignments = self._session.scalars(
            select(BraceletAssignment)
            .join(SupervisedPerson, SupervisedPerson.id == BraceletAssignment.person_id)
            .where(BraceletAssignment.ended_at.is_(None), SupervisedPerson.status == "active")
        ).all()
        zones: dict[int, list[Zone]] = defaultdict(list)
        for person_id, zone in self._session.execute(
            select(ZoneAssignment.person_id, Zone)
            .join(Zone, Zone.id == ZoneAssignment.zone_id)
            .where(ZoneAssignment.person_id.in_([a.person_id for a in assignments]))
            .order_by(Zone.id)
        ):
            zones[person_id].append(zone)
        for assignment in assignments:
            person_zones = zones.get(assignment.person_id, [])
            if service.sync_bracelet_zones(
                self._session, assignment, person_zones, self._now, offset_min
            ):
                self.report.configs_sent += 1

    # --- absence ----------------------------------------------------------------------

    def absence(self) -> None:
        """No fix for N minutes while the gateway is up: one alert per person; a silent
        gateway: one alert for the gateway, none for its devices."""
        s = self._settings
        rows = self._session.execute(
            select(SupervisedPerson, BraceletAssignment, Device)
            .join(BraceletAssignment, BraceletAssignment.person_id == SupervisedPerson.id)
            .join(Device, Device.id == BraceletAssignment.device_id)
            .where(BraceletAssignment.ended_at.is_(None), SupervisedPerson.status == "active")
        ).all()
        gateways = {g.id: g for g in self._session.scalars(select(Gateway))}
        alive: dict[str, bool] = {}
        for gateway in gateways.values():
            contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at)
            # A gateway not heard from yet has the same grace from its registration.
            alive[gateway.id] = gateway_alive(
                contact or gateway.created_at, self._now, s.gateway_silent_after_s
            )
        serving = {device.gateway_id for _p, _a, device in rows if device.gateway_id}
        for gateway_id in sorted(serving):
            gateway = gateways[gateway_id]
            key = gateway_key(gateway_id)
            if not alive[gateway_id]:
                contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at)
                since = contact or gateway.created_at
                self._raise_once(
                    alerts.AlertDraft(
                        subject_key=key,
                        cause="gateway_unreachable",
                        severity=self._severity("gateway_unreachable"),
                        summary=f"gateway {gateway_id} is unreachable",
                        happened_at=since + timedelta(seconds=s.gateway_silent_after_s),
                        explanation={
                            "rule": {
                                "cause": "gateway_unreachable",
                                "silent_after_s": s.gateway_silent_after_s,
                            },
                            "gateway": {"id": gateway_id, "last_contact": contact},
                            "decision": "no heartbeat or batch from the gateway; its devices "
                            "are not checked for absence until it is back",
                        },
                        gateway_id=gateway_id,
                    )
                )
            else:
                self._end(key, self._now, "the gateway is back")
        powered_off = set(
            self._session.scalars(
                select(DeviceCondition.device_id).where(
                    DeviceCondition.powered_off_boot.is_not(None)
                )
            )
        )
        for person, assignment, device in rows:
            if device.gateway_id is None or not alive.get(device.gateway_id, False):
                continue
            if device.id in powered_off:
                continue  # its power_off alert says why no fix comes
            last_fix = (
                datetime.fromtimestamp(device.last_fix_ts, UTC)
                if device.last_fix_ts is not None
                else None
            )
            since = latest(last_fix, assignment.started_at) or assignment.started_at
            if (self._now - since).total_seconds() < s.absent_after_s:
                continue
            self._raise_once(
                alerts.AlertDraft(
                    subject_key=person_key(person.id, "no_fix"),
                    cause="no_fix",
                    severity=self._severity("no_fix"),
                    summary=f"no fix from {person.name}'s bracelet for "
                    f"{int((self._now - since).total_seconds() // 60)} min",
                    happened_at=since + timedelta(seconds=s.absent_after_s),
                    explanation={
                        "rule": {"cause": "no_fix", "absent_after_s": s.absent_after_s},
                        "device": device.id,
                        "last_fix_at": last_fix,
                        "gateway": {"id": device.gateway_id, "alive": True},
                        "decision": f"no fix for more than {s.absent_after_s // 60} min "
                        "while the gateway is up",
                    },
                    person_id=person.id,
                    device_id=device.id,
                )
            )

    # --- terms ------------------------------------------------------------------------

    def terms(self) -> None:
        """A reminder before a term ends; monitoring past the term is itself an alert."""
        today = self._now.astimezone(self._tz).date()
        remind_from = today + timedelta(days=self._settings.term_reminder_days)
        persons = self._session.scalars(
            select(SupervisedPerson).where(
                SupervisedPerson.status == "active", SupervisedPerson.term_end.is_not(None)
            )
        )
        for person in persons:
            end = person.term_end
            assert end is not None
            if end < today and service.current_assignment(self._session, person.id):
                self._end(person_key(person.id, "term_ending"), self._now, "the term has ended")
                self._raise_once(self._term_draft(person, end, "term_exceeded"))
            elif today <= end <= remind_from:
                self._raise_once(self._term_draft(person, end, "term_ending"))
            elif end > remind_from:
                # Renewed: the reminder and the overrun no longer hold.
                self._end(person_key(person.id, "term_ending"), self._now, "the term was renewed")
                self._end(person_key(person.id, "term_exceeded"), self._now, "the term was renewed")

    def _term_draft(self, person: SupervisedPerson, end: date, cause: str) -> alerts.AlertDraft:
        ends_at = datetime.combine(end + timedelta(days=1), time(), self._tz).astimezone(UTC)
        if cause == "term_exceeded":
            summary = f"{person.name} is still monitored after the term ended on {end}"
            happened = ends_at
            decision = "a bracelet is assigned after the term's last day, with no renewal"
        else:
            summary = f"the term of {person.name} ends on {end}"
            happened = self._now
            decision = f"the term ends within {self._settings.term_reminder_days} days"
        return alerts.AlertDraft(
            subject_key=person_key(person.id, cause),
            cause=cause,
            severity=self._severity(cause),
            summary=summary,
            happened_at=happened,
            explanation={
                "rule": {"cause": cause, "reminder_days": self._settings.term_reminder_days},
                "term": {"measure": person.measure, "start": person.term_start, "end": end},
                "decision": decision,
            },
            person_id=person.id,
        )

    # --- roll calls -------------------------------------------------------------------

    def roll_calls(self) -> None:
        """Plan today's random roll calls, send those due, and call missed the unanswered."""
        self._plan_random_roll_calls()
        due = self._session.scalars(
            select(RollCall).where(
                RollCall.status == "scheduled", RollCall.scheduled_at <= self._now
            )
        ).all()
        for roll_call in due:
            person = self._session.get(SupervisedPerson, roll_call.person_id)
            if person is None or person.status != "active":
                roll_call.status = "cancelled"
                continue
            try:
                service.send_roll_call(
                    self._session,
                    person,
                    roll_call.window_s,
                    self._now,
                    origin=roll_call.origin,
                    roll_call=roll_call,
                )
            except (ConflictError, InvalidRequestError) as exc:
                roll_call.status = "not_sent"  # e.g. the bracelet came off since it was planned
                log.warning("roll call %s not sent: %s", roll_call.id, exc)
                continue
            self.report.roll_calls_sent += 1
        grace = timedelta(seconds=self._settings.roll_call_grace_s)
        late = self._session.scalars(
            select(RollCall).where(RollCall.status == "sent", RollCall.due_at < self._now - grace)
        ).all()
        for roll_call in late:
            roll_call.status = "missed"
            person = self._session.get(SupervisedPerson, roll_call.person_id)
            name = person.name if person is not None else str(roll_call.person_id)
            assert roll_call.due_at is not None
            self._raise_once(
                alerts.AlertDraft(
                    subject_key=person_key(roll_call.person_id, "roll_call_missed"),
                    cause="roll_call_missed",
                    severity=self._severity("roll_call_missed"),
                    summary=f"{name} did not answer a roll call",
                    happened_at=roll_call.due_at,
                    explanation={
                        "rule": {
                            "cause": "roll_call_missed",
                            "window_s": roll_call.window_s,
                            "grace_s": self._settings.roll_call_grace_s,
                        },
                        "roll_call": {
                            "id": roll_call.id,
                            "command_id": roll_call.command_id,
                            "issued_at": roll_call.issued_at,
                            "due_at": roll_call.due_at,
                        },
                        "decision": "no answer came back within the window and its grace",
                    },
                    person_id=roll_call.person_id,
                    device_id=roll_call.device_id,
                ),
                update=True,
            )

    def _plan_random_roll_calls(self) -> None:
        today = self._now.astimezone(self._tz).date()
        start_of_day = datetime.combine(today, time(), self._tz).astimezone(UTC)
        persons = self._session.scalars(
            select(SupervisedPerson).where(
                SupervisedPerson.status == "active", SupervisedPerson.roll_calls_per_day > 0
            )
        )
        for person in persons:
            planned = self._session.scalars(
                select(RollCall.id).where(
                    RollCall.person_id == person.id,
                    RollCall.origin == "random",
                    RollCall.scheduled_at >= start_of_day,
                    RollCall.scheduled_at < start_of_day + timedelta(days=1),
                )
            ).all()
            assignment = service.current_assignment(self._session, person.id)
            if planned or assignment is None:
                continue
            for moment in random_times(
                person.id,
                today,
                person.roll_calls_per_day,
                self._settings.roll_call_hours,
                self._tz,
                self._settings.salt,
            ):
                if moment <= self._now:
                    continue  # planned late in the day: only what is still ahead
                self._session.add(
                    RollCall(
                        person_id=person.id,
                        device_id=assignment.device_id,
                        origin="random",
                        window_s=self._settings.roll_call_window_s,
                        scheduled_at=moment,
                        status="scheduled",
                    )
                )

    # --- trips ------------------------------------------------------------------------

    def trips(self) -> None:
        """Not back in the county when the permit ends (and its grace): a violation.

        The rules raise it from a sure fix outside after the end (``rules._overdue``);
        this check raises it when nothing has come since the end, the last sure fixes
        showing the person away. Fixes since the end that decide nothing (coarse ones
        across the county's edge, indoors at home) raise nothing: like every violation,
        an overdue trip starts only on a sure fix or on silence."""
        grace = timedelta(seconds=self._settings.trip_grace_s)
        permits = self._session.scalars(
            select(TravelPermit).where(
                TravelPermit.status == "approved", TravelPermit.ends_at < self._now - grace
            )
        ).all()
        for permit in permits:
            inside, since = self._county_state(permit.person_id)
            if (
                inside
                and since is not None
                and since <= permit.ends_at.timestamp() + grace.total_seconds()
            ):
                permit.status = "returned"
                permit.returned_at = datetime.fromtimestamp(since, UTC)
                continue
            if self._heard_since(permit.person_id, permit.ends_at):
                continue  # the rules judge the fixes that came; none showed the person away
            permit.status = "overdue"
            person = self._session.get(SupervisedPerson, permit.person_id)
            name = person.name if person is not None else str(permit.person_id)
            self._raise_once(
                alerts.AlertDraft(
                    subject_key=person_key(permit.person_id, "trip_overdue"),
                    cause="trip_overdue",
                    severity=self._severity("trip_overdue"),
                    summary=f"{name} is not back from {permit.destination}",
                    happened_at=permit.ends_at,
                    explanation={
                        "rule": {"cause": "trip_overdue", "grace_s": self._settings.trip_grace_s},
                        "permit": {
                            "id": permit.id,
                            "destination": permit.destination,
                            "starts_at": permit.starts_at,
                            "ends_at": permit.ends_at,
                        },
                        "county_state": "inside" if inside else "not inside",
                        "decision": "the permit ended, the last sure fixes showed the person "
                        "away, and no fix has come since",
                    },
                    person_id=permit.person_id,
                )
            )

    def _heard_since(self, person_id: int, moment: datetime) -> bool:
        """Whether the bracelet the person wears has sent a fix taken after ``moment``."""
        assignment = service.current_assignment(self._session, person_id)
        if assignment is None:
            return False
        device = self._session.get(Device, assignment.device_id)
        return (
            device is not None
            and device.last_fix_ts is not None
            and device.last_fix_ts >= moment.timestamp()
        )

    def _county_state(self, person_id: int) -> tuple[bool, int | None]:
        rows = self._session.execute(
            select(ZoneTrack.state, ZoneTrack.since_ts)
            .join(Zone, Zone.id == ZoneTrack.zone_id)
            .join(
                ZoneAssignment,
                (ZoneAssignment.zone_id == Zone.id) & (ZoneAssignment.person_id == person_id),
            )
            .where(ZoneTrack.person_id == person_id, Zone.role == "county", Zone.active.is_(True))
        ).all()
        if not rows:
            return False, None
        inside = all(state == "inside" for state, _ in rows)
        since = max((s for _, s in rows if s is not None), default=None)
        return inside, since

    # --- shared -----------------------------------------------------------------------

    def _raise_once(self, draft: alerts.AlertDraft, update: bool = False) -> None:
        """Raise unless the same subject and cause is open already (then update it only
        when ``update``: a second missed roll call counts; a still-silent gateway not)."""
        if not update and alerts.open_alert(self._session, draft.subject_key) is not None:
            return
        _alert, new = alerts.raise_alert(self._session, draft, self._now)
        if new:
            self.report.raised += 1

    def _end(self, key: str, at: datetime, why: str) -> None:
        if alerts.end_cause(self._session, key, at, self._now, why) is not None:
            self.report.ended += 1

    def _severity(self, cause: str) -> str:
        return self._policy.severities.get(cause, DEFAULT_SEVERITIES[cause])


def random_times(
    person_id: int,
    day: date,
    count: int,
    hours: tuple[int, int],
    tz: ZoneInfo,
    salt: bytes = b"",
) -> list[datetime]:
    """``count`` times that day between the local hours, the same on every replica (drawn
    from a keyed hash of the person and the day, not from a process's random state), so
    neither a restart nor a second replica plans them twice, and nobody without the
    deployment's secret can tell them in advance."""
    first, last = hours
    span_s = max(1, (last - first) * 3600)
    start = datetime.combine(day, time(first), tz)
    out = []
    for n in range(count):
        message = f"roll-call:{person_id}:{day.isoformat()}:{n}".encode()
        digest = hmac.new(salt, message, hashlib.sha256).digest()
        offset = int.from_bytes(digest[:8], "big") % span_s
        out.append((start + timedelta(seconds=offset)).astimezone(UTC))
    return sorted(out)
