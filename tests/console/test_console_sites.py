"""The river sites' pages in a real browser, fed through the whole pipeline (broker,
gateway, cloud, InfluxDB): who sees which site on the list and the map, the latest values
with their units and flags, a site's charts over a chosen period with flagged values
marked on the chart and listed below it, Chinese, a phone's width and the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from console_support import PASSWORD, screenshot, sign_in
from field_support import FIELD_SITES, FIELD_STATIONS, Field, now_s
from playwright.sync_api import Page, expect

from cloud.db.engine import make_engine, make_sessions
from cloud.identity.models import Role
from cloud.identity.service import add_user
from core import contract as c

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.slow]

EAST, WEST = "site-east", "site-west"
SONDE, BUSY = "rs-000001", "rs-000002"  # both at the east site; rs-000003 (west) sends nothing
HOUR = 3600
BUSY_SAMPLES = 1100  # every 5 min: more than a chart's 1,000 points over 7 days
FLAGGED_CHART = "Status flag (not normal)"


@dataclass(frozen=True)
class Published:
    """What the module's stations sent, and when (device time, s)."""

    now: int
    calibrating_ts: int  # a pH value flagged "calibrating", 20 h ago
    fault_ts: int  # a dissolved oxygen flagged "fault" without a value, 30 h ago


@pytest.fixture(scope="module")
def published(field: Field) -> Published:
    """A sonde at the east site every 2 h for 3 days (a flagged pH, a fault, and a newest
    sample with ammonia nitrogen under maintenance), and a busy station every 5 min."""
    now = now_s()
    calibrating_ts, fault_ts = now - 10 * 2 * HOUR, now - 15 * 2 * HOUR
    sonde = []
    for k in range(36, 0, -1):
        ts = now - k * 2 * HOUR
        values = {"water_temp": 17.0 + k % 5, "ph": 7.0 + (k % 4) / 10, "dissolved_oxygen": 8.0}
        statuses = {}
        if ts == calibrating_ts:
            values["ph"], statuses["ph"] = 9.87, c.VALUE_CALIBRATING
        if ts == fault_ts:
            del values["dissolved_oxygen"]
            statuses["dissolved_oxygen"] = c.VALUE_FAULT
        sonde.append(field.sample(SONDE, ts, values, statuses))
    newest = {"water_temp": 18.5, "ph": 7.21, "dissolved_oxygen": 8.05, "ammonia_nitrogen": 0.512}
    sonde.append(field.sample(SONDE, now - 60, newest, {"ammonia_nitrogen": c.VALUE_MAINTENANCE}))
    busy = [
        field.sample(BUSY, now - 300 * k, {"ph": 7.5, "conductivity": 420 + k % 7})
        for k in range(BUSY_SAMPLES, 0, -1)
    ]
    field.publish(SONDE, sonde)
    field.publish(BUSY, busy)
    field.wait_for(lambda: field.caught_up(SONDE), 60, "the sonde's samples")
    field.wait_for(lambda: field.caught_up(BUSY), 60, "the busy station's samples")
    return Published(now, calibrating_ts, fault_ts)


@pytest.fixture(scope="module")
def lawyer(field: Field) -> str:
    """Someone whose role may not list river sites."""
    engine = make_engine(field.database_url)
    try:
        with make_sessions(engine).begin() as session:
            add_user(session, "lawyer-wu", PASSWORD, Role.lawyer, datetime.now(UTC))
    finally:
        engine.dispose()
    return "lawyer-wu"


@pytest.fixture
def admin_page(page: Page, field: Field, published: Published) -> Iterator[Page]:
    """Signed in as the administrator; the page's scripts must run without an error (a
    script or style the Content-Security-Policy refused would show here)."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, field.url, "duty-admin")
    yield page
    # Statuses are checked where they are asked for (and the browser's own favicon.ico).
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def site_cards(page: Page) -> list[str]:
    return [card.get_attribute("data-site") or "" for card in page.locator(".site-card").all()]


def markers(page: Page) -> int:
    page.wait_for_selector("#sites-map.leaflet-container")
    return page.locator("#sites-map .leaflet-marker-icon").count()


def chart_series(page: Page, parameter: str) -> list[dict[str, object]]:
    """The series ECharts draws in a parameter's chart: name, type, points."""
    return page.evaluate(
        """(parameter) => {
            const chart = echarts.getInstanceByDom(document.getElementById("chart-" + parameter));
            return chart.getOption().series.map((s) => ({
                name: s.name, type: s.type, data: s.data.map((d) => d.value || d),
                marks: s.markLine ? s.markLine.data.length : 0,
            }));
        }""",
        parameter,
    )


def test_a_river_chief_sees_only_their_site_and_not_the_others_by_address(
    page: Page, field: Field, published: Published
) -> None:
    sign_in(page, field.url, "chief-west")
    page.goto(f"{field.url}/console/sites")
    assert site_cards(page) == [WEST]
    assert markers(page) == 1
    west = page.locator(f'[data-site="{WEST}"]')
    expect(west.get_by_role("link", name=FIELD_SITES[WEST][0])).to_be_visible()
    expect(west).to_contain_text(FIELD_SITES[WEST][1])
    expect(west).to_contain_text("No sample yet.")

    answer = page.goto(f"{field.url}/console/sites/{EAST}")
    assert answer is not None
    assert answer.status == 404
    expect(page.locator('[data-problem="not_found"]')).to_be_visible()
    answer = page.goto(f"{field.url}/console/sites/no-such-site")
    assert answer is not None
    assert answer.status == 404

    page.goto(f"{field.url}/console/sites/{WEST}")
    expect(page.get_by_test_id("no-charts")).to_have_text("No samples in this period.")
    expect(page.locator(".chart")).to_have_count(0)


def test_a_role_without_sites_is_refused(page: Page, field: Field, lawyer: str) -> None:
    sign_in(page, field.url, lawyer)
    answer = page.goto(f"{field.url}/console/sites")
    assert answer is not None
    assert answer.status == 403
    expect(page.locator('[data-problem="forbidden"]')).to_be_visible()


def test_the_list_and_map_show_every_site_with_its_latest_values_and_flags(
    admin_page: Page, field: Field
) -> None:
    page = admin_page
    page.goto(f"{field.url}/console/sites")
    assert sorted(site_cards(page)) == [EAST, WEST]
    assert markers(page) == 2
    east = page.locator(f'[data-site="{EAST}"]')
    expect(east.locator('[data-parameter="water_temp"] dd')).to_have_text("18.50 °C")
    expect(east.locator('[data-parameter="dissolved_oxygen"] dd')).to_have_text("8.05 mg/L")
    expect(east.locator('[data-parameter="ph"] dd')).to_have_text("7.21")
    flagged = east.locator('[data-parameter="ammonia_nitrogen"]')
    expect(flagged).to_have_class(re.compile(r"\bflagged\b"))
    expect(flagged.locator(".flag")).to_have_text(re.compile("maintenance"))
    expect(east.locator(".sampled")).to_contain_text("ago")
    # The marker's popup tells the same.
    page.locator("#sites-map .site-marker.state-flagged").click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(FIELD_SITES[EAST][0])
    expect(popup).to_contain_text("18.50 °C")
    expect(popup.locator(".flag")).to_contain_text("maintenance")
    page.mouse.move(0, 0)  # the tooltip away, the popup's fade-in over
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    screenshot(page, "sites-map")


def test_a_site_page_draws_a_chart_per_parameter_and_marks_the_flagged_values(
    admin_page: Page, field: Field, published: Published
) -> None:
    page = admin_page
    page.goto(f"{field.url}/console/sites")
    page.get_by_role("link", name=FIELD_SITES[EAST][0]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(FIELD_SITES[EAST][0])
    for station in (s for s, site in FIELD_STATIONS.items() if site == EAST):
        expect(page.locator(f'[data-station="{station}"]')).to_be_visible()
    # Seven days of the busy station are over 1,000 points: bucket means, said so.
    expect(page.locator('[data-mode="mean"]')).to_contain_text("30 minutes")
    drawn = ["water_temp", "ph", "dissolved_oxygen", "conductivity", "ammonia_nitrogen"]
    expect(page.locator(".chart canvas")).to_have_count(len(drawn))
    assert [c.get_attribute("data-chart") for c in page.locator(".chart").all()] == drawn

    ph = chart_series(page, "ph")
    assert sorted(s["name"] for s in ph if s["type"] == "line") == [SONDE, BUSY]
    [flags] = [s for s in ph if s["name"] == FLAGGED_CHART]
    assert flags["type"] == "scatter"
    assert [v[1] for v in flags["data"]] == [9.87]
    table = page.get_by_test_id("flagged-ph")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("9.87")
    expect(table.locator("tbody tr")).to_contain_text("calibrating")
    # The chart's clock is the page's: the flagged point's label reads as the table's time.
    shown = page.evaluate(
        """(ms) => new Date(ms).toISOString().slice(0, 16).replace("T", " ")""",
        flags["data"][0][0],
    )
    expect(table.locator("tbody tr td").first).to_have_text(re.compile("^" + shown))
    # A fault without a value: a mark on the chart, a row saying so.
    [oxygen_flags] = [
        s for s in chart_series(page, "dissolved_oxygen") if s["name"] == FLAGGED_CHART
    ]
    assert oxygen_flags["marks"] == 1
    expect(page.get_by_test_id("flagged-dissolved_oxygen")).to_contain_text("fault")
    # The bucket means leave the flagged value out: no mean reaches 9.87.
    sonde_line = next(s for s in ph if s["name"] == SONDE)
    assert max(v[1] for v in sonde_line["data"] if v[1] is not None) < 7.5
    # Pointing at a chart tells the time and values there, in the page's clock.
    page.locator("#chart-ph").scroll_into_view_if_needed()
    box = page.locator("#chart-ph").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.6)
    tip = page.locator("#chart-ph div").filter(has_text=re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    expect(tip.last).to_contain_text(BUSY)
    page.mouse.move(0, 0)
    screenshot(page, "site-page")
    # The charts follow the window: narrower, each canvas still fits its card.
    wide = page.locator("#chart-ph canvas").bounding_box()
    page.set_viewport_size({"width": 420, "height": 800})
    page.wait_for_function(
        """() => [...document.querySelectorAll(".chart")].every((chart) =>
            chart.querySelector("canvas").getBoundingClientRect().width <= chart.clientWidth + 1)"""
    )
    narrow = page.locator("#chart-ph canvas").bounding_box()
    assert wide is not None
    assert narrow is not None
    assert narrow["width"] < wide["width"]


def test_the_period_form_changes_what_is_shown(
    admin_page: Page, field: Field, published: Published
) -> None:
    page = admin_page
    page.goto(f"{field.url}/console/sites/{EAST}")
    page.get_by_role("link", name="24 hours").click()
    expect(page.locator('[data-mode="raw"]')).to_be_visible()  # few enough: every sample
    expect(page.get_by_role("link", name="24 hours")).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("flagged-ph")).to_contain_text("calibrating")  # 20 h ago
    # From 3 days to 2 days ago, through the form: no ammonia nitrogen, no flag.
    start = datetime.fromtimestamp(published.now - 72 * HOUR, UTC)
    end = datetime.fromtimestamp(published.now - 48 * HOUR, UTC)
    page.get_by_label("From").fill(_local(start))
    page.get_by_label("To").fill(_local(end))
    page.get_by_label("To").press("Enter")
    expect(page.locator(".chart canvas")).to_have_count(4)
    expect(page.locator('[data-parameter="ammonia_nitrogen"] .empty')).to_have_text(
        "Ammonia nitrogen: no samples in this period."
    )
    expect(page.get_by_test_id("flagged-ph")).to_have_count(0)
    expect(page.get_by_label("From")).to_have_value(_local(start))
    answer = page.goto(f"{field.url}/console/sites/{EAST}?from=yesterday&to=today")
    assert answer is not None
    assert answer.status == 422


def _local(moment: datetime) -> str:
    """A time as the period form's inputs hold it, in the console's zone (the default)."""
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_in_chinese_the_names_flags_and_periods_are_chinese(
    page: Page, field: Field, published: Published
) -> None:
    sign_in(page, field.url, "chief-east", language="zh-CN")
    page.goto(f"{field.url}/console/sites")
    expect(page.get_by_role("heading", level=1)).to_have_text("河道站点")
    east = page.locator(f'[data-site="{EAST}"]')
    expect(east.locator('[data-parameter="dissolved_oxygen"] dt')).to_have_text("溶解氧")
    expect(east.locator('[data-parameter="ammonia_nitrogen"] dt')).to_have_text("氨氮")
    expect(east.locator(".flag")).to_contain_text("维护")
    screenshot(page, "sites-zh")
    page.goto(f"{field.url}/console/sites/{EAST}")
    expect(page.locator("#heading-water_temp")).to_contain_text("水温")
    expect(page.locator('[data-mode="mean"]')).to_contain_text("30分钟")
    expect(page.get_by_role("link", name="24小时")).to_be_visible()
    expect(page.get_by_test_id("flagged-ph")).to_contain_text("校准")
    legend = {str(s["name"]) for s in chart_series(page, "ph")}
    assert any(name.startswith("状态标记") for name in legend)
    screenshot(page, "site-page-zh")


def test_on_a_phone_nothing_is_wider_than_the_screen_and_charts_stack(
    page: Page, field: Field, published: Published
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, field.url, "chief-east")
    page.goto(f"{field.url}/console/sites")
    assert markers(page) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#sites-map").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
    screenshot(page, "sites-phone")

    page.goto(f"{field.url}/console/sites/{EAST}")
    expect(page.locator(".chart canvas")).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    boxes = [chart.bounding_box() for chart in page.locator(".chart").all()]
    assert all(b is not None and b["x"] >= 0 and b["x"] + b["width"] <= 375 for b in boxes)
    lefts = {round(b["x"]) for b in boxes if b}
    tops = [b["y"] for b in boxes if b]
    assert len(lefts) == 1
    assert tops == sorted(tops)
    canvas = page.locator(".chart canvas").first.bounding_box()
    assert canvas is not None
    assert canvas["width"] <= 375
    screenshot(page, "site-page-phone")


def test_the_period_form_and_the_site_links_are_reached_with_the_keyboard(
    admin_page: Page, field: Field
) -> None:
    page = admin_page
    page.goto(f"{field.url}/console/sites")
    reached = tab_through(page, 40)
    assert f"/console/sites/{EAST}" in reached
    assert f"/console/sites/{WEST}" in reached

    page.goto(f"{field.url}/console/sites/{EAST}")
    reached = tab_through(page, 60)
    assert {
        "period-from",
        "period-to",
        "period-show",
        "/console/sites/site-east?period=24h",
    } <= reached
    page.locator("#period-to").focus()
    page.keyboard.press("Enter")  # the form is sent from the keyboard too
    expect(page).to_have_url(re.compile(r"from=.*&to="))


def tab_through(page: Page, presses: int) -> set[str]:
    """What Tab reaches from the top of the page: ids, or links' addresses."""
    page.locator("body").focus()
    reached = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => { const e = document.activeElement;
                    return e.id || e.getAttribute("href") || e.tagName; }"""
            )
        )
    return reached
