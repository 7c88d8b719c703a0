"""The language switch: a link per language, remembered in a cookie for a year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from cloud.console.i18n import LANGUAGE_COOKIE, LANGUAGES
from cloud.console.pages import PREFIX, redirect, safe_next
from cloud.console.routes.sign_in import secure_cookies
from cloud.errors import NotFoundError
from cloud.web.deps import RuntimeDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Language = Annotated[str, Path(max_length=16)]


@router.get("/language/{language}", response_model=None)
def choose_language(language: Language, runtime: RuntimeDep, next: str | None = None) -> Response:
    """Read the console in ``language`` from now on, starting again at ``next``.

    A preference of this browser only, which changes nothing stored: a link, not a form.
    """
    if language not in LANGUAGES:
        raise NotFoundError(f"no language {language}")
    response = redirect(safe_next(next))
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 86400,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(runtime),
        path=PREFIX,
    )
    return response
