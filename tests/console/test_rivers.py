"""The rivers' pages in a real browser, fed through the whole pipeline (broker, gateway,
cloud, InfluxDB) and judged by the scheduler's river checks run once: the rivers' map
with each course in its worst class's colour and the same in a table, a river's page
with its chiefs, sites and alerts, a site's class day by day with the GB 3838-2002
bounds on its charts and the values the checks did not trust marked with why, what a
river chief sees (and is refused), a phone's width and Chinese class names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console_support import PASSWORD, screenshot, sign_in
from field_support import Field, field_devices, now_s, populate
from playwright.sync_api import Page, expect

from cloud.db.engine import make_engine, make_sessions
from cloud.identity.models import Role
from cloud.identity.service import add_user, get_user
from cloud.rivers.checks import RiverCheckSettings
from cloud.rivers.models import RiverSite
from cloud.rivers.service import (
    RiverInput,
    appoint_chief,
    check_river,
    put_river,
    update_site,
)
from cloud.scheduler.runner import Scheduler, SchedulerSettings
from cloud.supervision.checks import CheckSettings
from cloud.supervision.evaluate import AlertPolicy
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.queries import rows_of
from core import contract as c
from fieldwatch_dev.bench.endpoints import InfluxEndpoint
from fieldwatch_dev.bench.stack import Stack
from fieldwatch_dev.local import InfluxServer

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")
EAST, WEST = "site-east", "site-west"  # on HP-01 (target II) and SC-02 (target III)
SONDE, WEST_SONDE = "rs-000001", "rs-000003"
STEP = 1200  # a sample every 20 min
SAMPLES = 180  # 60 h of them
STUCK_DO = range(60, 72)  # samples k (k steps before now) with oxygen stuck at 7.00
STUCK_JUDGED = range(60, 66)  # ... those the stuck check calls stuck (after 2 h of it)
STUCK_CONDUCTIVITY = range(1, 8)  # the newest 7: conductivity stuck at 455
CALIBRATING_K = 30  # ammonia 3.000 while calibrating: never counted, never a line
# Ammonia nitrogen by local day (0: today): the day's class, since the rest is class I.
AMMONIA = {0: 1.2, 1: 0.8, 2: 0.3}
AMMONIA_ELSE = 0.1
CLASS_OF_AMMONIA = {1.2: "4", 0.8: "3", 0.3: "2", 0.1: "1"}
COLOURS = {"1": "#3ba7d9", "2": "#1d4fa3", "3": "#2b8a3e", "4": "#e0a800", "none": "#8a96a3"}
UNTRUSTED = "Not trusted by the checks"
BOUNDS = "GB 3838-2002 class bounds"
FLAGGED = "Status flag (not normal)"


@dataclass(frozen=True)
class Published:
    now: int

    def ts(self, k: int) -> int:
        return self.now - STEP * k

    def day_offset(self, k: int) -> int:
        today = datetime.fromtimestamp(self.now, SHANGHAI).date()
        return (today - datetime.fromtimestamp(self.ts(k), SHANGHAI).date()).days

    def expected_days(self) -> dict[str, str]:
        """The class each local day with samples must have (ISO date -> class key)."""
        days: dict[str, str] = {}
        for k in range(SAMPLES, 0, -1):
            day = datetime.fromtimestamp(self.ts(k), SHANGHAI).date().isoformat()
            days[day] = CLASS_OF_AMMONIA[AMMONIA.get(self.day_offset(k), AMMONIA_ELSE)]
        return days


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory, influxdb: InfluxServer) -> Iterator[Field]:
    """The console's field (conftest's), with the cloud's own scheduler off: the test runs
    the river checks itself, once, when the samples are in."""
    folder = tmp_path_factory.mktemp("console-rivers")
    influx = InfluxEndpoint(influxdb.url).with_database(f"field_{folder.name.replace('-', '_')}")
    with Stack(
        folder, field_devices(), influx=influx, cloud_settings={"scheduler_enabled": False}
    ) as stack:
        assert stack.cloud is not None
        database_url = f"sqlite:///{(folder / 'cloud' / 'cloud.sqlite3').absolute()}"
        populate(database_url, PASSWORD)
        yield Field(stack, stack.cloud.url, database_url)


def _rivers(database_url: str) -> None:
    """Three rivers (HP-01 chaired by chief-east at town level and chief-hp at district
    level; SC-02 and XJ-03 by nobody, XJ-03 without a site), the sites on them with targets."""
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            add_user(session, "chief-hp", PASSWORD, Role.river_chief, now)
            courses = {
                "HP-01": ("Huangpu", [[121.46, 31.22], [121.4737, 31.2304], [121.49, 31.24]]),
                "SC-02": ("Suzhou Creek", [[121.39, 31.24], [121.41, 31.245], [121.43, 31.25]]),
                "XJ-03": ("Xiaojia Creek", [[121.42, 31.20], [121.45, 31.205]]),
            }
            rivers = {}
            for code, (name, line) in courses.items():
                spec = RiverInput(code, name, {"type": "LineString", "coordinates": line})
                rivers[code], _new = put_river(session, check_river(spec), now)
            appoint_chief(session, rivers["HP-01"], get_user(session, "chief-east"), "town", now)
            appoint_chief(session, rivers["HP-01"], get_user(session, "chief-hp"), "district", now)
            for site_id, code, target in ((EAST, "HP-01", 2), (WEST, "SC-02", 3)):
                site = session.get(RiverSite, site_id)
                assert site is not None
                update_site(
                    session,
                    site,
                    site.name,
                    site.river,
                    site.lat,
                    site.lon,
                    river_code=code,
                    target=target,
                )
    finally:
        engine.dispose()


def _sonde_sample(field: Field, published: Published, k: int) -> Any:
    i = SAMPLES - k
    ammonia = AMMONIA.get(published.day_offset(k), AMMONIA_ELSE) + (i % 3) / 1000
    values = {
        "water_temp": 18 + (i % 6) / 10,
        "ph": 7.2 + (i % 5) / 100,
        "dissolved_oxygen": 7.0 if k in STUCK_DO else 8.0 + (i % 4) * 0.05,
        "conductivity": 455.0 if k in STUCK_CONDUCTIVITY else 400.0 + i % 7,
        "ammonia_nitrogen": ammonia,
    }
    statuses = {}
    if k == CALIBRATING_K:
        values["ammonia_nitrogen"], statuses["ammonia_nitrogen"] = 3.0, c.VALUE_CALIBRATING
    return field.sample(SONDE, published.ts(k), values, statuses)


@pytest.fixture(scope="module")
def published(field: Field) -> Published:
    """60 h of the east sonde every 20 min (a class a day from ammonia, oxygen stuck for
    4 h a day ago, conductivity stuck for the last 2 h, a calibrating ammonia value), 4 h
    of the west one (class II); then the scheduler's river checks, once."""
    _rivers(field.database_url)
    published = Published(now_s())
    field.publish(SONDE, [_sonde_sample(field, published, k) for k in range(SAMPLES, 0, -1)])
    west = [
        field.sample(
            WEST_SONDE,
            published.ts(k),
            {
                "ph": 7.3 + (k % 5) / 100,
                "dissolved_oxygen": 7.9 + (k % 3) / 20,
                "ammonia_nitrogen": 0.3 + (k % 3) / 1000,
            },
        )
        for k in range(12, 0, -1)
    ]
    field.publish(WEST_SONDE, west)
    field.wait_for(lambda: field.caught_up(SONDE), 120, "the east sonde's samples")
    field.wait_for(lambda: field.caught_up(WEST_SONDE), 120, "the west sonde's samples")
    _run_river_checks(field)
    return published


def _run_river_checks(field: Field) -> None:
    endpoint = field.stack.influx_endpoint
    influx = InfluxStore(
        endpoint.url, endpoint.database, username=endpoint.username, password=endpoint.password
    )
    engine = make_engine(field.database_url)
    try:
        scheduler = Scheduler(
            make_sessions(engine),
            lambda: datetime.now(UTC),
            SchedulerSettings(
                interval_s=1,
                lease_ttl_s=30,
                escalate_after_s={},
                checks=CheckSettings(absent_after_s=10**9, gateway_silent_after_s=10**9),
                timezone=SHANGHAI,
                policy=AlertPolicy(),
                rivers=RiverCheckSettings(every_s=1),
            ),
            holder="test-rivers",
            query=lambda s: rows_of(influx.query(s.text, s.params)),
        )
        assert scheduler.tick()
    finally:
        engine.dispose()
        influx.close()


@pytest.fixture
def admin(page: Page, field: Field, published: Published) -> Iterator[Page]:
    """Signed in as the administrator; no script error on the way (a CSP refusal shows)."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, field.url, "duty-admin")
    yield page
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def river_lines(page: Page) -> dict[str, dict[str, str | None]]:
    page.wait_for_selector("#rivers-map path.river-line")
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("#rivers-map path.river-line")]
            .map((p) => [p.dataset.river, {cls: p.dataset.class, stroke: p.getAttribute("stroke"),
                dash: p.getAttribute("stroke-dasharray")}]))"""
    )


def map_sites(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("#rivers-map .river-site")]
            .map((m) => [m.dataset.site, m.dataset.class]))"""
    )


def chart_series(page: Page, parameter: str) -> list[dict[str, Any]]:
    return page.evaluate(
        """(parameter) => {
            const chart = echarts.getInstanceByDom(document.getElementById("chart-" + parameter));
            return chart.getOption().series.map((s) => ({
                name: s.name, type: s.type,
                data: s.data.map((d) => ({value: d.value || d, reasons: d.reasons || null})),
                lines: s.markLine ? s.markLine.data.map((m) => [m.yAxis, m.label]) : [],
            }));
        }""",
        parameter,
    )


def no_page_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_map_draws_each_river_in_its_worst_class_and_the_table_says_the_same(
    admin: Page, field: Field
) -> None:
    page = admin
    page.goto(f"{field.url}/console")
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Rivers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rivers")
    lines = river_lines(page)
    # HP-01: its site is class IV; SC-02: II; XJ-03 has no site: not judged, dashed.
    assert {code: line["cls"] for code, line in lines.items()} == {
        "HP-01": "4",
        "SC-02": "2",
        "XJ-03": "none",
    }
    assert {code: line["stroke"] for code, line in lines.items()} == {
        "HP-01": COLOURS["4"],
        "SC-02": COLOURS["2"],
        "XJ-03": COLOURS["none"],
    }
    assert lines["XJ-03"]["dash"]
    assert not lines["HP-01"]["dash"]
    assert map_sites(page) == {EAST: "4", WEST: "2"}
    table = page.get_by_test_id("rivers-table")
    rows = table.locator("tbody tr")
    assert [r.get_attribute("data-river") for r in rows.all()] == ["HP-01", "SC-02", "XJ-03"]
    assert [r.get_attribute("data-class") for r in rows.all()] == ["4", "2", "none"]
    hp = table.locator('[data-river="HP-01"]')
    expect(hp).to_contain_text("District: chief-hp")
    expect(hp).to_contain_text("Town: chief-east")
    expect(hp.locator(".class-badge").last).to_have_text("IV")
    expect(table.locator('[data-river="XJ-03"]')).to_contain_text("not judged yet")
    legend = page.locator(".class-legend").first
    for name in ("I", "II", "III", "IV", "V", "inferior V", "not judged yet"):
        expect(legend).to_contain_text(name)
    screenshot(page, "rivers")
    # A site's marker opens its page.
    page.locator(f'#rivers-map .river-site[data-site="{WEST}"]').click()
    expect(page).to_have_url(f"{field.url}/console/sites/{WEST}")


def test_a_river_page_shows_its_chiefs_sites_classes_and_alerts(admin: Page, field: Field) -> None:
    page = admin
    page.goto(f"{field.url}/console/rivers")
    page.get_by_test_id("rivers-table").get_by_role("link", name="Huangpu").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Huangpu")
    expect(page.get_by_role("heading", level=1)).to_contain_text("HP-01")
    chiefs = page.get_by_test_id("chiefs").locator("tbody tr")
    expect(chiefs).to_have_count(2)
    expect(chiefs.nth(0)).to_contain_text("District")
    expect(chiefs.nth(0)).to_contain_text("chief-hp")
    expect(chiefs.nth(1)).to_contain_text("Town")
    expect(chiefs.nth(1)).to_contain_text("chief-east")
    site = page.get_by_test_id("river-sites").locator(f'[data-site="{EAST}"]')
    expect(site).to_have_attribute("data-class", "4")
    expect(site.locator("td").nth(1)).to_contain_text("IV")
    expect(site.locator("td").nth(1)).to_contain_text("worse than target")
    expect(site.locator("td").nth(2)).to_have_text("II")
    expect(site.locator("td").nth(3)).to_have_text("Ammonia nitrogen")
    expect(site.locator('[data-suspect="conductivity"]')).to_have_text("Conductivity: stuck")
    # The site worse than its target for 3 samples in a row: the checks' alert, listed.
    alerts = page.get_by_test_id("river-alerts").locator("tbody tr")
    expect(alerts).to_have_count(1)
    expect(alerts.first).to_contain_text("Water worse than its target class")
    expect(alerts.first).to_contain_text("Open")
    assert river_lines(page) == {"HP-01": {"cls": "4", "stroke": COLOURS["4"], "dash": None}}
    assert map_sites(page) == {EAST: "4"}
    # Reports and cases do not exist yet: nothing pretends they do.
    expect(page.get_by_text("Reports")).to_have_count(0)
    expect(page.get_by_text("Cases")).to_have_count(0)
    screenshot(page, "river")


def test_a_site_page_shows_its_classes_day_by_day_the_bounds_and_the_untrusted_values(
    admin: Page, field: Field, published: Published
) -> None:
    page = admin
    page.goto(f"{field.url}/console/sites/{EAST}")
    expect(page.get_by_test_id("site-river").get_by_role("link", name="Huangpu")).to_have_attribute(
        "href", "/console/rivers/HP-01"
    )
    expect(page.get_by_test_id("waterbody")).to_have_text("river")
    expect(page.get_by_test_id("target-class")).to_have_text("II")
    expect(page.get_by_test_id("class-now")).to_contain_text("IV")
    expect(page.get_by_test_id("deciding")).to_have_text("Deciding: Ammonia nitrogen")
    expect(page.get_by_test_id("not-counted")).to_contain_text("Conductivity (stuck)")

    # The timeline: a cell per local day of the 7 days, the right class on each day sampled.
    cells = page.get_by_test_id("timeline").locator("li")
    first = (datetime.fromtimestamp(published.now, SHANGHAI) - timedelta(days=7)).date()
    last = datetime.fromtimestamp(published.now, SHANGHAI).date()
    expect(cells).to_have_count((last - first).days + 1)
    shown = {
        cell.get_attribute("data-day"): cell.get_attribute("data-class") for cell in cells.all()
    }
    expected = published.expected_days()
    for day in _days(first, last):
        assert shown[day] == expected.get(day, "none"), day
    worse = {
        c.get_attribute("data-day") for c in page.locator('.timeline li[data-worse="true"]').all()
    }
    assert worse == {day for day, cls in expected.items() if int(cls) > 2}
    expect(page.get_by_test_id("timeline-target")).to_contain_text("target class II")
    expect(page.get_by_test_id("timeline-note")).to_have_count(0)

    # Every sample is drawn (60 h), with the bounds of a river's classes.
    expect(page.locator('[data-mode="raw"]')).to_be_visible()
    ammonia = chart_series(page, "ammonia_nitrogen")
    [bounds] = [s for s in ammonia if s["name"] == BOUNDS]
    assert bounds["lines"] == [[0.15, "I"], [0.5, "II"], [1.0, "III"], [1.5, "IV"], [2.0, "V"]]
    [ph_bounds] = [s for s in chart_series(page, "ph") if s["name"] == BOUNDS]
    assert ph_bounds["lines"] == [[6.0, "I to V"], [9.0, "I to V"]]
    assert not [s for s in chart_series(page, "water_temp") if s["name"] == BOUNDS]
    expect(page.get_by_test_id("bounds-ammonia_nitrogen")).to_contain_text("III 1.000 mg/L")
    expect(page.get_by_test_id("bounds-water_temp")).to_have_count(0)
    # The calibrating ammonia value: marked as flagged, off the line.
    [flags] = [s for s in ammonia if s["name"] == FLAGGED]
    assert [d["value"][1] for d in flags["data"]] == [3.0]
    assert all(
        d["value"][1] < 2
        for s in ammonia
        if s["type"] == "line"
        for d in s["data"]
        if d["value"][1]
    )
    # Oxygen stuck at 7.00: from the moment the check can tell, marked with why, off the line.
    oxygen = chart_series(page, "dissolved_oxygen")
    [untrusted] = [s for s in oxygen if s["name"] == UNTRUSTED]
    assert [d["value"][1] for d in untrusted["data"]] == [7.0] * len(STUCK_JUDGED)
    assert {d["reasons"] for d in untrusted["data"]} == {"stuck"}
    [line] = [s for s in oxygen if s["type"] == "line"]
    on_line = [d["value"][1] for d in line["data"] if d["value"][1] is not None]
    assert len(on_line) == SAMPLES - len(STUCK_JUDGED)
    table = page.get_by_test_id("untrusted-dissolved_oxygen")
    expect(table.locator("tbody tr")).to_have_count(len(STUCK_JUDGED))
    expect(table.locator('tbody tr [data-reason="stuck"]')).to_have_count(len(STUCK_JUDGED))
    expect(table.locator("tbody tr").first).to_contain_text("7.00 mg/L")
    expect(page.get_by_test_id("untrusted-conductivity").locator("tbody tr")).to_have_count(2)
    # The tooltip at a stuck value says why.
    page.locator("#chart-dissolved_oxygen").scroll_into_view_if_needed()
    point = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById("chart-dissolved_oxygen"));
            const series = chart.getOption().series.findIndex((s) => s.symbol === "diamond");
            const value = chart.getOption().series[series].data[2].value;
            return chart.convertToPixel({seriesIndex: series}, value);
        }"""
    )
    box = page.locator("#chart-dissolved_oxygen").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    tip = page.locator("#chart-dissolved_oxygen div").filter(has_text="stuck")
    expect(tip.last).to_contain_text("7.00 mg/L")
    screenshot(page, "site-classes")
    page.mouse.move(0, 0)

    # A period over 92 days: the last 92 days' classes, said so.
    start = datetime.fromtimestamp(published.now, SHANGHAI) - timedelta(days=100)
    page.goto(
        f"{field.url}/console/sites/{EAST}?from={start.strftime('%Y-%m-%dT%H:%M')}"
        f"&to={datetime.fromtimestamp(published.now, SHANGHAI).strftime('%Y-%m-%dT%H:%M')}"
    )
    expect(page.get_by_test_id("timeline-note")).to_contain_text("the last 92 days")
    expect(page.get_by_test_id("timeline").locator("li")).to_have_count(92)


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def test_a_river_chief_lands_on_their_rivers_and_sees_nothing_else_on_a_phone(
    page: Page, field: Field, published: Published
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, field.url, "chief-east")
    mine = page.get_by_test_id("my-rivers")  # where the sign-in lands: the overview
    expect(mine.locator("[data-river]")).to_have_count(1)
    expect(mine.locator('[data-river="HP-01"]')).to_contain_text("IV")
    expect(mine.locator("[data-site]")).to_have_count(1)
    expect(mine.locator(f'[data-site="{EAST}"]')).to_contain_text("worse than target")
    assert no_page_scroll(page)
    screenshot(page, "rivers-chief-landing-phone")

    mine.get_by_role("link", name="All your rivers on a map").click()
    assert set(river_lines(page)) == {"HP-01"}
    assert map_sites(page) == {EAST: "4"}
    rows = page.get_by_test_id("rivers-table").locator("tbody tr")
    assert [r.get_attribute("data-river") for r in rows.all()] == ["HP-01"]
    assert no_page_scroll(page)
    box = page.locator("#rivers-map").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
    screenshot(page, "rivers-phone")

    page.goto(f"{field.url}/console/rivers/HP-01")
    expect(page.get_by_test_id("river-alerts").locator("tbody tr")).to_have_count(1)
    assert no_page_scroll(page)
    screenshot(page, "river-phone")
    page.goto(f"{field.url}/console/sites/{EAST}")
    expect(page.get_by_test_id("timeline")).to_be_visible()
    expect(page.locator(".chart canvas")).to_have_count(5)
    assert no_page_scroll(page)
    screenshot(page, "site-classes-phone")

    for path in ("/console/rivers/SC-02", "/console/rivers/XJ-03", f"/console/sites/{WEST}"):
        answer = page.goto(f"{field.url}{path}")
        assert answer is not None
        assert answer.status == 404, path
        expect(page.locator('[data-problem="not_found"]')).to_be_visible()


def test_in_chinese_the_classes_are_written_as_the_standard_writes_them(
    page: Page, field: Field, published: Published
) -> None:
    sign_in(page, field.url, "duty-admin", language="zh-CN")
    page.goto(f"{field.url}/console/rivers")
    expect(page.get_by_role("heading", level=1)).to_have_text("河道")
    table = page.get_by_test_id("rivers-table")
    expect(table.locator('[data-river="HP-01"] .class-badge').last).to_have_text("Ⅳ类")
    expect(table.locator('[data-river="SC-02"] .class-badge').last).to_have_text("Ⅱ类")
    expect(table.locator('[data-river="XJ-03"]')).to_contain_text("尚未评价")
    legend = page.locator(".class-legend").first
    for name in ("Ⅰ类", "Ⅱ类", "Ⅲ类", "Ⅳ类", "Ⅴ类", "劣Ⅴ类"):
        expect(legend).to_contain_text(name)
    expect(table.locator('[data-river="HP-01"]')).to_contain_text("区级: chief-hp")
    screenshot(page, "rivers-zh")
    page.goto(f"{field.url}/console/sites/{EAST}")
    expect(page.get_by_test_id("target-class")).to_have_text("Ⅱ类")
    expect(page.get_by_test_id("class-now")).to_contain_text("Ⅳ类")
    expect(page.get_by_test_id("deciding")).to_contain_text("氨氮")
    [bounds] = [s for s in chart_series(page, "ammonia_nitrogen") if s["lines"]]
    assert [label for _value, label in bounds["lines"]] == ["Ⅰ类", "Ⅱ类", "Ⅲ类", "Ⅳ类", "Ⅴ类"]
    expect(page.get_by_test_id("untrusted-dissolved_oxygen")).to_contain_text("卡死")
    screenshot(page, "site-classes-zh")
