"""What every console page shares: who is reading, in which language, and how a page is
rendered and answered (docs/console.md).

A page route takes ``ViewerDep``: the signed-in person, their policy principal, their
session's CSRF token, their language and the time. Without a live session the route never
runs: the reader is sent to the sign-in page (``SignInRequiredError``). What a person may see is
decided by the domains' policies in the queries each route makes, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Cookie, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.alerts import policy as alerts_policy
from cloud.alerts.models import Alert
from cloud.console import i18n, sessions, statistics_views
from cloud.console.sessions import COOKIE, SignedIn
from cloud.fleet import policy as fleet_policy
from cloud.fleet.presence import DeviceStatus
from cloud.identity.deps import principal_for
from cloud.identity.models import Role, User
from cloud.identity.principal import Principal
from cloud.rivers import policy as rivers_policy
from cloud.supervision import policy as supervision_policy
from cloud.web.deps import NowDep, RuntimeDep, SessionDep

PREFIX = "/console"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Nothing from elsewhere, no framing: the console runs on networks without internet.
# Map tiles are the one exception a deployment may configure (``console_tile_url``).
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

N_ = i18n.N_
# What people read for each code; the catalogs key on these English texts.
STATUS_LABELS = {
    DeviceStatus.online: N_("Online"),
    DeviceStatus.offline: N_("Offline"),
    DeviceStatus.gateway_unreachable: N_("Gateway silent"),
    DeviceStatus.unknown: N_("Not heard from"),
}
ROLE_LABELS = {
    Role.administrator: N_("Administrator"),
    Role.prosecutor: N_("Prosecutor"),
    Role.river_chief: N_("River chief"),
    Role.lawyer: N_("Lawyer"),
    Role.party: N_("Party"),
}

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]
LanguageCookie = Annotated[str | None, Cookie(alias=i18n.LANGUAGE_COOKIE)]


class SignInRequiredError(Exception):
    """A page was asked for without a live session; the answer is the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person reading a page, and how they read it."""

    user: User
    principal: Principal
    csrf_token: str
    language: str
    zone: ZoneInfo
    now: datetime
    open_alerts: int = 0  # alerts open and unacknowledged that this person may see

    @property
    def role(self) -> Role:
        return Role(self.user.role)


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str
    count: int = 0  # a number to show beside it (open alerts), 0: none


def navigation(principal: Principal, open_alerts: int = 0) -> list[NavItem]:
    """The areas this person's role opens (the pages check again: this only saves clicks)."""
    items = [NavItem(PREFIX, N_("Overview"))]
    if fleet_policy.may_read_tracks(principal):
        items.append(NavItem(f"{PREFIX}/map", N_("Map")))
    if fleet_policy.may_list_devices(principal):
        items.append(NavItem(f"{PREFIX}/devices", N_("Devices")))
    if rivers_policy.may_list_rivers(principal):
        items.append(NavItem(f"{PREFIX}/rivers", N_("Rivers")))
    if rivers_policy.may_list_sites(principal):
        items.append(NavItem(f"{PREFIX}/sites", N_("River sites")))
    if supervision_policy.may_read_supervision(principal):
        items.append(NavItem(f"{PREFIX}/persons", N_("Persons")))
    if alerts_policy.may_see_alerts(principal):
        items.append(NavItem(f"{PREFIX}/alerts", N_("Alerts"), open_alerts))
    if statistics_views.may_see_statistics(principal):
        items.append(NavItem(f"{PREFIX}/statistics", N_("Statistics")))
    return items


def content_security_policy(tile_origin: str | None) -> str:
    images = "'self' data:" + (f" {tile_origin}" if tile_origin else "")
    return (
        f"default-src 'self'; img-src {images}; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    )


def language_of(request: Request, runtime_default: str) -> str:
    return i18n.chosen_language(request.cookies.get(i18n.LANGUAGE_COOKIE), runtime_default)


def current_sign_in(
    session: SessionDep, now: NowDep, token: SessionCookie = None
) -> SignedIn | None:
    """The live session behind the request's cookie, if any."""
    return sessions.find_session(session, token, now)


SignInDep = Annotated[SignedIn | None, Depends(current_sign_in)]


def current_viewer(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    now: NowDep,
    signed_in: SignInDep,
    language: LanguageCookie = None,
) -> Viewer:
    if signed_in is None:
        raise SignInRequiredError(_here(request))
    settings = runtime.settings
    principal = principal_for(request, signed_in.user)
    return Viewer(
        user=signed_in.user,
        principal=principal,
        csrf_token=signed_in.csrf_token,
        language=i18n.chosen_language(language, settings.console_language),
        zone=ZoneInfo(settings.console_timezone),
        now=now,
        open_alerts=_open_alerts(session, principal),
    )


def _open_alerts(session: Session, principal: Principal) -> int:
    if not alerts_policy.may_see_alerts(principal):
        return 0
    query = select(func.count(Alert.id)).where(
        Alert.status == "open", alerts_policy.visible_alerts(principal)
    )
    return int(session.scalar(query) or 0)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(path: str | None) -> str:
    """A path inside the console to go back to, or the console's home: never elsewhere."""
    if not path or not path.startswith(PREFIX) or path.startswith("//") or "\\" in path:
        return PREFIX
    if len(path) > 2048 or any(ord(ch) < 0x20 for ch in path):
        return PREFIX
    return path


@cache
def environment(language: str) -> jinja2.Environment:
    """The templates in one language (an environment per language, so renders never race)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        language=language,
        languages=i18n.LANGUAGES,
        status_labels=STATUS_LABELS,
        role_labels=ROLE_LABELS,
        static=lambda path: f"{PREFIX}/static/{path}",
        quote=quote,
    )

    @jinja2.pass_context
    def when(context: jinja2.runtime.Context, moment: datetime | None) -> str:
        return i18n.local_time(moment, context["zone"], language)

    @jinja2.pass_context
    def ago(context: jinja2.runtime.Context, moment: datetime | None) -> str:
        return i18n.age(moment, context["now"], language)

    def number(value: float | None) -> str:
        return i18n.number(value, language)

    env.filters.update(when=when, ago=ago, number=number)
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    viewer: Viewer | None = None,
    language: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page: the template in the reader's language, with the console's headers.

    Signed in, ``viewer`` gives the language, the zone and what the header shows; on the
    sign-in and error pages, ``language`` does.
    """
    runtime = request.app.state.runtime
    settings = runtime.settings
    chosen = (
        viewer.language if viewer else (language or language_of(request, settings.console_language))
    )
    values: dict[str, Any] = {
        "request": request,
        "here": _here(request),
        "me": viewer.user if viewer else None,
        "viewer": viewer,
        "nav": navigation(viewer.principal, viewer.open_alerts) if viewer else [],
        "csrf_token": viewer.csrf_token if viewer else "",
        "zone": viewer.zone if viewer else ZoneInfo(settings.console_timezone),
        "now": viewer.now if viewer else runtime.clock(),
        "tile_url": settings.console_tile_url,
        "tile_datum": settings.console_tile_datum,
        "tile_subdomains": settings.console_tile_subdomains,
        "tile_attribution": settings.console_tile_attribution,
    }
    values.update(context)
    body = environment(chosen).get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code)
    answer_headers(response, settings.console_tile_origin)
    return response


def answer_headers(response: Any, tile_origin: str | None) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy(tile_origin)


def redirect(path: str, tile_origin: str | None = None) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    answer_headers(response, tile_origin)
    return response
