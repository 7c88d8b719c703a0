"""The sonde's register map, and its readings turned into contract values and statuses.

fieldwatch's sonde profile (one Modbus unit, holding registers from 0): for
parameter id ``p`` (the contract's 1..9), three registers from ``3 * (p - 1)``:
the value as a signed 32-bit integer in the contract's scale (high word
first), then a status register with the contract's status codes (0 normal,
1 calibrating, 2 maintenance, 3 fault, 4 over range, 5 under range).
``NO_VALUE`` in the value registers means the sonde has none. A real sonde
whose map differs gets a converter here, not in the agent.

Rules the agent relies on:

- a flagged value is passed on with its flag, never as normal;
- an unknown status code is a fault;
- a value outside the contract's range is clamped to the bound and flagged
  over or under range (the contract cannot carry it, and a clamped normal
  value would be a lie);
- a sonde that does not answer gives every parameter the fault status.
"""

from core import contract as c

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

UNIT = 1
FIRST_REGISTER = 0
PARAMETERS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
REGISTER_COUNT = 3 * len(PARAMETERS)
NO_VALUE = 0x7FFFFFFF


def _signed32(high: int, low: int) -> int:
    value = high << 16 | low
    return value - 0x100000000 if value & 0x80000000 else value


def readings_from_registers(registers: "list[int]") -> "tuple[dict[int, int], dict[int, int]]":
    """(values, statuses) by parameter id from the sonde's registers, by the rules above."""
    values: dict[int, int] = {}
    statuses: dict[int, int] = {}
    for pid in PARAMETERS:
        base = 3 * (pid - 1)
        raw = _signed32(registers[base], registers[base + 1])
        status = registers[base + 2]
        if status > c.VALUE_UNDER_RANGE:
            status = c.VALUE_FAULT
        _, _, scale, low, high = c.WATER_PARAMETERS[pid]
        if raw != NO_VALUE:
            if raw > high * scale:
                raw = high * scale
                if status == c.VALUE_NORMAL:
                    status = c.VALUE_OVER_RANGE
            elif raw < low * scale:
                raw = low * scale
                if status == c.VALUE_NORMAL:
                    status = c.VALUE_UNDER_RANGE
            values[pid] = raw
        elif status not in c.VALUE_STATUSES_WITHOUT_VALUE:
            status = c.VALUE_FAULT  # a missing value is never normal
        if status != c.VALUE_NORMAL:
            statuses[pid] = status
    return values, statuses


def registers_from_readings(readings: "dict[int, Any]") -> "list[int]":
    """The registers a sonde shows for ``{pid: (value or None, status)}`` (twins and tests)."""
    registers = [0] * REGISTER_COUNT
    for pid in PARAMETERS:
        value, status = readings.get(pid, (None, c.VALUE_FAULT))
        raw = NO_VALUE if value is None else value & 0xFFFFFFFF
        base = 3 * (pid - 1)
        registers[base] = raw >> 16
        registers[base + 1] = raw & 0xFFFF
        registers[base + 2] = status
    return registers


def failed_readings() -> "tuple[dict[int, int], dict[int, int]]":
    """What a sample says when the sonde did not answer: every parameter in fault."""
    statuses = {}
    for pid in PARAMETERS:
        statuses[pid] = c.VALUE_FAULT
    return {}, statuses
