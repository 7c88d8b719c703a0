"""``fieldwatch bench alerts``: scripted incidents through the whole pipeline, scored
against the ground truth of the simulated world.

What one run does:

1. **The stack** as ``bench pipeline`` and ``bench chaos`` start it (``stack.py``): a
   private Mosquitto and InfluxDB, ``fieldwatch cloud serve`` (SQLite) with short
   time-driven settings (``absent_after_s``, ``roll_call_grace_s``, ``trip_grace_s``,
   ``scheduler_interval_s`` = 1), ``fieldwatch edge run``.
2. **Supervision** set up in the cloud's database with its own service
   (``cloud.supervision.service``): a person per bracelet, the bracelet worn
   (``assign_bracelet``), the county (inclusion, role county), the scenario's exclusion
   zones, a home circle with a curfew for those whose incidents keep them home, travel
   permits for two of the trips, roll calls sent while the fleet runs. A zone the
   wearer's ordinary day would break (a home inside an exclusion zone) is not given to
   them, and the report says so.
3. **The fleet** (``fieldwatch_dev.simulator``, the real bracelet agents) runs the
   scenario ``incidents.json`` in real time: device time is the wall clock, as the
   receivers require (a record more than 120 s ahead of their clock is quarantined, and
   the cloud's time-driven checks run on its own clock). The world's local clock is set
   so that the curfew (22:00-06:00) opens a little after the start: everyone is home,
   indoors, on cell and Wi-Fi fixes, and homes lie near the zones' edges. A background
   load from the load generator (one fix a message, by worn bracelets inside the county)
   stands for the rest of a district's traffic.
4. **Ground truth** from the world, not from the alerts: each second of each wearer's
   true position against the zones they were given, the scenario's incidents (a strap
   cut, an SOS, a battery run down, radios off, roll calls ignored or answered too late)
   and the permits' windows. Each gives the alert it must raise (or none).
5. **Score**: every alert in the cloud's ``alerts`` table matched to an incident (same
   bracelet, cause and zone); per cause the incidents, alerts, missed alerts and false
   alarms (no incident behind the alert, or a second alert for one incident), and two
   delays: from the record that decided it (or, for the cloud's clock checks, the moment
   their deadline passed) to ``raised_at``, and from the world's moment of the incident.
   Misses and false alarms are listed with the fixes around them and what the alert said.

``--chaos`` runs the same while the chaos run's faults (``chaos.py``: gateway and cloud
SIGKILLed, InfluxDB stopped, Mosquitto restarted, the uplink cut) come at seeded times.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.alerts.models import Alert
from cloud.db.engine import make_engine, make_sessions
from cloud.errors import CloudError
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.supervision import service as supervision
from core import contract as c
from fieldwatch_dev.bench.chaos import InjectedFault, plan_faults
from fieldwatch_dev.bench.console import cpu_seconds
from fieldwatch_dev.bench.influx import InfluxReader
from fieldwatch_dev.bench.loadgen import LoadProcess, LoadSpec
from fieldwatch_dev.bench.stack import Stack
from fieldwatch_dev.simulator.fleet import Fleet, bracelet_id
from fieldwatch_dev.simulator.scenario import (
    SCENARIO_DIR,
    BraceletIncident,
    Scenario,
    load_scenario,
)
from fieldwatch_dev.simulator.world import World, distance_m

INCIDENTS_SCENARIO = SCENARIO_DIR / "incidents.json"
CLOUD_ZONE = ZoneInfo("Asia/Shanghai")  # the cloud's console_timezone: its schedules' clock
CURFEW_LOCAL = "22:00"  # the world's local time at which the curfew opens
CURFEW_HOURS = 8
CURFEW_AFTER_S = 120  # the curfew opens at the first whole minute this long after the start
HOME_RADIUS_M = 300.0
ZONE_DWELL_S = 30
ROLL_CALL_AT_S = 40
ROLL_CALL_WINDOW_S = 60
# The leave_county incidents of incidents.json given an approved permit: one the wearer
# comes back within, two that end while they are away (this long after their crossing
# out of the county). Two begin a minute before the run, while the wearers are at home;
# one when its wearer sets off.
RETURNS, OVERDUE = "returns", "overdue"
BEFORE_RUN, AT_DEPARTURE = "before the run", "at departure"
PERMITS = {9: (RETURNS, BEFORE_RUN), 10: (OVERDUE, BEFORE_RUN), 16: (OVERDUE, AT_DEPARTURE)}
PERMIT_BEFORE_S = 60
PERMIT_AFTER_RETURN_S = 60
OVERDUE_AFTER_CROSSING_S = 40
BACKGROUND_FIRST = 900_001  # background bracelets are br-900001, ...
LOW_BATTERY_PCT = 20  # the cloud's and the bracelet's default threshold
POWER_OFF_PCT = 2  # the bracelet powers off below this
SOS_HOLD_S = 2
TARGET_P99_S = 2.0
ZONE_CAUSES = ("zone_entered", "zone_left", "curfew_broken")
SAMPLE_S = 5  # ordinary days are checked against a zone every this many seconds


@dataclass(frozen=True)
class AlertsOptions:
    """What one run does (``quick()``: a small fleet and a light background)."""

    bracelets: int = 40
    background_rate: float = 3000.0  # readings/s, one a message: half the sustained 6,000
    background_devices: int = 20
    seconds: int = 285  # of the fleet's run (the scripted incidents end before 250 s)
    seed: int = 1
    scenario: Path = INCIDENTS_SCENARIO
    chaos: bool = False
    max_outage_s: float = 12.0
    absent_after_s: int = 90
    roll_call_grace_s: int = 10
    trip_grace_s: int = 15
    scheduler_interval_s: float = 1.0

    @classmethod
    def quick(cls) -> AlertsOptions:
        return cls(bracelets=16, background_rate=200.0, background_devices=4)

    def cloud_settings(self) -> dict[str, object]:
        return {
            "scheduler_interval_s": self.scheduler_interval_s,
            "absent_after_s": self.absent_after_s,
            "roll_call_grace_s": self.roll_call_grace_s,
            "roll_call_window_s": ROLL_CALL_WINDOW_S,
            "trip_grace_s": self.trip_grace_s,
            "console_timezone": CLOUD_ZONE.key,
        }


# --- the plan: who wears what, which zones, permits and roll calls (pure) -----------------


@dataclass(frozen=True)
class ZonePlan:
    """A zone as the bench gives it to people (a circle, WGS-84)."""

    key: str  # "county", "school", "home:7"
    name: str
    rule: str  # inclusion | exclusion
    role: str  # county | home | other
    lat: float
    lon: float
    radius_m: float
    schedule: str = ""  # in the cloud's local time; "" always
    opens_ts: int | None = None  # the schedule's window during the run
    closes_ts: int | None = None

    @property
    def cause(self) -> str:
        if self.rule == "exclusion":
            return "zone_entered"
        return "curfew_broken" if self.schedule else "zone_left"

    def in_force(self, ts: int) -> bool:
        if self.opens_ts is None or self.closes_ts is None:
            return True
        return self.opens_ts <= ts < self.closes_ts

    def inside(self, lat: float, lon: float) -> bool:
        return distance_m(self.lat, self.lon, lat, lon) < self.radius_m

    def bad(self, inside: bool) -> bool:
        return inside if self.rule == "exclusion" else not inside


@dataclass(frozen=True)
class PermitPlan:
    device: int
    kind: str  # RETURNS | OVERDUE
    starts_ts: int
    ends_ts: int


@dataclass(frozen=True)
class RollCallPlan:
    device: int
    at_ts: int
    window_s: int
    why: str  # "ignores roll calls", "answers in N s", ...
    answered: bool


@dataclass
class Plan:
    """The run's supervision, all in device time (Unix seconds)."""

    start_ts: int
    curfew_opens_ts: int
    world: World
    bracelets: int
    zones: dict[int, list[ZonePlan]]  # device number -> its zones
    shared: list[ZonePlan]  # the county and the exclusion zones (background bracelets: these)
    permits: dict[int, PermitPlan]
    roll_calls: list[RollCallPlan]
    left_out: list[str] = field(default_factory=list)  # zones not given, and why

    def incidents(self, number: int) -> tuple[BraceletIncident, ...]:
        return self.world.wearer(number).incidents


def curfew_clock(start_ts: int) -> tuple[int, timezone]:
    """When the run's curfew opens (a whole minute), and the world's local clock that
    reads ``CURFEW_LOCAL`` then."""
    opens = -(-(start_ts + CURFEW_AFTER_S) // 60) * 60
    hour, minute = (int(part) for part in CURFEW_LOCAL.split(":"))
    offset = (hour * 3600 + minute * 60 - opens % 86400) % 86400
    if offset > 43200:
        offset -= 86400
    return opens, timezone(timedelta(seconds=offset))


def cloud_window(opens_ts: int, hours: int) -> str:
    """A daily window in the cloud's local time opening at ``opens_ts``."""
    start = datetime.fromtimestamp(opens_ts, CLOUD_ZONE)
    end = start + timedelta(hours=hours)
    return f"Mon-Sun {start:%H:%M}-{end:%H:%M}"


def world_for(scenario: Scenario, seed: int, start_ts: int) -> tuple[World, int]:
    """The scenario from ``start_ts``, its local clock at the curfew's opening."""
    opens, clock = curfew_clock(start_ts)
    moved = scenario.model_copy(update={"start": datetime.fromtimestamp(start_ts, clock)})
    return World(moved, seed), opens


def _ordinary(world: World) -> World:
    """The same people without their incidents: their ordinary day."""
    quiet = world.scenario.model_copy(update={"bracelet_incidents": []})
    return World(quiet, world.seed)


def _keeps(world: World, number: int, zone: ZonePlan, times: Iterable[int]) -> bool:
    """Whether the wearer's ordinary day keeps this zone at every sampled moment."""
    for ts in times:
        state = world.wearer_state(number, ts, None)
        if zone.in_force(ts) and zone.bad(zone.inside(state.lat, state.lon)):
            return False
    return True


# Incidents that take the wearer from home for a while (a visit raises nothing itself).
AWAY = ("leave_county", "visit")


def _away(incidents: Iterable[BraceletIncident]) -> bool:
    return any(i.kind in AWAY for i in incidents)


def _ordinary_wearer(incidents: Iterable[BraceletIncident]) -> bool:
    """No incident but visits: what the wearer does must raise no alert."""
    return all(i.kind == "visit" for i in incidents)


def make_plan(world: World, curfew_opens_ts: int, bracelets: int, seconds: int) -> Plan:
    """Zones, permits and roll calls for the run (see the module docstring)."""
    scenario = world.scenario
    start = world.start_ts
    county = scenario.county
    shared = [
        ZonePlan(
            "county", county.name, "inclusion", "county", county.lat, county.lon, county.radius_m
        )
    ]
    shared += [
        ZonePlan(z.name, z.name, "exclusion", "other", z.lat, z.lon, z.radius_m)
        for z in scenario.zones
    ]
    curfew = cloud_window(curfew_opens_ts, CURFEW_HOURS)
    closes = curfew_opens_ts + CURFEW_HOURS * 3600
    ordinary = _ordinary(world)
    times = range(start, start + seconds + 1, SAMPLE_S)
    plan = Plan(start, curfew_opens_ts, world, bracelets, {}, shared, {}, [])
    for number in range(1, bracelets + 1):
        wearer = world.wearer(number)
        candidates = list(shared)
        # Away on a trip or a visit, the home's curfew is another question (a permit
        # suspends the county only): those wearers get no home zone here.
        if not _away(wearer.incidents):
            home = ZonePlan(
                f"home:{number}",
                f"home of {bracelet_id(number)}",
                "inclusion",
                "home",
                wearer.home[0],
                wearer.home[1],
                HOME_RADIUS_M,
                curfew,
                curfew_opens_ts,
                closes,
            )
            candidates.append(home)
        given = []
        for zone in candidates:
            if _keeps(ordinary, number, zone, times):
                given.append(zone)
            else:
                plan.left_out.append(
                    f"{bracelet_id(number)}: not given {zone.name}, which its wearer's "
                    "ordinary day breaks"
                )
        plan.zones[number] = given
    for number, (kind, begins) in PERMITS.items():
        trip = _trip(world, number)
        if trip is None or number > bracelets:
            continue
        if kind == RETURNS:
            ends = start + trip.at_s + trip.duration_s + PERMIT_AFTER_RETURN_S
        else:
            crossing = first_bad_second(world, number, shared[0], start, start + seconds)
            ends = (crossing or start + trip.at_s) + OVERDUE_AFTER_CROSSING_S
        departs = start + trip.at_s - trip.travel_s
        starts = start - PERMIT_BEFORE_S if begins == BEFORE_RUN else departs
        plan.permits[number] = PermitPlan(number, kind, starts, ends)
    plan.roll_calls = _roll_calls(world, bracelets, start + ROLL_CALL_AT_S)
    return plan


def _trip(world: World, number: int) -> BraceletIncident | None:
    for incident in world.wearer(number).incidents:
        if incident.kind == "leave_county":
            return incident
    return None


def _roll_calls(world: World, bracelets: int, at_ts: int) -> list[RollCallPlan]:
    """One roll call to each wearer who ignores them, to the first ordinary wearer who
    answers well within the window, and to the first who answers after it."""
    calls = []
    quick = slow = None
    for number in range(1, bracelets + 1):
        wearer = world.wearer(number)
        kinds = {i.kind for i in wearer.incidents} - {"visit"}
        if "ignores_roll_calls" in kinds:
            calls.append(
                RollCallPlan(number, at_ts, ROLL_CALL_WINDOW_S, "ignores roll calls", False)
            )
        elif not kinds and quick is None and wearer.reaction_s <= ROLL_CALL_WINDOW_S - 30:
            quick = RollCallPlan(
                number, at_ts, ROLL_CALL_WINDOW_S, f"answers after {wearer.reaction_s} s", True
            )
        elif not kinds and slow is None and wearer.reaction_s >= ROLL_CALL_WINDOW_S + 15:
            slow = RollCallPlan(
                number, at_ts, ROLL_CALL_WINDOW_S, f"answers after {wearer.reaction_s} s", False
            )
    return calls + [c for c in (quick, slow) if c is not None]


# --- ground truth from the world (pure) ------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An incident and the alert it must raise."""

    device: int
    cause: str
    event_ts: int  # the world's moment of it (device time; for deadlines, the deadline)
    what: str
    zone: str | None = None  # ZonePlan.key, for zone causes
    clock: str = "device"  # "device": a record decides it; "cloud": the cloud's clock
    deadline_s: int = 0  # cloud clock: how long after event_ts the check may raise it


def first_bad_second(
    world: World, number: int, zone: ZonePlan, since: int, until: int
) -> int | None:
    """The first second in [since, until) at which the wearer is truly on the bad side."""
    for ts in range(since, until):
        state = world.wearer_state(number, ts, None)
        if zone.bad(zone.inside(state.lat, state.lon)):
            return ts
    return None


def _bad_runs(
    world: World, number: int, zone: ZonePlan, permit: PermitPlan | None, start: int, end: int
) -> list[tuple[int, int, bool, bool]]:
    """Runs [a, b) of seconds on the bad side while the zone is in force: with whether the
    run began when a permit ended, and whether the wearer was out of doors from a on."""
    runs = []
    begin: int | None = None
    outdoors = True
    for ts in range(start, end):
        state = world.wearer_state(number, ts, None)
        suspended = (
            permit is not None and zone.role == "county" and permit.starts_ts <= ts < permit.ends_ts
        )
        bad = zone.in_force(ts) and not suspended and zone.bad(zone.inside(state.lat, state.lon))
        if bad and begin is None:
            begin, outdoors = ts, state.outdoors
        elif bad and begin is not None and ts < begin + ZONE_DWELL_S:
            outdoors = outdoors and state.outdoors
        elif not bad and begin is not None:
            runs.append((begin, ts, permit is not None and begin == permit.ends_ts, outdoors))
            begin = None
    if begin is not None:
        runs.append((begin, end, permit is not None and begin == permit.ends_ts, outdoors))
    return runs


def ground_truth(plan: Plan, options: AlertsOptions) -> tuple[list[Expected], list[str]]:
    """Every alert the run must raise, and what the world holds that must raise none."""
    world = plan.world
    start, end = plan.start_ts, plan.start_ts + options.seconds
    expected: list[Expected] = []
    quiet: list[str] = []
    for number in range(1, plan.bracelets + 1):
        permit = plan.permits.get(number)
        for zone in plan.zones[number]:
            for a, b, after_permit, outdoors in _bad_runs(world, number, zone, permit, start, end):
                if after_permit and permit is not None:
                    expected.append(
                        Expected(
                            number,
                            "trip_overdue",
                            permit.ends_ts,
                            f"not back when the permit ended at t+{permit.ends_ts - start} s",
                            clock="cloud",
                            deadline_s=options.trip_grace_s,
                        )
                    )
                elif b - a >= ZONE_DWELL_S + 20 and outdoors:
                    expected.append(
                        Expected(
                            number,
                            zone.cause,
                            a,
                            f"{_side_words(zone)} at t+{a - start} s",
                            zone=zone.key,
                        )
                    )
                else:
                    quiet.append(
                        f"{bracelet_id(number)}: on the bad side of {zone.name} for {b - a} s "
                        "(too short to hold, or indoors): no alert expected"
                    )
        if permit is not None and permit.kind == RETURNS:
            quiet.append(
                f"{bracelet_id(number)}: a trip within its permit (back at "
                f"t+{_trip_end(world, number) - start} s, the permit ends at "
                f"t+{permit.ends_ts - start} s): no alert expected"
            )
        expected += _incident_alerts(plan, number, options, quiet)
    for call in plan.roll_calls:
        due = call.at_ts + call.window_s
        if call.answered:
            quiet.append(
                f"{bracelet_id(call.device)}: a roll call it {call.why}: no alert expected"
            )
        else:
            expected.append(
                Expected(
                    call.device,
                    "roll_call_missed",
                    due,
                    f"a roll call sent at t+{call.at_ts - start} s that it {call.why}",
                    clock="cloud",
                    deadline_s=options.roll_call_grace_s,
                )
            )
    return [e for e in expected if e.event_ts + e.deadline_s < end - 5], quiet


def _trip_end(world: World, number: int) -> int:
    trip = _trip(world, number)
    return world.start_ts + (trip.at_s + trip.duration_s if trip is not None else 0)


def _side_words(zone: ZonePlan) -> str:
    if zone.rule == "exclusion":
        return f"into the exclusion zone {zone.name}"
    if zone.role == "home":
        return "out of home during the curfew"
    return f"out of {zone.name}"


def _incident_alerts(
    plan: Plan, number: int, options: AlertsOptions, quiet: list[str]
) -> list[Expected]:
    world = plan.world
    start = plan.start_ts
    out = []
    for incident in plan.incidents(number):
        at = start + incident.at_s
        if incident.kind == "strap_cut":
            out.append(Expected(number, "strap_opened", at, f"strap cut at t+{incident.at_s} s"))
        elif incident.kind == "sos":
            out.append(
                Expected(number, "sos", at + SOS_HOLD_S, f"SOS held from t+{incident.at_s} s")
            )
        elif incident.kind == "battery_rundown":
            thresholds = (
                ("low_battery", LOW_BATTERY_PCT + 1, f"{LOW_BATTERY_PCT}% or less"),
                ("power_off", POWER_OFF_PCT, f"under {POWER_OFF_PCT}%"),
            )
            for cause, below, words in thresholds:
                ts = _battery_below(world, number, below, at, start + options.seconds)
                if ts is not None:
                    out.append(Expected(number, cause, ts, f"battery {words} at t+{ts - start} s"))
        elif incident.kind == "visit":
            place = world.scenario.place(incident.place or "")
            edges = [
                f"{abs(distance_m(z.lat, z.lon, place.lat, place.lon) - z.radius_m):.0f} m off "
                f"the edge of {z.name}"
                for z in plan.zones[number]
                if abs(distance_m(z.lat, z.lon, place.lat, place.lon) - z.radius_m) < 600
            ]
            quiet.append(
                f"{bracelet_id(number)}: indoors at the {place.name} from t+{incident.at_s} s"
                + (f", {', '.join(edges)}" if edges else "")
                + ": no alert expected"
            )
        elif incident.kind == "offline":
            longest_interval = 60  # a still wearer's fix interval: the last fix may be older
            if incident.duration_s >= options.absent_after_s + 5:
                out.append(
                    Expected(
                        number,
                        "no_fix",
                        at,
                        f"radio off t+{incident.at_s} to t+{incident.at_s + incident.duration_s} s",
                        clock="cloud",
                        deadline_s=options.absent_after_s,
                    )
                )
            elif incident.duration_s + longest_interval < options.absent_after_s:
                quiet.append(
                    f"{bracelet_id(number)}: radio off for {incident.duration_s} s, under "
                    f"absent_after_s ({options.absent_after_s} s): no alert expected"
                )
    return out


def _battery_below(world: World, number: int, below: int, since: int, until: int) -> int | None:
    for ts in range(since, until):
        if world.wearer_state(number, ts, None).battery_pct < below:
            return ts
    return None


def radio_off(world: World, number: int, ts: int) -> bool:
    elapsed = ts - world.start_ts
    return any(
        i.kind == "offline" and i.at_s <= elapsed < i.at_s + i.duration_s
        for i in world.wearer(number).incidents
    )


# --- the run --------------------------------------------------------------------------


@dataclass
class Registered:
    """What the bench put in the cloud's database: ids to read the alerts back by."""

    person_device: dict[int, int] = field(default_factory=dict)  # person id -> device number
    zone_keys: dict[int, str] = field(default_factory=dict)  # zone id -> ZonePlan.key
    permit_ids: dict[int, int] = field(default_factory=dict)  # device number -> permit id


def background_ids(count: int) -> list[str]:
    return [bracelet_id(BACKGROUND_FIRST + k) for k in range(count)]


def _device_number(device_id: str) -> int:
    return int(device_id.split("-")[1])


def register_supervision(database_url: str, plan: Plan, background: Sequence[str]) -> Registered:
    """Persons, worn bracelets, zones, permits and prosecutors, through the cloud's own
    supervision service, in one transaction."""
    now = datetime.now(UTC)
    registered = Registered()
    engine = make_engine(database_url)
    try:
        with make_sessions(engine).begin() as session:
            county_level = add_user(
                session,
                "bench-prosecutor",
                "bench-prosecutor-password",
                Role.prosecutor,
                now,
                approval_level="county",
            )
            local_level = add_user(
                session,
                "bench-local-prosecutor",
                "bench-local-password",
                Role.prosecutor,
                now,
                approval_level="local",
            )
            zones: dict[str, Any] = {}

            def zone_of(spec: ZonePlan) -> Any:
                if spec.key not in zones:
                    zones[spec.key] = supervision.add_zone(
                        session,
                        supervision.ZoneInput(
                            spec.name,
                            spec.rule,
                            "circle",
                            {"lat": spec.lat, "lon": spec.lon, "radius_m": spec.radius_m},
                            role=spec.role,
                            schedule=spec.schedule,
                            dwell_s=ZONE_DWELL_S,
                        ),
                        county_level.id,
                        now,
                    )
                    registered.zone_keys[zones[spec.key].id] = spec.key
                return zones[spec.key]

            wearers = [(n, bracelet_id(n), plan.zones[n]) for n in range(1, plan.bracelets + 1)]
            wearers += [(_device_number(d), d, plan.shared) for d in background]
            for number, device_id, given in wearers:
                person = supervision.add_person(
                    session,
                    f"case-bench-{number:06d}",
                    f"Bench wearer {number}",
                    prosecutor_id=county_level.id,
                    now=now,
                )
                registered.person_device[person.id] = number
                supervision.assign_bracelet(session, person, device_id, now, county_level.id)
                for spec in given:
                    supervision.assign_zone(session, zone_of(spec), person)
                permit = plan.permits.get(number)
                if permit is not None:
                    trip = supervision.request_trip(
                        session,
                        person,
                        plan.world.scenario.place(_trip_place(plan.world, number)).name,
                        datetime.fromtimestamp(permit.starts_ts, UTC),
                        datetime.fromtimestamp(permit.ends_ts, UTC),
                        local_level.id,
                        now,
                        reason=f"bench: a trip that {permit.kind}",
                    )
                    supervision.decide_trip(session, trip, True, "local", local_level.id, now)
                    registered.permit_ids[number] = trip.id
    finally:
        engine.dispose()
    return registered


def _trip_place(world: World, number: int) -> str:
    trip = _trip(world, number)
    assert trip is not None
    assert trip.place is not None
    return trip.place


def send_roll_call(database_url: str, number: int, window_s: int) -> None:
    """A roll call to the person wearing bracelet ``number``, as the console sends one."""
    engine = make_engine(database_url)
    try:
        with make_sessions(engine).begin() as session:
            person = supervision.get_person(session, f"case-bench-{number:06d}")
            supervision.send_roll_call(session, person, window_s, datetime.now(UTC))
    finally:
        engine.dispose()


class FleetClock:
    """The fleet on a thread of its own, one simulated second per wall second, noting the
    wall time at which each simulated second was worked (device time -> wall time)."""

    def __init__(self, fleet: Fleet, seconds: int) -> None:
        self.fleet = fleet
        self.seconds = seconds
        self.wall_of: dict[int, float] = {}
        self.error: BaseException | None = None
        self.behind_s = 0.0  # the most the simulated clock fell behind the wall
        self.behind_at = 0  # at which simulated second (from the start)
        self._thread = threading.Thread(target=self._run, name="alerts-fleet", daemon=True)

    def _run(self) -> None:
        try:
            began = time.monotonic()
            for tick in range(self.seconds):
                self.fleet.run(1, speedup=0)
                self.wall_of[self.fleet.now] = time.time()
                behind = time.monotonic() - began - tick
                if behind > self.behind_s:
                    self.behind_s, self.behind_at = behind, tick
                deadline = began + tick + 1
                while (left := deadline - time.monotonic()) > 0:
                    self.fleet.pump(min(left, 0.05))
        except BaseException as exc:
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error

    def wall(self, ts: float) -> float:
        """The wall time at which device second ``ts`` was worked (``ts`` if not run)."""
        return self.wall_of.get(int(ts), float(ts))


def _break(stack: Stack, kind: str) -> Callable[[], None]:
    """One of the chaos run's faults now (``chaos.py``); returns what brings the part back."""
    assert stack.gateway is not None
    assert stack.cloud is not None
    assert stack.influx is not None
    assert stack.broker is not None
    assert stack.proxy is not None
    parts: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "gateway_kill": (stack.gateway.kill, stack.gateway.start),
        "cloud_kill": (stack.cloud.kill, stack.cloud.start),
        "influx_stop": (stack.influx.stop, stack.influx.start),
        "broker_restart": (stack.broker.stop, stack.broker.start),
        "uplink_cut": (stack.proxy.cut, stack.proxy.restore),
    }
    stop, restore = parts[kind]
    stop()
    return restore


@dataclass(frozen=True)
class StoredFix:
    boot: int
    seq: int
    ts: int
    lat: float
    lon: float
    accuracy_m: int
    source: str


@dataclass(frozen=True)
class StoredEvent:
    boot: int
    seq: int
    ts: int
    code: int


@dataclass(frozen=True)
class SeenAlert:
    """A row of the cloud's ``alerts`` table, as the bench read it at the end."""

    id: int
    cause: str
    device: int | None  # bracelet number (person's bracelet for alerts without one)
    zone: str | None  # ZonePlan.key
    happened_ts: float
    raised_ts: float
    occurrences: int
    cause_ended_ts: float | None
    summary: str
    explanation: dict[str, Any]

    @property
    def decision(self) -> str:
        text = self.explanation.get("decision")
        return str(text) if text else ""


def read_alerts(database_url: str, registered: Registered) -> list[SeenAlert]:
    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            rows = list(session.scalars(select(Alert).order_by(Alert.id)))
            seen = []
            for row in rows:
                device = None
                if row.device_id is not None and row.device_id.startswith("br-"):
                    device = _device_number(row.device_id)
                elif row.person_id is not None:
                    device = registered.person_device.get(row.person_id)
                ended = row.cause_ended_at.timestamp() if row.cause_ended_at else None
                seen.append(
                    SeenAlert(
                        row.id,
                        row.cause,
                        device,
                        registered.zone_keys.get(row.zone_id) if row.zone_id else None,
                        row.happened_at.timestamp(),
                        row.raised_at.timestamp(),
                        row.occurrences,
                        ended,
                        row.summary,
                        json.loads(row.explanation_json or "{}"),
                    )
                )
            return seen
    finally:
        engine.dispose()


def read_permits(database_url: str, registered: Registered, start_ts: int) -> list[str]:
    """Each permit's end state, as the cloud's rules and checks left it."""
    engine = make_engine(database_url)
    lines = []
    try:
        with make_sessions(engine)() as session:
            for number, permit_id in sorted(registered.permit_ids.items()):
                permit = supervision.get_permit(session, permit_id)
                returned = (
                    f", returned_at t+{permit.returned_at.timestamp() - start_ts:.0f} s"
                    if permit.returned_at is not None
                    else ""
                )
                lines.append(
                    f"{bracelet_id(number)}: permit {permit_id} from "
                    f"t+{permit.starts_at.timestamp() - start_ts:.0f} s to "
                    f"t+{permit.ends_at.timestamp() - start_ts:.0f} s, status {permit.status}"
                    + returned
                )
    finally:
        engine.dispose()
    return lines


def read_evidence(
    reader: InfluxReader, devices: Iterable[str]
) -> tuple[dict[int, list[StoredFix]], dict[int, list[StoredEvent]]]:
    """Every stored fix and event of these bracelets, in (boot, seq) order."""
    fixes: dict[int, list[StoredFix]] = {}
    events: dict[int, list[StoredEvent]] = {}
    for device_id in devices:
        number = _device_number(device_id)
        rows = reader.query(
            'SELECT "boot", "seq", "lat", "lon", "accuracy_m", "source" '
            'FROM "evidence"."location" WHERE device_id = $device',
            {"device": device_id},
        )
        found = [
            StoredFix(
                int(v[1]),
                int(v[2]),
                int(v[0]) // 10**9,
                float(v[3]),
                float(v[4]),
                int(v[5]),
                str(v[6]),
            )
            for item in rows
            for v in item["values"]
        ]
        fixes[number] = sorted(found, key=lambda f: (f.boot, f.seq))
        rows = reader.query(
            'SELECT "boot", "seq", "code" FROM "evidence"."event" WHERE device_id = $device',
            {"device": device_id},
        )
        stored = [
            StoredEvent(int(v[1]), int(v[2]), int(v[0]) // 10**9, int(v[3]))
            for item in rows
            for v in item["values"]
        ]
        events[number] = sorted(stored, key=lambda e: (e.boot, e.seq))
    return fixes, events


@dataclass
class RunFacts:
    """What the run itself measured, beside the alerts."""

    started_wall: float = 0.0
    stack_up_s: float = 0.0
    fleet_behind_s: float = 0.0
    fleet_behind_at: int = 0
    cpu_share: dict[str, float] = field(default_factory=dict)  # of a core, over the fleet's run
    records_made: int = 0
    background_asked_per_s: float = 0.0
    background_offered_per_s: float = 0.0
    background_devices: int = 0
    faults: list[InjectedFault] = field(default_factory=list)
    fault_walls: list[tuple[str, float, float]] = field(default_factory=list)  # kind, from, to
    load_average: list[float] = field(default_factory=list)
    roll_calls_sent: list[str] = field(default_factory=list)
    permits: list[str] = field(default_factory=list)  # each permit's status at the end
    problems: list[str] = field(default_factory=list)


def run_alerts(
    options: AlertsOptions, folder: Path, say: Callable[[str], None] = print
) -> AlertsReport:
    """Run the scripted incidents through the pipeline; score the alerts (module docstring)."""
    began = time.monotonic()
    facts = RunFacts(load_average=[os.getloadavg()[0]])
    scenario = load_scenario(options.scenario)
    background = [] if options.chaos else background_ids(options.background_devices)
    devices = {bracelet_id(n): "bracelet" for n in range(1, options.bracelets + 1)}
    devices.update({d: "bracelet" for d in background})
    with Stack(
        folder, devices, proxy=options.chaos, cloud_settings=options.cloud_settings()
    ) as stack:
        facts.stack_up_s = time.monotonic() - began
        database_url = f"sqlite:///{(folder / 'cloud' / 'cloud.sqlite3').absolute()}"
        load = None
        if background:
            broker = stack.broker_endpoint
            spec = LoadSpec(
                broker.host,
                broker.port,
                tuple(background),
                1,
                options.background_rate,
                1,
                options.seconds + 10.0,
                username=broker.username,
                password=broker.password,
            )
            load = LoadProcess(spec)
            load.start()
            load.wait_started()
            facts.background_asked_per_s = options.background_rate
            facts.background_devices = len(background)
        start_ts = int(time.time()) + 3  # after the supervision is registered
        world, opens = world_for(scenario, options.seed, start_ts)
        plan = make_plan(world, opens, options.bracelets, options.seconds)
        expected, quiet = ground_truth(plan, options)
        registered = register_supervision(database_url, plan, background)
        say(
            f"stack up after {facts.stack_up_s:.1f} s; {options.bracelets} bracelets, "
            f"{len(expected)} incidents that must raise an alert, curfew opens at "
            f"t+{opens - start_ts} s ({cloud_window(opens, CURFEW_HOURS)} in {CLOUD_ZONE.key})"
        )
        for line in plan.left_out:
            say(f"  {line}")
        fleet = Fleet(stack.broker_endpoint.url, world, options.bracelets, 0)
        fleet.now = start_ts - 1  # the first tick works start_ts
        while time.time() < start_ts:
            time.sleep(0.01)
        # Each bracelet agent runs gc.collect() when a config arrives (on a board it gives
        # the decoded config's RAM back): here that would scan this process's whole heap
        # (the cloud's modules, SQLAlchemy, numpy), 0.1 s a bracelet, seconds for a fleet
        # given its zones at once. What exists now is kept out of those collections.
        gc.collect()
        gc.freeze()
        clock = FleetClock(fleet, options.seconds)
        pids = {"cloud": stack.cloud, "gateway": stack.gateway, "InfluxDB": stack.influx}
        cpu_before = {
            name: (part.pid, cpu_seconds(part.pid))
            for name, part in pids.items()
            if part is not None and part.pid is not None
        }
        cpu_before["bench (fleet)"] = (os.getpid(), cpu_seconds(os.getpid()))
        facts.started_wall = time.time()
        clock.start()
        timers = []
        for call in plan.roll_calls:
            timer = threading.Timer(
                max(0.0, call.at_ts - time.time()),
                _roll_call_sender(database_url, call, facts),
            )
            timer.start()
            timers.append(timer)
        try:
            if options.chaos:
                _inject_faults(stack, options, facts, say)
        finally:
            clock.join()
            for timer in timers:
                timer.join()
        facts.fleet_behind_s, facts.fleet_behind_at = clock.behind_s, clock.behind_at
        for name, (pid, before) in cpu_before.items():
            with contextlib.suppress(OSError):
                facts.cpu_share[name] = (cpu_seconds(pid) - before) / (
                    time.time() - facts.started_wall
                )
        facts.records_made = fleet.stats().created
        alerts = read_alerts(database_url, registered)
        facts.permits = read_permits(database_url, registered, start_ts)
        if load is not None:
            try:
                offered = load.result(60.0)
                facts.background_offered_per_s = offered.offered_per_s
            except (RuntimeError, TimeoutError) as exc:
                facts.problems.append(f"background load: {exc}")
            finally:
                load.kill()
        reader = InfluxReader(stack.influx_endpoint)
        try:
            fixes, events = read_evidence(
                reader, [bracelet_id(n) for n in range(1, options.bracelets + 1)]
            )
        finally:
            reader.close()
            fleet.close()
    facts.load_average.append(os.getloadavg()[0])
    report = score(plan, options, expected, quiet, alerts, fixes, events, clock.wall, facts)
    report.elapsed_s = time.monotonic() - began
    return report


def _roll_call_sender(database_url: str, call: RollCallPlan, facts: RunFacts) -> Callable[[], None]:
    def send() -> None:
        try:
            send_roll_call(database_url, call.device, call.window_s)
            facts.roll_calls_sent.append(bracelet_id(call.device))
        except (CloudError, SQLAlchemyError) as exc:  # reported in the scorecard
            facts.problems.append(f"roll call to {bracelet_id(call.device)} not sent: {exc}")

    return send


def _inject_faults(
    stack: Stack, options: AlertsOptions, facts: RunFacts, say: Callable[[str], None]
) -> None:
    started = time.monotonic()
    for fault in plan_faults(options.seconds, options.seed, options.max_outage_s):
        delay = started + fault.at_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        broke, broke_wall = time.monotonic(), time.time()
        restore = _break(stack, fault.kind)
        time.sleep(max(0.0, broke + fault.outage_s - time.monotonic()))
        restore()
        back = time.monotonic() - broke
        facts.faults.append(InjectedFault(fault.kind, round(broke - started, 2), round(back, 2)))
        facts.fault_walls.append((fault.kind, broke_wall, broke_wall + back))
        say(f"  t+{broke - started:6.1f}s {fault.kind:<15} back after {back:5.1f} s")


# --- the score (pure) ------------------------------------------------------------------

EVENT_CODES = {
    "strap_opened": c.EV_STRAP_OPENED,
    "sos": c.EV_SOS,
    "low_battery": c.EV_LOW_BATTERY,
    "power_off": c.EV_POWER_OFF,
}


@dataclass
class IncidentResult:
    expected: Expected
    alert: SeenAlert | None = None
    duplicates: list[SeenAlert] = field(default_factory=list)
    decided_ts: float | None = None  # the deciding record's device time, or the deadline
    pipeline_s: float | None = None  # decided -> raised_at
    from_event_s: float | None = None  # the world's moment -> raised_at
    live: bool = True
    # The faults from just before the incident to a minute after its deadline.
    near_faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class FalseAlarm:
    alert: SeenAlert
    reason: str  # "no incident" or "a second alert for ..."
    evidence: list[str] = field(default_factory=list)


@dataclass
class CauseRow:
    cause: str
    incidents: int = 0
    alerts: int = 0
    missed: int = 0
    false_alarms: int = 0
    pipeline_s: list[float] = field(default_factory=list)  # live incidents only
    from_event_s: list[float] = field(default_factory=list)
    caught_up: int = 0  # alerts from records that arrived late (radio off, a fault)


@dataclass
class AlertsReport:
    options: AlertsOptions
    plan: Plan
    facts: RunFacts
    results: list[IncidentResult]
    false_alarms: list[FalseAlarm]
    quiet: list[str]
    alerts: int
    # Cell and Wi-Fi fixes of wearers without incidents whose accuracy circle crossed the
    # edge of one of their zones: zone kind -> (fixes, bracelets).
    coarse_at_edges: dict[str, tuple[int, int]] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def rows(self) -> list[CauseRow]:
        by_cause: dict[str, CauseRow] = {}
        for result in self.results:
            row = by_cause.setdefault(result.expected.cause, CauseRow(result.expected.cause))
            row.incidents += 1
            if result.alert is None:
                row.missed += 1
                continue
            row.alerts += 1 + len(result.duplicates)
            row.false_alarms += len(result.duplicates)
            if result.from_event_s is not None:
                row.from_event_s.append(result.from_event_s)
            if result.live and result.pipeline_s is not None:
                row.pipeline_s.append(result.pipeline_s)
            elif not result.live:
                row.caught_up += 1
        for alarm in self.false_alarms:
            row = by_cause.setdefault(alarm.alert.cause, CauseRow(alarm.alert.cause))
            row.alerts += 1
            row.false_alarms += 1
        return sorted(by_cause.values(), key=lambda r: r.cause)

    @property
    def missed(self) -> int:
        return sum(1 for r in self.results if r.alert is None)

    def near(self, kind: str) -> list[IncidentResult]:
        """The incidents with a fault of this kind near them."""
        return [r for r in self.results if kind in r.near_faults]

    def missed_near_faults(self, kind: str) -> int:
        return sum(1 for r in self.near(kind) if r.alert is None)

    @property
    def duplicates(self) -> int:
        return sum(len(r.duplicates) for r in self.results)

    @property
    def false_alarm_count(self) -> int:
        return len(self.false_alarms) + self.duplicates

    def live_pipeline_s(self) -> list[float]:
        return [
            r.pipeline_s
            for r in self.results
            if r.alert is not None and r.live and r.pipeline_s is not None
        ]

    @property
    def p99_s(self) -> float | None:
        return percentile(self.live_pipeline_s(), 0.99)

    @property
    def passed(self) -> bool:
        """The target: every incident one alert of its cause, no false alarm, live p99
        under 2 s; under faults, no duplicate and no missed alert near a cloud kill."""
        if self.options.chaos:
            return self.missed_near_faults("cloud_kill") == 0 and self.duplicates == 0
        p99 = self.p99_s
        return (
            self.missed == 0
            and self.false_alarm_count == 0
            and p99 is not None
            and p99 < TARGET_P99_S
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "options": {
                k: str(v) if isinstance(v, Path) else v for k, v in vars(self.options).items()
            },
            "start_ts": self.plan.start_ts,
            "curfew_opens_ts": self.plan.curfew_opens_ts,
            "alerts": self.alerts,
            "rows": [
                {
                    "cause": r.cause,
                    "incidents": r.incidents,
                    "alerts": r.alerts,
                    "missed": r.missed,
                    "false_alarms": r.false_alarms,
                    "caught_up": r.caught_up,
                    "pipeline_p50_s": percentile(r.pipeline_s, 0.5),
                    "pipeline_p99_s": percentile(r.pipeline_s, 0.99),
                    "from_event_p50_s": percentile(r.from_event_s, 0.5),
                    "from_event_p99_s": percentile(r.from_event_s, 0.99),
                }
                for r in self.rows()
            ],
            "incidents": [
                {
                    "device": bracelet_id(r.expected.device),
                    "cause": r.expected.cause,
                    "what": r.expected.what,
                    "alert_id": r.alert.id if r.alert else None,
                    "duplicates": [a.id for a in r.duplicates],
                    "pipeline_s": r.pipeline_s,
                    "from_event_s": r.from_event_s,
                    "live": r.live,
                    "near_faults": r.near_faults,
                    "notes": r.notes,
                }
                for r in self.results
            ],
            "false_alarms": [
                {
                    "alert_id": f.alert.id,
                    "cause": f.alert.cause,
                    "device": bracelet_id(f.alert.device) if f.alert.device else None,
                    "reason": f.reason,
                    "summary": f.alert.summary,
                    "decision": f.alert.decision,
                    "evidence": f.evidence,
                }
                for f in self.false_alarms
            ],
            "quiet": self.quiet,
            "coarse_at_edges": self.coarse_at_edges,
            "missed": self.missed,
            "duplicates": self.duplicates,
            "false_alarm_count": self.false_alarm_count,
            "live_p99_s": self.p99_s,
            "passed": self.passed,
            "faults": [vars(f) for f in self.facts.faults],
            "background_offered_per_s": self.facts.background_offered_per_s,
            "records_made": self.facts.records_made,
            "permits": self.facts.permits,
            "problems": self.facts.problems,
            "elapsed_s": self.elapsed_s,
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least ``q`` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _sure(zone: ZonePlan, fix: StoredFix) -> bool | None:
    """True: surely inside; False: surely outside; None: the accuracy circle crosses."""
    d = distance_m(zone.lat, zone.lon, fix.lat, fix.lon)
    if d + fix.accuracy_m <= zone.radius_m:
        return True
    if d - fix.accuracy_m >= zone.radius_m:
        return False
    return None


def zone_decision(
    zone: ZonePlan, fixes: Sequence[StoredFix], since_ts: int, permit: PermitPlan | None
) -> tuple[int, int] | None:
    """From the stored fixes, as a rule holding sure fixes for the dwell would decide:
    (the deciding fix's device time, the moment the violation began) of the first
    violation at or after ``since_ts``."""
    inside: bool | None = None
    state_since = 0
    candidate: bool | None = None
    candidate_since = 0
    for fix in fixes:
        sure = _sure(zone, fix)
        if sure is not None and sure != inside:
            if candidate != sure:
                candidate, candidate_since = sure, fix.ts
            if fix.ts - candidate_since >= ZONE_DWELL_S:
                inside, state_since, candidate = sure, candidate_since, None
        elif sure is not None:
            candidate = None
        suspended = (
            permit is not None
            and zone.role == "county"
            and (permit.starts_ts <= fix.ts < permit.ends_ts)
        )
        if (
            inside is not None
            and fix.ts >= since_ts - 60
            and zone.in_force(fix.ts)
            and not suspended
            and zone.bad(inside)
        ):
            began = max(state_since, zone.opens_ts or state_since)
            return fix.ts, began
    return None


def _matches(alert: SeenAlert, expected: Expected) -> bool:
    if alert.device != expected.device or alert.cause != expected.cause:
        return False
    return expected.zone is None or alert.zone == expected.zone


def score(
    plan: Plan,
    options: AlertsOptions,
    expected: Sequence[Expected],
    quiet: list[str],
    alerts: Sequence[SeenAlert],
    fixes: Mapping[int, Sequence[StoredFix]],
    events: Mapping[int, Sequence[StoredEvent]],
    wall: Callable[[float], float],
    facts: RunFacts,
) -> AlertsReport:
    """Match alerts to incidents; delays, misses, false alarms with their evidence."""
    used: set[int] = set()
    results = []
    for item in sorted(expected, key=lambda e: (e.event_ts, e.device)):
        result = IncidentResult(item)
        event_wall = wall(item.event_ts) if item.clock == "device" else item.event_ts
        result.near_faults = _faults(facts, event_wall - 5, event_wall + item.deadline_s + 60)
        candidates = [
            a
            for a in alerts
            if a.id not in used and _matches(a, item) and a.raised_ts >= wall(item.event_ts) - 5
        ]
        if candidates:
            result.alert = candidates[0]
            used.add(candidates[0].id)
            for extra in candidates[1:]:
                if not any(_matches(extra, other) and other is not item for other in expected):
                    result.duplicates.append(extra)
                    used.add(extra.id)
            _timing(result, plan, options, fixes, events, wall, facts)
        else:
            theirs = [a for a in alerts if a.device == item.device]
            result.notes.append(
                "the bracelet's alerts: "
                + (", ".join(f"{a.cause} (alert {a.id})" for a in theirs) or "none")
            )
        results.append(result)
    start = plan.start_ts
    false_alarms = []
    for alert in alerts:
        if alert.id in used:
            continue
        own = [f"{e.cause} ({e.what})" for e in expected if e.device == alert.device]
        calm = [q for q in quiet if alert.device and q.startswith(bracelet_id(alert.device))]
        reason = f"no {alert.cause} incident for this bracelet"
        if own:
            reason += "; its incidents: " + "; ".join(own)
        if calm:
            reason += "; " + "; ".join(q.split(": ", 1)[1] for q in calm)
        false_alarms.append(FalseAlarm(alert, reason, _evidence(alert, plan, fixes, start)))
    report = AlertsReport(options, plan, facts, results, false_alarms, quiet, len(alerts))
    report.coarse_at_edges = coarse_at_edges(plan, fixes)
    return report


def coarse_at_edges(
    plan: Plan, fixes: Mapping[int, Sequence[StoredFix]]
) -> dict[str, tuple[int, int]]:
    """Undecided cell and Wi-Fi fixes of the wearers without incidents, by kind of zone."""
    counts: dict[str, list[int]] = {}
    for number, zones in plan.zones.items():
        if not _ordinary_wearer(plan.incidents(number)):
            continue
        for zone in zones:
            kind = "home" if zone.role == "home" else zone.name
            near = sum(
                1 for f in fixes.get(number, []) if f.source != "gnss" and _sure(zone, f) is None
            )
            if near:
                entry = counts.setdefault(kind, [0, 0])
                entry[0] += near
                entry[1] += 1
    return {kind: (n, devices) for kind, (n, devices) in sorted(counts.items())}


def _faults(facts: RunFacts, since: float, until: float) -> list[str]:
    """The kinds of the faults that were on (or 2 s from over) between the two moments."""
    return [kind for kind, broke, back in facts.fault_walls if broke <= until and back + 2 >= since]


def _timing(
    result: IncidentResult,
    plan: Plan,
    options: AlertsOptions,
    fixes: Mapping[int, Sequence[StoredFix]],
    events: Mapping[int, Sequence[StoredEvent]],
    wall: Callable[[float], float],
    facts: RunFacts,
) -> None:
    item = result.expected
    alert = result.alert
    assert alert is not None
    start = plan.start_ts
    own = fixes.get(item.device, [])
    decided: float | None = None
    device_clock = item.clock == "device"
    if item.cause in ZONE_CAUSES:
        zone = next(z for z in plan.zones[item.device] if z.key == item.zone)
        found = zone_decision(zone, own, item.event_ts, plan.permits.get(item.device))
        if found is not None:
            decided = found[0]
            if abs(alert.happened_ts - found[1]) > 1:
                result.notes.append(
                    f"happened_at t+{alert.happened_ts - start:.0f} s, the stored fixes say "
                    f"t+{found[1] - start} s"
                )
            else:
                result.notes.append(
                    f"happened_at t+{alert.happened_ts - start:.0f} s, as the fixes say"
                )
    elif item.cause in EVENT_CODES:
        code = EVENT_CODES[item.cause]
        found_event = next(
            (
                e
                for e in events.get(item.device, [])
                if e.code == code and e.ts >= item.event_ts - 1
            ),
            None,
        )
        decided = found_event.ts if found_event is not None else None
    elif item.cause == "no_fix":
        before = [f.ts for f in own if f.ts < item.event_ts]
        last = max(before) if before else item.event_ts
        decided = last + options.absent_after_s
    elif item.cause == "roll_call_missed":
        # The bracelet reports the window's end itself; the scheduler calls it missed
        # after the grace if no report came: whichever was first decided it.
        report = next(
            (
                e
                for e in events.get(item.device, [])
                if e.code == c.EV_ROLL_CALL_RESPONSE and e.ts >= item.event_ts - 1
            ),
            None,
        )
        scheduler = item.event_ts + item.deadline_s
        if report is not None and wall(report.ts) < scheduler:
            decided, device_clock = report.ts, True
        else:
            decided = scheduler
    elif item.cause == "trip_overdue":
        # The rules decide it on the first sure fix outside the county once the permit and
        # its grace are over; the scheduler, at that moment, only for a silent bracelet.
        county = next((z for z in plan.zones[item.device] if z.role == "county"), None)
        due = item.event_ts + item.deadline_s
        away = next(
            (f for f in own if county is not None and f.ts >= due and _sure(county, f) is False),
            None,
        )
        if away is not None:
            decided, device_clock = away.ts, True
            result.notes.append(f"decided by the sure fix outside at t+{away.ts - start} s")
        else:
            decided = due
    else:
        decided = item.event_ts + item.deadline_s
    if decided is not None:
        result.decided_ts = decided
        decided_wall = wall(decided) if device_clock else decided
        result.pipeline_s = alert.raised_ts - decided_wall
        if device_clock and radio_off(plan.world, item.device, int(decided)):
            result.live = False
            result.notes.append("decided by records sent after the radio came back")
        faults = _faults(facts, decided_wall, alert.raised_ts)
        if faults:
            result.live = False
            result.notes.append(f"{', '.join(faults)} between the decision and the alert")
    event_wall = wall(item.event_ts) if device_clock else item.event_ts
    result.from_event_s = alert.raised_ts - event_wall


def _evidence(
    alert: SeenAlert, plan: Plan, fixes: Mapping[int, Sequence[StoredFix]], start: int
) -> list[str]:
    """What the alert said, and the bracelet's stored fixes around its moment."""
    lines = [
        f"alert {alert.id} {alert.cause}: {alert.summary!r}, happened t+{alert.happened_ts - start:.0f} s, "
        f"raised t+{alert.raised_ts - start:.0f} s, {alert.occurrences} occurrence(s)"
        + (f", cause ended t+{alert.cause_ended_ts - start:.0f} s" if alert.cause_ended_ts else ""),
        f"  decision: {alert.decision or '-'}",
    ]
    if alert.device is None or alert.device not in fixes:
        return lines
    zone = next((z for z in plan.zones.get(alert.device, []) if z.key == alert.zone), None)
    if zone is None and alert.cause in ("trip_overdue", "zone_left"):
        zone = next((z for z in plan.zones.get(alert.device, []) if z.role == "county"), None)
    around = [f for f in fixes[alert.device] if abs(f.ts - alert.happened_ts) <= 120]
    for fix in around[:12]:
        where = ""
        if zone is not None:
            edge = distance_m(zone.lat, zone.lon, fix.lat, fix.lon) - zone.radius_m
            verdict = {True: "surely inside", False: "surely outside", None: "undecided"}[
                _sure(zone, fix)
            ]
            where = f", {abs(edge):.0f} m {'outside' if edge > 0 else 'inside'} {zone.name}'s edge: {verdict}"
        lines.append(
            f"  fix t+{fix.ts - start} s {fix.source} {fix.accuracy_m} m at "
            f"{fix.lat:.5f},{fix.lon:.5f}{where}"
        )
    if len(around) > 12:
        lines.append(f"  ... {len(around) - 12} more fixes")
    return lines


# --- the report ------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def summary_lines(report: AlertsReport) -> list[str]:
    o = report.options
    f = report.facts
    lines = [
        f"alerts bench: seed {o.seed}, {o.bracelets} bracelets for {o.seconds} s in real time"
        + (", with the chaos run's faults" if o.chaos else "")
        + (
            f"; background {f.background_offered_per_s:,.0f} readings/s offered "
            f"({f.background_asked_per_s:,.0f} asked, {f.background_devices} bracelets, one "
            "fix a message)"
            if f.background_devices
            else "; no background load"
        ),
        f"records made by the fleet: {f.records_made:,}; alerts in the cloud: {report.alerts}; "
        f"fleet clock behind the wall at most {f.fleet_behind_s:.2f} s (at t+{f.fleet_behind_at} s); "
        "load average " + " -> ".join(f"{x:.1f}" for x in f.load_average),
        "CPU over the run, of a core: "
        + ", ".join(f"{name} {share:.2f}" for name, share in f.cpu_share.items()),
        "",
        "| cause | incidents | alerts | missed | false alarms | decided -> raised p50 / p99 ms "
        "(live) | event -> raised p50 / p99 ms | caught up |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report.rows():
        lines.append(
            f"| {row.cause} | {row.incidents} | {row.alerts} | {row.missed} | {row.false_alarms} | "
            f"{_ms(percentile(row.pipeline_s, 0.5))} / {_ms(percentile(row.pipeline_s, 0.99))} | "
            f"{_ms(percentile(row.from_event_s, 0.5))} / {_ms(percentile(row.from_event_s, 0.99))} | "
            f"{row.caught_up} |"
        )
    live = report.live_pipeline_s()
    lines += [
        "",
        f"incidents: {len(report.results)}; missed: {report.missed}; false alarms: "
        f"{report.false_alarm_count} ({report.duplicates} second alerts for one incident "
        f"counted above, {len(report.false_alarms)} unmatched); live decided -> raised p50 "
        f"{_ms(percentile(live, 0.5))} ms, p99 {_ms(percentile(live, 0.99))} ms over {len(live)}",
    ]
    if report.coarse_at_edges:
        lines.append(
            "coarse fixes across a zone's edge (cell or Wi-Fi, accuracy circle over the edge) "
            "of wearers without incidents: "
            + ", ".join(
                f"{kind} {n} from {devices} bracelets"
                for kind, (n, devices) in report.coarse_at_edges.items()
            )
        )
    if f.faults:
        counts: dict[str, int] = defaultdict(int)
        for fault in f.faults:
            counts[fault.kind] += 1
        lines.append(
            "faults: "
            + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
            + f"; longest outage {max(x.outage_s for x in f.faults):.1f} s"
        )
    lines.append("")
    lines.append("incidents:")
    start = report.plan.start_ts
    for r in report.results:
        e = r.expected
        if r.alert is None:
            state = "MISSED"
        else:
            state = (
                f"alert {r.alert.id} raised t+{r.alert.raised_ts - start:.1f} s, decided -> raised "
                f"{_ms(r.pipeline_s)} ms{'' if r.live else ' (caught up)'}"
            )
        lines.append(f"  {bracelet_id(e.device)} {e.cause}: {e.what}: {state}")
        for note in r.notes:
            lines.append(f"      {note}")
        for extra in r.duplicates:
            lines.append(f"      second alert {extra.id} for it: {extra.summary!r}")
    missed = [r for r in report.results if r.alert is None]
    if missed:
        lines.append("")
        lines.append("missed alerts:")
        for r in missed:
            e = r.expected
            lines.append(f"  {bracelet_id(e.device)} {e.cause}: {e.what}")
            lines += [f"    {line}" for line in r.notes]
    if f.permits:
        lines.append("")
        lines.append("travel permits at the end:")
        lines += [f"  {line}" for line in f.permits]
    if report.false_alarms:
        lines.append("")
        lines.append("false alarms:")
        for alarm in report.false_alarms:
            device = bracelet_id(alarm.alert.device) if alarm.alert.device else "-"
            lines.append(f"  {device} {alarm.alert.cause}: {alarm.reason}")
            lines += [f"    {line}" for line in alarm.evidence]
    if report.quiet:
        lines.append("")
        lines.append("must raise nothing:")
        lines += [f"  {q}" for q in report.quiet]
    if report.facts.problems:
        lines.append("")
        lines += [f"problem: {p}" for p in report.facts.problems]
    lines.append("")
    p99 = report.p99_s
    if o.chaos:
        kills = report.near("cloud_kill")
        lines.append(
            "near a cloud kill (from 5 s before an incident to a minute after its deadline): "
            f"{len(kills)} incidents ("
            + ", ".join(f"{bracelet_id(r.expected.device)} {r.expected.cause}" for r in kills)
            + f"), {report.missed_near_faults('cloud_kill')} missed"
        )
        lines.append(
            ("PASS" if report.passed else "FAIL")
            + f": no missed alert near a cloud kill ({report.missed_near_faults('cloud_kill')}), "
            f"no duplicate ({report.duplicates}); {report.missed} missed in all, "
            f"{len(report.false_alarms)} other false alarms"
        )
    else:
        lines.append(
            ("PASS" if report.passed else "FAIL")
            + f": every incident one alert of its cause ({report.missed} missed), no false "
            f"alarm ({report.false_alarm_count}), live p99 under {TARGET_P99_S:g} s "
            f"({_ms(p99)} ms)"
        )
    lines.append(f"whole run {report.elapsed_s:.0f} s")
    return lines


def quick_or_full(quick: bool, **overrides: Any) -> AlertsOptions:
    base = AlertsOptions.quick() if quick else AlertsOptions()
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
