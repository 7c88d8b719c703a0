"""The device table and a device's page, as the people on duty use them, against the
whole pipeline: readings published through the broker and the gateway, stored by the
cloud, shown in a real browser. What the tests expect is read back from the cloud's
own rows, never written down here."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
from console_support import PASSWORD, screenshot, sign_in
from field_support import FIELD_BRACELETS, FIELD_SITES, FIELD_STATIONS, Field, field_devices, now_s
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from cloud.console import device_views as views
from cloud.db.engine import make_engine, make_sessions
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.ingest.models import SequenceGap
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.points import RecordContext, StoredPoint, record_point
from cloud.timeseries.queries import RAW_ROW_LIMIT
from core import contract as c
from core.codec import encode
from core.messages import Health, LocationFix, Status
from core.topics import topic
from fieldwatch_dev.bench.stack import GATEWAY_ID

pytestmark = [pytest.mark.services, pytest.mark.browser]

TRACKED = FIELD_BRACELETS[0]  # a track with a hole, and a late fix that filled part of it
HOLED = FIELD_BRACELETS[1]  # seq 0, 1, 4: two readings missing; online, battery 80 %
LOW = FIELD_BRACELETS[2]  # offline, battery 15 %
STATION = "rs-000001"  # battery 55 %
CAUGHT_UP = FIELD_BRACELETS[3]  # a day of fixes, most of it caught up at once: late
BUSY = FIELD_BRACELETS[4]  # more fixes in a week than a page shows one by one
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the console's zone
# Around People's Square, Shanghai (WGS-84).
PATH = [(31.2304, 121.4737), (31.2311, 121.4746), (31.2318, 121.4755), (31.2326, 121.4763)]


def location(seq: int, ts: int, place: tuple[float, float]) -> LocationFix:
    lat, lon = place
    return LocationFix(
        boot=1,
        seq=seq,
        ts=ts,
        lat_e7=round(lat * 1e7),
        lon_e7=round(lon * 1e7),
        accuracy_m=8,
        source=c.FIX_GNSS,
    )


def health(seq: int, battery_pct: int) -> Health:
    return Health(boot=1, seq=seq, ts=now_s(), battery_pct=battery_pct, charging=False)


def announce(field: Field, device: str, online: bool, firmware: str) -> None:
    """The retained status a device publishes at connect (or its broker's last will)."""
    endpoint = field.stack.broker_endpoint
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        state = c.ONLINE if online else c.OFFLINE
        message = Status(boot=1, state=state, ts=now_s(), config_version=1, firmware=firmware)
        client.publish(
            topic(device, "status"), encode(message), qos=1, retain=True
        ).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def missing_of(field: Field, device: str) -> int:
    """The readings the cloud's completeness record lacks for a device."""
    engine = make_engine(field.database_url)
    try:
        with make_sessions(engine)() as session:
            total = session.scalar(
                select(func.sum(SequenceGap.last_seq - SequenceGap.first_seq + 1)).where(
                    SequenceGap.device_id == device
                )
            )
            return int(total or 0)
    finally:
        engine.dispose()


def add_lawyer(field: Field) -> None:
    engine = make_engine(field.database_url)
    try:
        with make_sessions(engine).begin() as session:
            add_user(session, "lawyer-wu", PASSWORD, Role.lawyer, datetime.now().astimezone())
    finally:
        engine.dispose()


def spiral(share: float) -> tuple[float, float]:
    """A place on a widening spiral around People's Square: a long track, easy to read."""
    radius, angle = 0.002 + 0.012 * share, share * 4 * math.pi
    return 31.23 + radius * math.sin(angle), 121.47 + radius * math.cos(angle)


def store_busy_week(field: Field) -> list[int]:
    """More fixes than the raw query's limit, 30 s apart, with two silent hours: written
    as ingest writes them (``record_point``) straight to InfluxDB, since sending ten
    thousand through the broker would take minutes. Their device times are returned."""
    count, silent = RAW_ROW_LIMIT + 500, range(5000, 5240)
    first = now_s() - (count + len(silent)) * 30 - 600
    times = [first + 30 * i for i in range(count + len(silent)) if i not in silent]
    context = RecordContext(BUSY, GATEWAY_ID, now_s() * 1000, late=False)
    points = [
        record_point(
            location(seq, ts, spiral(seq / len(times))),
            context,
        )
        for seq, ts in enumerate(times)
    ]
    write_points(field, points)
    return times


LIVE_FIXES = 2160  # the caught-up day's first six hours came live; the rest is late


def store_caught_up_day(field: Field) -> list[int]:
    """A day that ended an hour ago, a fix every 10 s (8,640) less a silent hour, the
    first six hours forwarded live and the rest caught up at once: late. Written as
    ``store_busy_week`` writes; their device times are returned, by seq."""
    start = (now_s() // 60) * 60 - 86_400 - 3600
    silent = range(4000, 4360)
    times = [start + 10 * i for i in range(8640) if i not in silent]
    live = RecordContext(CAUGHT_UP, GATEWAY_ID, now_s() * 1000, late=False)
    late = replace(live, late=True)
    points = [
        record_point(
            location(seq, ts, spiral(seq / len(times))), live if seq < LIVE_FIXES else late
        )
        for seq, ts in enumerate(times)
    ]
    write_points(field, points)
    return times


def write_points(field: Field, points: Sequence[StoredPoint]) -> None:
    endpoint = field.stack.influx_endpoint
    store = InfluxStore(
        endpoint.url, endpoint.database, username=endpoint.username, password=endpoint.password
    )
    try:
        store.write(points)
    finally:
        store.close()


@pytest.fixture(scope="module")
def published(field: Field) -> Field:
    """What the field has said by the time the tests look (about 15 s of publishing)."""
    now = now_s()
    # Sequence numbers are this module's own (a boot counts from 0). TRACKED: fixes 0, 1,
    # 4, 5 (2 and 3 lost), then 2 arrives after them: late, and the hole shrinks to 3
    # alone, so the line breaks once, between 2 and 4.
    field.publish(
        TRACKED,
        [
            location(0, now - 250, PATH[0]),
            location(1, now - 200, PATH[1]),
            location(4, now - 150, PATH[2]),
            location(5, now - 100, PATH[3]),
        ],
    )
    field.publish(HOLED, [location(0, now - 90, PATH[0]), location(1, now - 80, PATH[1])])
    field.publish(HOLED, [health(4, 80)])  # 2 and 3 never sent
    field.publish(LOW, [health(0, 15)])
    field.publish(STATION, [health(0, 55)])
    announce(field, HOLED, True, "1.10.0")
    announce(field, LOW, False, "1.9.2")
    field.wait_for(lambda: field.stored_seq(TRACKED) == 5, what="the track stored")
    field.wait_for(lambda: missing_of(field, TRACKED) == 2, what="the track's hole seen")
    field.publish(TRACKED, [location(2, now - 180, (31.2314, 121.4750))])
    field.wait_for(lambda: missing_of(field, TRACKED) == 1, what="the late fix stored")
    field.wait_for(lambda: field.stored_seq(HOLED) == 4, what="the holed bracelet stored")
    field.wait_for(lambda: field.stored_seq(LOW) == 0 and field.stored_seq(STATION) == 0)
    for device, presence in ((HOLED, "online"), (LOW, "offline")):
        field.wait_for(
            lambda d=device, p=presence: (row := field.device(d)) is not None and row.presence == p,
            what=f"{device} {presence}",
        )
    add_lawyer(field)
    return field


def table_ids(page: Page) -> list[str]:
    return [
        row.get_attribute("data-device") or ""
        for row in page.locator("#device-table tbody tr").all()
    ]


def expected_order(field: Field, devices: list[str], value: str, descending: bool) -> list[str]:
    """The devices by a column of their stored rows, ties by id, unknown values last."""
    rows = {device: getattr(field.device(device), value) for device in devices}
    known = sorted(
        (d for d in sorted(rows) if rows[d] is not None), key=lambda d: rows[d], reverse=descending
    )
    return known + [d for d in sorted(rows) if rows[d] is None]


def test_each_person_sees_the_devices_their_role_covers(published: Field, page: Page) -> None:
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices")
    expect(page.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
    assert sorted(table_ids(page)) == sorted(field_devices())
    screenshot(page, "devices-table")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, published.url, "chief-east")
    page.goto(f"{published.url}/console/devices")
    east = sorted(d for d, site in FIELD_STATIONS.items() if site == "site-east")
    assert table_ids(page) == east
    for hidden in (TRACKED, "rs-000003"):
        answer = page.goto(f"{published.url}/console/devices/{hidden}")
        assert answer is not None
        assert answer.status == 404
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto(f"{published.url}/console/devices/{east[0]}")
    expect(page.get_by_role("heading", name="Track")).to_have_count(0)  # no tracks for chiefs
    site_name = FIELD_SITES[FIELD_STATIONS[east[0]]][0]
    expect(page.get_by_role("link", name=site_name)).to_have_attribute(
        "href", f"/console/sites/{FIELD_STATIONS[east[0]]}"
    )

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, published.url, "lawyer-wu")
    answer = page.goto(f"{published.url}/console/devices")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("heading", name="Not yours to see")).to_be_visible()


def test_sorting_by_battery_and_last_seen_orders_the_rows(published: Field, page: Page) -> None:
    devices = sorted(field_devices())
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices?sort=battery")
    assert table_ids(page) == expected_order(published, devices, "battery_pct", False)
    header = page.locator("th", has=page.locator("#sort-battery"))
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.locator("#sort-battery").click()  # htmx: the table alone, the address kept
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(f"{published.url}/console/devices?sort=battery&dir=desc")
    assert table_ids(page) == expected_order(published, devices, "battery_pct", True)

    page.locator("#sort-last_seen").click()
    expect(page.locator("th", has=page.locator("#sort-last_seen"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    by_last_seen = expected_order(published, devices, "last_seen_at", False)
    assert table_ids(page) == by_last_seen
    assert by_last_seen != expected_order(published, devices, "battery_pct", False)
    page.reload()  # the pushed address is the view: shareable
    assert table_ids(page) == by_last_seen


def test_filters_by_status_and_missing_readings(published: Field, page: Page) -> None:
    devices = sorted(field_devices())
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices")
    page.get_by_label("Status").select_option(label="Online")
    expect(page).to_have_url(f"{published.url}/console/devices?status=online")
    online = [d for d in devices if (row := published.device(d)) and row.presence == "online"]
    expect(page.locator("#device-table tbody tr")).to_have_count(len(online))
    assert table_ids(page) == online
    expect(page.locator(f'tr[data-device="{HOLED}"] .status')).to_have_text("Online")

    page.get_by_label("Status").select_option(label="Any status")
    page.get_by_label("Only with missing readings").check()
    expect(page).to_have_url(f"{published.url}/console/devices?missing=1")
    holed = [d for d in devices if missing_of(published, d) > 0]
    expect(page.locator("#device-table tbody tr")).to_have_count(len(holed))
    assert table_ids(page) == holed
    expect(page.locator(f'tr[data-device="{HOLED}"] [data-column="missing"]')).to_have_text("2")

    # Without JavaScript the same address answers the whole page; with htmx's header, the
    # table alone.
    [cookie] = [k for k in page.context.cookies() if k["name"] == "fieldwatch_session"]
    cookies = {"fieldwatch_session": cookie["value"]}
    url = f"{published.url}/console/devices?status=offline&kind=bracelet&battery_below=50"
    whole = httpx.get(url, cookies=cookies)
    part = httpx.get(url, cookies=cookies, headers={"HX-Request": "true"})
    assert whole.status_code == part.status_code == 200
    assert "<html" in whole.text
    assert 'id="device-filters"' in whole.text
    assert "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="device-table"')
    assert (
        part.headers["HX-Push-Url"]
        == "/console/devices?status=offline&kind=bracelet&battery_below=50"
    )
    assert f'data-device="{LOW}"' in part.text
    assert f'data-device="{HOLED}"' not in part.text


def test_the_table_sorts_from_the_keyboard(published: Field, page: Page) -> None:
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "sort-battery":
            break
    else:
        pytest.fail("Tab never reached the battery column's header")
    page.keyboard.press("Enter")
    header = page.locator("th", has=page.locator("#sort-battery"))
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#sort-battery")).to_be_focused()  # the focus stays for the next key
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")


def test_a_device_page_shows_its_state_health_and_completeness(
    published: Field, page: Page
) -> None:
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices")
    page.get_by_role("link", name=HOLED, exact=True).click()
    expect(page.get_by_role("heading", name=HOLED)).to_be_visible()
    row = published.device(HOLED)
    assert row is not None
    expect(page.get_by_test_id("device-status")).to_have_text("Online")
    expect(page.get_by_test_id("battery")).to_have_text(f"{row.battery_pct} %")
    expect(page.get_by_test_id("last-record")).to_contain_text(
        f"boot {row.last_boot}, seq {row.last_seq}"
    )
    expect(page.get_by_test_id("held-implausible")).to_have_text(str(row.held_implausible_time))
    missing = page.get_by_test_id("missing-total")
    expect(missing).to_have_attribute("data-missing", str(missing_of(published, HOLED)))
    expect(missing).to_contain_text("Readings missing: 2, in 1 gaps.")
    gap = page.locator('tr[data-gap="1-2"]')
    expect(gap.locator("td").nth(1)).to_have_text("2\u20133")
    expect(gap.locator("td").nth(2)).to_have_text("2")


def test_a_track_is_broken_where_readings_are_missing_and_marks_the_late_fix(
    published: Field, page: Page
) -> None:
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices/{TRACKED}")
    track_map = page.locator("#track-map")
    expect(track_map).to_have_attribute("data-drawn", "2")  # device.js drew two pieces
    expect(page.locator("path.track-line")).to_have_count(2)
    expect(page.locator("path.track-late")).to_have_count(1)
    expect(page.get_by_test_id("track-mode")).to_have_text("every fix")
    expect(page.get_by_test_id("track-points")).to_have_text("5")
    expect(page.get_by_test_id("track-late")).to_have_text("1")
    expect(page.get_by_test_id("track-breaks")).to_contain_text("Readings missing: 1, between")
    expect(page.get_by_test_id("late-fixes")).to_contain_text("boot 1, seq 2")
    expect(page.get_by_role("link", name="Last 24 hours")).to_have_attribute("aria-current", "true")
    screenshot(page, "device-page")

    page.get_by_role("link", name="Last hour").click()
    expect(page.get_by_role("link", name="Last hour")).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("track-points")).to_have_text("5")

    # A period of its own, in the console's time zone: the small hours of yesterday hold nothing.
    start = page.get_by_label("Start", exact=True).input_value()
    day = (date.fromisoformat(start[:10]) - timedelta(days=1)).isoformat()
    page.get_by_label("Start", exact=True).fill(f"{day}T00:00")
    page.get_by_label("End", exact=True).fill(f"{day}T06:00")
    page.get_by_role("button", name="Show the track").click()
    expect(page.get_by_test_id("track-empty")).to_have_text("No position fixes in this period.")
    expect(page.get_by_label("Start", exact=True)).to_have_value(f"{day}T00:00")


def test_the_pages_read_in_chinese_and_fit_a_phone(published: Field, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, published.url, "duty-admin", language="zh-CN")
        page.goto(f"{published.url}/console/devices")
        expect(page.get_by_role("heading", name="设备", exact=True)).to_be_visible()
        expect(page.locator("#sort-battery")).to_have_text("电量")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "devices-table-phone-zh")
        page.goto(f"{published.url}/console/devices/{TRACKED}")
        expect(page.get_by_role("heading", name="完整性")).to_be_visible()
        expect(page.get_by_role("heading", name="轨迹", exact=True)).to_be_visible()
        expect(page.locator("#track-map")).to_have_attribute("data-drawn", "2")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "device-page-phone-zh")
    finally:
        context.close()


def test_a_long_busy_period_is_drawn_one_fix_per_bucket(published: Field, page: Page) -> None:
    times = store_busy_week(published)
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices/{BUSY}?last=7d")
    expect(page.get_by_test_id("track-mode")).to_have_text("one fix per 10 min")
    buckets = {ts // 600 for ts in times}  # InfluxDB's buckets start at the epoch
    expect(page.get_by_test_id("track-points")).to_have_text(f"{len(buckets):,}")
    expect(page.locator("#track-map")).to_have_attribute("data-drawn", "2")  # the silence
    expect(page.get_by_test_id("track-breaks")).to_contain_text("No fix between")
    expect(page.locator("path.track-late")).to_have_count(0)
    screenshot(page, "device-page-buckets")

    # A day of it holds 2,880 fixes: too many to draw one by one, so one a minute.
    page.get_by_role("link", name="Last 24 hours").click()
    expect(page.get_by_test_id("track-mode")).to_have_text("one fix per 1 min")
    since = shown_since(page)
    day = [ts for ts in times if ts >= since]
    expect(page.get_by_test_id("track-points")).to_have_text(f"{len({ts // 60 for ts in day}):,}")

    page.get_by_role("link", name="Last hour").click()
    expect(page.get_by_test_id("track-mode")).to_have_text("every fix")
    since = shown_since(page)
    hour = [ts for ts in times if ts >= since]
    expect(page.get_by_test_id("track-points")).to_have_text(f"{len(hour):,}")


def shown_since(page: Page) -> float:
    """The start of the period the page shows (its form's, in the console's zone)."""
    start = page.get_by_label("Start", exact=True).input_value()
    return datetime.fromisoformat(start).replace(tzinfo=SHANGHAI).timestamp()


def local_input(ts: float) -> str:
    return datetime.fromtimestamp(ts, SHANGHAI).strftime(views.INPUT_FORMAT)


def test_a_caught_up_day_is_drawn_one_fix_a_minute_with_its_late_fixes_marked(
    published: Field, page: Page
) -> None:
    times = store_caught_up_day(published)
    late = len(times) - LIVE_FIXES
    period = f"start={local_input(times[0])}&end={local_input(times[0] + 86_400)}"
    sign_in(page, published.url, "duty-admin")
    page.goto(f"{published.url}/console/devices/{CAUGHT_UP}?{period}")
    expect(page.get_by_test_id("track-mode")).to_have_text("one fix per 1 min")
    expect(page.get_by_test_id("track-points")).to_have_text(f"{len({ts // 60 for ts in times}):,}")
    expect(page.locator("#track-map")).to_have_attribute("data-drawn", "2")  # the silent hour
    expect(page.get_by_test_id("track-breaks")).to_contain_text("No fix between")
    expect(page.locator("path.track-late")).to_have_count(views.LATE_DRAWN)
    expect(page.get_by_test_id("track-late")).to_have_text(f"{late:,}")
    expect(page.get_by_test_id("late-unmarked")).to_have_text(
        f"The map marks the first {views.LATE_DRAWN} of the {late:,} late fixes."
    )
    listed = page.get_by_test_id("late-fixes").locator("li")
    expect(listed).to_have_count(views.LATE_LISTED)
    expect(listed.first).to_contain_text(f"boot 1, seq {LIVE_FIXES}")  # the oldest first
    expect(page.get_by_test_id("late-more")).to_have_text(f"and {late - views.LATE_LISTED:,} more")
    data = page.evaluate("document.getElementById('track-data').textContent")
    assert len(data.encode()) < 100_000  # what the map needs, not every fix's words
    drawn = json.loads(data)
    assert (len(drawn["points"]), len(drawn["late"])) == (
        len({ts // 60 for ts in times}),
        views.LATE_DRAWN,
    )
    screenshot(page, "device-page-caught-up")

    # Four hours of it, all late: every fix drawn, the late ones marked and listed as capped.
    hours = [ts for ts in times[LIVE_FIXES:] if ts < times[LIVE_FIXES] + 4 * 3600]
    period = f"start={local_input(hours[0])}&end={local_input(hours[0] + 4 * 3600)}"
    page.goto(f"{published.url}/console/devices/{CAUGHT_UP}?{period}")
    expect(page.get_by_test_id("track-mode")).to_have_text("every fix")
    expect(page.get_by_test_id("track-points")).to_have_text(f"{len(hours):,}")
    expect(page.get_by_test_id("track-late")).to_have_text(f"{len(hours):,}")
    expect(page.locator("path.track-late")).to_have_count(views.LATE_DRAWN)
    expect(listed).to_have_count(views.LATE_LISTED)
    expect(page.get_by_test_id("late-more")).to_have_text(
        f"and {len(hours) - views.LATE_LISTED:,} more"
    )
