"""``fieldwatch cloud``: run the service, migrate its database, register gateways, people,
sites and devices.

The wiring place: settings are built here once, with ``load_settings``, and handed on.
A gateway's token is printed once, on standard output, and never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from sqlalchemy.orm import Session

from cloud.api.app import create_app
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.errors import CloudError, InvalidRequestError
from cloud.fleet import service as fleet
from cloud.identity import service as identity
from cloud.identity.models import Role
from cloud.rivers import imports as river_imports
from cloud.rivers import service as rivers
from cloud.settings import CloudSettings
from cloud.supervision import service as supervision
from cloud.supervision.measures import Measure
from core.receiver import DeviceKind
from fieldwatch.options import SETTINGS_EXIT_CODE, ConfigFileOption, print_settings_error
from fieldwatch.settings import SettingsError, load_settings

app = typer.Typer(
    name="cloud", help="The cloud service: ingest, registry, queries.", no_args_is_help=True
)

CLOUD_ERROR_EXIT_CODE = 1
T = TypeVar("T")


def _settings(config: Path | None) -> CloudSettings:
    try:
        settings = load_settings(CloudSettings, config)
    except SettingsError as exc:
        print_settings_error(exc)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None
    if settings.sqlite_path is not None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return settings


def _migrate(settings: CloudSettings) -> None:
    engine = make_engine(str(settings.database_url))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def _session(settings: CloudSettings) -> Iterator[Session]:
    """One transaction against a migrated database; a CloudError ends the command."""
    engine = make_engine(str(settings.database_url))
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            yield session
    except CloudError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(CLOUD_ERROR_EXIT_CODE) from None
    finally:
        engine.dispose()


def _run(config: Path | None, work: Callable[[Session, datetime], T]) -> T:
    with _session(_settings(config)) as session:
        return work(session, datetime.now(UTC))


@app.command("serve")
def serve_command(
    config: ConfigFileOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (setting: host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (setting: port).")] = None,
) -> None:
    """Migrate the database, then serve the API under uvicorn until SIGTERM or Ctrl-C."""
    settings = _settings(config)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _migrate(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command("migrate")
def migrate_command(config: ConfigFileOption = None) -> None:
    """Bring the relational database to the newest schema (Alembic)."""
    _migrate(_settings(config))
    typer.echo("database is at the newest schema")


@app.command("add-gateway")
def add_gateway_command(
    gateway_id: Annotated[str, typer.Argument(help="The gateway's id (its gateway_id setting).")],
    config: ConfigFileOption = None,
) -> None:
    """Register a gateway and print its token, once: put it in the gateway's gateway_token."""
    token = _run(config, lambda s, now: fleet.add_gateway(s, gateway_id, now))
    typer.echo(f"gateway {gateway_id} registered; its token (shown once):", err=True)
    typer.echo(token)


@app.command("rotate-gateway-token")
def rotate_gateway_token_command(
    gateway_id: Annotated[str, typer.Argument()], config: ConfigFileOption = None
) -> None:
    """Give a gateway a new token (printed once); the old one stops working."""
    token = _run(config, lambda s, _now: fleet.rotate_gateway_token(s, gateway_id))
    typer.echo(f"gateway {gateway_id}: new token (shown once):", err=True)
    typer.echo(token)


@app.command("add-user")
def add_user_command(
    username: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Option(help="What the person is.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    approval_level: Annotated[
        str | None,
        typer.Option(help="local or county: may approve supervised persons' trips of that level."),
    ] = None,
    config: ConfigFileOption = None,
) -> None:
    """Add a person who logs in (password asked for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    _run(
        config,
        lambda s, now: identity.add_user(s, username, password, role, now, approval_level),
    )
    typer.echo(f"user {username} added as {role.value}")


@app.command("add-site")
def add_site_command(
    site_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option()],
    river: Annotated[str, typer.Option(help="The river's name as shown.")] = "",
    lat: Annotated[float | None, typer.Option(help="WGS-84 latitude, degrees")] = None,
    lon: Annotated[float | None, typer.Option(help="WGS-84 longitude, degrees")] = None,
    river_code: Annotated[
        str | None, typer.Option(help="The river it is on (its code; see import-rivers).")
    ] = None,
    waterbody: Annotated[
        str, typer.Option(help="river, or lake (lakes and reservoirs: other TP limits).")
    ] = "river",
    target_class: Annotated[
        str | None, typer.Option(help="Its water-function zone's class: I..V.")
    ] = None,
    config: ConfigFileOption = None,
) -> None:
    """Add a river monitoring site (with --lat and --lon it is drawn on the console's map)."""
    if not river and not river_code:
        typer.echo("give --river (a name) or --river-code (a river imported)", err=True)
        raise typer.Exit(2)
    _run(
        config,
        lambda s, _now: rivers.add_site(
            s,
            site_id,
            name,
            river,
            lat,
            lon,
            river_code=river_code,
            waterbody=waterbody,
            target=rivers.target_class(target_class),
        ),
    )
    typer.echo(f"site {site_id} added")


@app.command("import-rivers")
def import_rivers_command(
    path: Annotated[Path, typer.Argument(help="A GeoJSON FeatureCollection of rivers.")],
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the good entries and list the refused ones.")
    ] = False,
    config: ConfigFileOption = None,
) -> None:
    """Add or update rivers by code, with their chiefs (docs/rivers.md has the format)."""
    with path.open("rb") as stream:
        checked, problems = river_imports.read_rivers(stream)
    report = _run(
        config,
        lambda s, now: river_imports.import_rivers(
            s, checked, problems, now, skip_invalid=skip_invalid, progress=_progress("rivers")
        ),
    )
    _import_done(report, "rivers")


@app.command("import-sites")
def import_sites_command(
    path: Annotated[Path, typer.Argument(help="A CSV: id,name,river_code,waterbody,...")],
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the good rows and list the refused ones.")
    ] = False,
    config: ConfigFileOption = None,
) -> None:
    """Add or update monitoring sites by id, each on its river (docs/rivers.md)."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows, problems = river_imports.read_sites(stream)
    report = _run(
        config,
        lambda s, _now: river_imports.import_sites(
            s, rows, problems, skip_invalid=skip_invalid, progress=_progress("sites")
        ),
    )
    _import_done(report, "sites")


def _progress(what: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        typer.echo(f"  {done:,} of {total:,} {what}", err=True)

    return show


def _import_done(report: river_imports.ImportReport, what: str) -> None:
    for problem in report.problems:
        typer.echo(f"refused: {problem}", err=True)
    typer.echo(report.summary(what))
    if report.problems and not report.written:
        typer.echo("nothing was written: correct the file, or use --skip-invalid", err=True)
        raise typer.Exit(CLOUD_ERROR_EXIT_CODE)


@app.command("appoint-river-chief")
def appoint_river_chief_command(
    username: Annotated[str, typer.Argument(help="A river chief's account.")],
    river_code: Annotated[str, typer.Argument()],
    level: Annotated[str, typer.Option(help="district, town or village.")],
    config: ConfigFileOption = None,
) -> None:
    """Make a river chief the chief of a river at a level: they see its sites and reports."""
    _run(
        config,
        lambda s, now: rivers.appoint_chief(
            s, rivers.get_river(s, river_code), identity.get_user(s, username), level, now
        ),
    )
    typer.echo(f"{username} is the {level} chief of river {river_code}")


@app.command("assign-site")
def assign_site_command(
    username: Annotated[str, typer.Argument(help="A river chief.")],
    site_id: Annotated[str, typer.Argument()],
    config: ConfigFileOption = None,
) -> None:
    """Let a river chief see a site."""
    _run(config, lambda s, _now: rivers.assign_site(s, username, site_id))
    typer.echo(f"{username} now sees site {site_id}")


@app.command("add-person")
def add_person_command(
    reference: Annotated[str, typer.Argument(help="Case reference of the supervision.")],
    name: Annotated[str, typer.Option()],
    measure: Annotated[Measure | None, typer.Option(help="The legal measure.")] = None,
    term_start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day of the term.")
    ] = None,
    term_end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day of the term.")
    ] = None,
    legal_basis: Annotated[str | None, typer.Option(help="The decision and its basis.")] = None,
    config: ConfigFileOption = None,
) -> None:
    """Add a supervised person (with a measure, its term is checked against its limit)."""
    _run(
        config,
        lambda s, now: supervision.add_person(
            s,
            reference,
            name,
            measure=measure,
            legal_basis=legal_basis,
            term_start=term_start.date() if term_start else None,
            term_end=term_end.date() if term_end else None,
            now=now,
        ),
    )
    typer.echo(f"supervised person {reference} added")


@app.command("assign-bracelet")
def assign_bracelet_command(
    reference: Annotated[str, typer.Argument(help="Case reference of the supervision.")],
    device_id: Annotated[str, typer.Argument(help="The bracelet the person wears from now.")],
    config: ConfigFileOption = None,
) -> None:
    """The person wears this bracelet from now on; the one before comes off (both kept)."""

    def assign(session: Session, now: datetime) -> None:
        person = supervision.get_person(session, reference)
        supervision.assign_bracelet(session, person, device_id, now, None)

    _run(config, assign)
    typer.echo(f"{reference} wears {device_id}")


@app.command("add-zone")
def add_zone_command(
    reference: Annotated[str, typer.Argument(help="The supervised person it applies to.")],
    name: Annotated[str, typer.Option()],
    rule: Annotated[str, typer.Option(help="inclusion or exclusion")],
    circle: Annotated[
        str | None, typer.Option(help="LAT,LON,RADIUS_M (WGS-84 degrees, metres)")
    ] = None,
    geojson: Annotated[
        Path | None, typer.Option(help="A GeoJSON Polygon (or a Feature of one), WGS-84")
    ] = None,
    role: Annotated[str, typer.Option(help="home, county or other")] = "other",
    schedule: Annotated[str, typer.Option(help='e.g. "Mon-Sun 22:00-06:00"; none: always')] = "",
    dwell_s: Annotated[int, typer.Option(help="How long sure fixes must hold.")] = 30,
    config: ConfigFileOption = None,
) -> None:
    """Add a zone to a supervised person: a circle, or a polygon from a GeoJSON file."""
    shape, geometry = zone_geometry_of(circle, geojson)

    def add(session: Session, now: datetime) -> int:
        person = supervision.get_person(session, reference)
        spec = supervision.ZoneInput(name, rule, shape, geometry, role, schedule, dwell_s)
        zone = supervision.add_zone(session, spec, None, now)
        supervision.assign_zone(session, zone, person)
        return zone.id

    zone_id = _run(config, add)
    typer.echo(f"zone {zone_id} added to {reference}")


def zone_geometry_of(circle: str | None, geojson: Path | None) -> tuple[str, dict[str, Any]]:
    """A zone's shape from the command line: exactly one of a circle and a GeoJSON file."""
    if (circle is None) == (geojson is None):
        raise typer.BadParameter("give exactly one of --circle and --geojson")
    if circle is not None:
        try:
            lat, lon, radius = (float(part) for part in circle.split(","))
        except ValueError:
            raise typer.BadParameter("--circle is LAT,LON,RADIUS_M") from None
        return "circle", {"lat": lat, "lon": lon, "radius_m": radius}
    assert geojson is not None
    try:
        document = json.loads(geojson.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{geojson}: {exc}") from None
    shape = document.get("geometry", document) if isinstance(document, dict) else None
    if not isinstance(shape, dict) or shape.get("type") != "Polygon":
        raise typer.BadParameter(f"{geojson}: not a GeoJSON Polygon")
    ring = shape.get("coordinates", [[]])[0]
    # GeoJSON is [lon, lat]; zones are kept as [lat, lon].
    return "polygon", {"vertices": [[point[1], point[0]] for point in ring]}


@app.command("add-device")
def add_device_command(
    device_id: Annotated[str, typer.Argument()],
    kind: Annotated[DeviceKind, typer.Option()],
    gateway: Annotated[str, typer.Option(help="The gateway that serves it.")],
    site: Annotated[str | None, typer.Option(help="River station: its site.")] = None,
    person: Annotated[str | None, typer.Option(help="Bracelet: the case reference.")] = None,
    config: ConfigFileOption = None,
) -> None:
    """Register a device served by a gateway, assigned to a site or a supervised person."""
    _run(config, lambda s, now: add_device(s, now, device_id, kind, gateway, site, person))
    typer.echo(f"device {device_id} added")


def add_device(
    session: Session,
    now: datetime,
    device_id: str,
    kind: DeviceKind,
    gateway_id: str,
    site_id: str | None = None,
    person_reference: str | None = None,
) -> None:
    """A device, with its site (rivers) or supervised person (supervision) found first."""
    site = rivers.get_site(session, site_id).id if site_id is not None else None
    person = (
        supervision.get_person(session, person_reference) if person_reference is not None else None
    )
    if person is not None and kind is not DeviceKind.bracelet:
        raise InvalidRequestError("a river station is assigned to a site, not a person")
    fleet.add_device(session, device_id, kind, gateway_id, now, site_id=site)
    if person is not None:
        supervision.assign_bracelet(session, person, device_id, now, None)
