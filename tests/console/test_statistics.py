"""Supervision statistics as a prosecutor's office reads them: the counts on the page (a
chart and a table each) and in the CSV files Excel opens, from persons, alerts, roll
calls and bracelets written into a real cloud's database; river chiefs get none of it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from console_support import GATEWAY, Console, screenshot, sign_in
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from cloud.alerts import service as alerts
from cloud.console import i18n
from cloud.console.i18n import NOTHING
from cloud.console.statistics_views import week_start
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.models import Device, Gateway
from cloud.identity.service import get_user
from cloud.supervision import service as supervision
from cloud.supervision.measures import Measure
from cloud.supervision.models import RollCall

pytestmark = [pytest.mark.services, pytest.mark.browser]

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the console's zone
DRAWN = re.compile(r"^[1-9][0-9]*$")  # a chart's series drawn


@contextmanager
def database(console: Console) -> Iterator[Session]:
    engine = make_engine(str(console.server.settings["database_url"]))
    try:
        with make_sessions(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def counted(console: Console) -> dict[str, object]:
    """Persons, alerts, roll calls and bracelets, and what the statistics must say."""
    now = datetime.now(UTC)
    recent = now - timedelta(hours=1)
    earlier = now - timedelta(days=14)
    with database(console) as session:
        admin = get_user(session, "duty-admin")
        people = []
        for n, (measure, status) in enumerate(
            [
                (Measure.bail, "active"),
                (Measure.bail, "active"),
                (Measure.corrections_ep, "ended"),
            ]
        ):
            person = supervision.add_person(
                session, f"case-stat-{n}", f"Person {n}", measure=measure, now=now
            )
            person.status = status
            people.append(person)
        # Two SOS acknowledged after 2 and 10 minutes; a zone alert left open; one earlier.
        for n, (cause, severity, at, waited_min) in enumerate(
            [
                ("sos", "critical", recent, 2),
                ("sos", "critical", recent, 10),
                ("zone_left", "major", recent, None),
                ("low_battery", "minor", earlier, None),
            ]
        ):
            alert, _ = alerts.raise_alert(
                session,
                alerts.AlertDraft(
                    subject_key=f"person:{people[0].id}:{cause}:{n}",
                    cause=cause,
                    severity=severity,
                    summary=f"{cause} {n}",
                    happened_at=at,
                    explanation={},
                    person_id=people[0].id,
                ),
                at,
            )
            if waited_min is not None:
                session.flush()
                alerts.acknowledge(session, alert.id, admin.id, at + timedelta(minutes=waited_min))
        for status in ("answered", "answered", "answered", "missed"):
            session.add(
                RollCall(
                    person_id=people[0].id,
                    device_id="br-000000",
                    origin="random",
                    window_s=300,
                    scheduled_at=recent,
                    status=status,
                )
            )
        gateway = session.get(Gateway, GATEWAY)
        assert gateway is not None
        gateway.last_heartbeat_at = now + timedelta(minutes=10)  # alive while the test runs
        for device_id, presence, battery in (
            ("br-000000", "online", 80),
            ("br-000001", "online", 12),
            ("br-000002", "offline", 55),
        ):
            device = session.get(Device, device_id)
            assert device is not None
            device.presence, device.battery_pct = presence, battery
    return {
        "this_week": week_start(recent, SHANGHAI).isoformat(),
        "earlier_week": week_start(earlier, SHANGHAI).isoformat(),
    }


def rows_of(page: Page, name: str) -> list[list[str]]:
    table = page.get_by_test_id(f"table-{name}")
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


def test_the_statistics_show_the_counts_as_charts_and_tables(
    console: Console, counted: dict[str, object], page: Page
) -> None:
    sign_in(page, console.url, "duty-admin")
    page.get_by_role("link", name="Statistics", exact=True).click()
    expect(page.get_by_role("heading", name="Supervision statistics")).to_be_visible()
    assert ["Bail pending trial", "2", "0", "2"] in rows_of(page, "persons")
    assert [
        "Community corrections, electronic positioning",
        "0",
        "1",
        "1",
    ] in rows_of(page, "persons")
    weeks = {row[0]: row for row in rows_of(page, "alerts")}
    assert len(weeks) == 12
    header = page.get_by_test_id("table-alerts").locator("thead th").all_inner_texts()
    assert header == [
        "Week starting",
        "SOS pressed",
        "Left an inclusion zone",
        "Bracelet battery low",
        "All",
    ]
    assert weeks[str(counted["this_week"])][1:] == ["2", "1", "0", "3"]
    assert weeks[str(counted["earlier_week"])][1:] == ["0", "0", "1", "1"]
    # Critical: 2 and 10 minutes -> median 6, p90 9.2; the major one still waits.
    acknowledge = {row[0]: row for row in rows_of(page, "acknowledge")}
    assert acknowledge["Critical"] == ["Critical", "2", "6.0", "9.2", "0"]
    assert acknowledge["Major"] == ["Major", "0", NOTHING, NOTHING, "1"]
    roll_calls = {row[0]: row for row in rows_of(page, "roll-calls")}
    assert roll_calls[str(counted["this_week"])][1:] == ["3", "1", "75.0"]
    devices = {row[0]: row[1] for row in rows_of(page, "devices")}
    assert devices["Online"] == "2"
    assert devices["Offline"] == "1"
    assert devices["Not heard from"] == "2"
    assert devices["Battery at or below 20 %"] == "1"
    for name in ("persons", "alerts", "acknowledge", "roll-calls", "devices"):
        expect(page.locator(f"#chart-{name}")).to_have_attribute("data-drawn", DRAWN)
        expect(page.locator(f"#chart-{name} canvas")).to_have_count(1)
    screenshot(page, "statistics")


def test_a_table_downloads_as_csv_that_excel_reads_in_chinese(
    console: Console, counted: dict[str, object], page: Page
) -> None:
    sign_in(page, console.url, "duty-admin", language="zh-CN")
    page.goto(f"{console.url}/console/statistics")
    with page.expect_download() as waiting:
        page.get_by_test_id("csv-roll-calls").click()
    download = waiting.value
    assert download.suggested_filename.startswith("statistics-roll-calls-")
    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel looks for
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    zh = i18n.translations("zh-CN").gettext
    assert rows[0] == [
        zh("Week starting"),
        zh("Answered in time"),
        zh("Not answered"),
        zh("Compliance, percent"),
    ]
    assert rows[0][0] != "Week starting"  # really Chinese
    assert len(rows) == 1 + 12
    assert [str(counted["this_week"]), "3", "1", "75.0"] in rows[1:]
    answer = page.request.get(f"{console.url}/console/statistics/persons.csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    persons = list(csv.reader(io.StringIO(answer.body().decode("utf-8-sig"))))
    assert persons[0][0] == zh("Measure")
    assert [zh("Bail pending trial"), "2", "0", "2"] in persons
    assert page.request.get(f"{console.url}/console/statistics/nothing.csv").status == 404


def test_a_river_chief_gets_no_statistics(console: Console, page: Page) -> None:
    sign_in(page, console.url, "chief-a")
    expect(page.get_by_role("link", name="Statistics", exact=True)).to_have_count(0)
    for path in ("/console/statistics", "/console/statistics/persons.csv"):
        assert page.request.get(f"{console.url}{path}").status == 403, path
