"""The supervision pages as a prosecutor uses them, in a real browser against a real
cloud with GCJ-02 tiles configured: adding a person (a term longer than the measure
allows is refused, with the reason), putting a bracelet on them, roll calls and "locate
now" (a command queued for the gateway), travel permits decided by the approver's level,
zones drawn with the mouse and stored in WGS-84, and who may not see any of it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from console_support import GATEWAY, PASSWORD, Console, screenshot, sign_in
from playwright.sync_api import Page, expect
from sqlalchemy import select

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.models import DownlinkMessage
from cloud.fleet.service import add_device
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.supervision import service
from cloud.supervision.models import (
    BraceletAssignment,
    RollCall,
    SupervisedPerson,
    TravelPermit,
    Zone,
)
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.points import RecordContext, record_point
from core import contract as c
from core.codec import decode
from core.messages import Command, LocationFix
from core.receiver import DeviceKind
from fieldwatch_dev.bench.endpoints import InfluxEndpoint
from fieldwatch_dev.local import InfluxServer
from fieldwatch_dev.local.fieldwatch_parts import CloudServer

pytestmark = [pytest.mark.services, pytest.mark.browser]

TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"  # nothing answers: only the datum matters
SHANGHAI = ZoneInfo("Asia/Shanghai")
# username -> (role, trip approval level)
USERS = {
    "prosecutor-li": (Role.prosecutor, None),
    "approver-local": (Role.prosecutor, "local"),
    "approver-county": (Role.prosecutor, "county"),
    "chief-a": (Role.river_chief, None),
}
BRACELETS = ["br-000101", "br-000102"]
ZONED = "ZONE-2026-001"  # a person added with the fixture, whose zones are drawn


class Supervision(Console):
    database_url: str
    influx: InfluxEndpoint

    def rows(self, query: Any) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            with make_sessions(engine)() as session:
                return list(session.scalars(query))
        finally:
            engine.dispose()

    def person(self, reference: str) -> SupervisedPerson:
        query = select(SupervisedPerson).where(SupervisedPerson.reference == reference)
        return cast(SupervisedPerson, self.rows(query)[0])


@pytest.fixture(scope="module")
def supervision(
    tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer
) -> Iterator[Supervision]:
    folder = tmp_path_factory.mktemp("console-persons")
    influx = InfluxEndpoint(influxdb.url).with_database("console_persons")
    database_url = f"sqlite:///{folder.absolute() / 'cloud.sqlite3'}"
    server = CloudServer(
        folder,
        {
            "data_dir": str(folder.absolute()),
            "database_url": database_url,
            "log_level": "WARNING",
            "console_tile_url": TILES,
            "console_tile_datum": "gcj02",
            **influx.cloud_settings(),
        },
    )
    server.operator("add-gateway", GATEWAY)
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            for username, (role, level) in USERS.items():
                add_user(session, username, PASSWORD, role, now, approval_level=level)
            for bracelet in BRACELETS:
                add_device(session, bracelet, DeviceKind.bracelet, GATEWAY, now)
            service.add_person(session, ZONED, "Zhao Liu", now=now)
    finally:
        engine.dispose()
    server.start()
    try:
        console = Supervision(server.url, server)
        console.database_url = database_url
        console.influx = influx
        yield console
    finally:
        server.stop()


def signed_in(page: Page, console: Console, username: str) -> Page:
    sign_in(page, console.url, username)
    return page


def add_person_through_the_form(page: Page, reference: str, months: int) -> None:
    form = page.get_by_role("region", name="Add a person")
    form.get_by_label("Case reference").fill(reference)
    form.get_by_label("Name", exact=True).fill("Wang Wu")
    form.get_by_label("Measure").select_option("bail")
    form.get_by_label("Legal basis").fill("刑事诉讼法 第六十七条")
    start = date.today()
    form.get_by_label("Term starts").fill(start.isoformat())
    form.get_by_label("Term ends").fill((start + timedelta(days=months * 31)).isoformat())
    form.get_by_role("button", name="Add the person").click()


def store_fixes(supervision: Supervision, device_id: str, first_ts: int) -> None:
    """Three fixes a second apart, written as ingest writes them (the pipeline's part is
    tested elsewhere: here only what the page reads matters)."""
    context = RecordContext(device_id, GATEWAY, first_ts * 1000, late=False)
    points = [
        record_point(
            LocationFix(
                boot=1,
                seq=n,
                ts=first_ts + n,
                lat_e7=round((31.2304 + n * 1e-4) * 1e7),
                lon_e7=round(121.4737 * 1e7),
                accuracy_m=8,
                source=c.FIX_GNSS,
            ),
            context,
        )
        for n in range(3)
    ]
    endpoint = supervision.influx
    store = InfluxStore(
        endpoint.url, endpoint.database, username=endpoint.username, password=endpoint.password
    )
    try:
        store.write(points)
    finally:
        store.close()


# ---------------------------------------------------------------- persons, bracelets, roll calls


def test_a_prosecutor_adds_a_person_and_a_term_too_long_is_refused(
    supervision: Supervision, page: Page
) -> None:
    signed_in(page, supervision, "prosecutor-li")
    expect(page.locator("nav.areas")).to_contain_text("Persons")
    page.goto(f"{supervision.url}/console/persons")
    add_person_through_the_form(page, "BAIL-2026-017", months=13)
    # Refused with the service's reason, and what was typed is still there.
    expect(page.get_by_test_id("add-problem")).to_contain_text("bail lasts at most 12 months")
    expect(page.get_by_label("Case reference")).to_have_value("BAIL-2026-017")
    expect(page.get_by_label("Legal basis")).to_have_value("刑事诉讼法 第六十七条")
    assert supervision.rows(select(SupervisedPerson.reference)) == [ZONED]

    add_person_through_the_form(page, "BAIL-2026-017", months=11)
    expect(page.get_by_test_id("measure")).to_have_text("Bail pending trial")
    stored = supervision.person("BAIL-2026-017")
    assert stored.measure == "bail"
    assert stored.prosecutor_id is not None  # the prosecutor who added them, by default

    page.goto(f"{supervision.url}/console/persons?measure=bail")
    row = page.locator('tr[data-person="BAIL-2026-017"]')
    expect(row).to_contain_text("Wang Wu")
    expect(row).to_contain_text("prosecutor-li")
    expect(row.locator('[data-column="term"]')).to_contain_text("days left")
    expect(page.locator('tr[data-person="ZONE-2026-001"]')).to_have_count(0)  # no measure
    screenshot(page, "persons")


def test_a_bracelet_is_put_on_and_a_roll_call_is_queued_for_it(
    supervision: Supervision, page: Page
) -> None:
    person = supervision.person(ZONED)
    signed_in(page, supervision, "prosecutor-li")
    page.goto(f"{supervision.url}/console/persons/{person.id}")
    page.get_by_label("Put on a bracelet").select_option(BRACELETS[1])
    page.get_by_role("button", name="Assign the bracelet").click()
    expect(page.get_by_test_id("worn")).to_contain_text(BRACELETS[1])
    expect(page.locator(f'[data-bracelet="{BRACELETS[1]}"]')).to_contain_text("worn now")
    # Today's track of the bracelet worn, from when it was put on, on the person's map.
    (worn,) = supervision.rows(select(BraceletAssignment))
    store_fixes(supervision, BRACELETS[1], math.ceil(worn.started_at.timestamp()))
    for _ in range(20):  # the fixes are up to 3 s ahead of the page's clock: poll
        page.reload()
        if "3 points" in (page.get_by_test_id("track-summary").all_text_contents() or [""])[0]:
            break
        page.wait_for_timeout(250)
    expect(page.get_by_test_id("track-summary")).to_contain_text("3 points")
    expect(page.locator("#person-map path.track-line")).to_have_count(1)

    page.get_by_label("Answer within (seconds)").fill("5")  # under the contract's least
    page.get_by_label("Answer within (seconds)").evaluate("e => e.removeAttribute('min')")
    page.get_by_role("button", name="Send a roll call now").click()
    expect(page.get_by_test_id("problem-roll-calls")).to_contain_text("10 to 900 s")
    page.get_by_label("Answer within (seconds)").fill("120")
    page.get_by_role("button", name="Send a roll call now").click()
    expect(page.locator("[data-roll-call]")).to_have_count(1)
    expect(page.locator("[data-roll-call]")).to_contain_text("Sent, waiting")
    # The command waits in the gateway's downlink queue, for the bracelet worn.
    (call,) = supervision.rows(select(RollCall))
    (message,) = supervision.rows(
        select(DownlinkMessage).where(DownlinkMessage.id == call.command_id)
    )
    assert (message.device_id, message.channel) == (BRACELETS[1], "cmd")
    command = decode(message.payload)
    assert isinstance(command, Command)
    assert (command.code, command.args) == (c.CMD_ROLL_CALL, {1: 120})
    assert call.requested_by is not None

    page.get_by_role("button", name="Ask the bracelet for its position now").click()
    expect(page.get_by_test_id("locate-list")).to_contain_text("waiting for a fix")
    page.get_by_label("Random roll calls a day").fill("3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("per-day")).to_have_text("3")


# ---------------------------------------------------------------- travel permits


def local_input(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_a_ten_day_trip_is_approved_at_county_level_only(
    supervision: Supervision, page: Page
) -> None:
    person = supervision.person(ZONED)
    signed_in(page, supervision, "prosecutor-li")
    page.goto(f"{supervision.url}/console/persons/{person.id}")
    start = datetime.now(UTC) + timedelta(days=2)
    page.get_by_label("Destination", exact=True).fill("Hangzhou, Xihu district")
    page.get_by_label("Leaves").fill(local_input(start))
    page.get_by_label("Back by").fill(local_input(start + timedelta(days=10)))
    page.get_by_label("Reason").fill("mother's surgery")
    page.get_by_role("button", name="Request the trip").click()
    (permit,) = supervision.rows(select(TravelPermit))
    assert permit.approval_level == "county"
    trip = page.locator(f'tr[data-trip="{permit.id}"]')
    expect(trip).to_contain_text("Requested")
    expect(trip.get_by_role("button", name="Approve")).to_have_count(0)  # no level at all

    page.context.clear_cookies()
    signed_in(page, supervision, "approver-local")
    page.goto(f"{supervision.url}/console/persons/{person.id}")
    expect(trip.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_test_id(f"county-only-{permit.id}")).to_contain_text("county level")
    # Asked anyway (an old page, a hand-made form): the service refuses, and says why.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(
        f"{supervision.url}/console/persons/{person.id}/trips/{permit.id}/decide",
        form={"csrf_token": token or "", "decision": "approve"},
    )
    assert answer.status == 422
    assert "approved at county level" in answer.text()
    assert supervision.rows(select(TravelPermit.status)) == ["requested"]

    page.context.clear_cookies()
    signed_in(page, supervision, "approver-county")
    page.goto(f"{supervision.url}/console/persons/{person.id}")
    trip.get_by_role("button", name="Approve").click()
    expect(trip).to_contain_text("Approved")
    expect(trip).to_contain_text("by approver-county")
    (decided,) = supervision.rows(select(TravelPermit))
    assert decided.status == "approved"
    assert decided.decided_by is not None
    screenshot(page, "person-trip")
    # The same page in Chinese, from the catalogs.
    page.context.add_cookies(
        [{"name": "fieldwatch_language", "value": "zh-CN", "url": supervision.url}]
    )
    page.reload()
    expect(page.locator("#trips h2")).to_have_text("外出审批")
    expect(trip).to_contain_text("已批准")
    screenshot(page, "person-zh")


# ---------------------------------------------------------------- zones


def drawn_on_tiles(page: Page, clicks: list[tuple[int, int]]) -> list[list[float]]:
    """Where the map puts clicks at these points of the window, as the tiles draw it."""
    return cast(
        list[list[float]],
        page.evaluate(
            """(clicks) => clicks.map(([x, y]) => {
             const at = FieldZoneEditor.map.mouseEventToLatLng({ clientX: x, clientY: y });
             return [at.lat, at.lng];
           })""",
            clicks,
        ),
    )


def drawn_to_wgs84(page: Page, clicks: list[tuple[int, int]]) -> list[list[float]]:
    """The same in WGS-84 (the tiles are GCJ-02), by the page's own FieldMap.fromMap."""
    shown = drawn_on_tiles(page, clicks)
    back = page.evaluate("(points) => points.map(([a, b]) => FieldMap.fromMap(a, b))", shown)
    return cast(list[list[float]], back)


def flat(points: list[list[float]]) -> list[float]:
    return [value for point in points for value in point]


def stored_zones(supervision: Supervision) -> dict[str, Zone]:
    return {zone.name: zone for zone in supervision.rows(select(Zone))}


def test_zones_drawn_with_the_mouse_are_stored_in_wgs84(
    supervision: Supervision, page: Page
) -> None:
    person = supervision.person(ZONED)
    signed_in(page, supervision, "prosecutor-li")
    page.goto(f"{supervision.url}/console/persons/{person.id}/zones")
    expect(page.locator("#zone-map")).to_have_attribute("data-ready", "true")
    box = page.locator("#zone-map").bounding_box()
    assert box is not None

    def at(x: int, y: int) -> tuple[int, int]:  # a point of the map, in the window
        return round(box["x"]) + x, round(box["y"]) + y

    corners = [at(200, 120), at(420, 140), at(330, 300)]

    # A polygon: its tool, three corners, and the first corner again to close it.
    page.locator(".leaflet-pm-icon-polygon").click()
    for x, y in [*corners, corners[0]]:
        page.mouse.click(x, y)
    expect(page.get_by_test_id("zone-drawn")).to_have_text("a polygon")
    expected, shown = drawn_to_wgs84(page, corners), drawn_on_tiles(page, corners)
    page.get_by_label("Name", exact=True).fill("Home, Lane 12")
    page.get_by_label("What it is for").select_option("home")
    page.get_by_label("When it applies").fill("Mon-Fri 22:00-06:00")
    page.get_by_role("button", name="Add the zone").click()
    expect(page.locator("[data-zone]")).to_have_count(1)

    home = stored_zones(supervision)["Home, Lane 12"]
    assert (home.rule, home.role, home.shape) == ("inclusion", "home", "polygon")
    assert home.schedule == "Mon-Fri 22:00-06:00"
    vertices = json.loads(home.geometry_json)["vertices"]
    assert flat(vertices) == pytest.approx(flat(expected), abs=1e-7)
    # The tiles are GCJ-02: what was stored is not what the tiles showed (~500 m off).
    assert all(abs(a[1] - b[1]) > 2e-3 for a, b in zip(vertices, shown, strict=True))

    # A circle: its tool, the centre, then the edge; an exclusion zone.
    page.locator(".leaflet-pm-icon-circle").click()
    centre, edge = at(520, 200), at(580, 200)
    page.mouse.click(*centre)
    page.mouse.click(*edge)
    expect(page.get_by_test_id("zone-drawn")).to_have_text("a circle")
    ((lat, lon),) = drawn_to_wgs84(page, [centre])
    radius = page.evaluate(
        "([a, b]) => FieldZoneEditor.map.distance(a, b)", drawn_on_tiles(page, [centre, edge])
    )
    page.get_by_label("Name", exact=True).fill("Victim's street")
    page.get_by_label("Rule").select_option("exclusion")
    page.get_by_label("When it applies").fill("")
    page.get_by_role("button", name="Add the zone").click()
    expect(page.locator("[data-zone]")).to_have_count(2)
    school = json.loads(stored_zones(supervision)["Victim's street"].geometry_json)
    assert (school["lat"], school["lon"]) == pytest.approx((lat, lon), abs=1e-7)
    assert school["radius_m"] == pytest.approx(radius, rel=0.02)
    screenshot(page, "zones")

    # Both on the person's map, drawn back where they were drawn.
    page.goto(f"{supervision.url}/console/persons/{person.id}")
    expect(page.locator("#person-map")).to_have_attribute("data-zones", "2")
    expect(page.locator("#person-map path.zone-inclusion")).to_have_count(1)
    expect(page.locator("#person-map path.zone-exclusion")).to_have_count(1)
    screenshot(page, "person")
    # Readable on a phone: no page wider than its screen (tables and maps scroll inside).
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("", f"/{person.id}", f"/{person.id}/zones"):
        page.goto(f"{supervision.url}/console/persons{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path


def test_a_zone_is_refused_in_words_edited_deactivated_and_taken_off(
    supervision: Supervision, page: Page
) -> None:
    person = supervision.person(ZONED)
    signed_in(page, supervision, "prosecutor-li")
    path = f"{supervision.url}/console/persons/{person.id}/zones"
    page.goto(path)
    square = [[31.20, 121.40], [31.20, 121.41], [31.21, 121.41], [31.21, 121.40]]
    # The shape as the page's script writes it (the drawing itself is tested above).
    page.locator('input[name="shape"]').evaluate("e => e.value = 'polygon'")
    page.locator('input[name="geometry"]').evaluate(
        "(e, v) => e.value = v", json.dumps({"vertices": square})
    )
    page.get_by_label("Name", exact=True).fill("County line")
    page.get_by_label("What it is for").select_option("county")
    page.get_by_label("When it applies").fill("Mon-Fri 25:00-06:00")
    page.get_by_role("button", name="Add the zone").click()
    expect(page.get_by_test_id("zone-problem")).to_contain_text("schedule")
    expect(page.get_by_label("Name", exact=True)).to_have_value("County line")
    expect(page.get_by_test_id("zone-drawn")).to_have_text("a polygon")  # kept, drawn again
    page.get_by_label("When it applies").fill("")
    page.get_by_role("button", name="Add the zone").click()
    county = stored_zones(supervision)["County line"]
    assert json.loads(county.geometry_json)["vertices"] == square

    # Edit: a new shape for it, through the same hidden fields.
    row = page.locator(f'tr[data-zone="{county.id}"]')
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("County line")
    bigger = [[31.19, 121.39], [31.19, 121.42], [31.22, 121.42], [31.22, 121.39]]
    page.locator("#zone-map").evaluate(
        """(e, vertices) => {
             const layer = FieldZoneEditor.drawn();
             layer.setLatLngs(vertices.map(([a, b]) => FieldMap.toMap(a, b)));
             layer.fire('pm:edit');
           }""",
        bigger,
    )
    page.get_by_role("button", name="Save the zone").click()
    edited = stored_zones(supervision)["County line"]
    assert flat(json.loads(edited.geometry_json)["vertices"]) == pytest.approx(
        flat(bigger), abs=1e-7
    )

    row.get_by_role("button", name="Deactivate").click()
    expect(row).to_have_attribute("data-active", "false")
    row.get_by_role("button", name="Take off this person").click()
    expect(row).to_have_count(0)
    assert stored_zones(supervision)["County line"].active is False  # kept, as evidence


# ---------------------------------------------------------------- who may not


def test_a_river_chief_sees_no_persons(supervision: Supervision, page: Page) -> None:
    person = supervision.person(ZONED)
    signed_in(page, supervision, "chief-a")
    expect(page.locator("nav.areas")).not_to_contain_text("Persons")
    paths = ["", f"/{person.id}", "/99999", f"/{person.id}/zones"]
    for path in paths:
        answer = page.goto(f"{supervision.url}/console/persons{path}")
        assert answer is not None
        assert answer.status == 403, path
    expect(page.locator("[data-problem]")).to_have_attribute("data-problem", "forbidden")
