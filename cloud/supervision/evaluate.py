"""Supervision's part of ingest: a batch's records, per bracelet in (boot, seq) order,
through the zone rules and the event causes, inside the ingest's transaction.

Because it runs in the transaction that stores the records (device rows locked), a
record is evaluated exactly once: a batch retried after a failure was rolled back
whole, and a duplicate batch or record never reaches here. The rule state it reads and
writes (``ZoneTrack``, ``DeviceCondition``) is therefore the state of every record
stored before, whichever replica stored them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.alerts import service as alerts
from cloud.alerts.models import OPEN_STATUSES, Alert
from cloud.supervision import rules
from cloud.supervision.causes import DEFAULT_SEVERITIES, person_key
from cloud.supervision.geometry import ZoneShape, classify_pairs, zone_set
from cloud.supervision.models import (
    DeviceCondition,
    LocateRequest,
    RollCall,
    SupervisedPerson,
    TravelPermit,
    ZoneTrack,
)
from cloud.supervision.zones import LoadedZone, zones_of_persons
from core import contract as c
from core import schedule as weekly
from core.messages import Event, Health, LocationFix, Message

_SOURCE = c.FIX_SOURCE_NAMES


@dataclass(frozen=True)
class AlertPolicy:
    """What the deployment configured for supervision's alerts."""

    severities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    low_battery_pct: int = 20
    battery_recovered_pct: int = 30
    trip_grace_s: int = 900


@dataclass
class Evaluation:
    """Counts of one batch's evaluation (for metrics and the bench)."""

    fixes: int = 0
    zone_checks: int = 0
    raised: int = 0
    updated: int = 0
    ended: int = 0
    alert_ids: set[int] = field(default_factory=set)


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def local_sow(ts: int, zone: ZoneInfo) -> int:
    """The second of the local week (Monday 00:00 = 0) of a device time."""
    local = datetime.fromtimestamp(ts, zone)
    return weekly.second_of_week(local.weekday(), local.hour, local.minute, local.second)


class Evaluator:
    """One batch's evaluation: built per transaction, holding what it loaded."""

    def __init__(self, session: Session, now: datetime, tz: ZoneInfo, policy: AlertPolicy) -> None:
        self._session = session
        self._now = now
        self._tz = tz
        self._policy = policy
        self._names: dict[int, str] = {}
        self._locating: dict[int, list[LocateRequest]] = {}
        # A violation's further evidence in this batch, one update per alert at the end.
        self._continuing: dict[str, tuple[alerts.AlertDraft, int]] = {}
        self.report = Evaluation()

    def run(
        self, records: Mapping[str, Sequence[Message]], wearers: Mapping[str, int]
    ) -> Evaluation:
        """Evaluate each worn bracelet's new records; ``wearers`` maps device to person."""
        worn = {d: wearers[d] for d in records if d in wearers}
        if not worn:
            return self.report
        persons = set(worn.values())
        fixes_of: dict[str, list[LocationFix]] = {}
        others_of: dict[str, list[Message]] = {}
        for device_id in worn:
            ordered = sorted(records[device_id], key=lambda r: (r.boot, r.seq))  # type: ignore[attr-defined]
            fixes_of[device_id] = [r for r in ordered if isinstance(r, LocationFix)]
            others_of[device_id] = [r for r in ordered if isinstance(r, (Event, Health))]
        with_fixes = {worn[d] for d, fixes in fixes_of.items() if fixes}
        zones = zones_of_persons(self._session, with_fixes) if with_fixes else {}
        span = [f.ts for fixes in fixes_of.values() for f in fixes]
        permits = self._suspensions(with_fixes, span) if span else {}
        tracks = self._tracks(with_fixes)
        open_keys = self._open_keys(persons)
        self._locating = self._pending_locates(with_fixes)
        verdicts = batch_verdicts(
            {d: (fixes_of[d], zones.get(p, [])) for d, p in worn.items() if fixes_of[d]}
        )
        for device_id, person_id in sorted(worn.items()):
            fixes = fixes_of[device_id]
            if fixes:
                self._zone_rules(
                    person_id,
                    device_id,
                    fixes,
                    zones.get(person_id, []),
                    verdicts.get(device_id),
                    permits,
                    tracks,
                )
                self._fixes_arrived(person_id, fixes, open_keys)
            if others_of[device_id]:
                self._conditions(person_id, device_id, others_of[device_id], open_keys)
        for draft, count in list(self._continuing.values()):
            self._raise(draft, count)
        self._continuing.clear()
        return self.report

    # --- zones ----------------------------------------------------------------------

    def _zone_rules(
        self,
        person_id: int,
        device_id: str,
        fixes: Sequence[LocationFix],
        zones: Sequence[LoadedZone],
        verdicts: list[list[int]] | None,
        permits: Mapping[int, list[tuple[int, int, int]]],
        tracks: dict[tuple[int, int], ZoneTrack],
    ) -> None:
        self.report.fixes += len(fixes)
        if not zones or verdicts is None:
            return
        self.report.zone_checks += len(fixes) * len(zones)
        sows = [local_sow(f.ts, self._tz) for f in fixes]
        zone_rules = [
            zone.rule_for(
                permits.get(person_id, ()) if zone.role == "county" else (),
                self._policy.trip_grace_s,
            )
            for zone in zones
        ]
        states = [_track_of(tracks.get((person_id, z.zone_id)), device_id) for z in zones]
        changed = [False] * len(zones)
        for i, raw in enumerate(fixes):
            fix = rules.Fix(
                raw.boot, raw.seq, raw.ts, raw.lat, raw.lon, raw.accuracy_m, _SOURCE[raw.source]
            )
            for z, zone in enumerate(zones):
                outcomes, did_change = rules.step(
                    states[z], zone_rules[z], fix, verdicts[z][i], sows[i], zone.distance(fix)
                )
                changed[z] = changed[z] or did_change
                for outcome in outcomes:
                    self._outcome(person_id, device_id, zone, outcome, fix)
        for z, zone in enumerate(zones):
            if changed[z]:
                _store_track(self._session, tracks, person_id, zone.zone_id, states[z], device_id)

    def _outcome(
        self,
        person_id: int,
        device_id: str,
        zone: LoadedZone,
        outcome: rules.Outcome,
        fix: rules.Fix,
    ) -> None:
        if outcome.kind == "state_changed":
            # Back from a trip is a change from outside: the first state ever known (a
            # baseline at home, before setting off) ends no permit.
            if (
                zone.role == "county"
                and outcome.explanation.get("from") == rules.OUTSIDE
                and outcome.explanation.get("to") == rules.INSIDE
            ):
                self._back_in_county(person_id, outcome.happened_ts)
            return
        if outcome.kind == "trip_overdue":
            self._trip_overdue(person_id, device_id, outcome, fix)
            return
        cause = outcome.cause
        if cause is None:
            return
        key = person_key(person_id, cause, zone.zone_id)
        if outcome.kind == "violation_ended":
            self._flush_continuing(key)
            ended = alerts.end_cause(
                self._session,
                key,
                utc(outcome.happened_ts),
                self._now,
                str(outcome.explanation.get("decision", "")),
            )
            if ended is not None:
                self.report.ended += 1
                self.report.alert_ids.add(ended.id)
            return
        verbs = {"zone_left": "left", "zone_entered": "entered", "curfew_broken": "is outside"}
        summary = f"{self._name(person_id)} {verbs[cause]} zone {zone.name}"
        if outcome.kind == "violation_started":
            self._flush_continuing(key)
        draft = alerts.AlertDraft(
            subject_key=key,
            cause=cause,
            severity=self._severity(cause),
            summary=summary,
            happened_at=utc(outcome.happened_ts),
            explanation=outcome.explanation,
            person_id=person_id,
            device_id=device_id,
            zone_id=zone.zone_id,
            evidence_at=utc(fix.ts),
        )
        if outcome.kind == "violation_continues":
            _earlier, count = self._continuing.get(key, (draft, 0))
            self._continuing[key] = (draft, count + 1)
        else:
            self._raise(draft)

    def _flush_continuing(self, key: str) -> None:
        pending = self._continuing.pop(key, None)
        if pending is not None:
            self._raise(*pending)

    def _fixes_arrived(
        self, person_id: int, fixes: Sequence[LocationFix], open_keys: set[str]
    ) -> None:
        newest = max(fixes, key=lambda f: f.ts)
        key = person_key(person_id, "no_fix")
        if key in open_keys:
            ended = alerts.end_cause(
                self._session, key, utc(newest.ts), self._now, "fixes arrive again"
            )
            if ended is not None:
                self.report.ended += 1
                self.report.alert_ids.add(ended.id)
        for request in self._locating.get(person_id, ()):
            fresh = [f for f in fixes if utc(f.ts) >= request.requested_at]
            if fresh:
                first = min(fresh, key=lambda f: (f.boot, f.seq))
                request.located_at = utc(first.ts)
                request.fix_json = json.dumps(_fix_json(first))

    def _trip_overdue(
        self, person_id: int, device_id: str, outcome: rules.Outcome, fix: rules.Fix
    ) -> None:
        """Away after the permit's end: the same alert the trips check raises for a
        bracelet gone silent (one subject), raised once and updated while it lasts."""
        key = person_key(person_id, "trip_overdue")
        permit = self._session.get(TravelPermit, outcome.explanation["permit"]["id"])
        destination = permit.destination if permit is not None else "a trip"
        if permit is not None and permit.status == "approved":
            permit.status = "overdue"
        draft = alerts.AlertDraft(
            subject_key=key,
            cause="trip_overdue",
            severity=self._severity("trip_overdue"),
            summary=f"{self._name(person_id)} is not back from {destination}",
            happened_at=utc(outcome.happened_ts),
            explanation=outcome.explanation,
            person_id=person_id,
            device_id=device_id,
            evidence_at=utc(fix.ts),
        )
        if key in self._continuing or alerts.open_alert(self._session, key) is not None:
            _earlier, count = self._continuing.get(key, (draft, 0))
            self._continuing[key] = (draft, count + 1)
        else:
            self._raise(draft)

    def _back_in_county(self, person_id: int, ts: int) -> None:
        for permit in self._session.scalars(
            select(TravelPermit).where(
                TravelPermit.person_id == person_id,
                TravelPermit.status.in_(("approved", "overdue")),
                TravelPermit.starts_at <= utc(ts),
            )
        ):
            permit.status = "returned"
            permit.returned_at = utc(ts)
            key = person_key(person_id, "trip_overdue")
            ended = alerts.end_cause(self._session, key, utc(ts), self._now, "back in the county")
            if ended is not None:
                self.report.ended += 1
                self.report.alert_ids.add(ended.id)

    # --- events and health ------------------------------------------------------------

    def _conditions(
        self, person_id: int, device_id: str, records: Sequence[Message], open_keys: set[str]
    ) -> None:
        condition = self._session.get(DeviceCondition, device_id)
        if condition is None:
            condition = DeviceCondition(device_id=device_id)
            self._session.add(condition)
        for record in records:
            if isinstance(record, Event):
                self._event(person_id, device_id, record, condition)
            elif isinstance(record, Health):
                self._health(person_id, device_id, record, condition)
            if condition.powered_off_boot is not None and record.boot > condition.powered_off_boot:  # type: ignore[attr-defined]
                self._end(person_key(person_id, "power_off"), record.ts, "the bracelet is on again")  # type: ignore[attr-defined]
                condition.powered_off_boot = None

    def _event(
        self, person_id: int, device_id: str, event: Event, condition: DeviceCondition
    ) -> None:
        code = event.code
        if code == c.EV_ROLL_CALL_RESPONSE:
            self._roll_call_answer(person_id, device_id, event)
            return
        if code == c.EV_STRAP_CLOSED:
            condition.strap_open_since_ts = None
            self._end(person_key(person_id, "strap_opened"), event.ts, "the strap closed")
            return
        cause = {
            c.EV_STRAP_OPENED: "strap_opened",
            c.EV_SOS: "sos",
            c.EV_LOW_BATTERY: "low_battery",
            c.EV_POWER_OFF: "power_off",
        }.get(code)
        if cause is None:
            return  # a crossing the bracelet recorded: stored; the cloud's rules decide
        if cause == "strap_opened":
            condition.strap_open_since_ts = event.ts
        elif cause == "low_battery":
            condition.low_battery_since_ts = event.ts
        elif cause == "power_off":
            condition.powered_off_boot = event.boot
        texts = {
            "strap_opened": "the strap of {name}'s bracelet opened",
            "sos": "{name} pressed SOS",
            "low_battery": "the battery of {name}'s bracelet is low",
            "power_off": "{name}'s bracelet powered off",
        }
        self._raise(
            alerts.AlertDraft(
                subject_key=person_key(person_id, cause),
                cause=cause,
                severity=self._severity(cause),
                summary=texts[cause].format(name=self._name(person_id)),
                happened_at=utc(event.ts),
                explanation=_event_explanation(event),
                person_id=person_id,
                device_id=device_id,
                evidence_at=utc(event.ts),
            )
        )

    def _health(
        self, person_id: int, device_id: str, health: Health, condition: DeviceCondition
    ) -> None:
        low = not health.charging and health.battery_pct <= self._policy.low_battery_pct
        if low and condition.low_battery_since_ts is None:
            condition.low_battery_since_ts = health.ts
            self._raise(
                alerts.AlertDraft(
                    subject_key=person_key(person_id, "low_battery"),
                    cause="low_battery",
                    severity=self._severity("low_battery"),
                    summary=f"the battery of {self._name(person_id)}'s bracelet is low",
                    happened_at=utc(health.ts),
                    explanation={
                        "rule": {"cause": "low_battery", "below_pct": self._policy.low_battery_pct},
                        "health": {
                            "boot": health.boot,
                            "seq": health.seq,
                            "ts": health.ts,
                            "battery_pct": health.battery_pct,
                            "charging": health.charging,
                        },
                        "decision": f"battery {health.battery_pct}% <= {self._policy.low_battery_pct}%, not charging",
                    },
                    person_id=person_id,
                    device_id=device_id,
                )
            )
        elif condition.low_battery_since_ts is not None and (
            health.charging or health.battery_pct >= self._policy.battery_recovered_pct
        ):
            condition.low_battery_since_ts = None
            why = "charging" if health.charging else f"battery at {health.battery_pct}%"
            self._end(person_key(person_id, "low_battery"), health.ts, why)

    def _roll_call_answer(self, person_id: int, device_id: str, event: Event) -> None:
        roll_call = None
        if event.command_id is not None:
            roll_call = self._session.scalar(
                select(RollCall).where(
                    RollCall.device_id == device_id, RollCall.command_id == event.command_id
                )
            )
        if roll_call is None:
            return  # an answer to no roll call of ours: stored, nothing to decide
        missed = event.roll_call_result == c.ROLL_CALL_MISSED
        # The scheduler may have called it missed before a late answer came: the answer
        # is recorded with its device time, and the missed alert's cause ends.
        roll_call.answered_at = utc(event.ts)
        roll_call.response_s = event.response_s
        if event.fix is not None:
            roll_call.fix_json = json.dumps(event.fix.as_list())
        if missed:
            roll_call.status = "missed"
            self._roll_call_missed(
                person_id, device_id, roll_call, event.ts, "the wearer did not answer in the window"
            )
        else:
            was_missed = roll_call.status == "missed"
            roll_call.status = "answered"
            if was_missed:
                self._end(person_key(person_id, "roll_call_missed"), event.ts, "answered late")

    def _roll_call_missed(
        self, person_id: int, device_id: str, roll_call: RollCall, ts: int, why: str
    ) -> None:
        self._raise(
            alerts.AlertDraft(
                subject_key=person_key(person_id, "roll_call_missed"),
                cause="roll_call_missed",
                severity=self._severity("roll_call_missed"),
                summary=f"{self._name(person_id)} missed a roll call",
                happened_at=utc(ts),
                explanation={
                    "rule": {"cause": "roll_call_missed", "window_s": roll_call.window_s},
                    "roll_call": {
                        "id": roll_call.id,
                        "command_id": roll_call.command_id,
                        "issued_at": roll_call.issued_at,
                        "due_at": roll_call.due_at,
                    },
                    "decision": why,
                },
                person_id=person_id,
                device_id=device_id,
            )
        )

    # --- shared -----------------------------------------------------------------------

    def _raise(self, draft: alerts.AlertDraft, occurrences: int = 1) -> None:
        alert, new = alerts.raise_alert(self._session, draft, self._now, occurrences)
        if new:
            self.report.raised += 1
        else:
            self.report.updated += 1
        self.report.alert_ids.add(alert.id)

    def _end(self, key: str, ts: int, why: str) -> None:
        ended = alerts.end_cause(self._session, key, utc(ts), self._now, why)
        if ended is not None:
            self.report.ended += 1
            self.report.alert_ids.add(ended.id)

    def _severity(self, cause: str) -> str:
        return self._policy.severities.get(cause, DEFAULT_SEVERITIES[cause])

    def _name(self, person_id: int) -> str:
        if person_id not in self._names:
            person = self._session.get(SupervisedPerson, person_id)
            self._names[person_id] = person.name if person is not None else f"person {person_id}"
        return self._names[person_id]

    def _pending_locates(self, persons: Iterable[int]) -> dict[int, list[LocateRequest]]:
        """Locate-now requests still waiting for their fix, by person, in one query."""
        wanted = sorted(set(persons))
        out: dict[int, list[LocateRequest]] = defaultdict(list)
        if wanted:
            for request in self._session.scalars(
                select(LocateRequest).where(
                    LocateRequest.person_id.in_(wanted), LocateRequest.located_at.is_(None)
                )
            ):
                out[request.person_id].append(request)
        return out

    def _tracks(self, persons: Iterable[int]) -> dict[tuple[int, int], ZoneTrack]:
        wanted = sorted(set(persons))
        if not wanted:
            return {}
        rows = self._session.scalars(select(ZoneTrack).where(ZoneTrack.person_id.in_(wanted)))
        return {(row.person_id, row.zone_id): row for row in rows}

    def _open_keys(self, persons: Iterable[int]) -> set[str]:
        wanted = sorted(set(persons))
        return set(
            self._session.scalars(
                select(Alert.subject_key).where(
                    Alert.person_id.in_(wanted), Alert.status.in_(OPEN_STATUSES)
                )
            )
        )

    def _suspensions(
        self, persons: Iterable[int], span: Sequence[int]
    ) -> dict[int, list[tuple[int, int, int]]]:
        """Permits' windows by person: those overlapping the batch's fixes, and those not
        yet returned from (a person away after the end left under them)."""
        out: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        wanted = sorted(set(persons))
        if not wanted:
            return out
        for permit in self._session.scalars(
            select(TravelPermit).where(
                TravelPermit.person_id.in_(wanted),
                TravelPermit.starts_at <= utc(max(span)),
                or_(
                    TravelPermit.status.in_(("approved", "overdue")),
                    (TravelPermit.status == "returned") & (TravelPermit.ends_at >= utc(min(span))),
                ),
            )
        ):
            end = permit.returned_at if permit.returned_at is not None else permit.ends_at
            out[permit.person_id].append(
                (int(permit.starts_at.timestamp()), int(end.timestamp()), permit.id)
            )
        return out


def batch_verdicts(
    work: Mapping[str, tuple[Sequence[LocationFix], Sequence[LoadedZone]]],
) -> dict[str, list[list[int]]]:
    """Every fix of the batch against each zone of its wearer, in one vectorised call:
    by device, ``[zone][fix]`` verdicts (``core.geofence``)."""
    shapes: dict[int, int] = {}
    shape_list: list[ZoneShape] = []
    index: list[int] = []
    lat: list[int] = []
    lon: list[int] = []
    acc: list[int] = []
    for fixes, zones in work.values():
        for zone in zones:
            if zone.zone_id not in shapes:
                shapes[zone.zone_id] = len(shape_list)
                shape_list.append(zone.shape)
            z = shapes[zone.zone_id]
            for f in fixes:
                index.append(z)
                lat.append(f.lat_e7)
                lon.append(f.lon_e7)
                acc.append(f.accuracy_m)
    if not index:
        return {}
    verdicts = classify_pairs(
        zone_set(shape_list),
        np.asarray(index, dtype=np.intp),
        np.asarray(lat, dtype=np.float64) / 1e7,
        np.asarray(lon, dtype=np.float64) / 1e7,
        np.asarray(acc, dtype=np.float64),
    ).tolist()
    out: dict[str, list[list[int]]] = {}
    at = 0
    for device_id, (fixes, zones) in work.items():
        rows = []
        for _zone in zones:
            rows.append(verdicts[at : at + len(fixes)])
            at += len(fixes)
        out[device_id] = rows
    return out


def evaluate(
    session: Session,
    records: Mapping[str, Sequence[Message]],
    wearers: Mapping[str, int],
    now: datetime,
    tz: ZoneInfo,
    policy: AlertPolicy | None = None,
) -> Evaluation:
    """Evaluate a batch's new records of worn bracelets (see the module's docstring)."""
    return Evaluator(session, now, tz, policy or AlertPolicy()).run(records, wearers)


def _track_of(row: ZoneTrack | None, device_id: str) -> rules.Track:
    if row is None:
        return rules.Track()
    same_bracelet = row.device_id == device_id
    return rules.Track(
        state=row.state,
        since_ts=row.since_ts,
        candidate=row.candidate,
        candidate_since_ts=row.candidate_since_ts,
        candidate_fix=json.loads(row.candidate_fix_json) if row.candidate_fix_json else None,
        violating_since_ts=row.violating_since_ts,
        boot=row.boot if same_bracelet else None,
        seq=row.seq if same_bracelet else None,
    )


def _store_track(
    session: Session,
    tracks: dict[tuple[int, int], ZoneTrack],
    person_id: int,
    zone_id: int,
    track: rules.Track,
    device_id: str,
) -> None:
    row = tracks.get((person_id, zone_id))
    if row is None:
        row = ZoneTrack(person_id=person_id, zone_id=zone_id)
        session.add(row)
        tracks[(person_id, zone_id)] = row
    row.state = track.state
    row.since_ts = track.since_ts
    row.candidate = track.candidate
    row.candidate_since_ts = track.candidate_since_ts
    row.candidate_fix_json = json.dumps(track.candidate_fix) if track.candidate_fix else None
    row.violating_since_ts = track.violating_since_ts
    row.device_id = device_id
    row.boot = track.boot
    row.seq = track.seq


def _fix_json(fix: LocationFix) -> dict[str, Any]:
    return {
        "boot": fix.boot,
        "seq": fix.seq,
        "ts": fix.ts,
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
        "source": _SOURCE[fix.source],
    }


def _event_explanation(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": {"cause": c.EVENT_NAMES.get(event.code, str(event.code))},
        "event": {"boot": event.boot, "seq": event.seq, "ts": event.ts, "code": event.code},
        "decision": "the bracelet reported it",
    }
    if event.battery_pct is not None:
        out["event"]["battery_pct"] = event.battery_pct
    if event.fix is not None:
        lat_e7, lon_e7, accuracy_m, source = event.fix.as_list()
        out["fixes"] = [
            {
                "lat": lat_e7 / 1e7,
                "lon": lon_e7 / 1e7,
                "accuracy_m": accuracy_m,
                "source": _SOURCE.get(source, str(source)),
                "ts": event.ts,
            }
        ]
    return out
