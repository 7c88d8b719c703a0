"""The console inside the cloud's app: its pages, its static files, its error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from cloud.console.pages import PREFIX, STATIC, SignInRequiredError, redirect, render
from cloud.console.routes import routers

# Problems a page can meet, by HTTP status, as the error page names them.
PROBLEMS = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "bad_request",
    503: "unavailable",
}


def is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(f"{PREFIX}/")


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error in the console, as a page in the reader's language with a way back."""
    problem = PROBLEMS.get(status, "failed")
    return render(request, "error.html", {"problem": problem, "detail": detail}, status_code=status)


def mount_console(app: FastAPI) -> None:
    for router in routers:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console_static")

    async def sign_in_first(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequiredError)
        return redirect(f"{PREFIX}/sign-in?next={quote(exc.next_path, safe='/')}")

    app.add_exception_handler(SignInRequiredError, sign_in_first)
