"""Rivers: a map of the rivers a person may see, each course coloured by its worst site
class now, with their sites, and a table of the same; a river's page with its chiefs,
sites and their classes, its sites' alerts and its course (docs/console.md).

Which rivers and sites are shown is the rivers policy's, inside the queries
(``river_views``); the classes are what the scheduler's river checks last judged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cloud.alerts import policy as alerts_policy
from cloud.console import i18n
from cloud.console.alert_views import ALERT_STATUS_LABELS, CAUSE_LABELS, SEVERITY_LABELS
from cloud.console.class_views import Translate, class_key, class_label
from cloud.console.pages import PREFIX, ViewerDep, render
from cloud.console.river_views import (
    RiverLine,
    SiteState,
    class_context,
    river_line,
    river_lines,
    site_alerts,
    site_states,
)
from cloud.identity.policy import require
from cloud.rivers import policy as rivers_policy
from cloud.web.deps import SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/rivers", response_model=None)
def rivers_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    require(rivers_policy.may_list_rivers(viewer.principal), "see rivers")
    lines = river_lines(session, viewer.principal)
    sites = site_states(session, rivers_policy.visible_sites(viewer.principal))
    translate = i18n.translations(viewer.language).gettext
    data = {
        "rivers": [_river_data(line, translate) for line in lines],
        "sites": [_site_data(state, translate) for state in sites if state.site.lat is not None],
    }
    context = {"lines": lines, "data": data, **class_context()}
    return render(request, "rivers.html", context, viewer=viewer)


@router.get("/rivers/{code}", response_model=None)
def river_page(code: str, request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    line = river_line(session, viewer.principal, code)
    alerts = site_alerts(session, viewer.principal, [s.site.id for s in line.sites], viewer.now)
    translate = i18n.translations(viewer.language).gettext
    data = {
        "rivers": [_river_data(line, translate)],
        "sites": [_site_data(s, translate) for s in line.sites if s.site.lat is not None],
    }
    context = {
        "line": line,
        "alerts": alerts,
        "site_names": {s.site.id: s.site.name for s in line.sites},
        "alert_pages": alerts_policy.may_see_alerts(viewer.principal),
        "cause_labels": CAUSE_LABELS,
        "severity_labels": SEVERITY_LABELS,
        "alert_status_labels": ALERT_STATUS_LABELS,
        "data": data,
        **class_context(),
    }
    return render(request, "river.html", context, viewer=viewer)


def _river_data(line: RiverLine, translate: Translate) -> dict[str, Any]:
    """What rivers.js draws of a river: its course, coloured by its worst class now."""
    return {
        "code": line.river.code,
        "name": line.river.name,
        "url": f"{PREFIX}/rivers/{line.river.code}",
        "class": class_key(line.worst_class),
        "class_label": translate(class_label(line.worst_class)),
        "course": line.course,
    }


def _site_data(state: SiteState, translate: Translate) -> dict[str, Any]:
    return {
        "id": state.site.id,
        "name": state.site.name,
        "lat": state.site.lat,
        "lon": state.site.lon,
        "url": f"{PREFIX}/sites/{state.site.id}",
        "class": class_key(state.water_class),
        "class_label": translate(class_label(state.water_class)),
    }
