"""How fast supervision's rules run: ``fieldwatch bench rules --part zones|pipeline``.

``--part pipeline`` (the whole pipeline with the rules off and on, in one run) lives in
``rules_pipeline.py``, which places its district's zones with this module's ``offset``
and ``star``.

The zone-check part (``zone_checks``) times the cloud's vectorised zone verdicts
(cloud/supervision/geometry.py) on a district's fleet around Shanghai: every
person with five zones (their county, a home circle, a neighbourhood polygon,
and two exclusion zones about a victim: a circle and a polygon), fixes spread
about those zones as people move, each fix checked against its own person's
five zones. It reports fixes per second through ``classify_pairs`` in ingest-sized
batches and in big chunks, through ``classify_fixes`` called once per person and
zone of a batch, through a plain-shapely baseline, and through core's pure-Python
``classify`` (what the bracelet runs); and checks that core and the cloud agree on
every fix core was timed on.

Everything runs on one core: numpy's elementwise operations and shapely are
single-threaded, and the report gives each rate's CPU time over its wall time
(at most 100 % of a core) and the rate per CPU second, steadier than wall time
on a shared machine. ``pin_cpu`` (``--pin``) also pins the process to one CPU;
off by default, as on a busy machine a fixed CPU may be the busy one.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import shapely  # type: ignore[import-untyped]  # shapely 2 ships no type information
from numpy.typing import NDArray

from cloud.supervision import geometry
from core import geofence

Part = Literal["zones", "pipeline"]
PARTS: tuple[Part, ...] = ("zones", "pipeline")

SHANGHAI = (31.2304, 121.4737)
ZONES_PER_PERSON = 5
# Zone order of a person's five (the fixes' mixture refers to it).
COUNTY, HOME, NEIGHBOURHOOD, VICTIM_HOME, VICTIM_AREA = range(ZONES_PER_PERSON)
ZONE_ROLES = ("county", "home", "neighbourhood", "victim home", "victim area")
DISTRICTS = 16


@dataclass(frozen=True)
class ZoneCheckOptions:
    persons: int = 300
    fixes: int = 400_000
    batch: int = 2_000
    chunk: int = 100_000
    rounds: int = 5
    core_fixes: int = 20_000
    baseline_fixes: int = 40_000
    county_vertices: int = 40
    seed: int = 1
    pin_cpu: bool = False


@dataclass(frozen=True)
class ZoneRate:
    """One way of checking the fixes: median fixes/s of ``rounds`` runs, wall and CPU.

    ``core_share`` is CPU time over wall time (median of the rounds): at most 1.0 for
    work on one core, below it when the machine's other work took the core at times.
    """

    name: str
    fixes: int
    rounds: int
    fixes_per_s: float
    cpu_fixes_per_s: float
    core_share: float

    @property
    def zone_checks_per_s(self) -> float:
        return self.fixes_per_s * ZONES_PER_PERSON

    def line(self) -> str:
        return (
            f"  {self.name:<52} {self.fixes_per_s:>10,.0f} fixes/s "
            f"({self.zone_checks_per_s:,.0f} zone checks/s); per CPU second "
            f"{self.cpu_fixes_per_s:,.0f}, {self.core_share:.0%} of a core"
        )


@dataclass(frozen=True)
class ZoneCheckReport:
    options: ZoneCheckOptions
    zones: int
    zone_vertices: dict[str, float]  # mean vertices of each polygon role
    build_s: float  # zone_shape for every zone, once
    cpu: int | None  # the CPU the timings were pinned to
    rates: tuple[ZoneRate, ...]
    verdicts: dict[str, float]  # share of (fix, zone) checks per verdict, cloud
    compared_fixes: int
    disagreements: int  # of core's verdicts against the cloud's, on compared_fixes

    def rate(self, name: str) -> ZoneRate:
        return next(r for r in self.rates if r.name == name)

    def to_json(self) -> dict[str, object]:
        out: dict[str, Any] = asdict(self)
        for rate, item in zip(self.rates, out["rates"], strict=True):
            item["zone_checks_per_s"] = rate.zone_checks_per_s
        return out


def summary_lines(report: ZoneCheckReport) -> list[str]:
    o = report.options
    shares = ", ".join(f"{name} {share:.1%}" for name, share in report.verdicts.items())
    vertices = ", ".join(f"{role} {n:.0f}" for role, n in report.zone_vertices.items())
    pinned = f"pinned to CPU {report.cpu}" if report.cpu is not None else "not pinned"
    lines = [
        f"zone checks: {o.persons} persons x {ZONES_PER_PERSON} zones ({report.zones} zones; "
        f"polygon vertices: {vertices}), built in {report.build_s:.2f} s",
        f"{o.fixes:,} fixes, each against its person's {ZONES_PER_PERSON} zones; median of "
        f"{o.rounds} rounds, {pinned}",
    ]
    lines += [rate.line() for rate in report.rates]
    lines.append(f"  verdicts: {shares}")
    lines.append(
        f"  core and cloud disagree on {report.disagreements} of "
        f"{report.compared_fixes * ZONES_PER_PERSON:,} zone checks"
    )
    return lines


# --- the fleet ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """Persons' zones (person p owns zones 5p..5p+4) and fixes (person, lat, lon, accuracy)."""

    zones: tuple[geofence.Zone, ...]
    person: NDArray[np.intp]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    accuracy_m: NDArray[np.float64]


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (
        lat + north_m / geofence.M_PER_DEG,
        lon + east_m / (geofence.M_PER_DEG * math.cos(math.radians(lat))),
    )


def star(
    rng: random.Random, lat: float, lon: float, vertices: int, low_m: float, high_m: float
) -> list[tuple[float, float]]:
    # Star-shaped about its centre (angles strictly increasing): never self-intersecting.
    step = 2 * math.pi / vertices
    ring = []
    for k in range(vertices):
        angle = (k + rng.uniform(0.1, 0.9)) * step
        radius = rng.uniform(low_m, high_m)
        ring.append(offset(lat, lon, radius * math.cos(angle), radius * math.sin(angle)))
    return ring


def make_fleet(persons: int, fixes: int, seed: int = 1, county_vertices: int = 40) -> Fleet:
    """A district's supervised persons around Shanghai and their fixes, reproducibly."""
    rng = random.Random(seed)
    districts = []
    for _ in range(DISTRICTS):
        lat, lon = offset(*SHANGHAI, rng.uniform(-35e3, 35e3), rng.uniform(-30e3, 30e3))
        size = rng.uniform(8e3, 20e3)
        districts.append((lat, lon, size, star(rng, lat, lon, county_vertices, 0.6 * size, size)))
    zones: list[geofence.Zone] = []
    centres: list[tuple[float, float, float]] = []  # per zone: lat, lon, a typical size (m)
    for _ in range(persons):
        d_lat, d_lon, size, county = districts[rng.randrange(DISTRICTS)]
        home = offset(d_lat, d_lon, rng.uniform(-0.4, 0.4) * size, rng.uniform(-0.4, 0.4) * size)
        area = offset(*home, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        victim = offset(*home, rng.uniform(-6e3, 6e3), rng.uniform(-6e3, 6e3))
        school = offset(*victim, rng.uniform(-1e3, 1e3), rng.uniform(-1e3, 1e3))
        home_r = rng.uniform(100, 300)
        victim_r = rng.uniform(200, 500)
        area_r = rng.uniform(1000, 3000)
        school_r = rng.uniform(300, 1000)
        zones += [
            geofence.polygon(county),
            geofence.circle(*home, home_r),
            geofence.polygon(star(rng, *area, rng.randint(20, 40), 0.5 * area_r, area_r)),
            geofence.circle(*victim, victim_r),
            geofence.polygon(star(rng, *school, rng.randint(8, 16), 0.5 * school_r, school_r)),
        ]
        centres += [
            (d_lat, d_lon, size),
            (*home, home_r),
            (*area, area_r),
            (*victim, victim_r),
            (*school, school_r),
        ]
    person = np.empty(fixes, dtype=np.intp)
    lat_a = np.empty(fixes)
    lon_a = np.empty(fixes)
    acc = np.empty(fixes)
    for i in range(fixes):
        p = rng.randrange(persons)
        person[i] = p
        lat_a[i], lon_a[i] = _fix_near(rng, zones[p * ZONES_PER_PERSON], centres, p)
        acc[i] = _accuracy(rng)
    return Fleet(tuple(zones), person, lat_a, lon_a, acc)


def _fix_near(
    rng: random.Random,
    county: geofence.Zone,
    centres: list[tuple[float, float, float]],
    p: int,
) -> tuple[float, float]:
    # Where a person is: mostly about home and their neighbourhood, now and then near
    # the victim's places, anywhere in the county, or near its boundary.
    base = p * ZONES_PER_PERSON
    pick = rng.random()
    if pick < 0.45:
        lat, lon, r = centres[base + HOME]
        distance = rng.expovariate(1 / (2 * r))
    elif pick < 0.65:
        lat, lon, r = centres[base + NEIGHBOURHOOD]
        distance = rng.uniform(0, 1.5 * r)
    elif pick < 0.75:
        lat, lon, r = centres[base + rng.choice((VICTIM_HOME, VICTIM_AREA))]
        distance = rng.uniform(0, 4 * r)
    elif pick < 0.90:
        lat, lon, r = centres[base + COUNTY]
        distance = r * math.sqrt(rng.random())
    else:
        k = rng.randrange(len(county.vertices))
        a = county.vertices[k]
        b = county.vertices[(k + 1) % len(county.vertices)]
        t = rng.random()
        lat, lon = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        distance = rng.uniform(0, 1500)
    angle = rng.uniform(0, 2 * math.pi)
    return offset(lat, lon, distance * math.cos(angle), distance * math.sin(angle))


def _accuracy(rng: random.Random) -> float:
    # As fixes come: GNSS about 10 m, Wi-Fi 30 to 80 m, cell towers 200 to 500 m.
    pick = rng.random()
    if pick < 0.65:
        return float(max(3, round(rng.gauss(10, 4))))
    if pick < 0.90:
        return float(rng.randint(30, 80))
    return float(rng.randint(200, 500))


# --- timing -------------------------------------------------------------------------


@contextmanager
def one_cpu(pin: bool) -> Iterator[int | None]:
    """Pin this process to one CPU while timing (where the OS allows it)."""
    if not pin or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def _median_rate(name: str, work: Callable[[], object], fixes: int, rounds: int) -> ZoneRate:
    walls = []
    cpus = []
    for _ in range(rounds):
        wall = time.perf_counter()
        cpu = time.process_time()
        work()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    # process_time ticks coarsely on some systems: never divide by zero.
    cpu_s = max(statistics.median(cpus), 1e-9)
    share = statistics.median(c / max(w, 1e-9) for c, w in zip(cpus, walls, strict=True))
    return ZoneRate(name, fixes, rounds, fixes / statistics.median(walls), fixes / cpu_s, share)


def _pairs(
    fleet: Fleet, start: int, stop: int
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Each fix of [start, stop) against its person's five zones, as (zone, fix) pairs."""
    zone_index = (
        fleet.person[start:stop, None] * ZONES_PER_PERSON + np.arange(ZONES_PER_PERSON)
    ).ravel()
    return (
        zone_index,
        np.repeat(fleet.lat[start:stop], ZONES_PER_PERSON),
        np.repeat(fleet.lon[start:stop], ZONES_PER_PERSON),
        np.repeat(fleet.accuracy_m[start:stop], ZONES_PER_PERSON),
    )


def _cloud(zones: geometry.ZoneSet, fleet: Fleet, size: int) -> Callable[[], list[Any]]:
    def work() -> list[Any]:
        out = []
        for start in range(0, len(fleet.person), size):
            zone_index, lat, lon, acc = _pairs(fleet, start, start + size)
            verdicts = geometry.classify_pairs(zones, zone_index, lat, lon, acc)
            out.append(verdicts.reshape(-1, ZONES_PER_PERSON))
        return out

    return work


def _per_person(shapes: list[geometry.ZoneShape], fleet: Fleet, size: int) -> Callable[[], None]:
    """A batch's fixes grouped by person, one classify_fixes call per person and zone."""

    def work() -> None:
        for start in range(0, len(fleet.person), size):
            person = fleet.person[start : start + size]
            lat = fleet.lat[start : start + size]
            lon = fleet.lon[start : start + size]
            acc = fleet.accuracy_m[start : start + size]
            order = np.argsort(person, kind="stable")
            for mine in np.split(order, np.flatnonzero(np.diff(person[order])) + 1):
                base = int(person[mine[0]]) * ZONES_PER_PERSON
                for z in range(ZONES_PER_PERSON):
                    geometry.classify_fixes(shapes[base + z], lat[mine], lon[mine], acc[mine])

    return work


def _shapely_baseline(
    shapes: list[geometry.ZoneShape], fleet: Fleet, size: int
) -> Callable[[], None]:
    """The first approach: every polygon pair through prepared contains_xy and distance."""
    is_circle = np.array([s.radius_m is not None for s in shapes])
    radius = np.array([s.radius_m or 0.0 for s in shapes])
    polygons = np.array([s.geometry for s in shapes], dtype=object)
    boundaries = np.array([s.boundary for s in shapes], dtype=object)
    ref_lat = np.array([s.zone.ref_lat for s in shapes])
    ref_lon = np.array([s.zone.ref_lon for s in shapes])
    kx = np.array([s.zone.m_per_deg_lon for s in shapes])

    def work() -> None:
        for start in range(0, len(fleet.person), size):
            zi, lat, lon, acc = _pairs(fleet, start, start + size)
            x = (lon - ref_lon[zi]) * kx[zi]
            y = (lat - ref_lat[zi]) * geofence.M_PER_DEG
            d = np.empty(len(zi))
            c = is_circle[zi]
            d[c] = np.sqrt(x[c] * x[c] + y[c] * y[c]) - radius[zi[c]]
            p = ~c
            inside = shapely.contains_xy(polygons[zi[p]], x[p], y[p])
            far = shapely.distance(boundaries[zi[p]], shapely.points(x[p], y[p]))
            d[p] = np.where(inside, -far, far)
            np.where((d < 0) & (-d >= acc), 1, np.where((d > 0) & (d >= acc), -1, 0))

    return work


def _core(fleet: Fleet, fixes: int) -> Callable[[], list[list[int]]]:
    zones = fleet.zones
    rows = list(
        zip(
            fleet.person[:fixes].tolist(),
            fleet.lat[:fixes].tolist(),
            fleet.lon[:fixes].tolist(),
            fleet.accuracy_m[:fixes].tolist(),
            strict=True,
        )
    )

    def work() -> list[list[int]]:
        classify = geofence.classify
        out = []
        for p, lat, lon, acc in rows:
            base = p * ZONES_PER_PERSON
            out.append([classify(zones[base + z], lat, lon, acc) for z in range(ZONES_PER_PERSON)])
        return out

    return work


def zone_checks(
    options: ZoneCheckOptions, say: Callable[[str], None] = lambda _: None
) -> ZoneCheckReport:
    """Fixes per second through the cloud's zone checks, a shapely baseline and core."""
    say(f"making {options.persons} persons' zones and {options.fixes:,} fixes")
    fleet = make_fleet(options.persons, options.fixes, options.seed, options.county_vertices)
    started = time.perf_counter()
    shapes = [geometry.zone_shape(zone) for zone in fleet.zones]
    zones = geometry.zone_set(shapes)
    build_s = time.perf_counter() - started
    core_fixes = min(options.core_fixes, options.fixes)
    baseline_fixes = min(options.baseline_fixes, options.fixes)
    baseline = Fleet(
        fleet.zones,
        fleet.person[:baseline_fixes],
        fleet.lat[:baseline_fixes],
        fleet.lon[:baseline_fixes],
        fleet.accuracy_m[:baseline_fixes],
    )
    rates = []
    with one_cpu(options.pin_cpu) as cpu:
        for name, size in (
            (f"cloud, batches of {options.batch:,}", options.batch),
            (f"cloud, chunks of {options.chunk:,}", options.chunk),
        ):
            say(f"timing {name}")
            rates.append(
                _median_rate(name, _cloud(zones, fleet, size), options.fixes, options.rounds)
            )
        name = f"cloud, a call per person and zone, batches of {options.batch:,}"
        say(f"timing {name}")
        work = _per_person(shapes, baseline, options.batch)
        rates.append(_median_rate(name, work, baseline_fixes, options.rounds))
        name = f"plain shapely, batches of {options.batch:,}"
        say(f"timing {name}")
        work = _shapely_baseline(shapes, baseline, options.batch)
        rates.append(_median_rate(name, work, baseline_fixes, options.rounds))
        say("timing core (pure Python)")
        core_work = _core(fleet, core_fixes)
        rates.append(_median_rate("core, pure Python", core_work, core_fixes, options.rounds))
    cloud = np.concatenate(_cloud(zones, fleet, options.chunk)())
    counts = np.bincount(cloud.ravel().astype(np.intp) + 1, minlength=3) / cloud.size
    core = np.array(core_work(), dtype=np.int8).reshape(-1, ZONES_PER_PERSON)
    vertices = {
        ZONE_ROLES[role]: statistics.mean(
            len(fleet.zones[p * ZONES_PER_PERSON + role].vertices) for p in range(options.persons)
        )
        for role in (COUNTY, NEIGHBOURHOOD, VICTIM_AREA)
    }
    return ZoneCheckReport(
        options=options,
        zones=len(shapes),
        zone_vertices=vertices,
        build_s=build_s,
        cpu=cpu,
        rates=tuple(rates),
        verdicts={
            "inside": float(counts[2]),
            "outside": float(counts[0]),
            "undecided": float(counts[1]),
        },
        compared_fixes=core_fixes,
        disagreements=int((core != cloud[:core_fixes]).sum()),
    )
