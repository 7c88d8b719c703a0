"""Zone rules in device time: sure fixes held for a dwell time change a person's state,
and a bad state while the zone's schedule is on is a violation. Pure: no I/O.

A fix's verdict for a zone (``core.geofence``: surely inside, surely outside,
undecided by its accuracy) comes from the caller, vectorised over a batch
(``cloud.supervision.geometry``). ``step`` takes one fix of one person for one zone,
in (boot, seq) order, and mutates the person's ``Track`` of that zone; it returns what
an alert must learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core import geofence
from core import schedule as weekly

INSIDE = "inside"
OUTSIDE = "outside"
UNKNOWN = "unknown"

_STATE_OF_VERDICT = {geofence.INSIDE: INSIDE, geofence.OUTSIDE: OUTSIDE}
_VERDICT_NAMES = {
    geofence.INSIDE: "inside",
    geofence.OUTSIDE: "outside",
    geofence.UNDECIDED: "undecided",
}


# The fix's signed distance to the zone's edge in metres (< 0 inside), computed on demand:
# only the fixes an explanation keeps need it.
EdgeDistance = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Fix:
    """A location fix of one bracelet, in device time."""

    boot: int
    seq: int
    ts: int
    lat: float
    lon: float
    accuracy_m: int
    source: str

    def evidence(self, verdict: int, distance: EdgeDistance | None = None) -> dict[str, Any]:
        """The fix as an alert's explanation shows it; ``distance`` is asked only now."""
        distance_m = distance() if distance is not None else None
        out: dict[str, Any] = {
            "boot": self.boot,
            "seq": self.seq,
            "ts": self.ts,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "accuracy_m": self.accuracy_m,
            "source": self.source,
            "verdict": _VERDICT_NAMES[verdict],
        }
        if distance_m is not None:
            out["edge_distance_m"] = round(distance_m, 1)  # < 0 inside
        return out


@dataclass(frozen=True)
class ZoneRule:
    """One zone as a rule for one person: what is bad, when, for how long held."""

    zone_id: int
    name: str
    rule: str  # inclusion | exclusion
    role: str  # home | county | destination | other
    dwell_s: int
    windows: Sequence[weekly.Window] = ()
    schedule_text: str = ""
    # Travel permits' windows (start ts, end ts) during which a county zone is off.
    suspended: Sequence[tuple[int, int, int]] = ()  # (start ts, end ts, permit id)
    # How long after a permit's end a person who left under it may still be away.
    trip_grace_s: int = 0

    @property
    def cause(self) -> str | None:
        """The alert cause a violation of this zone raises; None: this zone never alerts."""
        if self.role == "destination":
            return None
        if self.rule == "exclusion":
            return "zone_entered"
        return "curfew_broken" if self.windows else "zone_left"

    def bad(self, state: str) -> bool:
        return state == (OUTSIDE if self.rule == "inclusion" else INSIDE)

    def suspension_at(self, ts: int) -> int | None:
        """The permit that suspends this zone at ``ts``, if any."""
        for start, end, permit_id in self.suspended:
            if start <= ts < end:
                return permit_id
        return None

    def trip_of(self, track: Track) -> tuple[int, int, int] | None:
        """The permit under which a person outside this county zone left, if they did."""
        if self.role != "county" or track.state != OUTSIDE or track.since_ts is None:
            return None
        for window in self.suspended:
            if window[0] <= track.since_ts < window[1]:
                return window
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "zone_id": self.zone_id,
            "zone": self.name,
            "rule": self.rule,
            "role": self.role,
            "dwell_s": self.dwell_s,
            "schedule": self.schedule_text or "always",
            "cause": self.cause,
        }


@dataclass
class Track:
    """A person's standing with one zone (stored as ``ZoneTrack``)."""

    state: str = UNKNOWN
    since_ts: int | None = None
    candidate: str | None = None
    candidate_since_ts: int | None = None
    candidate_fix: dict[str, Any] | None = None
    violating_since_ts: int | None = None
    boot: int | None = None
    seq: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one fix decided for one zone, for the alerts."""

    # violation_started | violation_continues | violation_ended | state_changed | trip_overdue
    kind: str
    zone_id: int
    cause: str | None
    happened_ts: int
    explanation: dict[str, Any] = field(default_factory=dict)


def step(
    track: Track,
    rule: ZoneRule,
    fix: Fix,
    verdict: int,
    local_sow: int,
    distance: EdgeDistance | None = None,
) -> tuple[list[Outcome], bool]:
    """Apply one fix; returns the outcomes and whether ``track`` changed."""
    if (
        track.boot is not None
        and track.seq is not None
        and (fix.boot, fix.seq)
        <= (
            track.boot,
            track.seq,
        )
    ):
        return [], False  # older than the fix that last decided: evaluated, not applied
    sure = _STATE_OF_VERDICT.get(verdict)
    if (
        track.candidate is None
        and (sure is None or sure == track.state)
        and not rule.windows
        and not rule.suspended
    ):
        # The common case, a fix that confirms what is known of an always-on zone: the
        # state cannot change, and a violation neither starts nor ends.
        cause = rule.cause
        violating = track.violating_since_ts is not None
        if cause is None or rule.bad(track.state) == violating:
            if not violating or sure is None or cause is None:
                return [], False
            continuing = {"rule": rule.describe(), "fixes": [fix.evidence(verdict, distance)]}
            since = track.violating_since_ts or fix.ts
            return [Outcome("violation_continues", rule.zone_id, cause, since, continuing)], False
    outcomes: list[Outcome] = []
    changed = False
    if sure is not None:
        changed, transition = _apply_sure(track, rule, fix, sure, verdict, distance)
        if transition is not None:
            outcomes.append(transition)
    violation_changed, violation = _violation(track, rule, fix, verdict, local_sow, distance)
    if violation is not None:
        if outcomes and violation.kind == "violation_started":
            # Decided by this very transition: its fixes (first sure, held) explain it.
            violation.explanation["fixes"] = outcomes[-1].explanation["fixes"]
            violation.explanation["held_s"] = outcomes[-1].explanation["held_s"]
        outcomes.append(violation)
    if changed or violation_changed:
        track.boot, track.seq = fix.boot, fix.seq
    return outcomes, changed or violation_changed


def _apply_sure(
    track: Track, rule: ZoneRule, fix: Fix, sure: str, verdict: int, distance: EdgeDistance | None
) -> tuple[bool, Outcome | None]:
    if track.state == sure:
        if track.candidate is None:
            return False, None
        _clear_candidate(track)  # the other state did not hold: jitter
        return True, None
    if track.candidate != sure:
        track.candidate = sure
        track.candidate_since_ts = fix.ts
        track.candidate_fix = fix.evidence(verdict, distance)
        if rule.dwell_s > 0:
            return True, None
    held_s = fix.ts - (track.candidate_since_ts or fix.ts)
    if held_s < rule.dwell_s:
        return False, None
    first = track.candidate_fix
    previous = track.state
    track.state = sure
    track.since_ts = track.candidate_since_ts
    _clear_candidate(track)
    fixes = (
        [first]
        if first is not None and first.get("seq") == fix.seq
        else [first, fix.evidence(verdict, distance)]
    )
    explanation = {
        "rule": rule.describe(),
        "from": previous,
        "to": sure,
        "held_s": held_s,
        "fixes": [f for f in fixes if f is not None],
        "decision": f"sure {sure} fixes held {held_s} s (dwell {rule.dwell_s} s)",
    }
    return True, Outcome("state_changed", rule.zone_id, None, track.since_ts or fix.ts, explanation)


def _violation(
    track: Track,
    rule: ZoneRule,
    fix: Fix,
    verdict: int,
    local_sow: int,
    distance: EdgeDistance | None,
) -> tuple[bool, Outcome | None]:
    cause = rule.cause
    if cause is None:
        return False, None
    scheduled = weekly.active(list(rule.windows), local_sow)
    permit = rule.suspension_at(fix.ts)
    trip = rule.trip_of(track) if permit is None else None
    if trip is not None and track.violating_since_ts is None:
        return False, _overdue(rule, trip, track, fix, verdict, distance)
    violating = scheduled and permit is None and rule.bad(track.state)
    if violating:
        if track.violating_since_ts is not None:
            if _STATE_OF_VERDICT.get(verdict) != track.state:
                return False, None  # nothing new: an undecided fix
            return False, Outcome(
                "violation_continues",
                rule.zone_id,
                cause,
                track.violating_since_ts,
                {"rule": rule.describe(), "fixes": [fix.evidence(verdict, distance)]},
            )
        if _STATE_OF_VERDICT.get(verdict) != track.state:
            # A violation starts only on a sure fix showing it now: a state known from hours
            # ago, with coarse fixes since (indoors, on cell), is no evidence of a curfew
            # broken at 22:00.
            return False, None
        since = track.since_ts if track.since_ts is not None else fix.ts
        opened_ago = weekly.opened_ago_s(list(rule.windows), local_sow) if rule.windows else None
        window_opened = fix.ts - opened_ago if opened_ago is not None else None
        happened = max(since, window_opened) if window_opened is not None else since
        track.violating_since_ts = happened
        explanation: dict[str, Any] = {
            "rule": rule.describe(),
            "state": track.state,
            "state_since_ts": since,
            "fixes": [fix.evidence(verdict, distance)],
            "decision": _decision_text(rule, track.state, since, window_opened),
        }
        if window_opened is not None:
            explanation["window_opened_ts"] = window_opened
        return True, Outcome("violation_started", rule.zone_id, cause, happened, explanation)
    if track.violating_since_ts is None:
        return False, None
    track.violating_since_ts = None
    if permit is not None:
        why, ended = f"suspended by travel permit {permit}", fix.ts
    elif not scheduled:
        why, ended = "the schedule's window closed", fix.ts
    else:
        why, ended = f"now {track.state}", track.since_ts or fix.ts
    return True, Outcome(
        "violation_ended",
        rule.zone_id,
        cause,
        ended,
        {"rule": rule.describe(), "fixes": [fix.evidence(verdict, distance)], "decision": why},
    )


def _overdue(
    rule: ZoneRule,
    trip: tuple[int, int, int],
    track: Track,
    fix: Fix,
    verdict: int,
    distance: EdgeDistance | None,
) -> Outcome | None:
    """Away after a permit's end: not a zone left (the permit allowed the leaving) but a
    trip overdue, shown, like any violation, only by a sure fix outside once the permit
    and its grace are over. Coarse fixes near home after a trip decide nothing."""
    _start, end, permit_id = trip
    if fix.ts < end + rule.trip_grace_s or verdict != geofence.OUTSIDE:
        return None
    explanation = {
        "rule": {**rule.describe(), "cause": "trip_overdue", "grace_s": rule.trip_grace_s},
        "permit": {"id": permit_id, "ends_ts": end},
        "state": OUTSIDE,
        "state_since_ts": track.since_ts,
        "fixes": [fix.evidence(verdict, distance)],
        "decision": f"left under travel permit {permit_id} and surely outside "
        f"{rule.name!r} after it ended (grace {rule.trip_grace_s} s)",
    }
    return Outcome("trip_overdue", rule.zone_id, "trip_overdue", end, explanation)


def _decision_text(rule: ZoneRule, state: str, since: int, window_opened: int | None) -> str:
    kind = "inclusion zone" if rule.rule == "inclusion" else "exclusion zone"
    text = f"{state} the {kind} {rule.name!r}, decided by sure fixes held {rule.dwell_s} s"
    if window_opened is not None:
        text += f", while its schedule ({rule.schedule_text}) is on"
    return text


def _clear_candidate(track: Track) -> None:
    track.candidate = None
    track.candidate_since_ts = None
    track.candidate_fix = None
