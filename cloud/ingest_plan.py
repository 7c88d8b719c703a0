"""What a forwarded batch means, decided without touching a store. Pure.

Every payload is decoded and checked again with ``core.receiver`` (the gateway cannot
change evidence); a message from a device this gateway does not serve is refused; each
record gets its point and its late flag. ``cloud.ingest`` then writes the points and
records the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cloud.completeness import Arrival, RunIndex, SeqPosition, SeqRange, is_late
from cloud.timeseries.points import RECORD_TYPES, Record, RecordContext, StoredPoint, record_point
from core.errors import DecodeError
from core.forwarding import ForwardBatch, ForwardedMessage
from core.messages import Batch, Message, Status
from core.receiver import decode

UNKNOWN_DEVICE = "unknown_device"  # no such device in the registry
FOREIGN_DEVICE = "foreign_device"  # the device is served by another gateway


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message refused, with the stable code and the sentence the gateway is told."""

    index: int
    device_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class AcceptedRecord:
    device_id: str
    record: Record
    late: bool


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    device_id: str
    status: Status
    received_at_ms: int


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    item: ForwardedMessage
    message: Message


@dataclass
class DecodedBatch:
    """The messages that passed the checks, in buffer order, and the refused ones."""

    messages: list[DecodedMessage] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def boots(self) -> set[tuple[str, int]]:
        """The (device, boot) pairs whose records the batch holds."""
        return {
            (decoded.item.device_id, record.boot)
            for decoded in self.messages
            if not isinstance(decoded.message, Status)
            for record in _records(decoded.message)
        }


@dataclass
class BatchPlan:
    accepted: int = 0
    duplicates: int = 0  # records stored before: not written again
    points: list[StoredPoint] = field(default_factory=list)
    records: list[AcceptedRecord] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def decode_batch_items(
    gateway_id: str, batch: ForwardBatch, device_gateways: Mapping[str, str | None]
) -> DecodedBatch:
    """Check every message: a registered device of this gateway, and the wire contract."""
    decoded = DecodedBatch()
    for index, item in enumerate(batch.items):
        if item.device_id not in device_gateways:
            decoded.rejections.append(
                Rejection(index, item.device_id, UNKNOWN_DEVICE, "unknown_device: not registered")
            )
            continue
        if device_gateways[item.device_id] != gateway_id:
            reason = f"foreign_device: not served by gateway {gateway_id}"
            decoded.rejections.append(Rejection(index, item.device_id, FOREIGN_DEVICE, reason))
            continue
        try:
            message = decode(item.payload, item.channel)
        except DecodeError as exc:
            decoded.rejections.append(Rejection(index, item.device_id, exc.code, str(exc)))
            continue
        decoded.messages.append(DecodedMessage(item, message))
    return decoded


def plan_batch(
    gateway_id: str,
    batch: ForwardBatch,
    decoded: DecodedBatch,
    high_water: Mapping[str, SeqPosition | None],
    received: Mapping[tuple[str, int], Sequence[SeqRange]],
    late_after_s: int,
) -> BatchPlan:
    """Points and state changes for the decoded messages, in buffer order.

    ``high_water`` is each device's highest (boot, seq) stored; ``received`` the runs of
    sequence numbers stored for each (device, boot) of the batch. A record stored
    before is a duplicate: it is not written again, so its point keeps its late flag.
    """
    plan = BatchPlan(accepted=len(decoded.messages), rejections=list(decoded.rejections))
    marks = dict(high_water)
    seen: dict[tuple[str, int], set[int]] = {}
    stored = {key: RunIndex(runs) for key, runs in received.items()}
    nothing_stored = RunIndex(())
    for entry in decoded.messages:
        item, message = entry.item, entry.message
        if isinstance(message, Status):
            plan.statuses.append(StatusUpdate(item.device_id, message, item.received_at_ms))
            continue
        in_device_batch = isinstance(message, Batch)
        for record in _records(message):
            key = (item.device_id, record.boot)
            fresh = seen.setdefault(key, set())
            if record.seq in fresh or record.seq in stored.get(key, nothing_stored):
                plan.duplicates += 1
                continue
            fresh.add(record.seq)
            position = (record.boot, record.seq)
            arrival = Arrival(record.ts, item.received_at_ms, batch.sent_at_ms, in_device_batch)
            mark = marks.get(item.device_id)
            late = is_late(position, arrival, mark, late_after_s)
            marks[item.device_id] = position if mark is None else max(mark, position)
            context = RecordContext(item.device_id, gateway_id, item.received_at_ms, late)
            plan.points.append(record_point(record, context))
            plan.records.append(AcceptedRecord(item.device_id, record, late))
    return plan


def _records(message: Message) -> list[Record]:
    """The records a message carries: itself, or a device batch's items."""
    items = message.items if isinstance(message, Batch) else [message]
    records: list[Record] = []
    for item in items:
        # core lets only records through on these channels and inside a device batch.
        assert isinstance(item, RECORD_TYPES), f"{type(item).__name__} is not a record"
        records.append(item)
    return records
