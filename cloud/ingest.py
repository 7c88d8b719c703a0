"""Ingest: a gateway's batch into InfluxDB and the relational store, exactly once in effect.

Order of work, which is what makes "200 means stored" true:

1. a (gateway, batch id) stored before is answered from the record of it, writing nothing;
2. the batch is planned (``cloud.ingest_plan``) against the devices' state, read inside
   the transaction with the device rows locked (PostgreSQL), so concurrent batches of one
   device see each other's high-water marks;
3. the points are written to InfluxDB; if that fails the transaction is rolled back and
   the caller answers 503: nothing is recorded, the gateway keeps the batch;
4. only then are device state, sequence ranges, gaps, quarantine and the batch id
   committed. If that commit fails, the points already written are overwritten
   identically by the retry (same identity, same values: the plan read the same state).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.completeness import SeqRange, gaps_of, merge_ranges
from cloud.db.models import (
    Device,
    Gateway,
    IngestedBatch,
    QuarantinedReading,
    SequenceGap,
    SequenceRange,
)
from cloud.ingest_plan import (
    AcceptedRecord,
    BatchPlan,
    Rejection,
    StatusUpdate,
    decode_batch_items,
    plan_batch,
)
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.points import Record
from core import contract as c
from core.forwarding import ForwardBatch
from core.messages import Ack, Event, Health, LocationFix


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The 200 answer (docs/gateway-api.md)."""

    batch_id: str
    accepted: int
    duplicate_batch: bool
    rejected: tuple[Rejection, ...]


class IngestService:
    def __init__(
        self, sessions: sessionmaker[Session], influx: InfluxStore, late_after_s: int
    ) -> None:
        self._sessions = sessions
        self._influx = influx
        self._late_after_s = late_after_s

    def ingest(self, gateway_id: str, batch: ForwardBatch, now: datetime) -> IngestReport:
        """Store a batch; raises StorageUnavailableError (nothing recorded) when InfluxDB fails."""
        try:
            with self._sessions.begin() as session:
                stored = session.get(IngestedBatch, (gateway_id, batch.batch_id))
                if stored is not None:
                    return _report_of(stored)
                devices = _lock_devices(session, {item.device_id for item in batch.items})
                decoded = decode_batch_items(
                    gateway_id, batch, {d.id: d.gateway_id for d in devices.values()}
                )
                received = _received(session, decoded.boots())
                plan = plan_batch(
                    gateway_id,
                    batch,
                    decoded,
                    {device.id: _high_water(device) for device in devices.values()},
                    received,
                    self._late_after_s,
                )
                self._influx.write(plan.points)
                _record(session, gateway_id, batch, plan, devices, received, now)
        except IntegrityError:
            # The same batch, sent twice at once, was committed by the other request.
            with self._sessions() as session:
                stored = session.get(IngestedBatch, (gateway_id, batch.batch_id))
                if stored is None:
                    raise
                return _report_of(stored)
        return IngestReport(batch.batch_id, plan.accepted, False, tuple(plan.rejections))


def _lock_devices(session: Session, device_ids: Iterable[str]) -> dict[str, Device]:
    query = select(Device).where(Device.id.in_(sorted(device_ids))).order_by(Device.id)
    return {device.id: device for device in session.scalars(query.with_for_update())}


def _received(
    session: Session, boots: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], list[SeqRange]]:
    """The stored runs of sequence numbers of these (device, boot) pairs, in one query."""
    wanted = set(boots)
    received: dict[tuple[str, int], list[SeqRange]] = defaultdict(list)
    if not wanted:
        return received
    query = select(
        SequenceRange.device_id, SequenceRange.boot, SequenceRange.first_seq, SequenceRange.last_seq
    ).where(
        SequenceRange.device_id.in_(sorted({device for device, _ in wanted})),
        SequenceRange.boot.in_(sorted({boot for _, boot in wanted})),
    )
    for device_id, boot, first, last in session.execute(query):
        if (device_id, boot) in wanted:
            received[(device_id, boot)].append(SeqRange(first, last))
    return received


def _high_water(device: Device) -> tuple[int, int] | None:
    if device.last_boot is None or device.last_seq is None:
        return None
    return (device.last_boot, device.last_seq)


def _report_of(stored: IngestedBatch) -> IngestReport:
    rejected = tuple(Rejection(**item) for item in json.loads(stored.rejected_json))
    return IngestReport(stored.batch_id, stored.accepted, True, rejected)


def _record(
    session: Session,
    gateway_id: str,
    batch: ForwardBatch,
    plan: BatchPlan,
    devices: dict[str, Device],
    received: Mapping[tuple[str, int], list[SeqRange]],
    now: datetime,
) -> None:
    for rejection in plan.rejections:
        item = batch.items[rejection.index]
        session.add(
            QuarantinedReading(
                gateway_id=gateway_id,
                batch_id=batch.batch_id,
                item_index=rejection.index,
                device_id=rejection.device_id,
                channel=item.channel,
                received_at_ms=item.received_at_ms,
                payload=item.payload,
                code=rejection.code,
                reason=rejection.reason,
                stored_at=now,
            )
        )
    by_device: dict[str, list[Record]] = defaultdict(list)
    for accepted in plan.records:
        by_device[accepted.device_id].append(accepted.record)
    for device_id, records in by_device.items():
        _apply_records(devices[device_id], records, now)
    for update in plan.statuses:
        _apply_status(devices[update.device_id], update, now)
    _update_completeness(session, plan.records, received, now)
    gateway = session.get(Gateway, gateway_id)
    if gateway is not None:
        gateway.last_batch_at = now
    session.add(
        IngestedBatch(
            gateway_id=gateway_id,
            batch_id=batch.batch_id,
            accepted=plan.accepted,
            rejected_json=json.dumps([_rejection_json(r) for r in plan.rejections]),
            stored_at=now,
        )
    )


def _rejection_json(rejection: Rejection) -> dict[str, object]:
    return {
        "index": rejection.index,
        "device_id": rejection.device_id,
        "code": rejection.code,
        "reason": rejection.reason,
    }


def _apply_records(device: Device, records: Iterable[Record], now: datetime) -> None:
    """Latest state follows the newest record by (boot, seq); late ones fill history only.

    The records in buffer order; the outcome is that of applying them one by one, with
    each attribute of the device row set once.
    """
    device.last_seen_at = now
    mark = _high_water(device)
    latest: dict[str, object] = {}
    for record in records:
        position = (record.boot, record.seq)
        if mark is not None and position < mark:
            continue
        mark = position
        latest["last_boot"], latest["last_seq"] = position
        latest["last_record_ts"] = record.ts
        if isinstance(record, LocationFix):
            latest["last_lat"], latest["last_lon"] = record.lat, record.lon
        elif isinstance(record, Health) or (
            isinstance(record, Event) and record.battery_pct is not None
        ):
            latest["battery_pct"] = record.battery_pct
        elif (
            isinstance(record, Ack)
            and record.config_version is not None
            and record.result == c.ACK_DONE
        ):
            latest["config_version"] = record.config_version
    for name, value in latest.items():
        setattr(device, name, value)


def _apply_status(device: Device, update: StatusUpdate, now: datetime) -> None:
    """The retained status: the one the gateway received last wins."""
    if (
        device.presence_received_ms is not None
        and update.received_at_ms < device.presence_received_ms
    ):
        return
    status = update.status
    device.presence = "online" if status.online else "offline"
    device.presence_received_ms = update.received_at_ms
    device.last_seen_at = now
    if status.firmware is not None:
        device.firmware_version = status.firmware
    if status.config_version is not None:
        device.config_version = status.config_version


def _update_completeness(
    session: Session,
    records: Iterable[AcceptedRecord],
    received: Mapping[tuple[str, int], list[SeqRange]],
    now: datetime,
) -> None:
    """Merge the new sequence numbers into each (device, boot)'s runs; rewrite its gaps.

    ``received`` holds the runs read in this transaction (rows locked); the stored
    gaps are always the gaps of the stored runs, so they are read and rewritten only
    when the gaps change.
    """
    seqs: dict[tuple[str, int], set[int]] = defaultdict(set)
    for accepted in records:
        seqs[(accepted.device_id, accepted.record.boot)].add(accepted.record.seq)
    for (device_id, boot), new_seqs in sorted(seqs.items()):
        old = sorted(received.get((device_id, boot), ()))
        runs = merge_ranges(old, new_seqs)
        if runs == old:
            continue
        where = (SequenceRange.device_id == device_id) & (SequenceRange.boot == boot)
        session.execute(delete(SequenceRange).where(where))
        session.add_all(
            SequenceRange(device_id=device_id, boot=boot, first_seq=r.first, last_seq=r.last)
            for r in runs
        )
        gaps = gaps_of(boot, runs)
        if gaps == gaps_of(boot, old):
            continue
        gap_where = (SequenceGap.device_id == device_id) & (SequenceGap.boot == boot)
        known = {
            (g.first_seq, g.last_seq): g.detected_at
            for g in session.scalars(select(SequenceGap).where(gap_where))
        }
        session.execute(delete(SequenceGap).where(gap_where))
        session.add_all(
            SequenceGap(
                device_id=device_id,
                boot=boot,
                first_seq=gap.first,
                last_seq=gap.last,
                detected_at=known.get((gap.first, gap.last), now),
            )
            for gap in gaps
        )
