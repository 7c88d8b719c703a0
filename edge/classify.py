"""Decide what happens to one MQTT message: buffer it (in which lane) or quarantine it.

Pure: topic and payload in, a verdict out. The reason codes of a quarantined message
are core's decode codes (docs/contract.md), plus ``bad_topic``, ``unknown_device``
and ``wrong_device_kind`` (a record a device of that kind never sends).
"""

from __future__ import annotations

from dataclasses import dataclass

from core import contract as c
from core.errors import BAD_TOPIC, DecodeError, TopicError
from core.messages import Batch, Message
from core.receiver import decode
from core.topics import UPLINK, parse
from edge.lanes import Lane, lane_of
from edge.registry import RECORD_KINDS_BY_DEVICE_KIND, Registry

UNKNOWN_DEVICE = "unknown_device"
WRONG_DEVICE_KIND = "wrong_device_kind"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid message from a provisioned device, to be buffered and forwarded.

    ``readings`` is what the message counts towards a batch's size: the items of a
    device batch, 1 for any other message (a record, an ack, a status).
    """

    device_id: str
    channel: str
    lane: Lane
    readings: int  # no default: a device batch counted as 1 would make batches 100x too big


@dataclass(frozen=True, slots=True)
class Refused:
    """A message for the quarantine: a stable reason code and a sentence for people."""

    code: str
    reason: str
    device_id: str | None


Verdict = Accepted | Refused


def classify(topic: str, payload: bytes, registry: Registry) -> Verdict:
    """Check the topic, the device and the payload, in that order."""
    try:
        device_id, channel = parse(topic)
    except TopicError as exc:
        return Refused(BAD_TOPIC, f"{BAD_TOPIC}: {exc}", None)
    if channel not in UPLINK.values():
        return Refused(BAD_TOPIC, f"{BAD_TOPIC}: {channel} is not an uplink channel", device_id)
    kind = registry.kind_of(device_id)
    if kind is None:
        return Refused(
            UNKNOWN_DEVICE,
            f"{UNKNOWN_DEVICE}: {device_id} is not in this gateway's registry",
            device_id,
        )
    try:
        message = decode(payload, channel)
    except DecodeError as exc:
        return Refused(exc.code, str(exc), device_id)
    allowed = RECORD_KINDS_BY_DEVICE_KIND[kind]
    for record in _records(message):
        if record.KIND not in allowed:
            return Refused(
                WRONG_DEVICE_KIND,
                f"{WRONG_DEVICE_KIND}: a {kind.value} does not send a {c.KIND_NAMES[record.KIND]}",
                device_id,
            )
    return Accepted(device_id, channel, lane_of(message), readings_in(message))


def readings_in(message: Message) -> int:
    """What a message counts towards a batch: a device batch its items, any other 1."""
    return len(message.items) if isinstance(message, Batch) else 1


def _records(message: Message) -> list[Message]:
    if isinstance(message, Batch):
        return list(message.items)
    if message.KIND in c.RECORD_KINDS:
        return [message]
    return []
