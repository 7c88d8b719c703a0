"""Signing in to the console, in a real browser against a real cloud: the wrong
password, the session cookie, what each person's overview counts, and signing out."""

from __future__ import annotations

import httpx
import pytest
from console_support import PASSWORD, Console, screenshot
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.services, pytest.mark.browser]


def sign_in(page: Page, console: Console, username: str, password: str = PASSWORD) -> None:
    """Through the form, in English, as far as the answer (which may be a refusal)."""
    page.context.add_cookies([{"name": "fieldwatch_language", "value": "en", "url": console.url}])
    page.goto(f"{console.url}/console")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    page: Page, console: Console
) -> None:
    sign_in(page, console, "duty-admin", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("duty-admin")
    sign_in(page, console, "nobody-at-all", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    assert not [c for c in page.context.cookies() if c["name"] == "fieldwatch_session"]


def test_sign_in_shows_the_overview_and_sign_out_ends_the_session(
    page: Page, console: Console
) -> None:
    sign_in(page, console, "duty-admin")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator('[data-status="total"]')).to_have_text("9")
    expect(page.locator('[data-gateway="gw-console"]')).to_be_visible()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "fieldwatch_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/console"
    screenshot(page, "overview-administrator")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The old cookie opens nothing any more, even if a copy of it was kept.
    answer = httpx.get(
        f"{console.url}/console",
        cookies={"fieldwatch_session": cookie["value"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console"


def test_a_river_chief_counts_only_the_stations_of_their_sites(
    page: Page, console: Console
) -> None:
    sign_in(page, console, "chief-a")
    expect(page.locator('[data-status="total"]')).to_have_text("3")
    expect(page.get_by_role("heading", name="Gateways")).to_have_count(0)
    page.set_viewport_size({"width": 375, "height": 720})
    screenshot(page, "overview-river-chief-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing wider than a phone


def test_forms_without_their_csrf_token_change_nothing(page: Page, console: Console) -> None:
    sign_in(page, console, "duty-admin")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "fieldwatch_session"]
    forged = httpx.post(
        f"{console.url}/console/sign-out",
        cookies={"fieldwatch_session": cookie["value"]},
        data={"csrf_token": "guessed"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()  # still signed in
    login_without_form = httpx.post(
        f"{console.url}/console/sign-in",
        data={"username": "duty-admin", "password": PASSWORD},
        follow_redirects=False,
    )
    assert login_without_form.status_code == 401
    assert "fieldwatch_session" not in login_without_form.cookies
