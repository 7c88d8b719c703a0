"""The console's pages: sign-in, sign-out, the overview (docs/console.md).

Pages are HTML rendered here (Jinja2, autoescaped). Who sees what is decided by the
same policies as the API, inside the queries. Every form carries a CSRF token: the
session's once signed in, a double-submit cookie's on the sign-in form.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Cookie, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cloud.console import sessions
from cloud.console.overview import overview
from cloud.console.sessions import COOKIE, SignedIn
from cloud.errors import AuthenticationError
from cloud.fleet.presence import DeviceStatus
from cloud.identity.deps import principal_for
from cloud.identity.models import Role
from cloud.identity.service import check_login
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.runtime import Runtime

PREFIX = "/console"
SIGN_IN_CSRF_COOKIE = "fieldwatch_sign_in_csrf"
MAX_FORM_BYTES = 16 * 1024
STATIC = Path(__file__).parent / "static"

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
    undefined=jinja2.StrictUndefined,
)
# Catalogs (zh-CN, en) come with the translations; until then the English source texts.
_environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_environment)

# Nothing from elsewhere, no framing: the console runs on networks without internet.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# What people read for each code (the translations key on these English texts).
STATUS_LABELS = {
    DeviceStatus.online: "Online",
    DeviceStatus.offline: "Offline",
    DeviceStatus.gateway_unreachable: "Gateway silent",
    DeviceStatus.unknown: "Not heard from",
}
ROLE_LABELS = {
    Role.administrator: "Administrator",
    Role.prosecutor: "Prosecutor",
    Role.river_chief: "River chief",
    Role.lawyer: "Lawyer",
    Role.party: "Party",
}

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]
SignInCsrfCookie = Annotated[str | None, Cookie(alias=SIGN_IN_CSRF_COOKIE)]


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.environment != "development"


def _page(
    request: Request, template: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, dict(context), status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _to(path: str) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each field."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def current_sign_in(
    session: SessionDep, now: NowDep, token: SessionCookie = None
) -> SignedIn | None:
    """The live session behind the request's cookie, if any."""
    return sessions.find_session(session, token, now)


SignInDep = Annotated[SignedIn | None, Depends(current_sign_in)]


def _sign_in_page(
    request: Request, runtime: Runtime, error: str | None = None, username: str = ""
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _page(
        request,
        "sign_in.html",
        {"csrf_token": token, "error": error, "username": username},
        status_code=401 if error else 200,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
        path=PREFIX,
    )
    return response


@router.get("", response_model=None)
@router.get("/", response_model=None)
def home(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    signed_in: SignInDep,
) -> Response:
    """The overview, for a signed-in person; otherwise the sign-in page."""
    if signed_in is None:
        return _to(f"{PREFIX}/sign-in")
    principal = principal_for(request, signed_in.user)
    summary = overview(session, principal, now, runtime.settings.gateway_silent_after_s)
    return _page(
        request,
        "overview.html",
        {
            "me": signed_in.user,
            "csrf_token": signed_in.csrf_token,
            "summary": summary,
            "statuses": list(DeviceStatus),
            "status_labels": STATUS_LABELS,
            "role_label": ROLE_LABELS[Role(signed_in.user.role)],
            "now": now,
        },
    )


@router.get("/sign-in", response_model=None)
def sign_in_form(request: Request, runtime: RuntimeDep, signed_in: SignInDep) -> Response:
    if signed_in is not None:
        return _to(PREFIX)
    return _sign_in_page(request, runtime)


@router.post("/sign-in", response_model=None)
async def sign_in(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    form_csrf_cookie: SignInCsrfCookie = None,
) -> Response:
    form = await _form(request)
    username = form.get("username", "")[:64]
    submitted = form.get("csrf_token")
    if (
        not form_csrf_cookie
        or not submitted
        or not secrets.compare_digest(form_csrf_cookie.encode(), submitted.encode())
    ):
        return _sign_in_page(request, runtime, "expired_form", username)
    try:
        user = check_login(session, username, form.get("password", ""))
    except AuthenticationError:
        return _sign_in_page(request, runtime, "wrong_password", username)
    ttl_s = runtime.settings.console_session_ttl_s
    token = sessions.open_session(session, user, now, ttl_s)
    session.commit()
    response = _to(PREFIX)
    response.set_cookie(
        COOKIE,
        token,
        max_age=ttl_s,
        httponly=True,
        samesite="lax",
        secure=_secure(runtime),
        path=PREFIX,
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/sign-out", response_model=None)
async def sign_out(
    request: Request, session: SessionDep, now: NowDep, signed_in: SignInDep
) -> Response:
    if signed_in is not None:
        form = await _form(request)
        if not sessions.csrf_matches(signed_in, form.get("csrf_token")):
            response = Response("the form has expired; reload the page", status_code=403)
            response.headers.update(SECURITY_HEADERS)
            return response
        sessions.end_session(session, signed_in.session_id, now)
        session.commit()
    response = _to(f"{PREFIX}/sign-in")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
