"""A real cloud (``fieldwatch cloud serve`` on SQLite, a real InfluxDB) and Debian's
chromium driven by Playwright, for the console's page tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from console_support import CHROMIUM, GATEWAY, PASSWORD, Console
from field_support import Field, field_devices, populate
from playwright.sync_api import Browser, Page, sync_playwright

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.service import add_device
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.rivers.service import add_site, assign_site
from core.receiver import DeviceKind
from fieldwatch_dev.bench.endpoints import InfluxEndpoint
from fieldwatch_dev.bench.stack import Stack
from fieldwatch_dev.local import InfluxServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console-cloud")
    database_url = f"sqlite:///{folder.absolute() / 'cloud.sqlite3'}"
    settings: dict[str, object] = {
        "data_dir": str(folder.absolute()),
        "database_url": database_url,
        "log_level": "WARNING",
        **InfluxEndpoint(influxdb.url).with_database("console").cloud_settings(),
    }
    server = CloudServer(folder, settings)
    server.operator("add-gateway", GATEWAY)  # migrates the database first
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            for username, role in (
                ("duty-admin", Role.administrator),
                ("chief-a", Role.river_chief),
                ("chief-b", Role.river_chief),
            ):
                add_user(session, username, PASSWORD, role, now)
            for site in ("site-a", "site-b"):
                add_site(session, site, f"Station {site}", "Huangpu")
            session.flush()
            assign_site(session, "chief-a", "site-a")
            assign_site(session, "chief-b", "site-b")
            for n in range(3):
                add_device(
                    session,
                    f"rs-00000{n}",
                    DeviceKind.river_station,
                    GATEWAY,
                    now,
                    site_id="site-a",
                )
            add_device(
                session, "rs-000009", DeviceKind.river_station, GATEWAY, now, site_id="site-b"
            )
            for n in range(5):
                add_device(session, f"br-00000{n}", DeviceKind.bracelet, GATEWAY, now)
    finally:
        engine.dispose()
    server.start()
    try:
        yield Console(server.url, server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> Iterator[Field]:
    """Broker, gateway, cloud and InfluxDB with the field's people, sites and devices.

    Module-scoped: a test module publishes with its own devices' sequence numbers
    (``Field.seq``), and each module gets a fresh cloud and database.
    """
    folder = tmp_path_factory.mktemp("console-field")
    influx = InfluxEndpoint(influxdb.url).with_database(f"field_{folder.name.replace('-', '_')}")
    with Stack(folder, field_devices(), influx=influx) as stack:
        assert stack.cloud is not None
        database_url = f"sqlite:///{(folder / 'cloud' / 'cloud.sqlite3').absolute()}"
        populate(database_url, PASSWORD)
        yield Field(stack, stack.cloud.url, database_url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
