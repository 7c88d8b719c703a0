"""River sites: the sites a person may see on a map with their latest values, and a site's
page with a chart per water parameter over a chosen period (docs/console.md).

Which sites a person sees is the rivers policy's, inside the queries
(``visible_sites``, ``visible_site``). Values come from InfluxDB as the read API's do;
values with a status flag other than normal are shown as flagged, never as normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from babel.dates import format_timedelta
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from cloud.console import i18n
from cloud.console.pages import PREFIX, Viewer, ViewerDep, render
from cloud.console.site_views import (
    PARAMETERS,
    PRESETS,
    Chart,
    Latest,
    Period,
    PeriodError,
    Translate,
    chart_data,
    charts_from_buckets,
    charts_from_samples,
    every_s_for,
    flag_label,
    flags_of,
    format_value,
    latest_of,
    local_ms,
    period_of,
    samples_per_chart,
)
from cloud.errors import InvalidRequestError
from cloud.fleet.models import Device
from cloud.identity.policy import require
from cloud.rivers import policy as rivers_policy
from cloud.rivers.models import RiverSite
from cloud.rivers.queries import stations_by_site
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.queries import (
    Statement,
    flagged_water_statement,
    latest_water_statement,
    rows_of,
    station_buckets_statement,
    station_water_statement,
    water_counts_statement,
)
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.window import check_window

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PARAMETER_NAMES = [parameter.name for parameter in PARAMETERS]
FLAGGED_SHOWN = 200  # rows of a chart's table of flagged values; the chart shows them all


@dataclass(frozen=True, slots=True)
class SiteLine:
    """A site on the list, and its stations' newest sample (None: none sent one yet)."""

    site: RiverSite
    latest: Latest | None


@dataclass(frozen=True, slots=True)
class SiteCharts:
    """A site's charts over a period: every sample (``every_s`` None) or bucket means."""

    charts: list[Chart]
    every_s: int | None
    samples: int


# --- the list and the map --------------------------------------------------------------


@router.get("/sites", response_model=None)
def sites_page(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    require(rivers_policy.may_list_sites(viewer.principal), "see river sites")
    visible = rivers_policy.visible_sites(viewer.principal)
    stations = stations_by_site(session, visible)
    newest = _newest_by_station(runtime.influx)
    lines = [
        SiteLine(site, latest_of(newest[s] for s in stations[site.id] if s in newest))
        for site in session.scalars(select(RiverSite).where(visible).order_by(RiverSite.name))
    ]
    translate = i18n.translations(viewer.language).gettext
    data = [_marker_data(line, viewer, translate) for line in lines]
    return render(request, "sites.html", {"lines": lines, "data": data}, viewer=viewer)


def _newest_by_station(influx: InfluxStore) -> dict[str, dict[str, Any]]:
    """Every river station's newest sample, by station id (one query for all)."""
    return {row["device_id"]: row for row in _rows(influx, latest_water_statement())}


def _marker_data(line: SiteLine, viewer: Viewer, translate: Translate) -> dict[str, Any]:
    """What sites.js puts in a site's marker and popup, written as the list writes it."""
    latest = line.latest
    return {
        "id": line.site.id,
        "name": line.site.name,
        "river": line.site.river,
        "lat": line.site.lat,
        "lon": line.site.lon,
        "url": f"{PREFIX}/sites/{line.site.id}",
        "flagged": bool(latest and any(r.flag is not None for r in latest.readings)),
        "time": i18n.local_time(latest.time, viewer.zone, viewer.language) if latest else None,
        "age": translate("%(age)s ago")
        % {"age": i18n.age(latest.time, viewer.now, viewer.language)}
        if latest
        else None,
        "readings": [
            {
                "label": translate(reading.parameter.label),
                "text": reading.text(),
                "flag": translate(reading.flag_label) if reading.flag_label else None,
            }
            for reading in (latest.readings if latest else ())
        ],
    }


# --- a site ------------------------------------------------------------------------------


@router.get("/sites/{site_id}", response_model=None)
def site_page(
    site_id: str,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    start: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=32)] = None,
    period: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    site = rivers_policy.visible_site(session, viewer.principal, site_id)
    stations = list(
        session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.id))
    )
    chosen = _period(start, end, period, viewer)
    station_ids = [station.id for station in stations]
    drawn = _site_charts(runtime.influx, station_ids, chosen)
    measured = _measured(runtime.influx, station_ids)
    charts = [c for c in drawn.charts if c.has_data or c.parameter.name in measured]
    translate = i18n.translations(viewer.language).gettext
    data = {
        "start": local_ms(chosen.start, viewer.zone),
        "end": local_ms(chosen.end, viewer.zone),
        "charts": [chart_data(c, viewer.zone, translate) for c in charts if c.has_data],
    }
    context = {
        "site": site,
        "stations": stations,
        "period": chosen,
        "presets": PRESETS,
        "charts": charts,
        "every_s": drawn.every_s,
        "interval": _interval(drawn.every_s, viewer.language),
        "samples": drawn.samples,
        "flagged_shown": FLAGGED_SHOWN,
        "format_value": format_value,
        "flag_label": flag_label,
        "data": data,
    }
    return render(request, "site.html", context, viewer=viewer)


def _period(start: str | None, end: str | None, preset: str | None, viewer: Viewer) -> Period:
    """The period asked for, checked as the read API checks a window (at most a year)."""
    try:
        chosen = period_of(start, end, preset, viewer.now, viewer.zone)
    except PeriodError as exc:
        raise InvalidRequestError(str(exc)) from exc
    check_window(chosen.start, chosen.end, None)
    return chosen


def _site_charts(influx: InfluxStore, stations: Sequence[str], period: Period) -> SiteCharts:
    """Every sample when a chart holds few enough, else bucket means of normal values
    with the flagged samples beside them: a chart of about a thousand points at most."""
    if not stations:
        return SiteCharts([], None, 0)
    counts = _rows(influx, water_counts_statement(stations, period.start, period.end))
    samples = samples_per_chart(counts)
    every_s = every_s_for(period.span, samples, len(stations))
    if every_s is None:
        rows = _rows(
            influx, station_water_statement(stations, PARAMETER_NAMES, period.start, period.end)
        )
        charts = charts_from_samples(rows, PARAMETER_NAMES)
    else:
        buckets = _rows(
            influx,
            station_buckets_statement(stations, PARAMETER_NAMES, period.start, period.end, every_s),
        )
        flagged = _rows(
            influx, flagged_water_statement(stations, PARAMETER_NAMES, period.start, period.end)
        )
        charts = charts_from_buckets(buckets, flagged, PARAMETER_NAMES, every_s)
    return SiteCharts(list(charts.values()), every_s, samples)


def _measured(influx: InfluxStore, stations: Sequence[str]) -> set[str]:
    """The parameters the stations' newest samples hold: those a site measures, so an
    empty period says so for them rather than leaving them out without a word."""
    newest = _newest_by_station(influx)
    found: set[str] = set()
    for station in stations:
        row = newest.get(station, {})
        found.update(p for p in PARAMETER_NAMES if row.get(p) is not None)
        found.update(flags_of(row))
    return found


def _interval(every_s: int | None, language: str) -> str:
    """A bucket's length in words of the reader's language ("30 minutes", "30分钟")."""
    if every_s is None:
        return ""
    return format_timedelta(every_s, threshold=1.0, locale=i18n.locale(language))


def _rows(influx: InfluxStore, statement: Statement) -> list[dict[str, Any]]:
    return rows_of(influx.query(statement.text, statement.params))
