"""Forms posted to the console: read small bodies, check the session's CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from cloud.console import sessions
from cloud.console.pages import Viewer
from cloud.errors import PermissionDeniedError

MAX_FORM_BYTES = 64 * 1024


class FormExpiredError(PermissionDeniedError):
    """A form without the session's CSRF token: from another site, or an old page."""


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each field."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def checked_form(request: Request, viewer: Viewer) -> dict[str, str]:
    """A signed-in person's form, or FormExpiredError when its CSRF token is not theirs."""
    form = await read_form(request)
    if not sessions.csrf_token_matches(viewer.csrf_token, form.get("csrf_token")):
        raise FormExpiredError("the form has expired; reload the page")
    return form
