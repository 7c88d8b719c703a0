"""The language switch: the deployment's default (zh-CN) until a person picks another,
from any page and back to it, by mouse or keyboard, remembered by this browser."""

from __future__ import annotations

import pytest
from console_support import PASSWORD, Console
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.services, pytest.mark.browser]


def test_the_console_starts_in_chinese_and_switches_to_english_and_back(
    page: Page, console: Console
) -> None:
    page.goto(f"{console.url}/console")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    [cookie] = [c for c in page.context.cookies() if c["name"] == "fieldwatch_language"]
    assert cookie["value"] == "en"

    page.get_by_label("Username").fill("duty-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # From a page with a query, by keyboard: the switch comes back to the same address.
    page.goto(f"{console.url}/console/devices?kind=bracelet")
    page.get_by_role("link", name="中文").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="设备")).to_be_visible()
    assert page.url == f"{console.url}/console/devices?kind=bracelet"
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()

    # Remembered: a new page of this browser is still in Chinese.
    page.goto(f"{console.url}/console")
    expect(page.get_by_role("heading", name="概览")).to_be_visible()


def test_the_switch_goes_back_only_inside_the_console(page: Page, console: Console) -> None:
    for elsewhere in ("//example.org/x", "https://example.org/", "/api/v1/health"):
        page.goto(f"{console.url}/console/language/en?next={elsewhere}")
        assert page.url.startswith(f"{console.url}/console"), elsewhere


def test_an_unknown_language_is_not_found(page: Page, console: Console) -> None:
    answer = page.goto(f"{console.url}/console/language/xx")
    assert answer is not None
    assert answer.status == 404
