"""Device kinds and the records each kind sends (wire contract v1, MicroPython subset).

The one definition the gateway's registry and the cloud's fleet both use. A
receiver refuses a record its device's kind never sends (``wrong_device_kind``):
a bracelet takes no water samples, a river station makes no location fixes.
Envelopes (a batch, a status) are open to every kind; a batch is judged by the
records it carries.
"""

from core import contract as c

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

BRACELET = "bracelet"
RIVER_STATION = "river-station"
DEVICE_KINDS = (BRACELET, RIVER_STATION)

# Record kinds each device kind may send.
RECORD_KINDS_BY_DEVICE_KIND = {
    BRACELET: (c.LOCATION_FIX, c.HEALTH, c.EVENT, c.ACK),
    RIVER_STATION: (c.WATER_SAMPLE, c.HEALTH, c.ACK),
}


def records_of(message: "Any") -> "list[Any]":
    """The records a message carries: a batch its items, a record itself, others none."""
    if message.KIND == c.BATCH:
        return list(message.items)
    if message.KIND in c.RECORD_KINDS:
        return [message]
    return []


def kind_mismatch(device_kind: str, message: "Any") -> "str | None":
    """Why a device of ``device_kind`` cannot have sent ``message``; None if it can."""
    allowed = RECORD_KINDS_BY_DEVICE_KIND[device_kind]
    for record in records_of(message):
        if record.KIND not in allowed:
            return "a %s does not send a %s" % (device_kind, c.KIND_NAMES[record.KIND])
    return None
