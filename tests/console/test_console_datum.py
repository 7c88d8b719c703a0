"""Maps on GCJ-02 tiles: positions are stored in WGS-84, shifted to GCJ-02 only to be
drawn, and what is drawn is shifted back before it is stored; checked in the browser
against published point pairs, and outside China nothing moves.

The pair is coordtransform's (wandergis) worked example: WGS-84 (116.404, 39.915), near
Tiananmen, is GCJ-02 (116.41024449916938, 39.91640428150164); its one-step inverse of
GCJ-02 (116.404, 39.915) is WGS-84 (116.39775550083061, 39.91359571849836), within about
a metre of the exact inverse, which gcoord finds by iteration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from console_support import GATEWAY, PASSWORD, Console, sign_in
from playwright.sync_api import Page, expect

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.models import Device
from cloud.fleet.service import add_device
from cloud.identity.models import Role
from cloud.identity.service import add_user
from core.receiver import DeviceKind
from fieldwatch_dev.bench.endpoints import InfluxEndpoint
from fieldwatch_dev.local import InfluxServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer

TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"  # nothing answers: only the URL matters
WGS84_TIANANMEN = (39.915, 116.404)
GCJ02_TIANANMEN = (39.91640428150164, 116.41024449916938)
ONE_STEP_INVERSE = (39.91359571849836, 116.39775550083061)  # of GCJ-02 (39.915, 116.404)
OUTSIDE_CHINA = [(48.8566, 2.3522), (-33.8688, 151.2093), (40.7128, -74.0060)]
BRACELET = "br-000777"


@pytest.fixture(scope="module")
def gcj02_console(
    tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer
) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console-gcj02")
    database_url = f"sqlite:///{folder.absolute() / 'cloud.sqlite3'}"
    server = CloudServer(
        folder,
        {
            "data_dir": str(folder.absolute()),
            "database_url": database_url,
            "log_level": "WARNING",
            "console_tile_url": TILES,
            "console_tile_datum": "gcj02",
            "console_tile_attribution": "test tiles",
            **InfluxEndpoint(influxdb.url).with_database("console_gcj02").cloud_settings(),
        },
    )
    server.operator("add-gateway", GATEWAY)
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            add_user(session, "duty-admin", PASSWORD, Role.administrator, now)
            add_device(session, BRACELET, DeviceKind.bracelet, GATEWAY, now)
            session.flush()
            device = session.get(Device, BRACELET)
            assert device is not None
            # The stored position, as ingest keeps it: WGS-84.
            device.last_lat, device.last_lon = WGS84_TIANANMEN
            device.last_accuracy_m, device.last_fix_ts = 10, int(now.timestamp()) - 30
    finally:
        engine.dispose()
    server.start()
    try:
        yield Console(server.url, server)
    finally:
        server.stop()


@pytest.fixture
def on_map(gcj02_console: Console, page: Page) -> Page:
    sign_in(page, gcj02_console.url, "duty-admin")
    answer = page.goto(f"{gcj02_console.url}/console/map")
    assert answer is not None
    assert "img-src 'self' data: http://127.0.0.1:9" in answer.headers["content-security-policy"]
    return page


def test_a_wgs84_position_is_drawn_at_its_published_gcj02_place(on_map: Page) -> None:
    drawn = on_map.evaluate("([lat, lon]) => FieldMap.toMap(lat, lon)", list(WGS84_TIANANMEN))
    assert drawn == pytest.approx(list(GCJ02_TIANANMEN), abs=1e-9)


def test_what_is_drawn_goes_back_to_wgs84_before_it_is_stored(on_map: Page) -> None:
    back = on_map.evaluate("([lat, lon]) => FieldMap.fromMap(lat, lon)", list(GCJ02_TIANANMEN))
    assert back == pytest.approx(list(WGS84_TIANANMEN), abs=1e-6)  # ~0.1 m
    inverse = on_map.evaluate("([lat, lon]) => FieldMap.fromMap(lat, lon)", list(WGS84_TIANANMEN))
    assert inverse == pytest.approx(list(ONE_STEP_INVERSE), abs=2e-5)  # the pair's own method
    # And the exact round trip, over the district and beyond it, to a centimetre.
    for lat, lon in [(31.2304, 121.4737), (30.9, 121.5), (22.54, 114.06), (45.75, 126.63)]:
        there = on_map.evaluate("([lat, lon]) => FieldMap.toMap(lat, lon)", [lat, lon])
        assert there != pytest.approx([lat, lon], abs=1e-4)  # it did move (~500 m)
        again = on_map.evaluate("([lat, lon]) => FieldMap.fromMap(lat, lon)", there)
        assert again == pytest.approx([lat, lon], abs=1e-7)


def test_outside_china_nothing_moves(on_map: Page) -> None:
    for point in OUTSIDE_CHINA:
        assert on_map.evaluate("([a, b]) => FieldMap.toMap(a, b)", list(point)) == list(point)
        assert on_map.evaluate("([a, b]) => FieldMap.fromMap(a, b)", list(point)) == list(point)


def test_the_marker_sits_on_the_tiles_datum_and_the_table_keeps_wgs84(on_map: Page) -> None:
    deadline = 50
    while on_map.evaluate("() => window.FieldLive ? FieldLive.count() : 0") != 1 and deadline:
        on_map.wait_for_timeout(100)
        deadline -= 1
    drawn = on_map.evaluate(f"() => FieldLive.drawnAt('{BRACELET}')")
    assert drawn == pytest.approx(list(GCJ02_TIANANMEN), abs=1e-9)
    position = on_map.locator(f'tr[data-device="{BRACELET}"] [data-cell="position"]')
    expect(position).to_have_text("39.91500, 116.40400")
    # The tiles come from the configured URL, with its credit.
    tile = on_map.locator("img.leaflet-tile").first
    expect(tile).to_have_attribute(
        "src", re.compile(r"^http://127\.0\.0\.1:9/tiles/\d+/\d+/\d+\.png$")
    )
    expect(on_map.locator(".leaflet-control-attribution")).to_contain_text("test tiles")
