"""The alert inbox (``/console/alerts``), an alert's page (``/console/alerts/{id}``), the
forms that acknowledge and resolve it, and the event stream that keeps both live.

Which alerts a person sees is ``cloud.alerts.policy``'s, inside the queries; one they may
not see answers as one that does not exist. With htmx's ``HX-Request`` header the inbox
sends its table alone (filters, and the live refresh), and an alert's page its state
(summary and steps). ``GET /console/alerts/live`` is a server-sent event stream: an
``alerts`` event naming the changed alerts this person may see (``{"ids": [...]}``), or
``{"all": true}`` when it opens and when the scheduler changed an unknown set; the page
then asks for its table again. Like the map's stream it holds no database connection
while it waits and ends with ``signed-out`` when its session is over.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from babel.dates import format_timedelta
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cloud.alerts import policy as alerts_policy
from cloud.alerts import service as alerts
from cloud.alerts.changes import ALERTS_CHANGED
from cloud.alerts.models import OPEN_STATUSES
from cloud.console import alert_views as views
from cloud.console import i18n, sessions
from cloud.console.forms import checked_form
from cloud.console.pages import (
    PREFIX,
    SessionCookie,
    SignInRequiredError,
    Viewer,
    ViewerDep,
    redirect,
    render,
)
from cloud.console.routes.devices import wants_fragment
from cloud.console.routes.live_map import RECHECK_S, RETRY_MS
from cloud.errors import ConflictError, InvalidRequestError
from cloud.identity.deps import principal_for
from cloud.identity.policy import require
from cloud.identity.principal import Principal
from cloud.supervision.causes import CAUSES
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.runtime import Runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)

INBOX_PATH = f"{PREFIX}/alerts"
FILTER_FORM = "alert-filters"  # the id htmx names (HX-Trigger) when the filter form asks
DONE = {"acknowledged", "resolved"}  # what a form did, said once on the page it leads to


def duration_text(language: str) -> Callable[[timedelta | int | None], str]:
    """A length of time in words of the reader's language ("5 minutes", "5分钟")."""

    def text(value: timedelta | int | None) -> str:
        if value is None:
            return i18n.NOTHING
        return format_timedelta(value, threshold=1.5, locale=i18n.locale(language))

    return text


def _labels() -> dict[str, Any]:
    return {
        "severity_labels": views.SEVERITY_LABELS,
        "alert_status_labels": views.ALERT_STATUS_LABELS,
        "cause_labels": views.CAUSE_LABELS,
        "inbox_path": INBOX_PATH,
    }


# ---------------------------------------------------------------- the inbox


@router.get("/alerts", response_model=None)
def alert_inbox(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    status: str = "",
    cause: str = "",
    severity: str = "",
) -> Response:
    require(alerts_policy.may_see_alerts(viewer.principal), "see alerts")
    chosen = views.parse_filter(status, cause, severity)
    shown = views.inbox(session, viewer.principal, chosen)
    context = {
        **_labels(),
        "inbox": shown,
        "filter": chosen,
        "status_choices": views.STATUS_CHOICES,
        "causes": CAUSES,
        "severities": alerts.SEVERITIES,
        "duration": duration_text(viewer.language),
        "table_href": _inbox_href(chosen),
    }
    fragment = wants_fragment(request)
    response = render(
        request, "alerts_table.html" if fragment else "alerts.html", context, viewer=viewer
    )
    response.headers["Vary"] = "HX-Request"
    if fragment and request.headers.get("HX-Trigger") == FILTER_FORM:
        response.headers["HX-Push-Url"] = _inbox_href(chosen)  # without the empty fields
    return response


def _inbox_href(chosen: views.InboxFilter) -> str:
    query = chosen.query_string()
    return f"{INBOX_PATH}?{query}" if query else INBOX_PATH


# ---------------------------------------------------------------- the stream


@dataclass(frozen=True, slots=True)
class Reader:
    token: str
    principal: Principal


def stream_reader(request: Request, runtime: RuntimeDep, token: SessionCookie = None) -> Reader:
    """The stream's reader, checked before it opens (a refusal is an HTTP answer)."""
    with runtime.sessions() as session:
        signed_in = sessions.find_session(session, token, runtime.clock())
        if signed_in is None or token is None:
            raise SignInRequiredError(INBOX_PATH)
        principal = principal_for(request, signed_in.user)
    require(alerts_policy.may_see_alerts(principal), "see alerts")
    return Reader(token, principal)


@router.get("/alerts/live", response_class=EventSourceResponse)
async def alerts_live(
    runtime: RuntimeDep, response: Response, reader: Annotated[Reader, Depends(stream_reader)]
) -> AsyncIterator[ServerSentEvent]:
    response.headers["X-Content-Type-Options"] = "nosniff"
    subscription = runtime.changes.subscribe()
    try:
        # Everything once: what changed between the page and the stream is not lost.
        yield _alerts_event({"all": True})
        last_check = time.monotonic()
        while True:
            changed = await subscription.wait(RECHECK_S)
            moment = time.monotonic()
            if moment - last_check >= RECHECK_S:
                last_check = moment
                if not await run_in_threadpool(_still_signed_in, runtime, reader.token):
                    yield ServerSentEvent(event="signed-out", data={})
                    return
            named = changed.get(ALERTS_CHANGED)
            if not named:
                continue
            if "*" in named:
                yield _alerts_event({"all": True})
                continue
            ids = await run_in_threadpool(_visible, runtime, reader.principal, named)
            if ids:  # of alerts this person may not see, not even the ids
                yield _alerts_event({"ids": ids})
    finally:
        runtime.changes.unsubscribe(subscription)


def _alerts_event(data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(event="alerts", data=data, retry=RETRY_MS)


def _visible(runtime: Runtime, principal: Principal, named: set[str]) -> list[int]:
    with runtime.sessions() as session:
        return views.visible_ids(session, principal, named)


def _still_signed_in(runtime: Runtime, token: str) -> bool:
    with runtime.sessions() as session:
        return sessions.find_session(session, token, runtime.clock()) is not None


# ---------------------------------------------------------------- an alert


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a form changed nothing, as the page says it; and what was typed, kept."""

    action: str  # acknowledge | resolve
    reason: str  # note_required | note_too_long | not_open | resolved | invalid
    note: str
    detail: str = ""


@router.get("/alerts/{alert_id}", response_model=None)
def alert_detail(
    alert_id: int, request: Request, viewer: ViewerDep, session: SessionDep, done: str = ""
) -> Response:
    fragment = wants_fragment(request)
    response = _alert_response(
        request, viewer, session, alert_id, done=done if done in DONE else None, state=fragment
    )
    response.headers["Vary"] = "HX-Request"
    return response


def _alert_response(
    request: Request,
    viewer: Viewer,
    session: Session,
    alert_id: int,
    *,
    done: str | None = None,
    refusal: Refusal | None = None,
    state: bool = False,
    status_code: int = 200,
) -> Response:
    page = views.alert_page(session, viewer.principal, alert_id)

    def when(moment: Any) -> str:
        return i18n.local_time(moment, viewer.zone, viewer.language)

    context = {
        **_labels(),
        "page": page,
        "line": page.line,
        "alert": page.alert,
        "shown": page.explanation,
        "map_data": views.map_data(page, when),
        "may_handle": alerts_policy.may_handle_alerts(viewer.principal),
        "unresolved": page.alert.status in OPEN_STATUSES,
        "done": done,
        "refusal": refusal,
        "note_max": alerts.NOTE_MAX,
        "duration": duration_text(viewer.language),
        "step_labels": views.STEP_LABELS,
        "verdict_labels": views.VERDICT_LABELS,
        "source_labels": views.SOURCE_LABELS,
        "zone_role_labels": views.ZONE_ROLE_LABELS,
        "page_path": f"{INBOX_PATH}/{alert_id}",
    }
    template = "alert_state.html" if state else "alert.html"
    return render(request, template, context, viewer=viewer, status_code=status_code)


@router.post("/alerts/{alert_id}/acknowledge", response_model=None)
async def acknowledge(
    alert_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await checked_form(request, viewer)
    return _handle(request, viewer, session, runtime, alert_id, "acknowledge", form)


@router.post("/alerts/{alert_id}/resolve", response_model=None)
async def resolve(
    alert_id: int, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await checked_form(request, viewer)
    return _handle(request, viewer, session, runtime, alert_id, "resolve", form)


def _handle(
    request: Request,
    viewer: Viewer,
    session: Session,
    runtime: Runtime,
    alert_id: int,
    action: str,
    form: dict[str, str],
) -> Response:
    """Acknowledge or resolve through the alerts service, recorded with the person; what
    it refuses is said on the alert's page, with the note kept to correct."""
    alert = alerts_policy.visible_alert(session, viewer.principal, alert_id)
    require(alerts_policy.may_handle_alerts(viewer.principal), "handle alerts")
    note = form.get("note", "")
    try:
        if action == "acknowledge":
            alerts.acknowledge(session, alert.id, viewer.user.id, viewer.now, note)
        else:
            alerts.resolve(session, alert.id, viewer.user.id, note, viewer.now)
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        refusal = Refusal(action, _reason(exc, note, alert.status), note, str(exc))
        status = 409 if isinstance(exc, ConflictError) else 422
        return _alert_response(
            request, viewer, session, alert_id, refusal=refusal, status_code=status
        )
    runtime.changes.publish(session, ALERTS_CHANGED, [str(alert.id)])
    session.commit()
    done = "acknowledged" if action == "acknowledge" else "resolved"
    return redirect(f"{INBOX_PATH}/{alert.id}?done={done}")


def _reason(exc: Exception, note: str, status: str) -> str:
    if isinstance(exc, ConflictError):
        return "resolved" if status == "resolved" else "not_open"
    text = note.strip()
    if not text:
        return "note_required"
    if len(text) > alerts.NOTE_MAX:
        return "note_too_long"
    return "invalid"
