"""River sites: the sites a person may see on a map with their latest values, and a site's
page: its target and current class, its class day by day, and a chart per water
parameter over a chosen period with the GB 3838-2002 class bounds (docs/console.md).

Which sites a person sees is the rivers policy's, inside the queries
(``visible_sites``, ``visible_site``). Values come from InfluxDB as the read API's do;
values with a status flag other than normal are shown as flagged, never as normal, and
so are the values the rivers' trust judgement did not trust (``cloud.rivers.assess``,
on the raw samples of the judged days, which also give the classes day by day).
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
from cloud.console.class_views import (
    BOUND_KIND_LABELS,
    CLASS_LABELS,
    NOT_JUDGED,
    ClassWindow,
    DayCell,
    bounds_for,
    class_window,
    judged_days,
    timeline,
    untrusted_values,
)
from cloud.console.pages import PREFIX, Viewer, ViewerDep, render
from cloud.console.river_views import SiteState, class_context, condition_of, river_of_site
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
from cloud.rivers import assess
from cloud.rivers import policy as rivers_policy
from cloud.rivers.models import RiverSite
from cloud.rivers.queries import sample_of, stations_by_site
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.queries import (
    Statement,
    flagged_water_statement,
    latest_water_statement,
    rows_of,
    station_buckets_statement,
    water_counts_statement,
    water_samples_statement,
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
    """A site's charts over a period: every sample (``every_s`` None) or bucket means,
    and its class day by day over ``window``, the days whose samples were judged."""

    charts: list[Chart]
    every_s: int | None
    samples: int
    window: ClassWindow | None = None
    days: list[DayCell] | None = None


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
    drawn = _site_charts(runtime.influx, station_ids, chosen, site.waterbody)
    measured = _measured(runtime.influx, station_ids)
    charts = [c for c in drawn.charts if c.has_data or c.parameter.name in measured]
    bounds = {c.parameter.name: bounds_for(c.parameter.name, site.waterbody) for c in charts}
    translate = i18n.translations(viewer.language).gettext
    data = {
        "start": local_ms(chosen.start, viewer.zone),
        "end": local_ms(chosen.end, viewer.zone),
        "charts": [
            chart_data(c, viewer.zone, translate, bounds[c.parameter.name])
            for c in charts
            if c.has_data
        ],
    }
    window = drawn.window or class_window(chosen.start, chosen.end, viewer.zone)
    context = {
        "site": site,
        "state": SiteState(site, condition_of(session, site.id)),
        "river": river_of_site(session, viewer.principal, site),
        "window": window,
        "days": drawn.days if drawn.days is not None else timeline((), window),
        "whole_period": window.start <= chosen.start,
        "bounds": bounds,
        "bound_kind_labels": BOUND_KIND_LABELS,
        "not_judged": NOT_JUDGED,
        "all_class_labels": CLASS_LABELS,
        **class_context(),
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


def _site_charts(
    influx: InfluxStore, stations: Sequence[str], period: Period, waterbody: str
) -> SiteCharts:
    """Every sample when a chart holds few enough, else bucket means of trusted normal
    values with the flagged samples beside them: a chart of about a thousand points at
    most. The raw samples of the judged days (the whole period when it is drawn raw,
    else its last days, at most 92 and ``MAX_JUDGED_SAMPLES``) are judged and classed:
    what the checks did not trust comes off the lines, and the days get their class."""
    if not stations:
        return SiteCharts([], None, 0)
    counts = _rows(influx, water_counts_statement(stations, period.start, period.end))
    samples = samples_per_chart(counts)
    every_s = every_s_for(period.span, samples, len(stations))
    if every_s is None:
        window = class_window(period.start, period.end, period.zone)
        rows = _rows(influx, water_samples_statement(stations, period.start, period.end))
    else:
        judged_span = judged_days(_rows_in(counts), period.span)
        window = class_window(period.start, period.end, period.zone, judged_span)
        rows = _rows(influx, water_samples_statement(stations, window.start, period.end))
    judged = assess.assess([sample_of(row) for row in rows], waterbody)
    untrusted = untrusted_values(judged)
    if every_s is None:
        charts = charts_from_samples(rows, PARAMETER_NAMES, untrusted)
    else:
        buckets = _rows(
            influx,
            station_buckets_statement(stations, PARAMETER_NAMES, period.start, period.end, every_s),
        )
        flagged = _rows(
            influx, flagged_water_statement(stations, PARAMETER_NAMES, period.start, period.end)
        )
        charts = charts_from_buckets(buckets, flagged, PARAMETER_NAMES, every_s, untrusted)
    start_ts = window.start.timestamp()
    in_window = [item for item in judged if item.sample.ts >= start_ts]
    cells = timeline(assess.daily_classes(in_window, waterbody, period.zone), window)
    return SiteCharts(list(charts.values()), every_s, samples, window, cells)


def _rows_in(count_rows: Sequence[dict[str, Any]]) -> int:
    """Samples in all (a station's: its most counted field), from ``water_counts_statement``."""
    return sum(
        max((int(v or 0) for k, v in row.items() if k.startswith("count_")), default=0)
        for row in count_rows
    )


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
