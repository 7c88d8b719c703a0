"""The overview's readings today: records the person's devices stored since local midnight
(Asia/Shanghai by default), counted by the devices' own clocks, through the fleet policy."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from console_support import sign_in
from field_support import FIELD_BRACELETS, Field, now_s
from playwright.sync_api import Page, expect


def test_readings_today_count_only_today_and_only_what_a_person_may_see(
    field: Field, page: Page
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    midnight = int(
        datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    )
    today = max(midnight + 1, now_s() - 30)
    yesterday = midnight - 3600
    bracelet = FIELD_BRACELETS[0]
    field.publish(
        bracelet,
        [
            field.fix(bracelet, yesterday, 31.23, 121.47),  # stored, but not today's
            field.fix(bracelet, today, 31.23, 121.47),
            field.fix(bracelet, today + 1, 31.24, 121.48),
        ],
    )
    for station, count in (("rs-000001", 3), ("rs-000003", 1)):
        field.publish(
            station,
            [
                field.sample(station, today + n, {"ph": 7.1, "dissolved_oxygen": 8.0})
                for n in range(count)
            ],
        )
    field.wait_for(lambda: field.caught_up(bracelet), what="the fixes stored")
    field.wait_for(lambda: field.caught_up("rs-000001"), what="east samples stored")
    field.wait_for(lambda: field.caught_up("rs-000003"), what="west sample stored")

    for username, expected in (("duty-admin", "6"), ("chief-east", "3"), ("chief-west", "1")):
        page.context.clear_cookies()
        sign_in(page, field.url, username)
        page.goto(f"{field.url}/console")
        expect(page.get_by_test_id("readings-today")).to_have_text(expected)

    page.context.clear_cookies()
    sign_in(page, field.url, "duty-admin", language="zh-CN")
    page.goto(f"{field.url}/console")
    expect(page.get_by_role("heading", name="今日数据")).to_be_visible()
