"""What the console's page tests share: the browser, the people, where screenshots go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from fieldwatch_dev.local.fieldwatch_parts import CloudServer

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long console test password"
GATEWAY = "gw-console"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".test-artifacts" / "console"


@dataclass
class Console:
    url: str
    server: CloudServer


def sign_in(
    page: Page, url: str, username: str, password: str = PASSWORD, language: str = "en"
) -> None:
    """Sign in through the form, reading the console in ``language`` (a cookie first)."""
    page.context.add_cookies([{"name": "fieldwatch_language", "value": language, "url": url}])
    page.goto(f"{url}/console/sign-in")
    labels = {"en": ("Username", "Password", "Sign in"), "zh-CN": ("用户名", "密码", "登录")}
    user_label, password_label, button = labels[language]
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("header .who")).to_contain_text(username)


def screenshot(page: Page, name: str) -> Path:
    """Keep what the browser showed, for people to look at (``.test-artifacts/``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
