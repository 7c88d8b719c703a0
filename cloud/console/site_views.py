"""What the river site pages show, shaped from stored rows. Pure: no database, no InfluxDB.

The names people read for the water parameters and the values' status flags (marked
with ``N_`` for the catalogs, translated where shown), how a value is written, how long a
chart's buckets are, and the charts' series. A value with a status flag other than
normal (``core.contract``: calibrating, maintenance, fault, over or under range) is never
drawn as a normal value: it leaves its line and is listed as flagged, and it is left out
of a bucket's mean. So is a value the rivers' trust judgement did not trust although its
status was normal (stuck, a spike, drift: ``class_views.Untrusted``): marked apart, with
its reasons, and in buckets one mark for a bucket that holds any.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from cloud.console.class_views import Bounds, Untrusted, by_bucket, reasons_text
from cloud.console.i18n import N_
from cloud.timeseries.queries import STATUS_SUFFIX
from core import contract as c

# A chart holds at most about this many points; more samples are averaged in buckets.
MAX_CHART_POINTS = 1000
# Bucket lengths a person reads easily, shortest first (seconds).
BUCKET_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
# A line breaks where samples are this many times further apart than usual: a station that
# was silent for a day is not drawn as a straight line across that day.
GAP_FACTOR = 3.0

PARAMETER_LABELS = {
    "water_temp": N_("Water temperature"),
    "ph": N_("pH"),
    "dissolved_oxygen": N_("Dissolved oxygen"),
    "conductivity": N_("Conductivity"),
    "turbidity": N_("Turbidity"),
    "permanganate_index": N_("Permanganate index"),
    "ammonia_nitrogen": N_("Ammonia nitrogen"),
    "total_phosphorus": N_("Total phosphorus"),
    "total_nitrogen": N_("Total nitrogen"),
}
FLAG_LABELS = {
    c.VALUE_CALIBRATING: N_("calibrating"),
    c.VALUE_MAINTENANCE: N_("maintenance"),
    c.VALUE_FAULT: N_("fault"),
    c.VALUE_OVER_RANGE: N_("over range"),
    c.VALUE_UNDER_RANGE: N_("under range"),
}
UNKNOWN_FLAG = N_("unknown flag")
# The contract's unit codes as they are printed ("pH" is the parameter's own scale).
UNIT_SYMBOLS = {"degC": "°C", "uS/cm": "µS/cm", "pH": ""}

Translate = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Parameter:
    """A water parameter as a page shows it."""

    name: str
    label: str  # the English text, the catalogs' msgid
    unit: str
    decimals: int


def _parameters() -> tuple[Parameter, ...]:
    found = []
    for pid in sorted(c.WATER_PARAMETERS):
        name, unit, scale, _low, _high = c.WATER_PARAMETERS[pid]
        decimals = max(0, round(math.log10(scale)))  # the resolution the wire carries
        found.append(
            Parameter(name, PARAMETER_LABELS[name], UNIT_SYMBOLS.get(unit, unit), decimals)
        )
    return tuple(found)


PARAMETERS = _parameters()
PARAMETER_BY_NAME = {parameter.name: parameter for parameter in PARAMETERS}


def flag_label(status: int) -> str:
    """The words for a value's status flag (msgid); a flag the contract lacks says so."""
    return FLAG_LABELS.get(status, UNKNOWN_FLAG)


def format_value(name: str, value: float | None) -> str:
    """A value to the resolution its parameter is sent with, with its unit; an en dash if none."""
    if value is None:
        return "\u2013"
    parameter = PARAMETER_BY_NAME[name]
    number = f"{value:.{parameter.decimals}f}"
    return f"{number} {parameter.unit}" if parameter.unit else number


def flags_of(row: Mapping[str, Any]) -> dict[str, int]:
    """The parameters of a stored row that carry a status flag other than normal."""
    flags = {}
    for parameter in PARAMETERS:
        status = row.get(parameter.name + STATUS_SUFFIX)
        if status is not None and int(status) != c.VALUE_NORMAL:
            flags[parameter.name] = int(status)
    return flags


# --- the list of sites ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """One parameter of a site's latest sample."""

    parameter: Parameter
    value: float | None
    flag: int | None  # a status flag other than normal, else None

    def text(self) -> str:
        return format_value(self.parameter.name, self.value)

    @property
    def flag_label(self) -> str | None:
        return None if self.flag is None else flag_label(self.flag)


@dataclass(frozen=True, slots=True)
class Latest:
    """A site's newest sample: which station, when, its readings in the contract's order."""

    station: str
    time: datetime
    readings: tuple[Reading, ...]


def latest_of(rows: Iterable[Mapping[str, Any]]) -> Latest | None:
    """The newest of the stations' newest samples, or None when none has sent one."""
    newest = max(rows, key=lambda row: row["time"], default=None)
    if newest is None:
        return None
    flags = flags_of(newest)
    readings = tuple(
        Reading(parameter, newest.get(parameter.name), flags.get(parameter.name))
        for parameter in PARAMETERS
        if newest.get(parameter.name) is not None or parameter.name in flags
    )
    return Latest(str(newest["device_id"]), newest["time"], readings)


# --- a site's charts -----------------------------------------------------------------


def every_s_for(span: timedelta, samples_per_chart: int, lines: int = 1) -> int | None:
    """None (every sample) when a chart holds few enough, else the shortest readable
    bucket length that keeps a chart of ``lines`` stations near ``MAX_CHART_POINTS``."""
    if samples_per_chart <= MAX_CHART_POINTS:
        return None
    wanted = span.total_seconds() * max(1, lines) / MAX_CHART_POINTS
    for step in BUCKET_STEPS:
        if step >= wanted:
            return step
    return BUCKET_STEPS[-1]


def samples_per_chart(count_rows: Iterable[Mapping[str, Any]]) -> int:
    """The most samples one parameter's chart would hold: its counts over all stations."""
    totals: defaultdict[str, int] = defaultdict(int)
    for row in count_rows:
        for parameter in PARAMETERS:
            totals[parameter.name] += int(row.get(f"count_{parameter.name}") or 0)
    return max(totals.values(), default=0)


@dataclass(frozen=True, slots=True)
class Flagged:
    """A value that came with a status flag: shown apart, never as a normal value."""

    time: datetime
    station: str
    value: float | None
    status: int


@dataclass(slots=True)
class Chart:
    """One parameter over the period: a line per station of trusted normal values, the
    flagged, and those the checks did not trust."""

    parameter: Parameter
    lines: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    flagged: list[Flagged] = field(default_factory=list)
    untrusted: list[Untrusted] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return any(self.lines.values()) or bool(self.flagged) or bool(self.untrusted)

    @property
    def point_count(self) -> int:
        return (
            sum(len(points) for points in self.lines.values())
            + len(self.flagged)
            + len(self.untrusted)
        )


def _charts(parameters: Sequence[str]) -> dict[str, Chart]:
    return {name: Chart(PARAMETER_BY_NAME[name]) for name in parameters}


def _add_flagged(charts: Mapping[str, Chart], row: Mapping[str, Any]) -> dict[str, int]:
    flags = {name: status for name, status in flags_of(row).items() if name in charts}
    for name, status in flags.items():
        value = row.get(name)
        charts[name].flagged.append(Flagged(row["time"], str(row["device_id"]), value, status))
    return flags


def charts_from_samples(
    rows: Iterable[Mapping[str, Any]],
    parameters: Sequence[str],
    untrusted: Mapping[str, Sequence[Untrusted]] | None = None,
) -> dict[str, Chart]:
    """Charts of every sample (rows with ``device_id``, oldest first); the ``untrusted``
    values (by parameter, from ``class_views.untrusted_values``) off the lines."""
    charts = _charts(parameters)
    off_line = {
        (name, item.station, int(item.time.timestamp())): item
        for name, items in (untrusted or {}).items()
        if name in charts
        for item in items
    }
    for row in rows:
        flags = _add_flagged(charts, row)
        station = str(row["device_id"])
        for name, chart in charts.items():
            value = row.get(name)
            if value is None or name in flags:
                continue
            judged = off_line.get((name, station, int(row["time"].timestamp())))
            if judged is not None:
                chart.untrusted.append(judged)
            else:
                chart.lines.setdefault(station, []).append((row["time"], value))
    return charts


def bucket_start(moment: datetime, every_s: int) -> datetime:
    """The start of the bucket ``moment`` falls in: InfluxDB's ``GROUP BY time()`` buckets
    are aligned on the epoch."""
    seconds = math.floor(moment.timestamp() / every_s) * every_s
    return datetime.fromtimestamp(seconds, UTC)


def charts_from_buckets(
    buckets: Iterable[Mapping[str, Any]],
    flagged: Iterable[Mapping[str, Any]],
    parameters: Sequence[str],
    every_s: int,
    untrusted: Mapping[str, Sequence[Untrusted]] | None = None,
) -> dict[str, Chart]:
    """Charts of bucket means of trusted normal values: each bucket's sum and count
    (``station_buckets_statement``) less its flagged samples (``flagged_water_statement``)
    and its ``untrusted`` values, which become one mark per station's bucket."""
    charts = _charts(parameters)
    # (parameter, station, bucket start) -> [sum, count] of the values left out of it
    taken: defaultdict[tuple[str, str, datetime], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in flagged:
        for name in _add_flagged(charts, row):
            value = row.get(name)
            if value is not None:
                share = taken[(name, str(row["device_id"]), bucket_start(row["time"], every_s))]
                share[0] += value
                share[1] += 1
    for name, items in (untrusted or {}).items():
        if name not in charts:
            continue
        for item in items:
            share = taken[(name, item.station, bucket_start(item.time, every_s))]
            share[0] += item.value
            share[1] += 1
        charts[name].untrusted.extend(by_bucket(items, every_s))
    for row in sorted(buckets, key=lambda bucket: bucket["time"]):
        station = str(row["device_id"])
        for name, chart in charts.items():
            total, count = row.get(f"{name}_sum"), row.get(f"{name}_count")
            if total is None or not count:
                continue
            less_sum, less_count = taken.get((name, station, row["time"]), (0.0, 0))
            if count - less_count > 0:
                mean = (total - less_sum) / (count - less_count)
                chart.lines.setdefault(station, []).append((row["time"], mean))
    return charts


def local_ms(moment: datetime, zone: ZoneInfo) -> int:
    """Epoch milliseconds shifted by the zone's offset at that moment: the chart runs in
    UTC (ECharts knows no other zone), so its labels read as the console's wall time."""
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    return round((moment + offset).timestamp() * 1000)


def with_breaks(
    points: Sequence[tuple[datetime, float]], zone: ZoneInfo
) -> list[tuple[int, float | None]]:
    """A line's points in local ms, with a break (None) where a gap is much longer than
    the line's usual spacing."""
    if len(points) < 3:
        return [(local_ms(moment, zone), value) for moment, value in points]
    spacing = median((later[0] - earlier[0]).total_seconds() for earlier, later in pairwise(points))
    drawn: list[tuple[int, float | None]] = []
    for index, (moment, value) in enumerate(points):
        if index and (moment - points[index - 1][0]).total_seconds() > GAP_FACTOR * spacing > 0:
            drawn.append((local_ms(moment, zone) - 1, None))
        drawn.append((local_ms(moment, zone), value))
    return drawn


def chart_data(
    chart: Chart, zone: ZoneInfo, translate: Translate, bounds: Bounds | None = None
) -> dict[str, Any]:
    """What site.js draws for one chart, its texts translated: lines, flagged and
    untrusted values, and the class bounds of the site's water body."""
    parameter = chart.parameter
    return {
        "parameter": parameter.name,
        "label": translate(parameter.label),
        "unit": parameter.unit,
        "decimals": parameter.decimals,
        "lines": [
            {"station": station, "points": with_breaks(points, zone)}
            for station, points in sorted(chart.lines.items())
        ],
        "flagged": [
            {
                "time": local_ms(item.time, zone),
                "value": item.value,
                "station": item.station,
                "flag": translate(flag_label(item.status)),
            }
            for item in chart.flagged
        ],
        "untrusted": [
            {
                "time": local_ms(item.time, zone),
                "value": item.value,
                "station": item.station,
                "count": item.count,
                "reasons": reasons_text(item.reasons, translate),
            }
            for item in chart.untrusted
        ],
        "bounds": [
            {"value": line.value, "label": translate(line.label)}
            for line in (bounds.lines if bounds else ())
        ],
    }


# --- the period a site page shows ----------------------------------------------------

PRESETS = {
    "24h": (timedelta(hours=24), N_("24 hours")),
    "7d": (timedelta(days=7), N_("7 days")),
    "30d": (timedelta(days=30), N_("30 days")),
}
DEFAULT_PRESET = "7d"
MINUTE = timedelta(minutes=1)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what a datetime-local input holds


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, as the period form shows it in the console's zone."""

    start: datetime
    end: datetime
    preset: str | None  # the preset link it came from, if any
    zone: ZoneInfo

    @property
    def start_input(self) -> str:
        return self.start.astimezone(self.zone).strftime(LOCAL_INPUT)

    @property
    def end_input(self) -> str:
        """The last minute inside the period (a "to" of 10:05 takes in 10:05:59)."""
        last = self.end - timedelta(microseconds=1)
        return last.astimezone(self.zone).strftime(LOCAL_INPUT)

    @property
    def span(self) -> timedelta:
        return self.end - self.start


class PeriodError(ValueError):
    """A period form value that is not a local date and time."""


def parse_local(text: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` value (wall time in ``zone``, no offset) as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PeriodError(f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from exc
    if moment.tzinfo is not None:
        raise PeriodError(f"{text!r}: give the console's local time, without an offset")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def period_of(
    start: str | None, end: str | None, preset: str | None, now: datetime, zone: ZoneInfo
) -> Period:
    """The period a site page asked for: a preset ending now, or the form's from/to in
    local time (the "to" minute included), else the default preset. Not checked for
    length here: ``cloud.web.window.check_window`` does."""
    if preset in PRESETS or not (start or end):
        chosen = preset if preset in PRESETS else DEFAULT_PRESET
        length = PRESETS[chosen][0]
        return Period(now - length, now, chosen, zone)
    until = parse_local(end, zone) + MINUTE if end else now
    since = parse_local(start, zone) if start else until - PRESETS[DEFAULT_PRESET][0]
    return Period(since, until, None, zone)
