"""Records to InfluxDB points, as the line protocol influxdb-client's ``Point`` writes. Pure.

Every field keeps one type for ever (InfluxDB refuses a field whose type changes
within a shard): physical values are always floats, counters and codes always
integers, names always strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from influxdb_client import Point, WritePrecision

from cloud.timeseries.schema import (
    DEVICE_TAG,
    EVIDENCE,
    LOCATION,
    MEASUREMENT_BY_KIND,
    POLICY_BY_MEASUREMENT,
    point_time_ns,
)
from core import contract as c
from core.messages import Ack, Event, Health, LocationFix, WaterSample

Record = LocationFix | Health | Event | WaterSample | Ack
RECORD_TYPES = (LocationFix, Health, Event, WaterSample, Ack)


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One line of line protocol and the retention policy it is written to."""

    retention_policy: str
    line: str


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What the cloud adds to a record: where it came from and whether it is late."""

    device_id: str
    gateway_id: str
    received_at_ms: int
    late: bool


def record_point(record: Record, context: RecordContext) -> StoredPoint:
    """The point of one record; the same record and context give the same line.

    The line is what influxdb-client's ``Point`` writes for these fields (tests compare
    the two on every kind), built faster: the escaped series key and string fields
    come from ``Point`` once and are reused; numbers are formatted as ``Point`` formats
    them (integers with ``i``, floats without a trailing ``.0``, booleans lower case).
    """
    if type(record) is LocationFix:
        return _location_point(record, context)
    measurement = MEASUREMENT_BY_KIND[record.KIND]
    fields = _fields(record, context)
    parts = []
    for name in sorted(fields):
        value = fields[name]
        kind = type(value)
        if kind is int:
            parts.append(f"{name}={value}i")
        elif kind is float:
            if not math.isfinite(value):
                continue  # as Point: InfluxDB has no NaN or infinity
            parts.append(f"{name}={_float(value)}")
        elif kind is bool:
            parts.append(f"{name}=true" if value else f"{name}=false")
        elif kind is str:
            parts.append(_string_field(name, value))
        elif value is not None:
            raise TypeError(f"field {name} of type {kind.__name__} has no line-protocol form")
    time_ns = point_time_ns(record.ts, record.boot, record.seq)
    line = f"{_series_key(measurement, context.device_id)} {','.join(parts)} {time_ns}"
    return StoredPoint(POLICY_BY_MEASUREMENT[measurement].name, line)


def _location_point(fix: LocationFix, context: RecordContext) -> StoredPoint:
    """A location fix, most of what a fleet sends: its fields in ``Point``'s (sorted) order."""
    speed = "" if fix.speed_cm_s is None else f",speed_cm_s={fix.speed_cm_s}i"
    line = (
        f"{_series_key(LOCATION, context.device_id)} accuracy_m={fix.accuracy_m}i,"
        f"boot={fix.boot}i,{_string_field('gateway_id', context.gateway_id)},"
        f"lat={_float(fix.lat_e7 / 1e7)},lat_e7={fix.lat_e7}i,"
        f"late={'true' if context.late else 'false'},"
        f"lon={_float(fix.lon_e7 / 1e7)},lon_e7={fix.lon_e7}i,"
        f"received_at_ms={context.received_at_ms}i,seq={fix.seq}i,"
        f"{_string_field('source', c.FIX_SOURCE_NAMES[fix.source])}{speed} "
        f"{point_time_ns(fix.ts, fix.boot, fix.seq)}"
    )
    return StoredPoint(EVIDENCE.name, line)


def _float(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def reference_point(record: Record, context: RecordContext) -> StoredPoint:
    """The same point built field by field with ``Point``: what ``record_point`` must equal."""
    measurement = MEASUREMENT_BY_KIND[record.KIND]
    point = Point(measurement).tag(DEVICE_TAG, context.device_id)
    fields = _fields(record, context)
    for name in sorted(fields):
        if fields[name] is not None:
            point = point.field(name, fields[name])
    point = point.time(point_time_ns(record.ts, record.boot, record.seq), WritePrecision.NS)
    return StoredPoint(POLICY_BY_MEASUREMENT[measurement].name, point.to_line_protocol())


@lru_cache(maxsize=65536)
def _series_key(measurement: str, device_id: str) -> str:
    """``measurement,device_id=...`` escaped by ``Point`` (a one-field line, field cut off)."""
    line: str = Point(measurement).tag(DEVICE_TAG, device_id).field("x", 0).to_line_protocol()
    return line.rsplit(" ", 1)[0]


@lru_cache(maxsize=4096)
def _string_field(name: str, value: str) -> str:
    """``name="value"`` escaped by ``Point``; the strings are names and ids, few and repeated."""
    line: str = Point("m").field(name, value).to_line_protocol()
    return line[2:]


def _fields(record: Record, context: RecordContext) -> dict[str, Any]:
    """Every field of a record's point, by name; None where a value is absent."""
    fields: dict[str, Any] = {
        "late": context.late,
        "gateway_id": context.gateway_id,
        "received_at_ms": context.received_at_ms,
    }
    fields.update(record_fields(record))
    return fields


def record_fields(record: Record) -> dict[str, Any]:
    """The fields of a record's point that are the record's own, not how it came: what
    every copy of one record shares, and what tells two records apart."""
    fields: dict[str, Any] = {"boot": record.boot, "seq": record.seq}
    fields.update(_body_fields(record))
    return fields


def _body_fields(record: Record) -> dict[str, Any]:
    if isinstance(record, LocationFix):
        return {
            "lat": record.lat_e7 / 1e7,
            "lon": record.lon_e7 / 1e7,
            "lat_e7": record.lat_e7,
            "lon_e7": record.lon_e7,
            "accuracy_m": record.accuracy_m,
            "source": c.FIX_SOURCE_NAMES[record.source],
            "speed_cm_s": record.speed_cm_s,
        }
    if isinstance(record, Health):
        return {
            "battery_pct": record.battery_pct,
            "charging": bool(record.charging),
            "signal_dbm": record.signal_dbm,
            "uptime_s": record.uptime_s,
            "free_mem_bytes": record.free_mem_bytes,
            "buffered": record.buffered,
            "dropped": record.dropped,
            "battery_mv": record.battery_mv,
        }
    if isinstance(record, Event):
        fields: dict[str, Any] = {
            "code": record.code,
            "event": c.EVENT_NAMES[record.code],
            "battery_pct": record.battery_pct,
            "command_id": record.command_id,
            "roll_call_result": record.roll_call_result,
            "response_s": record.response_s,
            "zone_id": record.zone_id,  # a crossing the bracelet recorded (zone events)
        }
        if record.fix is not None:
            fields.update(
                lat=record.fix.lat_e7 / 1e7,
                lon=record.fix.lon_e7 / 1e7,
                accuracy_m=record.fix.accuracy_m,
                source=c.FIX_SOURCE_NAMES[record.fix.source],
            )
        return fields
    if isinstance(record, WaterSample):
        fields = {}
        for pid, raw in record.values.items():
            name, _unit, scale, _low, _high = c.WATER_PARAMETERS[pid]
            fields[name] = float(raw) / scale
        for pid, status in record.statuses.items():
            fields[c.WATER_PARAMETERS[pid][0] + "_status"] = int(status)
        return fields
    return {
        "config_version": record.config_version,
        "command_id": record.command_id,
        "result": record.result,
        "result_name": c.ACK_RESULT_NAMES[record.result],
        "reason": record.reason,
    }
