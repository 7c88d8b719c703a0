"""The overview: devices by status, readings today, gateways and their backlog; for a
river chief, first their rivers and sites with their classes now (their landing)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cloud.console.overview import local_midnight, overview, readings_on
from cloud.console.pages import PREFIX, ViewerDep, render
from cloud.console.river_views import class_context, river_lines, site_states
from cloud.fleet.presence import DeviceStatus
from cloud.identity.models import Role
from cloud.rivers import policy as rivers_policy
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
    chief = viewer.role is Role.river_chief
    return render(
        request,
        "overview.html",
        {
            "summary": summary,
            "statuses": list(DeviceStatus),
            "readings_today": readings,
            "midnight": midnight,
            "my_rivers": river_lines(session, viewer.principal) if chief else None,
            "my_sites": (
                site_states(session, rivers_policy.visible_sites(viewer.principal))
                if chief
                else None
            ),
            **class_context(),
        },
        viewer=viewer,
    )
