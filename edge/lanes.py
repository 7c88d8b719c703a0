"""Lanes: which buffered messages go first and which may be dropped.

``URGENT`` holds events (strap opened, SOS, low battery, power off, roll-call
responses), acknowledgements of commands and config, device status, and any
catch-up batch that carries an event or an ack. It is forwarded ahead of telemetry
and is never dropped. ``TELEMETRY`` holds location fixes, health reports and water
samples (alone or in batches): forwarded after urgent messages, and its oldest
messages are dropped, and counted, when the buffer is full.
"""

from __future__ import annotations

from enum import IntEnum

from core import contract as c
from core.messages import Batch, Message

_URGENT_RECORD_KINDS = frozenset({c.EVENT, c.ACK})


class Lane(IntEnum):
    """A message's lane; the value is stored in the buffer and sorts urgent first."""

    URGENT = 0
    TELEMETRY = 1


def lane_of(message: Message) -> Lane:
    """The lane a decoded uplink message travels in."""
    if isinstance(message, Batch):
        urgent = any(item.KIND in _URGENT_RECORD_KINDS for item in message.items)
        return Lane.URGENT if urgent else Lane.TELEMETRY
    if message.KIND in (c.LOCATION_FIX, c.HEALTH, c.WATER_SAMPLE):
        return Lane.TELEMETRY
    return Lane.URGENT
