"""The live map of bracelets, and the event stream that keeps it live (docs/console.md).

``GET /console/map`` draws what is stored now. ``GET /console/live`` is a server-sent
event stream: a ``devices`` event with the full set when it opens (so nothing is missed
between the page and the stream), then one with the bracelets that changed whenever the
change feed names some, and the full set again every ``REFRESH_S`` (a status also changes
when a gateway falls silent, which no write announces). A stream checks its sign-in
session every ``RECHECK_S`` and ends with a ``signed-out`` event when it is over.

A stream holds no database connection while it waits: 300 open maps must not hold 300.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from cloud.console import sessions
from cloud.console.live import markers
from cloud.console.pages import (
    PREFIX,
    SessionCookie,
    SignInRequiredError,
    ViewerDep,
    render,
)
from cloud.fleet import policy as fleet_policy
from cloud.fleet.changes import DEVICES_CHANGED
from cloud.identity.deps import principal_for
from cloud.identity.policy import require
from cloud.identity.principal import Principal
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.runtime import Runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)

REFRESH_S = 30.0  # the full set again, for statuses that change with time alone
RECHECK_S = 30.0  # how often a stream asks whether its session still holds
RETRY_MS = 3000  # how soon a browser reconnects a dropped stream


@router.get("/map", response_model=None)
def live_map(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    require(fleet_policy.may_read_tracks(viewer.principal), "see where bracelets are")
    shown = markers(session, viewer.principal, viewer.now, runtime.settings.gateway_silent_after_s)
    return render(
        request,
        "map.html",
        {
            "markers": shown,
            "placed": sum(1 for m in shown if m.lat is not None),
            "data": [m.as_json() for m in shown],
        },
        viewer=viewer,
    )


@dataclass(frozen=True, slots=True)
class Reader:
    """Who an open stream is for: enough to re-check the session and apply the policy."""

    token: str
    principal: Principal


def stream_reader(request: Request, runtime: RuntimeDep, token: SessionCookie = None) -> Reader:
    """The stream's reader, checked before it opens: a dependency, so that a refusal is an
    HTTP answer and not a broken stream (its own short database session)."""
    with runtime.sessions() as session:
        signed_in = sessions.find_session(session, token, runtime.clock())
        if signed_in is None or token is None:
            raise SignInRequiredError(f"{PREFIX}/map")
        principal = principal_for(request, signed_in.user)
    require(fleet_policy.may_read_tracks(principal), "see where bracelets are")
    return Reader(token, principal)


@router.get("/live", response_class=EventSourceResponse)
async def live(
    runtime: RuntimeDep, response: Response, reader: Annotated[Reader, Depends(stream_reader)]
) -> AsyncIterator[ServerSentEvent]:
    response.headers["X-Content-Type-Options"] = "nosniff"
    subscription = runtime.changes.subscribe()
    try:
        yield _devices_event(await run_in_threadpool(_read, runtime, reader.principal, None))
        last_full = last_check = time.monotonic()
        while True:
            changed = await subscription.wait(REFRESH_S)
            moment = time.monotonic()
            if moment - last_check >= RECHECK_S:
                last_check = moment
                if not await run_in_threadpool(_still_signed_in, runtime, reader.token):
                    yield ServerSentEvent(event="signed-out", data={})
                    return
            ids = changed.get(DEVICES_CHANGED)
            if moment - last_full >= REFRESH_S:
                ids, last_full = None, moment
            elif not ids:
                continue
            yield _devices_event(await run_in_threadpool(_read, runtime, reader.principal, ids))
    finally:
        runtime.changes.unsubscribe(subscription)


def _devices_event(rows: list[dict[str, Any]]) -> ServerSentEvent:
    return ServerSentEvent(event="devices", data=rows, retry=RETRY_MS)


def _read(runtime: Runtime, principal: Principal, ids: set[str] | None) -> list[dict[str, Any]]:
    now: datetime = runtime.clock()
    with runtime.sessions() as session:
        shown = markers(session, principal, now, runtime.settings.gateway_silent_after_s, ids)
        return [marker.as_json() for marker in shown]


def _still_signed_in(runtime: Runtime, token: str) -> bool:
    with runtime.sessions() as session:
        return sessions.find_session(session, token, runtime.clock()) is not None
