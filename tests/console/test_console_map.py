"""The live map, as a prosecutor on duty uses it: bracelets drawn where their last fix
put them, moving when a new fix arrives through the broker and the gateway, without a
reload; river chiefs, whose role does not cover people, get neither the map nor its
stream."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from console_support import screenshot, sign_in
from field_support import FIELD_BRACELETS, Field, now_s
from playwright.sync_api import Browser, Page, expect

from core import contract as c
from core.messages import Status

# Three bracelets around People's Square, Shanghai (WGS-84).
PLACES = {
    FIELD_BRACELETS[0]: (31.2304, 121.4737, 6),
    FIELD_BRACELETS[1]: (31.2320, 121.4790, 25),
    FIELD_BRACELETS[2]: (31.2270, 121.4700, 60),
}


def wait_drawn(page: Page, count: int, timeout_s: float = 10.0) -> None:
    """Wait until the map has drawn ``count`` bracelets (polled from here: the page's
    Content-Security-Policy forbids the string evaluation ``wait_for_function`` uses)."""
    deadline = time.monotonic() + timeout_s
    script = "() => window.FieldLive ? window.FieldLive.count() : -1"
    while page.evaluate(script) != count:
        assert time.monotonic() < deadline, f"the map did not draw {count} bracelets"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def placed(field: Field) -> Field:
    ts = now_s() - 60
    for device, (lat, lon, accuracy) in PLACES.items():
        field.publish(device, [field.fix(device, ts, lat, lon, accuracy)])
    for device in PLACES:
        field.wait_for(lambda d=device: field.caught_up(d), what=f"{device} stored")
    return field


def test_the_map_draws_every_placed_bracelet_with_its_fix(placed: Field, page: Page) -> None:
    sign_in(page, placed.url, "prosecutor-li")
    page.goto(f"{placed.url}/console/map")
    expect(page.get_by_role("heading", name="Bracelets on the map")).to_be_visible()
    wait_drawn(page, 3)
    for device, (lat, lon, accuracy) in PLACES.items():
        drawn = page.evaluate(f"FieldLive.drawnAt('{device}')")
        assert drawn == pytest.approx([lat, lon], abs=1e-6)  # WGS-84 tiles: drawn as stored
        line = page.locator(f'tr[data-device="{device}"]')
        expect(line.locator('[data-cell="position"]')).to_have_text(f"{lat:.5f}, {lon:.5f}")
        expect(line.locator('[data-cell="accuracy"]')).to_have_text(f"{accuracy} m")
    # Bracelets without a fix are listed, not drawn.
    expect(
        page.locator(f'tr[data-device="{FIELD_BRACELETS[4]}"] [data-cell="position"]')
    ).to_have_text("\u2013")
    expect(page.locator(".live-state")).to_have_attribute("data-state", "live", timeout=10_000)
    screenshot(page, "live-map")


def test_a_new_fix_moves_the_marker_without_a_reload(placed: Field, page: Page) -> None:
    sign_in(page, placed.url, "duty-admin")
    page.goto(f"{placed.url}/console/map")
    expect(page.locator(".live-state")).to_have_attribute("data-state", "live", timeout=10_000)
    page.evaluate("window.notReloaded = true")
    device = FIELD_BRACELETS[0]
    lat, lon = 31.2401, 121.4905
    placed.publish(device, [placed.fix(device, now_s(), lat, lon, 12)])
    line = page.locator(f'tr[data-device="{device}"]')
    expect(line.locator('[data-cell="position"]')).to_have_text(
        f"{lat:.5f}, {lon:.5f}", timeout=20_000
    )
    expect(line.locator('[data-cell="accuracy"]')).to_have_text("12 m")
    assert page.evaluate(f"FieldLive.drawnAt('{device}')") == pytest.approx([lat, lon], abs=1e-6)
    assert page.evaluate("window.notReloaded") is True


def test_a_status_change_reaches_the_open_map(placed: Field, page: Page) -> None:
    sign_in(page, placed.url, "duty-admin")
    page.goto(f"{placed.url}/console/map")
    expect(page.locator(".live-state")).to_have_attribute("data-state", "live", timeout=10_000)
    device = FIELD_BRACELETS[1]
    status = page.locator(f'tr[data-device="{device}"] [data-cell="status"]')
    expect(status).to_have_text("Not heard from")
    placed.publish(device, [Status(boot=1, state=c.ONLINE, ts=now_s())], channel="status")
    expect(status).to_have_text("Online", timeout=20_000)
    marker = page.locator(f'.leaflet-marker-icon[title="{device}"]')
    page.evaluate(f"FieldLive.map.setView(FieldLive.drawnAt('{device}'), 18)")
    expect(marker).to_have_class(re.compile(r"\bbracelet-online\b"))
    placed.publish(device, [Status(boot=1, state=c.OFFLINE, ts=now_s())], channel="status")
    expect(status).to_have_text("Offline", timeout=20_000)


def test_a_marker_opens_by_keyboard_and_names_status_and_accuracy(
    placed: Field, page: Page
) -> None:
    sign_in(page, placed.url, "duty-admin")
    page.goto(f"{placed.url}/console/map")
    wait_drawn(page, 3)
    # Close in on it: no clusters, each marker on its own.
    page.evaluate(f"FieldLive.map.setView(FieldLive.drawnAt('{FIELD_BRACELETS[2]}'), 18)")
    marker = page.locator(f'.leaflet-marker-icon[title="{FIELD_BRACELETS[2]}"]')
    marker.focus()
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(FIELD_BRACELETS[2])
    expect(popup).to_contain_text("Accuracy: 60 m")
    expect(popup.get_by_role("link", name="Open the device page")).to_be_visible()


def test_markers_cluster_when_zoomed_out(placed: Field, page: Page) -> None:
    sign_in(page, placed.url, "duty-admin")
    page.goto(f"{placed.url}/console/map")
    wait_drawn(page, 3)
    page.evaluate("FieldLive.map.setZoom(8)")
    expect(page.locator(".marker-cluster")).to_have_count(1)
    expect(page.locator(".marker-cluster")).to_contain_text("3")


def test_the_map_reads_in_chinese_and_fits_a_phone(placed: Field, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, placed.url, "prosecutor-li", language="zh-CN")
        page.goto(f"{placed.url}/console/map")
        expect(page.get_by_role("heading", name="手环实时位置")).to_be_visible()
        expect(page.locator(".live-state")).to_have_text("实时", timeout=10_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "live-map-phone-zh")
    finally:
        context.close()


def test_a_river_chief_gets_neither_the_map_nor_its_stream(placed: Field, page: Page) -> None:
    sign_in(page, placed.url, "chief-east")
    expect(page.get_by_role("link", name="Map", exact=True)).to_have_count(0)
    answer = page.goto(f"{placed.url}/console/map")
    assert answer is not None
    assert answer.status == 403
    stream = page.request.get(f"{placed.url}/console/live")
    assert stream.status == 403


def test_the_stream_sends_nothing_without_a_session(placed: Field) -> None:
    answer = httpx.get(f"{placed.url}/console/live", follow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in")
