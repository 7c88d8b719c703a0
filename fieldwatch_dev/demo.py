"""``fieldwatch demo``: the whole system running locally, with data flowing.

Starts a private Mosquitto (per-device passwords and the contract's ACL) and
InfluxDB, registers a gateway, people, river sites and devices in a fresh
cloud database, then runs the cloud (``fieldwatch cloud serve``), a gateway
(``fieldwatch edge run``) and a fleet of simulated bracelets and river stations
running the real agent code. The fleet first catches up on the last
``--history`` minutes (as devices do after an outage: the cloud marks those
readings late), then reports live. It prints where to look and how to query.
"""

import dataclasses
import os
import secrets
import shutil
import signal
import sys
import time
import webbrowser
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import httpx
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts.models import Alert
from cloud.cli import add_device
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet.service import add_gateway
from cloud.identity.models import Role
from cloud.identity.service import add_user, get_user
from cloud.rivers.service import (
    RiverInput,
    add_site,
    appoint_chief,
    check_river,
    get_river,
    put_river,
)
from cloud.supervision import service as supervision
from cloud.supervision.measures import RULES, Measure, add_months
from cloud.supervision.models import Zone
from core import contract as c
from core import waterclass
from core.receiver import DeviceKind
from fieldwatch_dev.local import InfluxServer, MosquittoServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer, EdgeGateway
from fieldwatch_dev.local.mosquitto import DEPLOYMENT_MAX_QUEUED_MESSAGES
from fieldwatch_dev.simulator.fleet import Fleet, FleetStats, bracelet_id, station_id
from fieldwatch_dev.simulator.scenario import River as ScenarioRiver
from fieldwatch_dev.simulator.scenario import Scenario, load_scenario
from fieldwatch_dev.simulator.scenario import Zone as ScenarioZone
from fieldwatch_dev.simulator.world import World, distance_m, offset
from provisioning.broker_acl import render_acl

GATEWAY = "gw-demo"
EDGE_MQTT_USER = "fieldwatch-edge"
DATABASE = "fieldwatch"
ADMIN = "demo-admin"
CHIEF = "demo-chief"
PROSECUTOR = "demo-prosecutor"  # approves trips at county level
LOCAL_PROSECUTOR = "demo-local-prosecutor"  # approves trips of up to 7 days
# Supervision: the cloud's schedules are in its console_timezone (Asia/Shanghai by default).
TIMEZONE = ZoneInfo("Asia/Shanghai")
HOME_RADIUS_M = 300
CURFEW = "Mon-Sun 22:00-06:00"
TERM_ENDING_IN_DAYS = 3  # one person's term ends within the cloud's 7-day reminder
ROLL_CALLS_PER_DAY = 12  # random ones, for the wearer who ignores them
ROLL_CALL_WINDOW_S = 120  # the one the demo sends as it goes live
PERMIT_AFTER_LIVE_S = 600  # the trip permit ends 10 minutes after the demo goes live
# Short enough to be seen in a demo (the defaults are 900 s each).
CLOUD_CHECKS = {"absent_after_s": 300, "trip_grace_s": 120}
# Where the cloud keeps each kind of record (docs/storage.md).
MEASUREMENTS = (
    ("evidence", "location"),
    ("evidence", "water"),
    ("evidence", "event"),
    ("evidence", "ack"),
    ("device_health", "health"),
)


@dataclasses.dataclass(frozen=True)
class Cast:
    """Who and what the demo registers, with their secrets."""

    bracelets: list[str]
    stations: list[str]
    device_passwords: dict[str, str]
    edge_password: str
    admin_password: str
    chief_password: str
    prosecutor_password: str
    local_prosecutor_password: str


def _cast(bracelets: int, stations: int) -> Cast:
    devices = [bracelet_id(n) for n in range(1, bracelets + 1)]
    sites = [station_id(n) for n in range(1, stations + 1)]
    return Cast(
        devices,
        sites,
        {d: secrets.token_urlsafe(18) for d in devices + sites},
        secrets.token_urlsafe(18),
        secrets.token_urlsafe(12),
        secrets.token_urlsafe(12),
        secrets.token_urlsafe(12),
        secrets.token_urlsafe(12),
    )


def _case(number: int) -> str:
    return f"case-2026-{number:04d}"


def _register(database_url: str, cast: Cast, world: World, live_at: datetime) -> list[str]:
    """Fill a fresh cloud database; return the gateway's token, then what supervision
    left out (a zone a wearer's ordinary day breaks) and the trip permit given."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            token = add_gateway(session, GATEWAY, now)
            add_user(session, ADMIN, cast.admin_password, Role.administrator, now)
            add_user(session, CHIEF, cast.chief_password, Role.river_chief, now)
            rivers = load_scenario(None).rivers
            _rivers(session, rivers, len(cast.stations), now)
            for number, station in enumerate(cast.stations, start=1):
                site = f"site-{number:03d}"
                index = (number - 1) % len(rivers)
                river = rivers[index]  # the river its simulator measures
                lat, lon = _site_place(river, number)
                add_site(
                    session,
                    site,
                    f"{river.name} {number}",
                    "",
                    lat,
                    lon,
                    river_code=river_code(index),
                    target=_usual_class(river),
                )
                add_device(session, now, station, DeviceKind.river_station, GATEWAY, site_id=site)
            # The chief chairs the first river at town level: its sites are theirs.
            appoint_chief(
                session, get_river(session, river_code(0)), get_user(session, CHIEF), "town", now
            )
            for bracelet in cast.bracelets:
                add_device(session, now, bracelet, DeviceKind.bracelet, GATEWAY)
            notes = _supervise(session, cast, world, now, live_at)
    finally:
        engine.dispose()
    return [token, *notes]


def river_code(index: int) -> str:
    return f"SH-{index + 1:03d}"


def _site_place(river: ScenarioRiver, number: int) -> tuple[float, float]:
    # Stations of one river a few hundred metres apart along it.
    return offset(river.lat, river.lon, 250.0 * number, 400.0 * number)


def _rivers(session: Session, rivers: list[ScenarioRiver], stations: int, now: datetime) -> None:
    """Each scenario river with a course through its stations' sites."""
    for index, river in enumerate(rivers):
        numbers = [n for n in range(1, stations + 1) if (n - 1) % len(rivers) == index]
        points = [offset(river.lat, river.lon, -600.0, -900.0), (river.lat, river.lon)]
        points += [_site_place(river, n) for n in numbers]
        last = points[-1]
        points.append(offset(last[0], last[1], 500.0, 800.0))
        line = {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]}
        put_river(session, check_river(RiverInput(river_code(index), river.name, line)), now)


def _usual_class(river: ScenarioRiver) -> int:
    """The class of the river's usual water at its worst hour (its target: only an
    incident makes it worse), from its typical values, oxygen at the day's low."""
    worst = {
        "ph": river.ph,
        "dissolved_oxygen": river.dissolved_oxygen - 1.2,
        "permanganate_index": river.permanganate_index * 1.03,
        "ammonia_nitrogen": river.ammonia_nitrogen * 1.03,
        "total_phosphorus": river.total_phosphorus * 1.03,
    }
    cls, _ = waterclass.classify(
        {c.WATER_PARAMETER_IDS[k]: v for k, v in worst.items()}, waterclass.RIVER
    )
    return min(5, cls or 3)


def _term(number: int, today: date) -> tuple[Measure, date, date]:
    """A measure and its term: the three measures in turn, each as long as it may last,
    started some weeks ago; the first person's ends within the reminder window."""
    measure = (Measure.bail, Measure.residential_surveillance, Measure.corrections_ep)[
        (number - 1) % 3
    ]
    if number == 1:
        return (
            Measure.corrections_ep,
            today - timedelta(days=80),
            today + timedelta(days=TERM_ENDING_IN_DAYS),
        )
    start = today - timedelta(days=5 + (number * 11) % 50)
    return measure, start, add_months(start, RULES[measure].max_months)


def _circle(lat: float, lon: float, radius_m: float) -> dict[str, float]:
    return {"lat": lat, "lon": lon, "radius_m": radius_m}


def _day_of(world: World, number: int, day: range) -> list[tuple[float, float]]:
    """Where the wearer is at each of the sampled moments of the day."""
    return [
        (state.lat, state.lon) for state in (world.wearer_state(number, ts, None) for ts in day)
    ]


def _keeps(track: list[tuple[float, float]], zone: ScenarioZone, inclusion: bool) -> bool:
    """Whether a day keeps to this zone's rule (inside an inclusion zone, out of an
    exclusion zone) at every sampled moment."""
    return all(
        (distance_m(zone.lat, zone.lon, lat, lon) < zone.radius_m) == inclusion
        for lat, lon in track
    )


def _supervise(
    session: Session, cast: Cast, world: World, now: datetime, live_at: datetime
) -> list[str]:
    """Persons with a measure and its term, their bracelets worn from now, a home circle
    with a curfew, the county, the exclusion zones, random roll calls for the wearer who
    ignores them, and an approved permit for the first trip out of the county. A zone
    the wearer's ordinary day would break (a home inside an exclusion zone, a commute out
    of the county) is left out: that is no incident of the scenario."""
    scenario = world.scenario
    county_level = add_user(
        session, PROSECUTOR, cast.prosecutor_password, Role.prosecutor, now, approval_level="county"
    )
    local_level = add_user(
        session,
        LOCAL_PROSECUTOR,
        cast.local_prosecutor_password,
        Role.prosecutor,
        now,
        approval_level="local",
    )
    county = _add_zone(session, scenario.county, "inclusion", "county", "", county_level.id, now)
    exclusions = [
        (spec, _add_zone(session, spec, "exclusion", "other", "", county_level.id, now))
        for spec in scenario.zones
    ]
    ordinary = World(scenario.model_copy(update={"bracelet_incidents": []}), world.seed)
    day = range(world.start_ts, world.start_ts + 86_400, 60)
    today = now.astimezone(TIMEZONE).date()
    notes = []
    trips = []
    for number, bracelet in enumerate(cast.bracelets, start=1):
        wearer = world.wearer(number)
        measure, term_start, term_end = _term(number, today)
        person = supervision.add_person(
            session,
            _case(number),
            f"Supervised person {number}",
            measure=measure,
            legal_basis=RULES[measure].basis,
            term_start=term_start,
            term_end=term_end,
            prosecutor_id=county_level.id,
            now=now,
        )
        supervision.assign_bracelet(session, person, bracelet, now, county_level.id)
        home = ScenarioZone(
            name=f"home of {_case(number)}",
            lat=wearer.home[0],
            lon=wearer.home[1],
            radius_m=HOME_RADIUS_M,
        )
        supervision.assign_zone(
            session,
            _add_zone(session, home, "inclusion", "home", CURFEW, county_level.id, now),
            person,
        )
        named = {i.zone for i in wearer.incidents if i.zone is not None}
        track = _day_of(ordinary, number, day)
        if _keeps(track, scenario.county, True):
            supervision.assign_zone(session, county, person)
        else:
            notes.append(f"{bracelet}: no county zone (its wearer commutes out of it)")
        for spec, zone in exclusions:
            if spec.name in named or _keeps(track, spec, False):
                supervision.assign_zone(session, zone, person)
            else:
                notes.append(f"{bracelet}: no zone {spec.name!r} (its wearer lives or walks in it)")
        kinds = {i.kind for i in wearer.incidents}
        if "ignores_roll_calls" in kinds:
            supervision.set_roll_calls_per_day(session, person, ROLL_CALLS_PER_DAY)
        trips += [
            (i.at_s - i.travel_s, person, i) for i in wearer.incidents if i.kind == "leave_county"
        ]
    ends = live_at + timedelta(seconds=PERMIT_AFTER_LIVE_S)
    trips = [t for t in trips if world.start_ts + t[0] < ends.timestamp()]
    if trips:
        # The first trip, its permit from the moment the wearer sets off.
        leaves, person, trip = min(trips, key=lambda t: t[0])
        permit = supervision.request_trip(
            session,
            person,
            trip.place or "",
            datetime.fromtimestamp(world.start_ts + leaves, UTC),
            ends,
            local_level.id,
            now,
            reason="visiting family",
        )
        supervision.decide_trip(session, permit, True, "local", local_level.id, now)
        back = datetime.fromtimestamp(world.start_ts + trip.at_s + trip.duration_s, UTC)
        notes.append(
            f"{bracelet_id(trip.device)}: travel permit to {trip.place} until "
            f"{ends.astimezone(TIMEZONE):%H:%M} (approved by {LOCAL_PROSECUTOR}); the wearer "
            f"is back only at {back.astimezone(TIMEZONE):%H:%M}, so the trip becomes overdue "
            f"{CLOUD_CHECKS['trip_grace_s'] // 60} min after the permit ends"
        )
    return notes


def _add_zone(
    session: Session,
    spec: ScenarioZone,
    rule: str,
    role: str,
    schedule: str,
    by_user: int,
    now: datetime,
) -> Zone:
    return supervision.add_zone(
        session,
        supervision.ZoneInput(
            spec.name,
            rule,
            "circle",
            _circle(spec.lat, spec.lon, spec.radius_m),
            role=role,
            schedule=schedule,
        ),
        by_user,
        now,
    )


def _secret_file(path: Path, text: str) -> Path:
    path.touch(mode=0o600)
    path.write_text(text)
    return path


def _stored(influx_url: str) -> dict[str, int]:
    """Points per measurement, read back from InfluxDB itself."""
    counts = {}
    for policy, measurement in MEASUREMENTS:
        response = httpx.get(
            f"{influx_url}/query",
            params={"db": DATABASE, "q": f'SELECT count("seq") FROM "{policy}"."{measurement}"'},
        )
        series = response.json()["results"][0].get("series", [])
        counts[measurement] = int(series[0]["values"][0][1]) if series else 0
    return counts


def demo_command(
    folder: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(".demo"),
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many live seconds (default: Ctrl-C).")
    ] = None,
    bracelets: Annotated[int, typer.Option(min=1, help="Simulated bracelets.")] = 40,
    stations: Annotated[int, typer.Option(min=1, help="Simulated river stations.")] = 6,
    history: Annotated[
        int, typer.Option(min=0, help="Minutes of past data the devices catch up on first.")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 1,
    open_browser: Annotated[
        bool,
        typer.Option(
            "--open/--no-open", help="Open the console in a browser, when there is a display."
        ),
    ] = True,
) -> None:
    """Run broker, InfluxDB, cloud, gateway and a simulated fleet; say where to look."""
    folder = folder.resolve()
    # Every run starts afresh: new simulated devices restart at boot 1, which must not
    # meet an earlier run's records, buffers or sessions.
    for part in ("mosquitto", "influxdb", "cloud", "edge"):
        shutil.rmtree(folder / part, ignore_errors=True)
    (folder / "cloud.sqlite3").unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    cast = _cast(bracelets, stations)
    database_url = f"sqlite:///{folder / 'cloud.sqlite3'}"
    scenario = load_scenario(None)
    live_at = datetime.now(UTC)
    start = live_at - timedelta(minutes=history)
    # The scenario's day, moved so that its history ends now: timestamps are real times.
    world = World(_moved(scenario, start), seed)
    token, *notes = _register(database_url, cast, world, live_at)
    admin_file = _secret_file(folder / "admin.password", cast.admin_password)
    _secret_file(folder / "chief.password", cast.chief_password)
    _secret_file(folder / "prosecutor.password", cast.prosecutor_password)
    _secret_file(folder / "local-prosecutor.password", cast.local_prosecutor_password)

    users = {**cast.device_passwords, EDGE_MQTT_USER: cast.edge_password}
    broker = MosquittoServer(
        folder / "mosquitto",
        users=users,
        acl=render_acl([EDGE_MQTT_USER]),
        max_queued_messages=DEPLOYMENT_MAX_QUEUED_MESSAGES,
    )
    influx = InfluxServer(folder / "influxdb")
    typer.echo("starting Mosquitto, InfluxDB, the cloud and the gateway ...")
    with broker, influx:
        cloud = CloudServer(
            folder / "cloud",
            {
                "influx_url": influx.url,
                "influx_database": DATABASE,
                "database_url": database_url,
                "data_dir": str(folder / "cloud"),
                **CLOUD_CHECKS,
            },
        )
        kinds = {b: DeviceKind.bracelet for b in cast.bracelets}
        kinds.update({s: DeviceKind.river_station for s in cast.stations})
        edge = EdgeGateway(
            folder / "edge",
            {
                "gateway_id": GATEWAY,
                "mqtt_url": broker.url,
                "mqtt_username": EDGE_MQTT_USER,
                "mqtt_password": cast.edge_password,
                "cloud_url": cloud.url,  # its port is chosen when it is built
                "gateway_token": token,
                "buffer_path": str(folder / "edge" / "buffer.sqlite3"),
                "data_dir": str(folder / "edge"),
            },
            devices=kinds,
        )
        with cloud, edge:
            _run_fleet(folder, cast, world, broker, influx, cloud, edge, admin_file,
                       duration, history, notes, open_browser)  # fmt: skip
    typer.echo("stopped the gateway, the cloud, InfluxDB and Mosquitto")


def _moved(scenario: Scenario, start: datetime) -> Scenario:
    return scenario.model_copy(update={"start": start.astimezone(scenario.start.tzinfo)})


def _run_fleet(
    folder: Path,
    cast: Cast,
    world: World,
    broker: MosquittoServer,
    influx: InfluxServer,
    cloud: CloudServer,
    edge: EdgeGateway,
    admin_file: Path,
    duration: float | None,
    history: int,
    notes: list[str],
    open_browser: bool,
) -> None:
    database_url = str(cloud.settings["database_url"])
    fleet = Fleet(broker.url, world, len(cast.bracelets), len(cast.stations), cast.device_passwords)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        if history:
            typer.echo(f"catching up on {history} minutes of history ...")
            fleet.run(history * 60, speedup=0)
        _print_where_to_look(folder, broker, influx, cloud, edge, admin_file, cast, notes)
        _roll_call(database_url, world, cast)
        if open_browser and _has_display():
            webbrowser.open(f"{cloud.url}/console/sign-in")
        started = time.monotonic()
        while not stop["now"]:
            if duration is not None and time.monotonic() - started >= duration:
                break
            fleet.run(5, speedup=1.0)
            _progress(fleet.stats(), influx.url, database_url)
    except KeyboardInterrupt:
        pass
    typer.echo("draining: devices send what they hold, the gateway forwards it ...")
    fleet.drain(30)
    made = fleet.stats().created
    fleet.close()
    deadline = time.monotonic() + 30
    while sum(_stored(influx.url).values()) < made and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = _stored(influx.url)
    typer.echo(
        f"devices made {made} records; InfluxDB holds {stored['location']} location, "
        f"{stored['water']} water, {stored['event']} event, {stored['health']} health, "
        f"{stored['ack']} ack points ({sum(stored.values())} in all)"
    )


def _has_display() -> bool:
    """A desktop to open a browser on (a server over SSH has none: the address is printed)."""
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _progress(stats: FleetStats, influx_url: str, database_url: str) -> None:
    stored = sum(_stored(influx_url).values())
    raised = _alerts(database_url)
    causes = ", ".join(f"{cause} {n}" for cause, n in sorted(raised.items())) or "none yet"
    typer.echo(
        f"  devices connected {stats.connected}/{stats.devices}, records made {stats.created}, "
        f"buffered on devices {stats.buffered}, stored in InfluxDB {stored}; "
        f"alerts: {causes}"
    )


def _alerts(database_url: str) -> Counter[str]:
    """Alerts raised so far by cause, read from the cloud's database."""
    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            return Counter(session.scalars(select(Alert.cause)))
    finally:
        engine.dispose()


def _roll_call(database_url: str, world: World, cast: Cast) -> None:
    """A roll call now to each wearer who ignores them, so that one is missed while the
    demo runs (the random ones fall anywhere between 08:00 and 21:00)."""
    engine = make_engine(database_url)
    try:
        with make_sessions(engine).begin() as session:
            for number in range(1, len(cast.bracelets) + 1):
                kinds = {i.kind for i in world.wearer(number).incidents}
                if "ignores_roll_calls" in kinds:
                    person = supervision.get_person(session, _case(number))
                    supervision.send_roll_call(
                        session, person, ROLL_CALL_WINDOW_S, datetime.now(UTC)
                    )
    finally:
        engine.dispose()


def _print_where_to_look(
    folder: Path,
    broker: MosquittoServer,
    influx: InfluxServer,
    cloud: CloudServer,
    edge: EdgeGateway,
    admin_file: Path,
    cast: Cast,
    notes: list[str],
) -> None:
    login = (
        '  TOKEN=$(printf \'{"username": "'
        + ADMIN
        + '", "password": "%s"}\' '
        + f'"$(cat {admin_file})" | curl -s -X POST $CLOUD/api/v1/auth/token '
        + "-H 'Content-Type: application/json' -d @- "
        + """| python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"""
    )
    bracelet = cast.bracelets[0]
    now = datetime.now(UTC)
    window = (
        f"--data-urlencode start={(now - timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')} "
        f"--data-urlencode end={(now + timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    typer.echo(
        "\n".join(
            [
                "",
                "fieldwatch demo is running. Where to look:",
                f"  console       {cloud.url}/console",
                f"                sign in as {ADMIN} (administrator: map, devices, sites), "
                f"password in {folder}/admin.password",
                f"                or as {CHIEF} (town river chief of SH-001, the first river: "
                "its sites, their classes and alerts), "
                f"password in {folder}/chief.password,",
                f"                or as {PROSECUTOR} / {LOCAL_PROSECUTOR} (prosecutors approving "
                f"trips at county / local level), passwords in {folder}/prosecutor.password "
                f"and {folder}/local-prosecutor.password",
                f"  alerts        {cloud.url}/console/alerts, or the cloud's table:",
                f'                sqlite3 {folder}/cloud.sqlite3 "SELECT raised_at, cause, '
                'device_id, summary FROM alerts ORDER BY id"',
                *(f"                {note}" for note in notes),
                f"  cloud API     {cloud.url}/docs",
                f"  gateway       {edge.metrics_url}",
                f"  MQTT broker   {broker.url}   (each device logs in as itself; ACL on)",
                f"  InfluxDB      {influx.url}   (database {DATABASE})",
                f"  logs          {folder}/*/*.log",
                "",
                "Query it (docs/cloud.md has more):",
                f"  CLOUD={cloud.url}",
                login,
                f'  curl -s -G $CLOUD/api/v1/devices/{bracelet}/track -H "Authorization: Bearer '
                f'$TOKEN" {window} -d every_s=300',
                '  curl -s -G $CLOUD/api/v1/sites/site-001/water -H "Authorization: Bearer $TOKEN"'
                f" {window} -d parameter=dissolved_oxygen -d every_s=600",
                '  curl -s $CLOUD/api/v1/sites/latest -H "Authorization: Bearer $TOKEN"',
                "Press Ctrl-C to stop.",
                "",
            ]
        )
    )
