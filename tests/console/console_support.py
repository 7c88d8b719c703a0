"""What the console's page tests share: the browser, the people, where screenshots go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

from fieldwatch_dev.local.fieldwatch_parts import CloudServer

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long console test password"
GATEWAY = "gw-console"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".test-artifacts" / "console"


@dataclass
class Console:
    url: str
    server: CloudServer


def screenshot(page: Page, name: str) -> Path:
    """Keep what the browser showed, for people to look at (``.test-artifacts/``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
