"""Sign-in and sign-out.

The sign-in form carries a double-submit CSRF token (a cookie and a field that must
match); once signed in, every form carries the session's own token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import Response

from cloud.console import sessions
from cloud.console.forms import read_form
from cloud.console.pages import PREFIX, SignInDep, redirect, render, safe_next
from cloud.console.sessions import COOKIE
from cloud.errors import AuthenticationError
from cloud.identity.service import check_login
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.runtime import Runtime

SIGN_IN_CSRF_COOKIE = "fieldwatch_sign_in_csrf"

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SignInCsrfCookie = Annotated[str | None, Cookie(alias=SIGN_IN_CSRF_COOKIE)]


def secure_cookies(runtime: Runtime) -> bool:
    """Cookies travel only over HTTPS, except in development."""
    return runtime.settings.environment != "development"


def _sign_in_page(
    request: Request,
    runtime: Runtime,
    error: str | None = None,
    username: str = "",
    next_path: str = PREFIX,
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        {
            "csrf_token": token,
            "error": error,
            "username": username,
            "next_path": safe_next(next_path),
        },
        status_code=401 if error else 200,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(runtime),
        path=PREFIX,
    )
    return response


@router.get("/sign-in", response_model=None)
def sign_in_form(
    request: Request, runtime: RuntimeDep, signed_in: SignInDep, next: str | None = None
) -> Response:
    if signed_in is not None:
        return redirect(safe_next(next))
    return _sign_in_page(request, runtime, next_path=next or PREFIX)


@router.post("/sign-in", response_model=None)
async def sign_in(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    form_csrf_cookie: SignInCsrfCookie = None,
) -> Response:
    form = await read_form(request)
    username = form.get("username", "")[:64]
    next_path = safe_next(form.get("next"))
    submitted = form.get("csrf_token")
    if (
        not form_csrf_cookie
        or not submitted
        or not secrets.compare_digest(form_csrf_cookie.encode(), submitted.encode())
    ):
        return _sign_in_page(request, runtime, "expired_form", username, next_path)
    try:
        user = check_login(session, username, form.get("password", ""))
    except AuthenticationError:
        return _sign_in_page(request, runtime, "wrong_password", username, next_path)
    ttl_s = runtime.settings.console_session_ttl_s
    token = sessions.open_session(session, user, now, ttl_s)
    session.commit()
    response = redirect(next_path)
    response.set_cookie(
        COOKIE,
        token,
        max_age=ttl_s,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(runtime),
        path=PREFIX,
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/sign-out", response_model=None)
async def sign_out(
    request: Request, session: SessionDep, now: NowDep, signed_in: SignInDep
) -> Response:
    if signed_in is not None:
        form = await read_form(request)
        if not sessions.csrf_matches(signed_in, form.get("csrf_token")):
            return render(request, "error.html", {"problem": "expired_form"}, status_code=403)
        sessions.end_session(session, signed_in.session_id, now)
        session.commit()
    response = redirect(f"{PREFIX}/sign-in")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
