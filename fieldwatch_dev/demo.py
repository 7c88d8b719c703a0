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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer

from cloud.cli import add_device
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet.service import add_gateway
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.rivers.service import add_site, assign_site
from cloud.supervision.service import add_person
from core.receiver import DeviceKind
from fieldwatch_dev.local import InfluxServer, MosquittoServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer, EdgeGateway
from fieldwatch_dev.local.mosquitto import DEPLOYMENT_MAX_QUEUED_MESSAGES
from fieldwatch_dev.simulator.fleet import Fleet, FleetStats, bracelet_id, station_id
from fieldwatch_dev.simulator.scenario import load_scenario
from fieldwatch_dev.simulator.world import World, offset
from provisioning.broker_acl import render_acl

GATEWAY = "gw-demo"
EDGE_MQTT_USER = "fieldwatch-edge"
DATABASE = "fieldwatch"
ADMIN = "demo-admin"
CHIEF = "demo-chief"
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
    )


def _register(database_url: str, cast: Cast) -> str:
    """Fill a fresh cloud database; return the gateway's token."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            token = add_gateway(session, GATEWAY, now)
            add_user(session, ADMIN, cast.admin_password, Role.administrator, now)
            add_user(session, CHIEF, cast.chief_password, Role.river_chief, now)
            rivers = load_scenario(None).rivers
            for number, station in enumerate(cast.stations, start=1):
                site = f"site-{number:03d}"
                river = rivers[(number - 1) % len(rivers)]  # the river its simulator measures
                # Stations of one river a few hundred metres apart along it.
                lat, lon = offset(river.lat, river.lon, 250.0 * number, 400.0 * number)
                add_site(session, site, f"{river.name} {number}", river.name, lat, lon)
                add_device(session, now, station, DeviceKind.river_station, GATEWAY, site_id=site)
            assign_site(session, CHIEF, "site-001")
            for number, bracelet in enumerate(cast.bracelets, start=1):
                case = f"case-2026-{number:04d}"
                add_person(session, case, f"Supervised person {number}")
                add_device(
                    session, now, bracelet, DeviceKind.bracelet, GATEWAY, person_reference=case
                )
    finally:
        engine.dispose()
    return token


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
    token = _register(database_url, cast)
    admin_file = _secret_file(folder / "admin.password", cast.admin_password)
    _secret_file(folder / "chief.password", cast.chief_password)

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
            _run_fleet(folder, cast, broker, influx, cloud, edge, admin_file,
                       duration, history, seed, open_browser)  # fmt: skip
    typer.echo("stopped the gateway, the cloud, InfluxDB and Mosquitto")


def _run_fleet(
    folder: Path,
    cast: Cast,
    broker: MosquittoServer,
    influx: InfluxServer,
    cloud: CloudServer,
    edge: EdgeGateway,
    admin_file: Path,
    duration: float | None,
    history: int,
    seed: int,
    open_browser: bool,
) -> None:
    scenario = load_scenario(None)
    start = datetime.now(UTC) - timedelta(minutes=history)
    # The scenario's day, moved so that it ends now: timestamps are real times.
    moved = scenario.model_copy(update={"start": start.astimezone(scenario.start.tzinfo)})
    world = World(moved, seed)
    fleet = Fleet(broker.url, world, len(cast.bracelets), len(cast.stations), cast.device_passwords)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        if history:
            typer.echo(f"catching up on {history} minutes of history ...")
            fleet.run(history * 60, speedup=0)
        _print_where_to_look(folder, broker, influx, cloud, edge, admin_file, cast)
        if open_browser and _has_display():
            webbrowser.open(f"{cloud.url}/console/sign-in")
        started = time.monotonic()
        while not stop["now"]:
            if duration is not None and time.monotonic() - started >= duration:
                break
            fleet.run(5, speedup=1.0)
            _progress(fleet.stats(), influx.url)
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


def _progress(stats: FleetStats, influx_url: str) -> None:
    stored = sum(_stored(influx_url).values())
    typer.echo(
        f"  devices connected {stats.connected}/{stats.devices}, records made {stats.created}, "
        f"buffered on devices {stats.buffered}, stored in InfluxDB {stored}"
    )


def _print_where_to_look(
    folder: Path,
    broker: MosquittoServer,
    influx: InfluxServer,
    cloud: CloudServer,
    edge: EdgeGateway,
    admin_file: Path,
    cast: Cast,
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
                f"                or as {CHIEF} (river chief of site-001), "
                f"password in {folder}/chief.password",
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
