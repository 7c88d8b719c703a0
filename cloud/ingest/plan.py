"""What a forwarded batch means, decided without touching a store. Pure.

Every payload is decoded and checked again with ``core.receiver`` (the gateway cannot
change evidence); a message from a device this gateway does not serve is refused, and
so is a record its device's kind never sends (``core.devices``). Each record is then
judged as evidence (``core.evidence``):

- device time ahead of the cloud's clock: **held** (``implausible_time``);
- a (boot, seq) taken earlier in the same batch by a different record: **held**
  (``conflicting_record``); by the very same record: a duplicate, stored once;
- a (boot, seq) already stored: a **candidate** duplicate. Whether the stored record
  is the same is known only to InfluxDB, so ``cloud.ingest.service`` looks and calls
  ``resolve_candidates``; a different one is held as ``conflicting_record``.

A held record is kept in the quarantine with its reason and counted on its device; it
is neither written as evidence nor counted as received. The rest get their points and
late flags; ``cloud.ingest.service`` writes and records them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud.ingest.completeness import Arrival, RunIndex, SeqPosition, SeqRange, is_late
from cloud.timeseries.points import (
    RECORD_TYPES,
    Record,
    RecordContext,
    StoredPoint,
    record_fields,
    record_point,
)
from cloud.timeseries.schema import point_time_ns
from core.devices import kind_mismatch, records_of
from core.errors import (
    CONFLICTING_RECORD,
    FOREIGN_DEVICE,
    IMPLAUSIBLE_TIME,
    UNKNOWN_DEVICE,
    WRONG_DEVICE_KIND,
    DecodeError,
)
from core.evidence import conflict, time_implausible
from core.forwarding import ForwardBatch, ForwardedMessage
from core.messages import Batch, Message, Status
from core.receiver import decode


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the registry says of a device: the gateway that serves it, its kind."""

    gateway_id: str | None
    kind: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message refused, with the stable code and the sentence the gateway is told."""

    index: int
    device_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """One record of a batch's item kept back from the evidence, with why."""

    index: int  # the item's position in the batch
    record_index: int  # the record's position among the item's records
    device_id: str
    record: Record
    code: str
    reason: str

    def rejection(self) -> Rejection:
        return Rejection(self.index, self.device_id, self.code, f"{self.code}: {self.reason}")


@dataclass(frozen=True, slots=True)
class AcceptedRecord:
    device_id: str
    record: Record
    late: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record whose (boot, seq) is stored already; the same record, or a conflict."""

    index: int
    record_index: int
    device_id: str
    record: Record


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    device_id: str
    status: Status
    received_at_ms: int


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    index: int
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
            for record in _records(decoded.message)
        }


@dataclass
class BatchPlan:
    duplicates: int = 0  # records stored before, the same: not written again
    points: list[StoredPoint] = field(default_factory=list)
    records: list[AcceptedRecord] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    held: list[HeldRecord] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def answer_rejections(self) -> list[Rejection]:
        """What the gateway is told was not stored: refused messages, then held records."""
        return [*self.rejections, *(held.rejection() for held in self.held)]


def decode_batch_items(
    gateway_id: str, batch: ForwardBatch, devices: Mapping[str, DeviceFacts]
) -> DecodedBatch:
    """Check every message: a registered device of this gateway, the wire contract, and
    records its kind sends."""
    decoded = DecodedBatch()
    for index, item in enumerate(batch.items):
        facts = devices.get(item.device_id)
        if facts is None:
            reason = f"{UNKNOWN_DEVICE}: not registered"
            decoded.rejections.append(Rejection(index, item.device_id, UNKNOWN_DEVICE, reason))
            continue
        if facts.gateway_id != gateway_id:
            reason = f"{FOREIGN_DEVICE}: not served by gateway {gateway_id}"
            decoded.rejections.append(Rejection(index, item.device_id, FOREIGN_DEVICE, reason))
            continue
        try:
            message = decode(item.payload, item.channel)
        except DecodeError as exc:
            decoded.rejections.append(Rejection(index, item.device_id, exc.code, str(exc)))
            continue
        mismatch = kind_mismatch(facts.kind, message)
        if mismatch is not None:
            reason = f"{WRONG_DEVICE_KIND}: {mismatch}"
            decoded.rejections.append(Rejection(index, item.device_id, WRONG_DEVICE_KIND, reason))
            continue
        decoded.messages.append(DecodedMessage(index, item, message))
    return decoded


def plan_batch(
    gateway_id: str,
    batch: ForwardBatch,
    decoded: DecodedBatch,
    high_water: Mapping[str, SeqPosition | None],
    received: Mapping[tuple[str, int], Sequence[SeqRange]],
    late_after_s: int,
    now_s: float,
) -> BatchPlan:
    """Points and state changes for the decoded messages, in buffer order.

    ``high_water`` is each device's highest (boot, seq) stored; ``received`` the runs of
    sequence numbers stored for each (device, boot) of the batch; ``now_s`` the cloud's
    clock. A record stored before is a candidate (see the module's docstring): it is not
    written again, so a duplicate's point keeps its late flag.
    """
    plan = BatchPlan(rejections=list(decoded.rejections))
    marks = dict(high_water)
    seen: dict[tuple[str, int], dict[int, Record]] = {}
    stored = {key: RunIndex(runs) for key, runs in received.items()}
    nothing_stored = RunIndex(())
    for entry in decoded.messages:
        item, message = entry.item, entry.message
        if isinstance(message, Status):
            plan.statuses.append(StatusUpdate(item.device_id, message, item.received_at_ms))
            continue
        in_device_batch = isinstance(message, Batch)
        for record_index, record in enumerate(_records(message)):
            key = (item.device_id, record.boot)
            too_early = time_implausible(record.ts, now_s)
            if too_early is not None:
                plan.held.append(
                    HeldRecord(
                        entry.index,
                        record_index,
                        item.device_id,
                        record,
                        IMPLAUSIBLE_TIME,
                        too_early,
                    )
                )
                continue
            fresh = seen.setdefault(key, {})
            earlier = fresh.get(record.seq)
            if earlier is not None:
                if earlier == record:
                    plan.duplicates += 1
                else:
                    reason = conflict(record.boot, record.seq)
                    plan.held.append(
                        HeldRecord(
                            entry.index,
                            record_index,
                            item.device_id,
                            record,
                            CONFLICTING_RECORD,
                            reason,
                        )
                    )
                continue
            fresh[record.seq] = record
            if record.seq in stored.get(key, nothing_stored):
                plan.candidates.append(Candidate(entry.index, record_index, item.device_id, record))
                continue
            position = (record.boot, record.seq)
            arrival = Arrival(record.ts, item.received_at_ms, batch.sent_at_ms, in_device_batch)
            mark = marks.get(item.device_id)
            late = is_late(position, arrival, mark, late_after_s)
            marks[item.device_id] = position if mark is None else max(mark, position)
            context = RecordContext(item.device_id, gateway_id, item.received_at_ms, late)
            plan.points.append(record_point(record, context))
            plan.records.append(AcceptedRecord(item.device_id, record, late))
    return plan


def candidate_time_ns(candidate: Candidate) -> int:
    """Where the point of the candidate's record is, if the same record is stored."""
    record = candidate.record
    return point_time_ns(record.ts, record.boot, record.seq)


def resolve_candidates(
    plan: BatchPlan, stored_rows: Mapping[tuple[str, int, int], Mapping[str, Any]]
) -> None:
    """Settle the candidates against the points stored at their times.

    ``stored_rows`` maps (device, measurement kind, point time ns) to the stored
    point's fields. The same fields: a duplicate, not written again. None there, or
    other fields: another record holds that (boot, seq), so this one is held.
    """
    for candidate in plan.candidates:
        record = candidate.record
        row = stored_rows.get((candidate.device_id, record.KIND, candidate_time_ns(candidate)))
        if row is not None and same_record(record, row):
            plan.duplicates += 1
            continue
        plan.held.append(
            HeldRecord(
                candidate.index,
                candidate.record_index,
                candidate.device_id,
                record,
                CONFLICTING_RECORD,
                conflict(record.boot, record.seq),
            )
        )
    plan.candidates = []
    plan.held.sort(key=lambda held: (held.index, held.record_index))


def same_record(record: Record, row: Mapping[str, Any]) -> bool:
    """Whether a stored point holds this record (its own fields; not where it came from)."""
    return all(row.get(name) == value for name, value in record_fields(record).items())


def accepted_messages(plan: BatchPlan, decoded: DecodedBatch) -> int:
    """The messages that passed the checks, less those of which every record is held."""
    held = Counter(entry.index for entry in plan.held)
    whole = sum(
        1
        for entry in decoded.messages
        if entry.index in held and held[entry.index] == len(_records(entry.message))
    )
    return len(decoded.messages) - whole


def _records(message: Message) -> list[Record]:
    """The records a message carries: itself, or a device batch's items."""
    records: list[Record] = []
    for item in records_of(message):
        # core lets only records through on these channels and inside a device batch.
        assert isinstance(item, RECORD_TYPES), f"{type(item).__name__} is not a record"
        records.append(item)
    return records
