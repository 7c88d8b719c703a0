"""Decide what happens to one MQTT message: buffer it (in which lane) or quarantine it.

Pure: topic, payload and the gateway's clock in, a verdict out. The checks, in order:

1. the topic (``bad_topic``) and the device (``unknown_device``: not in the registry);
2. the wire contract (core's decode codes, docs/contract.md);
3. the device's kind (``wrong_device_kind``: a record that kind never sends,
   ``core.devices``);
4. the device time of every record (``implausible_time``: ahead of the gateway's clock
   by more than ``core.evidence.CLOCK_AHEAD_TOLERANCE_S``).

A message is judged whole: the gateway forwards the device's bytes as they came and
never splits a device batch, so a batch with one implausible record is held whole, in
the quarantine, with the reason naming that record; it is uploaded to the cloud, which
holds each of its records on the device. The fifth judgement, two different records
with one (boot, seq), needs what was received before: the buffer makes it at commit
(``edge.buffer``) with the record keys an accepted verdict carries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.devices import kind_mismatch, records_of
from core.errors import (
    BAD_TOPIC,
    IMPLAUSIBLE_TIME,
    UNKNOWN_DEVICE,
    WRONG_DEVICE_KIND,
    DecodeError,
    TopicError,
)
from core.evidence import time_implausible
from core.messages import Batch, Message
from core.receiver import decode
from core.topics import UPLINK, parse
from edge.lanes import Lane, lane_of
from edge.registry import Registry


@dataclass(frozen=True, slots=True)
class RecordKey:
    """A record's number and a digest of its fields: the same number with another digest
    is a different record claiming it (``conflicting_record``)."""

    boot: int
    seq: int
    digest: int  # 63 bits of BLAKE2b over the record's fields


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid message from a provisioned device, to be buffered and forwarded.

    ``readings`` is what the message counts towards a batch's size: the items of a
    device batch, 1 for any other message (a record, an ack, a status). ``records``
    are the keys of the records it carries, in order (none for a status).
    """

    device_id: str
    channel: str
    lane: Lane
    readings: int  # no default: a device batch counted as 1 would make batches 100x too big
    records: tuple[RecordKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """A message for the quarantine: a stable reason code and a sentence for people."""

    code: str
    reason: str
    device_id: str | None


Verdict = Accepted | Refused


def classify(topic: str, payload: bytes, registry: Registry, now_s: float) -> Verdict:
    """Check the topic, the device, the payload, the kind and the times, in that order.

    ``now_s`` is the gateway's clock (Unix seconds) when the message arrived.
    """
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
    mismatch = kind_mismatch(kind, message)
    if mismatch is not None:
        return Refused(WRONG_DEVICE_KIND, f"{WRONG_DEVICE_KIND}: {mismatch}", device_id)
    records = records_of(message)
    for index, record in enumerate(records):
        implausible = time_implausible(record.ts, now_s)
        if implausible is not None:
            where = f"record {index} of {len(records)}, " if len(records) > 1 else ""
            return Refused(
                IMPLAUSIBLE_TIME,
                f"{IMPLAUSIBLE_TIME}: {where}(boot {record.boot}, seq {record.seq}): {implausible}",
                device_id,
            )
    return Accepted(
        device_id,
        channel,
        lane_of(message),
        readings_in(message),
        tuple(RecordKey(r.boot, r.seq, record_digest(r)) for r in records),
    )


def readings_in(message: Message) -> int:
    """What a message counts towards a batch: a device batch its items, any other 1."""
    return len(message.items) if isinstance(message, Batch) else 1


def record_digest(record: Message) -> int:
    """A stable digest of a record's fields (its wire map, not its bytes: the same fields
    in another envelope are the same record), as a non-negative SQLite integer."""
    text = repr(record.to_wire()).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1
