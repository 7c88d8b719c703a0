"""``fieldwatch bench rules --part pipeline``: the whole pipeline with supervision's rules
off and on, in one run on this machine.

The target (the issue's): the pipeline with the rules on sustains at least 80 % of its
rate with them off, in the same run.

One stack (``stack.py``, as ``bench pipeline`` starts it: a private Mosquitto and
InfluxDB, ``fieldwatch cloud serve`` on SQLite, ``fieldwatch edge run``) serves the whole
run; only the cloud is restarted between phases, with ``rules_enabled`` false or true
(``scheduler_enabled`` false throughout: its checks are time-driven, not per fix, and
would raise ``no_fix`` alerts of their own). So both modes have the same broker, the same
InfluxDB, the same devices and the same persons. Rounds alternate the order (off, on;
on, off; off, on; ...) so that a machine getting busier or quieter favours neither.

Every bracelet is worn by a supervised person of one district (a county of 40 vertices
about Minhang, 31.1N 121.4E, about 20 km across) who has five zones: the county
(inclusion, shared by all), a home circle with the curfew ``Mon-Sun 22:00-06:00``, and
three exclusion zones about their victim (the victim's home and workplace, circles, and
the victim's child's school, a polygon of 12 vertices). Fixes come as they would at
night: half the persons stay at home; the others are at home too, except for a part of
each cycle when one leaves the county and the next enters the victim's home, which
raises alerts (``zone_left``, ``zone_entered``, and ``curfew_broken`` while the curfew
is on). Accuracies as they come (GNSS about 10 m, Wi-Fi 30 to 80 m, cell 200 to 500 m),
the position drawn about the true one with that spread.

The load is the pipeline bench's (``steps.py``): QoS 1, 100 fixes a contract batch, each
device its own connection, a probe (not worn) timing publish -> queryable, losses counted
from InfluxDB; a step is sustained as there (zero loss, p99 < 2 s, >= 90 % of the asked
load offered). Its fixes are this module's (``DistrictFixes``, a ``loadgen.RecordSource``): the load generator's own fixes
all sit at one place with one accuracy. Each phase runs a warm-up (not counted), the
reference step (the first rate: the cloud's CPU per reading is compared there), then
climbs until two steps in a row are not sustained, and tries once more halfway between the
highest rate sustained and the next one; later rounds start the climb two steps below what
the same mode sustained before. Between steps the pipeline is let settle (the
gateway's buffer empty, InfluxDB's count still), so no step inherits a backlog.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.alerts.models import Alert, AlertStep
from cloud.db.engine import make_engine, make_sessions
from cloud.supervision import service as supervision
from cloud.supervision.geometry import classify_fixes, zone_shape
from cloud.supervision.models import ZoneTrack
from cloud.supervision.rules import INSIDE, OUTSIDE
from cloud.supervision.zones import core_zone
from core import contract as c
from core import geofence
from fieldwatch_dev.bench.influx import InfluxQueryError, InfluxReader
from fieldwatch_dev.bench.loadgen import fix_record, pack_records
from fieldwatch_dev.bench.pipeline import step_devices
from fieldwatch_dev.bench.rules import offset, star
from fieldwatch_dev.bench.stack import Stack
from fieldwatch_dev.bench.steps import (
    PROBE_DEVICE,
    StepResult,
    Target,
    run_step,
)
from fieldwatch_dev.local.fieldwatch_parts import CloudServer, EdgeGateway

TARGET_RATIO = 0.8
CURFEW = "Mon-Sun 22:00-06:00"
COUNTY_CENTRE = (31.10, 121.40)
COUNTY_VERTICES = 40
SCHOOL_VERTICES = 12
ZONES_PER_PERSON = 5
# A person's zones in the order they are added (the county first: it is shared).
ZONE_NAMES = ("county", "home", "victim home", "victim workplace", "victim's child's school")
STAYS = "stays at home"
LEAVES = "leaves the county"
ENTERS = "enters the victim's home"
_TABLE_SIZE = 1021  # fixes per place a device cycles through (by seq)
_WINDOW_WAIT_S = 0.005
_TICK_S = 0.002


@dataclass(frozen=True)
class RulesPipelineOptions:
    steps: tuple[float, ...]  # the reference step, then the climb
    step_seconds: float
    rounds: int
    devices: int = 20
    records_per_message: int = 100
    drain_timeout_s: float = 30.0
    settle_timeout_s: float = 120.0
    warmup_seconds: float = 5.0
    warmup_per_s: float = 2000.0
    stop_after_failures: int = 2
    dwell_s: int = 30  # every zone's dwell time
    cycle_s: float = 300.0  # a leaving person is away out_s of every cycle_s (device time)
    out_s: float = 60.0
    refine: bool = True  # one more step halfway between the last sustained and the next
    seed: int = 1

    @classmethod
    def quick(cls) -> RulesPipelineOptions:
        """One round of two short steps; 4 persons, short dwell and cycles so that a few
        seconds of fixes raise alerts."""
        return cls(
            (1000.0, 3000.0),
            4.0,
            1,
            devices=4,
            drain_timeout_s=10.0,
            settle_timeout_s=30.0,
            warmup_seconds=2.0,
            warmup_per_s=500.0,
            dwell_s=2,
            cycle_s=10.0,
            out_s=5.0,
            refine=False,
        )

    @classmethod
    def full(cls) -> RulesPipelineOptions:
        return cls(
            (5000.0, 7500.0, 10000.0, 12500.0, 15000.0, 17500.0, 20000.0, 22500.0, 25000.0),
            15.0,
            3,
        )


# --- the district -----------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a person is: about (lat, lon), anywhere within spread_m of it."""

    lat: float
    lon: float
    spread_m: float


@dataclass(frozen=True)
class Plan:
    """One bracelet's whereabouts over device time: at home, away out_s of each cycle_s."""

    device_id: str
    kind: str
    home: Place
    away: Place | None
    offset_s: float
    cycle_s: float
    out_s: float

    def away_at(self, ts: float) -> bool:
        return self.away is not None and (ts + self.offset_s) % self.cycle_s < self.out_s

    @property
    def share_away(self) -> float:
        return 0.0 if self.away is None else self.out_s / self.cycle_s


@dataclass(frozen=True)
class Person:
    device_id: str
    reference: str
    home: tuple[float, float, float]  # lat, lon, radius m
    victim_home: tuple[float, float, float]
    victim_work: tuple[float, float, float]
    school: tuple[tuple[float, float], ...]
    plan: Plan


@dataclass(frozen=True)
class District:
    county: tuple[tuple[float, float], ...]
    persons: tuple[Person, ...]

    def zone_inputs(self, person: Person, dwell_s: int) -> list[supervision.ZoneInput]:
        """The person's own four zones (the county is shared: ``county_input``)."""
        (h_lat, h_lon, h_r), (v_lat, v_lon, v_r), (w_lat, w_lon, w_r) = (
            person.home,
            person.victim_home,
            person.victim_work,
        )
        return [
            supervision.ZoneInput(
                "home",
                "inclusion",
                "circle",
                {"lat": h_lat, "lon": h_lon, "radius_m": h_r},
                role="home",
                schedule=CURFEW,
                dwell_s=dwell_s,
            ),
            supervision.ZoneInput(
                "victim home",
                "exclusion",
                "circle",
                {"lat": v_lat, "lon": v_lon, "radius_m": v_r},
                dwell_s=dwell_s,
            ),
            supervision.ZoneInput(
                "victim workplace",
                "exclusion",
                "circle",
                {"lat": w_lat, "lon": w_lon, "radius_m": w_r},
                dwell_s=dwell_s,
            ),
            supervision.ZoneInput(
                "victim's child's school",
                "exclusion",
                "polygon",
                {"vertices": [list(v) for v in person.school]},
                dwell_s=dwell_s,
            ),
        ]

    def county_input(self, dwell_s: int) -> supervision.ZoneInput:
        return supervision.ZoneInput(
            "county",
            "inclusion",
            "polygon",
            {"vertices": [list(v) for v in self.county]},
            role="county",
            dwell_s=dwell_s,
        )

    def core_zones(self, person: Person, dwell_s: int) -> list[geofence.Zone]:
        """The person's five zones as core geometry, in ``ZONE_NAMES`` order."""
        specs = [self.county_input(dwell_s), *self.zone_inputs(person, dwell_s)]
        return [core_zone(spec.shape, spec.geometry) for spec in specs]


def _east_north(lat: float, lon: float) -> tuple[float, float]:
    """Metres east and north of the county's centre."""
    c_lat, c_lon = COUNTY_CENTRE
    k = geofence.M_PER_DEG
    return (lon - c_lon) * k * math.cos(math.radians(c_lat)), (lat - c_lat) * k


def make_district(options: RulesPipelineOptions) -> District:
    """The persons of one district, their zones and whereabouts, reproducibly."""
    rng = random.Random(options.seed)
    c_lat, c_lon = COUNTY_CENTRE
    county = tuple(star(rng, c_lat, c_lon, COUNTY_VERTICES, 9e3, 12e3))
    county_en = [_east_north(*v) for v in county]
    devices = step_devices(options.devices)
    persons = []
    for k, device_id in enumerate(devices):
        distance = 3.5e3 * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        home = offset(c_lat, c_lon, distance * math.cos(angle), distance * math.sin(angle))
        home_r = rng.uniform(150, 300)
        places = []
        for low, high in ((1.5e3, 3.5e3), (1.5e3, 3.5e3), (2.0e3, 3.5e3)):
            d = rng.uniform(low, high)
            a = rng.uniform(0, 2 * math.pi)
            places.append(offset(*home, d * math.cos(a), d * math.sin(a)))
        victim_r = rng.uniform(200, 400)
        work_r = rng.uniform(150, 300)
        school_r = rng.uniform(400, 800)
        school = tuple(star(rng, *places[2], SCHOOL_VERTICES, 0.5 * school_r, school_r))
        kind = (STAYS, LEAVES, STAYS, ENTERS)[k % 4]
        away: Place | None = None
        if kind == LEAVES:
            # 2.5 km beyond the county's vertex nearest the direction of home: the county is
            # star-shaped about its centre, so that is surely outside it.
            h_east, h_north = _east_north(*home)
            heading = math.atan2(h_north, h_east)
            east, north = min(
                county_en,
                key=lambda v: abs(math.remainder(math.atan2(v[1], v[0]) - heading, 2 * math.pi)),
            )
            scale = 1 + 2500 / math.hypot(east, north)
            away = Place(*offset(c_lat, c_lon, east * scale, north * scale), 300.0)
        elif kind == ENTERS:
            away = Place(*places[0], 0.3 * victim_r)
        plan = Plan(
            device_id,
            kind,
            Place(*home, 0.4 * home_r),
            away,
            k * options.cycle_s / len(devices),
            options.cycle_s,
            options.out_s,
        )
        persons.append(
            Person(
                device_id,
                f"bench-{device_id}",
                (*home, home_r),
                (*places[0], victim_r),
                (*places[1], work_r),
                school,
                plan,
            )
        )
    return District(county, tuple(persons))


def _accuracy_and_source(rng: random.Random) -> tuple[int, int]:
    # As fixes come: GNSS about 10 m, Wi-Fi 30 to 80 m, cell towers 200 to 500 m.
    pick = rng.random()
    if pick < 0.65:
        return max(3, round(rng.gauss(10, 4))), c.FIX_GNSS
    if pick < 0.90:
        return rng.randint(30, 80), c.FIX_WIFI
    return rng.randint(200, 500), c.FIX_CELL


# (lat_e7, lon_e7, accuracy_m, source) of a place's fixes, taken in turn by seq.
FixTable = list[tuple[int, int, int, int]]


def fix_table(place: Place, seed: int, size: int = _TABLE_SIZE) -> FixTable:
    """``size`` fixes (lat e7, lon e7, accuracy m, source) of someone about ``place``: the
    true position anywhere within its spread, the reported one off it by about its
    accuracy (a normal error of half the accuracy on each axis)."""
    rng = random.Random(seed)
    table = []
    for _ in range(size):
        accuracy, source = _accuracy_and_source(rng)
        r = place.spread_m * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        east = r * math.cos(a) + rng.gauss(0, accuracy / 2)
        north = r * math.sin(a) + rng.gauss(0, accuracy / 2)
        lat, lon = offset(place.lat, place.lon, east, north)
        table.append((round(lat * 1e7), round(lon * 1e7), accuracy, source))
    return table


def _tables(plan: Plan, seed: int, index: int) -> tuple[FixTable, FixTable | None]:
    home = fix_table(plan.home, seed * 10_000 + 2 * index)
    away = None if plan.away is None else fix_table(plan.away, seed * 10_000 + 2 * index + 1)
    return home, away


def load_mix(district: District, options: RulesPipelineOptions) -> dict[str, dict[str, float]]:
    """Share of the load's (fix, zone) checks per verdict, per zone, over device time:
    computed here with the cloud's geometry from the very fixes the devices send."""
    weights: dict[str, np.ndarray] = {name: np.zeros(3) for name in ZONE_NAMES}
    for index, person in enumerate(district.persons):
        home, away = _tables(person.plan, options.seed, index)
        zones = district.core_zones(person, options.dwell_s)
        for table, share in ((home, 1 - person.plan.share_away), (away, person.plan.share_away)):
            if table is None or share <= 0:
                continue
            values = np.array(table, dtype=np.float64)
            for name, zone in zip(ZONE_NAMES, zones, strict=True):
                verdicts = classify_fixes(
                    zone_shape(zone), values[:, 0] / 1e7, values[:, 1] / 1e7, values[:, 2]
                )
                counts = np.bincount(np.asarray(verdicts, dtype=np.intp) + 1, minlength=3)
                weights[name] += share * counts / len(table)
    mix = {}
    for name, w in weights.items():
        total = w.sum() or 1.0
        mix[name] = {
            "inside": float(w[2] / total),
            "outside": float(w[0] / total),
            "undecided": float(w[1] / total),
        }
    return mix


def register_persons(
    database_url: str, district: District, dwell_s: int, now: datetime
) -> tuple[int, int]:
    """Each bracelet worn by a supervised person with the county and four zones of their
    own, through supervision's service in one transaction; (persons, zones)."""
    engine = make_engine(database_url)
    zones = 0
    try:
        with make_sessions(engine).begin() as session:
            county = supervision.add_zone(session, district.county_input(dwell_s), None, now)
            zones += 1
            for person in district.persons:
                row = supervision.add_person(
                    session, person.reference, f"Bench {person.device_id}", now=now
                )
                supervision.assign_bracelet(session, row, person.device_id, now, None)
                supervision.assign_zone(session, county, row)
                for spec in district.zone_inputs(person, dwell_s):
                    supervision.assign_zone(
                        session, supervision.add_zone(session, spec, None, now), row
                    )
                    zones += 1
    finally:
        engine.dispose()
    return len(district.persons), zones


# --- the load: the district's fixes -----------------------------------------------------


@dataclass
class DistrictFixes:
    """The district's fixes as the load generator publishes them (``loadgen.RecordSource``):
    device ``i`` is ``plans[i]``, at home or away as its plan says at the publish time, each
    fix taken from that place's table by seq. Picklable; the tables are drawn in the
    generator's process, on first use."""

    plans: tuple[Plan, ...]
    seed: int
    _tables: list[tuple[FixTable, FixTable | None]] = field(default_factory=list, repr=False)

    def encode(
        self, device_index: int, boot: int, first_seq: int, count: int, ts: int
    ) -> tuple[str, bytes]:
        if not self._tables:
            self._tables = [_tables(plan, self.seed, i) for i, plan in enumerate(self.plans)]
        home, away = self._tables[device_index]
        away_now = away is not None and self.plans[device_index].away_at(ts)
        table = away if away_now and away is not None else home
        size = len(table)
        items = []
        for seq in range(first_seq, first_seq + count):
            lat_e7, lon_e7, accuracy, source = table[seq % size]
            items.append(fix_record(boot, seq, ts, lat_e7, lon_e7, accuracy, source))
        return pack_records(boot, items)


# --- one step ------------------------------------------------------------------------


@dataclass
class RulesStep:
    """A step as ``steps.run_step`` measures it, plus the CPU the cloud and the gateway
    spent from the first publish until InfluxDB held everything."""

    step: StepResult
    cloud_cpu_s: float = 0.0
    gateway_cpu_s: float = 0.0

    @property
    def cloud_us_per_reading(self) -> float | None:
        return self.cloud_cpu_s / self.step.stored * 1e6 if self.step.stored else None

    @property
    def gateway_us_per_reading(self) -> float | None:
        return self.gateway_cpu_s / self.step.stored * 1e6 if self.step.stored else None

    def to_json(self) -> dict[str, object]:
        return {
            **self.step.to_json(),
            "cloud_cpu_s": self.cloud_cpu_s,
            "gateway_cpu_s": self.gateway_cpu_s,
            "cloud_us_per_reading": self.cloud_us_per_reading,
            "gateway_us_per_reading": self.gateway_us_per_reading,
        }


@dataclass
class _Run:
    """What the phases share: the stack, the plans, where the cloud's database is."""

    stack: Stack
    options: RulesPipelineOptions
    plans: tuple[Plan, ...]
    database_url: str
    say: Callable[[str], None]
    boot: int = 0

    @property
    def cloud(self) -> CloudServer:
        assert self.stack.cloud is not None
        return self.stack.cloud

    @property
    def gateway(self) -> EdgeGateway:
        assert self.stack.gateway is not None
        return self.stack.gateway

    def target(self) -> Target:
        return Target(
            "rules",
            self.stack.broker_endpoint,
            self.stack.influx_endpoint,
            (self.cloud.pid or 0, self.gateway.pid or 0),
        )

    def next_boot(self) -> int:
        self.boot += 1
        return self.boot


def _stored(reader: InfluxReader, boot: int, since_ns: int, fallback: int) -> int:
    try:
        return reader.stored_total(boot, since_ns)
    except InfluxQueryError:
        return fallback


def run_fix_step(run: _Run, rate: float, seconds: float) -> RulesStep:
    """Offer the district's fixes at ``rate`` for ``seconds``, measured by ``steps.run_step``
    with the losses counted once the pipeline has settled."""
    options = run.options
    target = run.target()
    reader = InfluxReader(target.influx)

    def settled(boot: int, since_ns: int) -> None:
        settle(run.gateway, reader, boot, since_ns, options.settle_timeout_s)

    try:
        result = run_step(
            target,
            tuple(plan.device_id for plan in run.plans),
            run.next_boot(),
            rate,
            options.records_per_message,
            seconds,
            options.drain_timeout_s,
            source=DistrictFixes(run.plans, options.seed),
            before_count=settled,
        )
    finally:
        reader.close()
    cloud_pid, gateway_pid = target.pids
    return RulesStep(result, result.cpu_s.get(cloud_pid, 0.0), result.cpu_s.get(gateway_pid, 0.0))


def settle(
    gateway: EdgeGateway, reader: InfluxReader, boot: int, since_ns: int, timeout_s: float
) -> bool:
    """Wait until the gateway's buffer is empty and InfluxDB's count of ``boot`` is still:
    nothing of this step is left to load the next one. False on timeout."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        depth = gateway.metrics().get("fieldwatch_edge_buffer_depth", 0.0)
        stored = _stored(reader, boot, since_ns, last)
        if depth == 0 and stored == last:
            return True
        last = stored
        time.sleep(0.5)
    return False


# --- the phases ---------------------------------------------------------------------


@dataclass(frozen=True)
class AlertCounts:
    """Supervision's alerts so far: raised (new), recurred (their cause back), causes
    ended, and evidence (occurrences: one per raise, plus each update's)."""

    raised: int = 0
    recurred: int = 0
    ended: int = 0
    evidence: int = 0

    def minus(self, other: AlertCounts) -> AlertCounts:
        return AlertCounts(
            self.raised - other.raised,
            self.recurred - other.recurred,
            self.ended - other.ended,
            self.evidence - other.evidence,
        )

    def plus(self, other: AlertCounts) -> AlertCounts:
        return AlertCounts(
            self.raised + other.raised,
            self.recurred + other.recurred,
            self.ended + other.ended,
            self.evidence + other.evidence,
        )


def alert_counts(database_url: str) -> AlertCounts:
    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            steps = dict(
                session.execute(select(AlertStep.step, func.count()).group_by(AlertStep.step)).all()
            )
            evidence = session.scalar(select(func.coalesce(func.sum(Alert.occurrences), 0)))
    finally:
        engine.dispose()
    return AlertCounts(
        int(steps.get("raised", 0)),
        int(steps.get("recurred", 0)),
        int(steps.get("cause_ended", 0)),
        int(evidence or 0),
    )


def decided_tracks(database_url: str) -> int:
    """(person, zone) pairs whose state the rules have decided (inside or outside)."""
    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            count = session.scalar(
                select(func.count())
                .select_from(ZoneTrack)
                .where(ZoneTrack.state.in_((INSIDE, OUTSIDE)))
            )
    finally:
        engine.dispose()
    return int(count or 0)


def alerts_by_cause(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            rows = session.execute(
                select(Alert.cause, func.count()).group_by(Alert.cause).order_by(Alert.cause)
            ).all()
    finally:
        engine.dispose()
    return {str(cause): int(n) for cause, n in rows}


@dataclass
class Phase:
    rules: bool
    round: int
    warmup: RulesStep | None = None
    steps: list[RulesStep] = field(default_factory=list)
    alerts: AlertCounts = field(default_factory=AlertCounts)
    restart_s: float = 0.0

    @property
    def mode(self) -> str:
        return "rules on" if self.rules else "rules off"

    @property
    def sustained_per_s(self) -> float:
        return max((s.step.target_per_s for s in self.steps if s.step.sustained), default=0.0)

    @property
    def max_stored_per_s(self) -> float:
        return max((s.step.stored_per_s for s in self.steps), default=0.0)

    def reference(self, rate: float) -> RulesStep | None:
        return next((s for s in self.steps if s.step.target_per_s == rate), None)

    def to_json(self) -> dict[str, object]:
        return {
            "rules": self.rules,
            "round": self.round,
            "restart_s": self.restart_s,
            "warmup": None if self.warmup is None else self.warmup.to_json(),
            "steps": [s.to_json() for s in self.steps],
            "sustained_readings_per_s": self.sustained_per_s,
            "max_stored_per_s": self.max_stored_per_s,
            "alerts": asdict(self.alerts),
        }


def round_modes(number: int) -> tuple[bool, bool]:
    """Rules off then on in odd rounds, on then off in even ones."""
    return (False, True) if number % 2 else (True, False)


def climb_start(climb: Sequence[float], previous: float | None) -> int:
    """Where a later round's climb begins: two steps below the highest rate of the climb
    at or under what the mode sustained before."""
    if previous is None:
        return 0
    highest = sum(1 for rate in climb if rate <= previous) - 1
    return max(0, highest - 2)


def refine_rate(tried: Sequence[tuple[float, bool]]) -> float | None:
    """Halfway between the highest sustained rate and the next rate tried above it, when
    that one was not sustained: the step that halves the grid's uncertainty."""
    sustained = [rate for rate, ok in tried if ok]
    if not sustained:
        return None
    best = max(sustained)
    above = sorted(rate for rate, _ok in tried if rate > best)
    if not above:
        return None
    between = round((best + above[0]) / 2 / 250) * 250
    return between if best < between < above[0] else None


def _phase(run: _Run, rules: bool, number: int, previous: float | None, restart: bool) -> Phase:
    options = run.options
    phase = Phase(rules, number)
    if restart:
        started = time.monotonic()
        run.cloud.stop()
        run.cloud.settings["rules_enabled"] = rules
        run.cloud.start()
        phase.restart_s = time.monotonic() - started
    before = alert_counts(run.database_url)
    run.say(f"round {number}, {phase.mode} (cloud pid {run.cloud.pid})")
    phase.warmup = run_fix_step(run, options.warmup_per_s, options.warmup_seconds)
    reference, climb = options.steps[0], options.steps[1:]
    phase.steps.append(run_fix_step(run, reference, options.step_seconds))
    run.say(step_row(phase, phase.steps[-1]))
    failures = 0
    for rate in climb[climb_start(climb, previous) :]:
        step = run_fix_step(run, rate, options.step_seconds)
        phase.steps.append(step)
        run.say(step_row(phase, step))
        failures = 0 if step.step.sustained else failures + 1
        if failures >= options.stop_after_failures:
            break
    between = refine_rate([(s.step.target_per_s, s.step.sustained) for s in phase.steps])
    if options.refine and between is not None:
        phase.steps.append(run_fix_step(run, between, options.step_seconds))
        run.say(step_row(phase, phase.steps[-1]))
    phase.alerts = alert_counts(run.database_url).minus(before)
    return phase


@dataclass
class RulesPipelineReport:
    options: RulesPipelineOptions
    persons: int = 0
    zones: int = 0
    county_vertices: int = COUNTY_VERTICES
    kinds: dict[str, int] = field(default_factory=dict)
    mix: dict[str, dict[str, float]] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    alerts_by_cause: dict[str, int] = field(default_factory=dict)
    tracks: int = 0
    elapsed_s: float = 0.0

    def of(self, rules: bool) -> list[Phase]:
        return [p for p in self.phases if p.rules == rules]

    def sustained(self, rules: bool) -> float:
        values = [p.sustained_per_s for p in self.of(rules)]
        return statistics.median(values) if values else 0.0

    def capacity(self, rules: bool) -> float:
        values = [p.max_stored_per_s for p in self.of(rules)]
        return statistics.median(values) if values else 0.0

    @property
    def ratio(self) -> float | None:
        off = self.sustained(False)
        return self.sustained(True) / off if off else None

    @property
    def capacity_ratio(self) -> float | None:
        off = self.capacity(False)
        return self.capacity(True) / off if off else None

    def cpu_per_reading(self, rules: bool) -> tuple[float | None, float | None]:
        """Median cloud and gateway CPU µs per reading at the reference step."""
        steps = [p.reference(self.options.steps[0]) for p in self.of(rules)]
        cloud = [s.cloud_us_per_reading for s in steps if s is not None and s.step.stored]
        gateway = [s.gateway_us_per_reading for s in steps if s is not None and s.step.stored]
        return (
            statistics.median(v for v in cloud if v is not None) if cloud else None,
            statistics.median(v for v in gateway if v is not None) if gateway else None,
        )

    def alerts(self, rules: bool) -> AlertCounts:
        total = AlertCounts()
        for phase in self.of(rules):
            total = total.plus(phase.alerts)
        return total

    @property
    def rules_ran(self) -> bool:
        """The sanity check: alerts raised with the rules on, none with them off."""
        on, off = self.alerts(True), self.alerts(False)
        return on.raised + on.recurred > 0 and off == AlertCounts()

    def to_json(self) -> dict[str, object]:
        cloud_off, gateway_off = self.cpu_per_reading(False)
        cloud_on, gateway_on = self.cpu_per_reading(True)
        return {
            "options": asdict(self.options),
            "services": {"broker": "private", "influx": "private", "database": "sqlite"},
            "persons": self.persons,
            "zones": self.zones,
            "zones_per_person": ZONES_PER_PERSON,
            "county_vertices": self.county_vertices,
            "school_vertices": SCHOOL_VERTICES,
            "curfew": CURFEW,
            "kinds": self.kinds,
            "verdict_mix": self.mix,
            "phases": [p.to_json() for p in self.phases],
            "off": {
                "sustained_readings_per_s": [p.sustained_per_s for p in self.of(False)],
                "median_sustained_readings_per_s": self.sustained(False),
                "median_max_stored_per_s": self.capacity(False),
                "cloud_us_per_reading": cloud_off,
                "gateway_us_per_reading": gateway_off,
                "alerts": asdict(self.alerts(False)),
            },
            "on": {
                "sustained_readings_per_s": [p.sustained_per_s for p in self.of(True)],
                "median_sustained_readings_per_s": self.sustained(True),
                "median_max_stored_per_s": self.capacity(True),
                "cloud_us_per_reading": cloud_on,
                "gateway_us_per_reading": gateway_on,
                "alerts": asdict(self.alerts(True)),
            },
            "ratio": self.ratio,
            "capacity_ratio": self.capacity_ratio,
            "target_ratio": TARGET_RATIO,
            "reference_readings_per_s": self.options.steps[0],
            "alerts_by_cause": self.alerts_by_cause,
            "zone_tracks": self.tracks,
            "rules_ran": self.rules_ran,
            "elapsed_s": self.elapsed_s,
        }


@contextmanager
def _stack(folder: Path, devices: dict[str, str]) -> Iterator[Stack]:
    settings = {"rules_enabled": False, "scheduler_enabled": False}
    with Stack(folder / "stack", devices, cloud_settings=settings) as stack:
        yield stack


def run_rules_pipeline(
    options: RulesPipelineOptions, folder: Path, say: Callable[[str], None] = print
) -> RulesPipelineReport:
    """The rounds of both modes on one stack; see the module docstring."""
    started = time.monotonic()
    report = RulesPipelineReport(options)
    district = make_district(options)
    plans = tuple(p.plan for p in district.persons)
    for plan in plans:
        report.kinds[plan.kind] = report.kinds.get(plan.kind, 0) + 1
    report.mix = load_mix(district, options)
    devices = {plan.device_id: "bracelet" for plan in plans}
    devices[PROBE_DEVICE] = "bracelet"  # not worn: the probe is timing, not supervised
    say(
        f"{options.devices} bracelets worn by supervised persons, {ZONES_PER_PERSON} zones "
        f"each; + 1 probe (not worn); {options.records_per_message} fixes per message, "
        f"{options.step_seconds:g} s per step, {options.rounds} round(s) of rules off and on"
    )
    say(
        "a private Mosquitto and InfluxDB, the cloud on SQLite, the gateway; the cloud's "
        f"scheduler off; every zone's dwell {options.dwell_s} s"
    )
    with _stack(folder, devices) as stack:
        database_url = f"sqlite:///{(folder / 'stack' / 'cloud').absolute() / 'cloud.sqlite3'}"
        report.persons, report.zones = register_persons(
            database_url, district, options.dwell_s, datetime.now(UTC)
        )
        say(
            f"stack up, {report.persons} persons and {report.zones} zones registered after "
            f"{time.monotonic() - started:.1f} s"
        )
        say(table_header())
        run = _Run(stack, options, plans, database_url, say)
        previous: dict[bool, float | None] = {False: None, True: None}
        first = True
        for number in range(1, options.rounds + 1):
            for rules in round_modes(number):
                phase = _phase(run, rules, number, previous[rules], restart=not first)
                first = False
                previous[rules] = phase.sustained_per_s or None
                report.phases.append(phase)
        report.alerts_by_cause = alerts_by_cause(database_url)
        report.tracks = decided_tracks(database_url)
    report.elapsed_s = time.monotonic() - started
    return report


# --- output -------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def table_header() -> str:
    return (
        "| round | rules | load/s | offered/s | stored/s | stored | lost | p50 ms | p99 ms "
        "| sustained | cloud µs/reading | gateway µs/reading |\n"
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    )


def step_row(phase: Phase, measured: RulesStep) -> str:
    step = measured.step
    return (
        f"| {phase.round} | {'on' if phase.rules else 'off'} | {step.target_per_s:,.0f} | "
        f"{step.offered_per_s:,.0f} | {step.stored_per_s:,.0f} | {step.stored:,} | "
        f"{step.lost:,} | {_ms(step.p50_s)} | {_ms(step.p99_s)} | "
        f"{'yes' if step.sustained else 'no'} | {_us(measured.cloud_us_per_reading)} | "
        f"{_us(measured.gateway_us_per_reading)} |"
    )


def _rates(values: Sequence[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def summary_lines(report: RulesPipelineReport) -> list[str]:
    o = report.options
    kinds = ", ".join(f"{n} {kind}" for kind, n in report.kinds.items())
    lines = [
        "",
        f"district: {report.persons} persons ({kinds}), {report.zones} zones "
        f"(a county of {COUNTY_VERTICES} vertices shared; home circle with curfew {CURFEW}; "
        f"2 exclusion circles; an exclusion polygon of {SCHOOL_VERTICES} vertices)",
        "verdicts of the load's fixes (share of fix x zone checks, over device time):",
    ]
    for name, mix in report.mix.items():
        lines.append(
            f"  {name:<24} inside {mix['inside']:.1%}, outside {mix['outside']:.1%}, "
            f"undecided {mix['undecided']:.1%}"
        )
    for rules in (False, True):
        phases = report.of(rules)
        label = "rules on " if rules else "rules off"
        lines.append(
            f"{label}: sustained {_rates([p.sustained_per_s for p in phases])} readings/s "
            f"(rounds {', '.join(str(p.round) for p in phases)}): median "
            f"{report.sustained(rules):,.0f}; most stored/s in a step, median "
            f"{report.capacity(rules):,.0f}"
        )
    ratio = report.ratio
    if ratio is not None:
        verdict = "met" if ratio >= TARGET_RATIO else "missed"
        lines.append(
            f"on / off = {ratio:.2f} of the sustained rate (target >= {TARGET_RATIO:.2f}: "
            f"{verdict}); of the most stored/s: {report.capacity_ratio or 0:.2f}"
        )
    cloud_off, gateway_off = report.cpu_per_reading(False)
    cloud_on, gateway_on = report.cpu_per_reading(True)
    lines.append(
        f"CPU per reading at {o.steps[0]:,.0f}/s (median): cloud {_us(cloud_off)} µs off, "
        f"{_us(cloud_on)} µs on; gateway {_us(gateway_off)} µs off, {_us(gateway_on)} µs on"
    )
    for rules in (False, True):
        a = report.alerts(rules)
        lines.append(
            f"alerts with {'rules on ' if rules else 'rules off'}: {a.raised} raised, "
            f"{a.recurred} recurred, {a.ended} causes ended, {a.evidence} occurrences"
        )
    causes = ", ".join(f"{cause} {n}" for cause, n in report.alerts_by_cause.items())
    lines.append(f"alerts at the end, by cause: {causes or 'none'}")
    lines.append(
        f"zone tracks with a state: {report.tracks} of {report.persons * ZONES_PER_PERSON} "
        "(person, zone) pairs"
    )
    lines.append(
        "the rules ran: " + ("yes (alerts with them on, none off)" if report.rules_ran else "NO")
    )
    lines.append(f"whole run: {report.elapsed_s:.0f} s")
    return lines
