"""The overview: devices by status, readings today, gateways and their backlog."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cloud.console.overview import local_midnight, overview, readings_on
from cloud.console.pages import PREFIX, ViewerDep, render
from cloud.fleet.presence import DeviceStatus
from cloud.web.deps import RuntimeDep, SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("", response_model=None)
@router.get("/", response_model=None)
def home(request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep) -> Response:
    summary = overview(
        session, viewer.principal, viewer.now, runtime.settings.gateway_silent_after_s
    )
    midnight = local_midnight(viewer.now, viewer.zone)
    readings = readings_on(session, viewer.principal, midnight.date())
    return render(
        request,
        "overview.html",
        {
            "summary": summary,
            "statuses": list(DeviceStatus),
            "readings_today": readings,
            "midnight": midnight,
        },
        viewer=viewer,
    )
