"""Supervision statistics (``/console/statistics``): persons by measure and status, alerts
by cause per week, the time to acknowledge per severity, roll-call compliance per week and
the bracelets' health, each as a chart with its table under it, and each table as a CSV
file (``/console/statistics/{name}.csv``: UTF-8 with a byte-order mark, so that Excel
reads the Chinese, and a header row in the reader's language).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cloud.console import i18n
from cloud.console import statistics_views as views
from cloud.console.i18n import N_
from cloud.console.pages import PREFIX, ViewerDep, answer_headers, render
from cloud.errors import NotFoundError
from cloud.identity.policy import require
from cloud.identity.principal import Principal
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.runtime import Runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_PATH = f"{PREFIX}/statistics"


# Each statistic's table, from the session, the reader, now, the console's zone, the
# runtime (its settings) and the reader's translation.
Builder = Callable[[Session, Principal, datetime, ZoneInfo, Runtime, views.Translate], views.Table]


def _persons_table(
    s: Session, p: Principal, now: datetime, z: ZoneInfo, r: Runtime, t: views.Translate
) -> views.Table:
    return views.persons_table(views.persons_by_measure(s, p), t)


def _alerts_table(
    s: Session, p: Principal, now: datetime, z: ZoneInfo, r: Runtime, t: views.Translate
) -> views.Table:
    return views.alerts_table(views.alerts_by_week(s, p, views.last_weeks(now, z), z), t)


def _acknowledge_table(
    s: Session, p: Principal, now: datetime, z: ZoneInfo, r: Runtime, t: views.Translate
) -> views.Table:
    since = views.utc_start(views.last_weeks(now, z)[0], z)
    return views.acknowledge_table(views.acknowledge_times(s, p, since), t)


def _roll_calls_table(
    s: Session, p: Principal, now: datetime, z: ZoneInfo, r: Runtime, t: views.Translate
) -> views.Table:
    return views.roll_calls_table(views.roll_calls_by_week(s, p, views.last_weeks(now, z), z), t)


def _devices_table(
    s: Session, p: Principal, now: datetime, z: ZoneInfo, r: Runtime, t: views.Translate
) -> views.Table:
    settings = r.settings
    health = views.bracelet_health(
        s, p, now, settings.gateway_silent_after_s, settings.low_battery_pct
    )
    return views.devices_table(health, t)


# name -> (title, what it counts, chart, unit on its axis, builder): in the page's order.
STATISTICS: dict[str, tuple[str, str, str, str, Builder]] = {
    "persons": (
        N_("Persons by measure and status"),
        N_("Everyone recorded, under supervision now or not any more."),
        "stacked",
        N_("persons"),
        _persons_table,
    ),
    "alerts": (
        N_("Alerts by cause, per week"),
        N_(
            "Alerts raised in each of the last 12 weeks (Monday to Sunday, local time), by when the system knew of them."
        ),
        "stacked",
        N_("alerts"),
        _alerts_table,
    ),
    "acknowledge": (
        N_("Time to acknowledge, per severity"),
        N_(
            "From raised to acknowledged, for the alerts raised in the last 12 weeks that somebody acknowledged; the median and the time nine in ten stayed under. Still waiting: open, not acknowledged yet."
        ),
        "bar",
        N_("minutes"),
        _acknowledge_table,
    ),
    "roll-calls": (
        N_("Roll-call compliance, per week"),
        N_("Answered roll calls out of those answered or missed, by the week they were sent."),
        "line",
        N_("percent"),
        _roll_calls_table,
    ),
    "devices": (
        N_("Bracelets' health"),
        N_(
            "Bracelets by status now, and those whose battery is low (counted among the statuses too)."
        ),
        "bar",
        N_("bracelets"),
        _devices_table,
    ),
}


def _statistic(
    name: str,
    session: Session,
    viewer_now: datetime,
    zone: ZoneInfo,
    runtime: Runtime,
    principal: Principal,
    translate: views.Translate,
) -> views.Statistic:
    title, note, chart, unit, build = STATISTICS[name]
    table = build(session, principal, viewer_now, zone, runtime, translate)
    return views.Statistic(name, title, note, chart, translate(unit), table)


@router.get("/statistics", response_model=None)
def statistics_page(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    require(views.may_see_statistics(viewer.principal), "see supervision statistics")
    translate = i18n.translations(viewer.language).gettext
    shown = [
        _statistic(name, session, viewer.now, viewer.zone, runtime, viewer.principal, translate)
        for name in STATISTICS
    ]
    context = {
        "statistics": shown,
        "data": {"charts": [s.chart_data() for s in shown]},
        "page_path": PAGE_PATH,
        "weeks": views.WEEKS,
    }
    return render(request, "statistics.html", context, viewer=viewer)


@router.get("/statistics/{name}.csv", response_model=None)
def statistics_csv(
    name: str, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    require(views.may_see_statistics(viewer.principal), "see supervision statistics")
    if name not in STATISTICS:
        raise NotFoundError(f"no statistic {name}")
    translate = i18n.translations(viewer.language).gettext
    shown = _statistic(name, session, viewer.now, viewer.zone, runtime, viewer.principal, translate)
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(views.csv_rows(shown.table))
    day = viewer.now.astimezone(viewer.zone).date().isoformat()
    response = Response(
        ("\ufeff" + text.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statistics-{name}-{day}.csv"'},
    )
    answer_headers(response, runtime.settings.console_tile_origin)
    return response
