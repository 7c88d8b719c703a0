"""What an HJ 212 data upload becomes in the wire contract's water sample. Pure.

Three tables, each explained in docs/hj212.md:

- ``POLLUTANT_PARAMETERS``: the nine surface-water pollutant codes the contract carries,
  onto its water parameter ids (``core.contract.WATER_PARAMETERS``). HJ 212's units for
  them are the contract's (pH, mg/L, degC, uS/cm, NTU), so values are only scaled.
- ``FLAG_STATUSES``: HJ 212-2017's data flags onto the contract's value statuses. The
  contract has no status for a manual input (S) or a stopped analyzer (F): S is sent as
  maintenance, its value kept, F as fault.
- ``DATA_COMMANDS``: the four uploads, real-time (2011, its ``Rtd``), minute (2051),
  hourly (2061) and daily (2031) data (their ``Avg``). A water sample cannot say which
  of them it is (docs/hj212.md, "What the contract cannot carry").

Codes outside the nine are not carried; ``SampleFields.skipped`` names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from core import contract as c
from edge.hj212.errors import UNMAPPABLE, UNPARSABLE, UNSUPPORTED_COMMAND, PacketError
from edge.hj212.frame import DataSegment

# Pollutant code -> contract water parameter id.
POLLUTANT_PARAMETERS: Mapping[str, int] = {
    "w01001": c.WATER_PARAMETER_IDS["ph"],
    "w01009": c.WATER_PARAMETER_IDS["dissolved_oxygen"],
    "w01010": c.WATER_PARAMETER_IDS["water_temp"],
    "w01014": c.WATER_PARAMETER_IDS["conductivity"],
    "w01003": c.WATER_PARAMETER_IDS["turbidity"],
    "w01019": c.WATER_PARAMETER_IDS["permanganate_index"],
    "w21003": c.WATER_PARAMETER_IDS["ammonia_nitrogen"],
    "w21011": c.WATER_PARAMETER_IDS["total_phosphorus"],
    "w21001": c.WATER_PARAMETER_IDS["total_nitrogen"],
}

# HJ 212-2017 data flag -> contract value status.
FLAG_STATUSES: Mapping[str, int] = {
    "N": c.VALUE_NORMAL,  # the analyzer works normally
    "F": c.VALUE_FAULT,  # stopped (停运): no valid measurement
    "M": c.VALUE_MAINTENANCE,  # maintenance
    "S": c.VALUE_MAINTENANCE,  # a value set by hand: not measured, never a normal value
    "D": c.VALUE_FAULT,  # fault
    "C": c.VALUE_CALIBRATING,  # calibration
    "T": c.VALUE_OVER_RANGE,  # above the analyzer's upper limit
    "B": c.VALUE_FAULT,  # communication fault between analyzer and logger
}


@dataclass(frozen=True, slots=True)
class DataCommand:
    """One of the uploads the listener takes: what it holds and which field is its value."""

    name: str
    value_field: str


DATA_COMMANDS: Mapping[str, DataCommand] = {
    "2011": DataCommand("real-time", "Rtd"),
    "2051": DataCommand("minute", "Avg"),
    "2061": DataCommand("hourly", "Avg"),
    "2031": DataCommand("daily", "Avg"),
}


@dataclass(frozen=True)
class SampleFields:
    """The water sample's fields but its (boot, seq), which the listener numbers."""

    ts: int
    values: dict[int, int]
    statuses: dict[int, int]
    skipped: tuple[str, ...] = ()  # pollutant codes the contract does not carry


def data_command(segment: DataSegment) -> DataCommand:
    """The upload this packet is; PacketError(hj212_unsupported_command) for any other CN."""
    command = DATA_COMMANDS.get(segment.cn)
    if command is None:
        raise PacketError(
            UNSUPPORTED_COMMAND,
            f"CN={segment.cn} is not one of the data uploads taken here "
            f"({', '.join(sorted(DATA_COMMANDS))})",
        )
    return command


def sample_fields(segment: DataSegment, zone: tzinfo) -> SampleFields:
    """The water sample a data upload makes; ``zone`` is the loggers' clock's time zone."""
    command = data_command(segment)
    ts = data_time(segment.data_time, zone)
    values: dict[int, int] = {}
    statuses: dict[int, int] = {}
    skipped: list[str] = []
    for code, fields in segment.pollutants.items():
        pid = POLLUTANT_PARAMETERS.get(code)
        if pid is None:
            skipped.append(code)
            continue
        status = _status(code, fields.get("Flag"))
        text = fields.get(command.value_field)
        if text is None or text == "":
            if status in c.VALUE_STATUSES_WITHOUT_VALUE:
                statuses[pid] = status
                continue
            raise PacketError(
                UNMAPPABLE,
                f"{code} has no {command.value_field}, and the contract needs a value for a "
                f"{c.VALUE_STATUS_NAMES[status]} {c.WATER_PARAMETERS[pid][0]}",
            )
        values[pid] = scaled(code, pid, text)
        if status != c.VALUE_NORMAL:
            statuses[pid] = status
    if not values and not statuses:
        raise PacketError(
            UNMAPPABLE,
            "none of the pollutants the contract carries ("
            + ", ".join(POLLUTANT_PARAMETERS)
            + f"); the packet has {', '.join(segment.pollutants) or 'none'}",
        )
    return SampleFields(ts, values, statuses, tuple(skipped))


def data_time(text: str | None, zone: tzinfo) -> int:
    """DataTime (``YYYYMMDDhhmmss``, the logger's local time) as Unix seconds."""
    if text is None:
        raise PacketError(UNPARSABLE, "a data upload needs a DataTime")
    if len(text) != 14 or not text.isdigit():
        raise PacketError(UNPARSABLE, f"DataTime={text!r} is not YYYYMMDDhhmmss")
    try:
        local = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise PacketError(UNPARSABLE, f"DataTime={text!r} is not a time: {exc}") from exc
    ts = int(local.timestamp())
    if not c.TS_MIN <= ts <= c.TS_MAX:
        raise PacketError(UNMAPPABLE, f"DataTime={text} is outside 2020 to 2100")
    return ts


def scaled(code: str, pid: int, text: str) -> int:
    """A value as the contract's scaled integer (rounded half to even), range checked."""
    name, unit, scale, low, high = c.WATER_PARAMETERS[pid]
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise PacketError(UNPARSABLE, f"{code}={text!r} is not a number") from exc
    if not number.is_finite():
        raise PacketError(UNPARSABLE, f"{code}={text!r} is not a finite number")
    if not low <= number <= high:
        raise PacketError(
            UNMAPPABLE,
            f"{code} {name} {text} {unit} is outside what the contract carries "
            f"({low} to {high} {unit})",
        )
    return int((number * scale).to_integral_value(ROUND_HALF_EVEN))


def _status(code: str, flag: str | None) -> int:
    if flag is None:
        return c.VALUE_NORMAL
    status = FLAG_STATUSES.get(flag)
    if status is None:
        raise PacketError(
            UNPARSABLE, f"{code}-Flag={flag!r} is not a data flag ({''.join(FLAG_STATUSES)})"
        )
    return status
