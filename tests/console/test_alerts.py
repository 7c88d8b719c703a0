"""The alert inbox and an alert's page, as a prosecutor on duty works them, against the
whole pipeline: a supervised person with a home zone walks out of it, the fixes go
through the broker, the gateway and ingest, supervision's rules raise the alert, and an
inbox already open shows it without a reload; the alert's page explains the rule and the
fixes; acknowledging and resolving (with a note) are recorded with the person who did
it. River chiefs see no alerts at all."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from console_support import screenshot, sign_in
from field_support import FIELD_BRACELETS, Field, now_s
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts.models import Alert
from cloud.console import i18n
from cloud.db.engine import make_engine, make_sessions
from cloud.identity.service import get_user
from cloud.supervision import service as supervision
from core import contract as c
from core.messages import Event, EventFix

pytestmark = [pytest.mark.services, pytest.mark.browser]

WALKER = FIELD_BRACELETS[0]  # Zhang Wei's: walks out of his home zone
CALLER = FIELD_BRACELETS[1]  # Li Na's: presses SOS
HOME_LAT, HOME_LON = 31.2304, 121.4737  # People's Square, Shanghai (WGS-84)
HOME_RADIUS_M = 200


@contextmanager
def database(field: Field) -> Iterator[Session]:
    engine = make_engine(field.database_url)
    try:
        with make_sessions(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def north_of_home(metres: float) -> tuple[float, float]:
    return HOME_LAT + math.degrees(metres / 6_371_008.8), HOME_LON


def alerts_of(field: Field, cause: str) -> list[Alert]:
    with database(field) as session:
        found = list(session.scalars(select(Alert).where(Alert.cause == cause)))
        session.expunge_all()
        return found


@pytest.fixture(scope="module")
def supervised(field: Field) -> Field:
    """Two persons wearing bracelets; Zhang Wei has a home zone (dwell 30 s)."""
    with database(field) as session:
        now = datetime.now(UTC)
        walker = supervision.add_person(session, "case-2026-101", "Zhang Wei", now=now)
        caller = supervision.add_person(session, "case-2026-102", "Li Na", now=now)
        supervision.assign_bracelet(session, walker, WALKER, now, None)
        supervision.assign_bracelet(session, caller, CALLER, now, None)
        home = supervision.add_zone(
            session,
            supervision.ZoneInput(
                "Home",
                "inclusion",
                "circle",
                {"lat": HOME_LAT, "lon": HOME_LON, "radius_m": HOME_RADIUS_M},
                role="home",
                dwell_s=30,
            ),
            None,
            now,
        )
        supervision.assign_zone(session, home, walker)
    return field


def walk(field: Field, start: int, steps: list[float]) -> None:
    """Fixes 15 s apart from ``start``, each ``steps`` metres north of home."""
    field.publish(
        WALKER,
        [field.fix(WALKER, start + 15 * i, *north_of_home(m)) for i, m in enumerate(steps)],
    )


def wait_live(page: Page) -> None:
    expect(page.locator(".live-state")).to_have_attribute("data-state", "live", timeout=10_000)


def test_an_alert_raised_by_the_pipeline_appears_in_an_open_inbox(
    supervised: Field, page: Page
) -> None:
    sign_in(page, supervised.url, "prosecutor-li")
    expect(page.get_by_role("link", name="Alerts", exact=True)).to_be_visible()
    page.goto(f"{supervised.url}/console/alerts")
    expect(page.get_by_test_id("no-alerts")).to_be_visible()
    wait_live(page)
    page.evaluate("window.notReloaded = true")
    # Fixes five minutes old (a late record): inside, then outside for longer than the
    # dwell time; the first outside fix is 100 m beyond the edge.
    start = now_s() - 300
    walk(supervised, start, [20, 40, 300, 320, 340])
    row = page.locator('tr[data-cause="zone_left"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator('[data-cell="subject"]')).to_have_text("Zhang Wei")
    expect(row.locator('[data-cell="zone"]')).to_have_text("Home")
    expect(row).to_contain_text("Left an inclusion zone")
    expect(row).to_contain_text("Major")
    expect(row.get_by_test_id("late")).to_contain_text("late record")  # raised ~4 min after
    expect(row.locator('[data-cell="status"]')).to_have_text("Open")
    assert page.evaluate("window.notReloaded") is True
    (alert,) = alerts_of(supervised, "zone_left")
    assert row.get_attribute("data-alert") == str(alert.id)
    expect(row.locator('[data-cell="cause-ended"]')).to_have_text("\u2013")
    # Back home for longer than the dwell time: the cause ends; the alert stays open.
    walk(supervised, start + 75, [30, 20, 10])
    expect(row.locator('[data-cell="cause-ended"]')).to_contain_text("ended", timeout=20_000)
    expect(row.locator('[data-cell="status"]')).to_have_text("Open")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "alerts-inbox")


def test_an_sos_comes_first_and_the_filters_narrow_the_list(supervised: Field, page: Page) -> None:
    sign_in(page, supervised.url, "duty-admin")
    page.goto(f"{supervised.url}/console/alerts")
    wait_live(page)
    lat, lon = north_of_home(1000)
    sos = Event(
        boot=1,
        seq=supervised.seq(CALLER),
        ts=now_s(),
        code=c.EV_SOS,
        fix=EventFix(round(lat * 1e7), round(lon * 1e7), 15, c.FIX_GNSS),
    )
    supervised.publish(CALLER, [sos], channel="event")
    first = page.locator("table.alerts tbody tr").first
    expect(first).to_have_attribute("data-cause", "sos", timeout=20_000)
    expect(first).to_contain_text("Critical")
    expect(first.locator('[data-cell="subject"]')).to_have_text("Li Na")
    expect(first.get_by_test_id("late")).to_have_count(0)  # known at once
    page.select_option("#filter-severity", "critical")
    expect(page.locator("table.alerts tbody tr")).to_have_count(1)
    expect(page).to_have_url(f"{supervised.url}/console/alerts?severity=critical")
    page.select_option("#filter-cause", "zone_left")
    expect(page.get_by_test_id("no-alerts")).to_be_visible()
    # The navigation counts the open alerts on every page (here: at least the SOS).
    page.goto(f"{supervised.url}/console")
    count = page.locator(".areas .nav-count")
    expect(count).to_have_count(1)
    assert int(count.inner_text()) >= 1


def test_the_alert_page_explains_the_rule_and_shows_the_fixes(
    supervised: Field, page: Page
) -> None:
    supervised.wait_for(lambda: alerts_of(supervised, "zone_left"), what="the zone alert")
    (alert,) = alerts_of(supervised, "zone_left")
    sign_in(page, supervised.url, "prosecutor-li")
    page.goto(f"{supervised.url}/console/alerts")
    page.locator(f'tr[data-alert="{alert.id}"] th a').click()
    expect(page).to_have_url(f"{supervised.url}/console/alerts/{alert.id}")
    expect(page.get_by_test_id("rule-text")).to_have_text(
        "Inclusion zone “Home”: the person is to stay inside it."
    )
    expect(page.get_by_test_id("rule-schedule")).to_have_text("always")
    expect(page.get_by_test_id("rule-dwell")).to_contain_text("30 seconds")
    expect(page.get_by_test_id("decision-text")).to_contain_text("Outside the zone since")
    fixes = page.get_by_test_id("fixes").locator("tbody tr")
    expect(fixes).to_have_count(len(alert_fixes(supervised, alert.id)))
    first = fixes.first
    expect(first.locator('[data-cell="verdict"]')).to_have_text("outside")
    distance = first.locator('[data-cell="distance"]').inner_text()
    assert distance.endswith("m outside the edge")
    assert float(distance.split()[0]) == pytest.approx(100, abs=1)
    assert page.locator("#alert-map").get_attribute("data-zone") == "1"
    assert page.locator("#alert-map").get_attribute("data-fixes") == str(fixes.count())
    expect(page.get_by_test_id("steps").locator("li").first).to_contain_text("Raised")
    screenshot(page, "alert-detail")


def alert_fixes(field: Field, alert_id: int) -> list[object]:
    from cloud.alerts.service import explanation_of

    with database(field) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        explanation = explanation_of(alert)
    return list(explanation.get("fixes", [])) + list(explanation.get("latest", {}).get("fixes", []))


def test_acknowledging_and_resolving_are_recorded_with_the_person(
    supervised: Field, page: Page
) -> None:
    supervised.wait_for(lambda: alerts_of(supervised, "zone_left"), what="the zone alert")
    (alert,) = alerts_of(supervised, "zone_left")
    sign_in(page, supervised.url, "prosecutor-li")
    inbox = page.context.new_page()  # a colleague's inbox, open all along
    inbox.goto(f"{supervised.url}/console/alerts")
    wait_live(inbox)
    beside = page.context.new_page()  # and the same alert's page
    beside.goto(f"{supervised.url}/console/alerts/{alert.id}")
    wait_live(beside)
    page.goto(f"{supervised.url}/console/alerts/{alert.id}")
    page.get_by_label("Note (optional)").fill("Calling him now")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.get_by_test_id("done")).to_have_text("You acknowledged this alert.")
    expect(page.get_by_test_id("alert-status")).to_have_text("Acknowledged")
    expect(page.get_by_test_id("acknowledged")).to_contain_text("by prosecutor-li")
    step = page.get_by_test_id("steps").locator('li[data-step="acknowledged"]')
    expect(step).to_contain_text("by prosecutor-li")
    expect(step).to_contain_text("Calling him now")
    status = inbox.locator(f'tr[data-alert="{alert.id}"] [data-cell="status"]')
    expect(status).to_have_text("Acknowledged", timeout=20_000)  # without a reload
    expect(beside.get_by_test_id("alert-status")).to_have_text("Acknowledged", timeout=20_000)
    expect(beside.get_by_test_id("steps").locator('li[data-step="acknowledged"]')).to_have_count(1)

    # Resolving needs a note: the refusal is said, and nothing changes.
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_test_id("refusal")).to_have_attribute("data-reason", "note_required")
    expect(page.get_by_test_id("refusal")).to_contain_text("needs a note saying what was done")
    expect(page.get_by_test_id("alert-status")).to_have_text("Acknowledged")
    page.get_by_label("What was done (required)").fill("He was at the clinic; back home at 10:40")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_test_id("done")).to_contain_text("You resolved this alert.")
    expect(page.get_by_test_id("alert-status")).to_have_text("Resolved")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Resolve", exact=True)).to_have_count(0)
    expect(page.get_by_test_id("resolution-note")).to_have_text(
        "He was at the clinic; back home at 10:40"
    )
    expect(status).to_have_text("Resolved", timeout=20_000)
    screenshot(page, "alert-resolved")

    with database(supervised) as session:
        stored = session.get(Alert, alert.id)
        user = get_user(session, "prosecutor-li")
        assert stored is not None
        assert stored.status == "resolved"
        assert stored.acknowledged_by == user.id
        assert stored.resolved_by == user.id
        assert stored.resolution_note == "He was at the clinic; back home at 10:40"
    # A resolved alert no longer changes, even by a form posted again.
    answer = page.request.post(
        f"{supervised.url}/console/alerts/{alert.id}/resolve",
        form={
            "csrf_token": page.locator('input[name="csrf_token"]').first.input_value(),
            "note": "again",
        },
    )
    assert answer.status == 409


def test_a_river_chief_sees_no_alerts_of_persons(supervised: Field, page: Page) -> None:
    supervised.wait_for(lambda: alerts_of(supervised, "zone_left"), what="the zone alert")
    (alert,) = alerts_of(supervised, "zone_left")
    sign_in(page, supervised.url, "chief-east")
    # Their inbox is for their sites' alerts: a person's is not there, and not found by URL.
    page.goto(f"{supervised.url}/console/alerts")
    expect(page.get_by_text(alert.summary)).to_have_count(0)
    for path in (f"/console/alerts/{alert.id}",):
        answer = page.request.get(f"{supervised.url}{path}")
        assert answer.status == 404, path
    token = page.locator('input[name="csrf_token"]').first.input_value()
    answer = page.request.post(
        f"{supervised.url}/console/alerts/{alert.id}/acknowledge", form={"csrf_token": token}
    )
    assert answer.status == 404
    stream = httpx.get(f"{supervised.url}/console/alerts/live", follow_redirects=False, timeout=10)
    assert stream.status_code == 303  # nobody signed in: to the sign-in page


def test_the_inbox_and_an_alert_read_in_chinese_on_a_phone(
    supervised: Field, browser: Browser
) -> None:
    supervised.wait_for(lambda: alerts_of(supervised, "zone_left"), what="the zone alert")
    (alert,) = alerts_of(supervised, "zone_left")
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, supervised.url, "prosecutor-li", language="zh-CN")
        page.goto(f"{supervised.url}/console/alerts")
        expect(page.get_by_role("heading", name="告警")).to_be_visible()
        expect(page.locator(f'tr[data-alert="{alert.id}"]')).to_contain_text("离开限定区域")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.goto(f"{supervised.url}/console/alerts/{alert.id}")
        zh = i18n.translations("zh-CN").gettext
        rule = zh("Inclusion zone “%(zone)s”: the person is to stay inside it.")
        expect(page.get_by_test_id("rule-text")).to_have_text(rule % {"zone": "Home"})
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "alert-phone-zh")
    finally:
        context.close()
