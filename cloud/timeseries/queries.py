"""InfluxQL for the read API, with bound parameters, and its results as values. Pure.

Identifiers (measurement, fields, functions) come from fixed tables here, never from
the caller; values the caller gives (device ids, times) are bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cloud.timeseries.influx import Series, quote_identifier
from cloud.timeseries.schema import (
    DEVICE_TAG,
    EVIDENCE,
    LOCATION,
    NS_PER_S,
    POLICY_BY_MEASUREMENT,
    WATER,
    WATER_PARAMETER_NAMES,
)

RAW_ROW_LIMIT = 10000


class Aggregate(StrEnum):
    mean = "mean"
    min = "min"
    max = "max"
    last = "last"


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    params: dict[str, Any]


def _table(measurement: str) -> str:
    return f"{quote_identifier(EVIDENCE.name)}.{quote_identifier(measurement)}"


def to_ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


def from_ns(value: int) -> datetime:
    return datetime.fromtimestamp(value // NS_PER_S, UTC).replace(
        microsecond=(value % NS_PER_S) // 1000
    )


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": to_ns(start), "end": to_ns(end)}


def track_statement(
    device_id: str, start: datetime, end: datetime, every_s: int | None
) -> Statement:
    """Fixes of one device in [start, end): every fix, or the first fix of each bucket."""
    where = f"{DEVICE_TAG} = $device AND time >= $start AND time < $end"
    params = {"device": device_id, **_window(start, end)}
    if every_s is None:
        text = (
            "SELECT lat, lon, accuracy_m, source, boot, seq, late "
            f"FROM {_table(LOCATION)} WHERE {where} ORDER BY time ASC LIMIT {RAW_ROW_LIMIT}"
        )
    else:
        text = (
            "SELECT first(lat) AS lat, first(lon) AS lon, max(accuracy_m) AS accuracy_m "
            f"FROM {_table(LOCATION)} WHERE {where} GROUP BY time({every_s}s) fill(none) "
            f"LIMIT {RAW_ROW_LIMIT}"
        )
    return Statement(text, params)


def water_statement(
    device_ids: Sequence[str],
    parameters: Sequence[str],
    start: datetime,
    end: datetime,
    every_s: int | None,
    aggregate: Aggregate,
) -> Statement:
    """A site's samples in [start, end), raw or aggregated per bucket of ``every_s``."""
    for name in parameters:
        if name not in WATER_PARAMETER_NAMES:
            raise ValueError(f"unknown water parameter {name!r}")
    params: dict[str, Any] = _window(start, end)
    devices = []
    for number, device_id in enumerate(device_ids):
        params[f"device{number}"] = device_id
        devices.append(f"{DEVICE_TAG} = $device{number}")
    where = f"({' OR '.join(devices)}) AND time >= $start AND time < $end"
    if every_s is None:
        columns = ", ".join(quote_identifier(name) for name in parameters)
        text = (
            f"SELECT {columns} FROM {_table(WATER)} WHERE {where} "
            f"ORDER BY time ASC LIMIT {RAW_ROW_LIMIT}"
        )
    else:
        columns = ", ".join(
            f"{aggregate.value}({quote_identifier(name)}) AS {quote_identifier(name)}"
            for name in parameters
        )
        text = (
            f"SELECT {columns} FROM {_table(WATER)} WHERE {where} "
            f"GROUP BY time({every_s}s) fill(none) LIMIT {RAW_ROW_LIMIT}"
        )
    return Statement(text, params)


def water_samples_statement(
    device_ids: Sequence[str], start: datetime, end: datetime, limit: int = 50_000
) -> Statement:
    """Every sample of these stations in [start, end), values and statuses, oldest first:
    what the rivers' checks judge and class."""
    params: dict[str, Any] = _window(start, end)
    devices = []
    for number, device_id in enumerate(device_ids):
        params[f"device{number}"] = device_id
        devices.append(f"{DEVICE_TAG} = $device{number}")
    where = f"({' OR '.join(devices)}) AND time >= $start AND time < $end"
    text = f"SELECT * FROM {_table(WATER)} WHERE {where} ORDER BY time ASC LIMIT {limit}"
    return Statement(text, params)


def latest_water_statement() -> Statement:
    """The newest sample of every river station (one series per device)."""
    return Statement(
        f"SELECT * FROM {_table(WATER)} GROUP BY {DEVICE_TAG} ORDER BY time DESC LIMIT 1", {}
    )


def stored_points_statement(
    measurement: str, device_id: str, first_ns: int, last_ns: int
) -> Statement:
    """Every stored point of one device and measurement with a time in [first, last] ns,
    all fields, times in ns: what ingest compares a repeated (boot, seq) against."""
    table = f"{quote_identifier(POLICY_BY_MEASUREMENT[measurement].name)}.{quote_identifier(measurement)}"
    text = (
        f"SELECT * FROM {table} WHERE {DEVICE_TAG} = $device AND time >= $first AND time <= $last"
    )
    return Statement(text, {"device": device_id, "first": first_ns, "last": last_ns})


def rows_of(series: Iterable[Series]) -> list[dict[str, Any]]:
    """Every row of every series, with the series' tags merged in and time as datetime."""
    rows = []
    for item in series:
        for row in item.rows():
            row.update(item.tags)
            row["time"] = from_ns(int(row["time"]))
            rows.append(row)
    return rows


# --- a site's charts (the console's site page) -----------------------------------------
STATUS_SUFFIX = "_status"
FLAGGED_ROW_LIMIT = 5000


def _stations_where(device_ids: Sequence[str], start: datetime, end: datetime) -> Statement:
    """The WHERE of a site's stations over [start, end), with its bound parameters."""
    if not device_ids:
        raise ValueError("a site's query needs at least one station")
    params: dict[str, Any] = _window(start, end)
    devices = []
    for number, device_id in enumerate(device_ids):
        params[f"device{number}"] = device_id
        devices.append(f"{DEVICE_TAG} = $device{number}")
    return Statement(f"({' OR '.join(devices)}) AND time >= $start AND time < $end", params)


def _checked(parameters: Sequence[str]) -> list[str]:
    for name in parameters:
        if name not in WATER_PARAMETER_NAMES:
            raise ValueError(f"unknown water parameter {name!r}")
    return list(parameters)


def water_counts_statement(device_ids: Sequence[str], start: datetime, end: datetime) -> Statement:
    """How many values of each field every station holds in [start, end) (``count_<field>``):
    enough to choose raw samples or buckets before asking for either."""
    where = _stations_where(device_ids, start, end)
    text = f"SELECT count(*) FROM {_table(WATER)} WHERE {where.text} GROUP BY {DEVICE_TAG}"
    return Statement(text, where.params)


def station_water_statement(
    device_ids: Sequence[str], parameters: Sequence[str], start: datetime, end: datetime
) -> Statement:
    """Every sample of each station in [start, end) with the values' status flags, one
    series per station (``water_statement`` mixes the stations and drops the flags)."""
    names = _checked(parameters)
    where = _stations_where(device_ids, start, end)
    columns = ", ".join(
        f"{quote_identifier(name)}, {quote_identifier(name + STATUS_SUFFIX)}" for name in names
    )
    text = (
        f"SELECT {columns} FROM {_table(WATER)} WHERE {where.text} GROUP BY {DEVICE_TAG} "
        f"ORDER BY time ASC LIMIT {RAW_ROW_LIMIT}"
    )
    return Statement(text, where.params)


def station_buckets_statement(
    device_ids: Sequence[str],
    parameters: Sequence[str],
    start: datetime,
    end: datetime,
    every_s: int,
) -> Statement:
    """Sum and count (``<p>_sum``, ``<p>_count``) of each parameter per station and bucket
    of ``every_s``: with the flagged samples subtracted they give means of normal values
    only, which InfluxQL cannot filter (a missing ``_status`` field matches no condition)."""
    names = _checked(parameters)
    where = _stations_where(device_ids, start, end)
    columns = ", ".join(
        f"sum({quote_identifier(name)}) AS {quote_identifier(name + '_sum')}, "
        f"count({quote_identifier(name)}) AS {quote_identifier(name + '_count')}"
        for name in names
    )
    text = (
        f"SELECT {columns} FROM {_table(WATER)} WHERE {where.text} "
        f"GROUP BY time({int(every_s)}s), {DEVICE_TAG} fill(none) LIMIT {RAW_ROW_LIMIT}"
    )
    return Statement(text, where.params)


def flagged_water_statement(
    device_ids: Sequence[str], parameters: Sequence[str], start: datetime, end: datetime
) -> Statement:
    """The samples of each station in [start, end) where a parameter has a status flag
    (not normal), with their values and flags: few, so fetched raw beside the buckets."""
    names = _checked(parameters)
    where = _stations_where(device_ids, start, end)
    columns = ", ".join(
        f"{quote_identifier(name)}, {quote_identifier(name + STATUS_SUFFIX)}" for name in names
    )
    flagged = " OR ".join(f"{quote_identifier(name + STATUS_SUFFIX)} > 0" for name in names)
    text = (
        f"SELECT {columns} FROM {_table(WATER)} WHERE {where.text} AND ({flagged}) "
        f"GROUP BY {DEVICE_TAG} ORDER BY time ASC LIMIT {FLAGGED_ROW_LIMIT}"
    )
    return Statement(text, where.params)
