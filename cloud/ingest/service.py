"""Ingest: a gateway's batch into InfluxDB and the relational store, exactly once in effect.

Order of work, which is what makes "200 means stored" true:

1. a (gateway, batch id) stored before is answered from the record of it, writing nothing;
2. the batch is planned (``cloud.ingest.plan``) against the devices' state, read inside
   the transaction with the device rows locked (PostgreSQL), so concurrent batches of one
   device see each other's high-water marks;
3. records whose (boot, seq) is stored already are compared with the points InfluxDB
   holds at their times: the same record is a duplicate, another is held back;
4. the points are written to InfluxDB; if that fails the transaction is rolled back and
   the caller answers 503: nothing is recorded, the gateway keeps the batch;
5. only then are device state, sequence ranges, gaps, quarantine and the batch id
   committed. If that commit fails, the points already written are overwritten
   identically by the retry (same identity, same values: the plan read the same state).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.changes import ALERTS_CHANGED
from cloud.fleet import service as fleet
from cloud.fleet.changes import DEVICES_CHANGED
from cloud.fleet.models import Device, Gateway
from cloud.ingest.completeness import SeqRange, gaps_of, merge_ranges
from cloud.ingest.models import (
    DailyRecordCount,
    IngestedBatch,
    QuarantinedReading,
    SequenceGap,
    SequenceRange,
)
from cloud.ingest.plan import (
    AcceptedRecord,
    BatchPlan,
    Candidate,
    DeviceFacts,
    HeldRecord,
    Rejection,
    accepted_messages,
    candidate_time_ns,
    decode_batch_items,
    plan_batch,
    resolve_candidates,
)
from cloud.rivers import service as rivers
from cloud.supervision.evaluate import AlertPolicy, evaluate
from cloud.timeseries.influx import InfluxStore, Series
from cloud.timeseries.points import Record
from cloud.timeseries.queries import stored_points_statement
from cloud.timeseries.schema import MEASUREMENT_BY_KIND, NS_PER_S
from cloud.web.changes import ChangeFeed
from core.forwarding import ForwardBatch
from core.messages import WaterSample

# Candidates of one device and measurement closer than this share one InfluxDB query.
_LOOKUP_SPAN_NS = 3600 * NS_PER_S


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The 200 answer (docs/gateway-api.md)."""

    batch_id: str
    accepted: int
    duplicate_batch: bool
    rejected: tuple[Rejection, ...]


class IngestService:
    """Stores gateways' batches; holds the stores, opens its own transactions."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        influx: InfluxStore,
        late_after_s: int,
        changes: ChangeFeed | None = None,
        day_zone: ZoneInfo | None = None,
        rules: AlertPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._influx = influx
        self._late_after_s = late_after_s
        self._changes = changes
        self._day_zone = day_zone or ZoneInfo("UTC")  # where a day of records begins
        self._rules = rules  # None: supervision's rules are not evaluated

    def ingest(self, gateway_id: str, batch: ForwardBatch, now: datetime) -> IngestReport:
        """Store a batch; raises StorageUnavailableError (nothing recorded) when InfluxDB fails."""
        try:
            with self._sessions.begin() as session:
                stored = session.get(IngestedBatch, (gateway_id, batch.batch_id))
                if stored is not None:
                    return _report_of(stored)
                devices = fleet.lock_devices(session, {item.device_id for item in batch.items})
                facts = {d.id: DeviceFacts(d.gateway_id, d.kind) for d in devices.values()}
                decoded = decode_batch_items(gateway_id, batch, facts)
                received = _received(session, decoded.boots())
                plan = plan_batch(
                    gateway_id,
                    batch,
                    decoded,
                    {device.id: fleet.high_water(device) for device in devices.values()},
                    received,
                    self._late_after_s,
                    now.timestamp(),
                )
                if plan.candidates:
                    resolve_candidates(plan, stored_rows(self._influx.query, plan.candidates))
                self._influx.write(plan.points)
                accepted = accepted_messages(plan, decoded)
                _record(session, gateway_id, batch, plan, accepted, devices, received, now)
                count_by_day(session, plan.records, self._day_zone)
                alert_ids = self._evaluate(session, plan, devices, now)
                if self._changes is not None:
                    self._changes.publish(session, DEVICES_CHANGED, _changed_devices(plan))
                    if alert_ids:
                        self._changes.publish(session, ALERTS_CHANGED, map(str, alert_ids))
        except IntegrityError:
            # The same batch, sent twice at once, was committed by the other request.
            with self._sessions() as session:
                stored = session.get(IngestedBatch, (gateway_id, batch.batch_id))
                if stored is None:
                    raise
                return _report_of(stored)
        return IngestReport(batch.batch_id, accepted, False, tuple(plan.answer_rejections()))

    def _evaluate(
        self, session: Session, plan: BatchPlan, devices: Mapping[str, Device], now: datetime
    ) -> set[int]:
        """Supervision's rules over the records stored now, in this transaction: a record
        is evaluated once, with the rule state of every record stored before it."""
        if self._rules is None:
            return set()
        wearers = {d.id: d.person_id for d in devices.values() if d.person_id is not None}
        if not wearers:
            return set()
        records: dict[str, list[Record]] = defaultdict(list)
        for accepted in plan.records:
            if accepted.device_id in wearers:
                records[accepted.device_id].append(accepted.record)
        if not records:
            return set()
        report = evaluate(session, records, wearers, now, self._day_zone, self._rules)
        return report.alert_ids


def count_by_day(session: Session, records: Iterable[AcceptedRecord], zone: ZoneInfo) -> None:
    """Add the records stored now to their device's count of the local day of their device
    time (``DailyRecordCount``): one upsert per (device, day) in the batch."""
    counts: Counter[tuple[str, date]] = Counter()
    for accepted in records:
        day = datetime.fromtimestamp(accepted.record.ts, zone).date()
        counts[(accepted.device_id, day)] += 1
    if not counts:
        return
    rows = [{"device_id": d, "day": day, "records": n} for (d, day), n in sorted(counts.items())]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(DailyRecordCount).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id", "day"],
            set_={"records": DailyRecordCount.records + statement.excluded.records},
        )
    )


def _changed_devices(plan: BatchPlan) -> set[str]:
    """Devices whose shown state a batch may have changed: new records or a status."""
    return {r.device_id for r in plan.records} | {s.device_id for s in plan.statuses}


Query = Callable[[str, Mapping[str, Any] | None], list[Series]]


def stored_rows(
    query: Query, candidates: Iterable[Candidate]
) -> dict[tuple[str, int, int], dict[str, Any]]:
    """The stored points at the candidates' times, by (device, record kind, time ns).

    One query per device and measurement for candidates within an hour of each other:
    a catch-up after an outage repeats a run of neighbouring records.
    """
    times: dict[tuple[str, int], list[int]] = defaultdict(list)
    for candidate in candidates:
        times[(candidate.device_id, candidate.record.KIND)].append(candidate_time_ns(candidate))
    rows: dict[tuple[str, int, int], dict[str, Any]] = {}
    for (device_id, kind), wanted in times.items():
        wanted.sort()
        start = 0
        for end in range(1, len(wanted) + 1):
            if end < len(wanted) and wanted[end] - wanted[start] <= _LOOKUP_SPAN_NS:
                continue
            statement = stored_points_statement(
                MEASUREMENT_BY_KIND[kind], device_id, wanted[start], wanted[end - 1]
            )
            for series in query(statement.text, statement.params):
                for row in series.rows():
                    rows[(device_id, kind, int(row["time"]))] = row
            start = end
    return rows


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


def _report_of(stored: IngestedBatch) -> IngestReport:
    rejected = tuple(Rejection(**item) for item in json.loads(stored.rejected_json))
    return IngestReport(stored.batch_id, stored.accepted, True, rejected)


def _record(
    session: Session,
    gateway_id: str,
    batch: ForwardBatch,
    plan: BatchPlan,
    accepted: int,
    devices: dict[str, Device],
    received: Mapping[tuple[str, int], list[SeqRange]],
    now: datetime,
) -> None:
    for rejection in plan.rejections:
        item = batch.items[rejection.index]
        session.add(
            QuarantinedReading(
                source="cloud",
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
    for held in plan.held:
        session.add(_held_row(gateway_id, batch, held, now))
        fleet.note_held(devices[held.device_id], held.code, held.reason, now)
    by_device: dict[str, list[Record]] = defaultdict(list)
    for accepted_record in plan.records:
        by_device[accepted_record.device_id].append(accepted_record.record)
    for device_id, records in by_device.items():
        fleet.apply_records(devices[device_id], records, now)
    water = {
        device_id: [r for r in records if isinstance(r, WaterSample)]
        for device_id, records in by_device.items()
    }
    rivers.note_samples(session, {d: s for d, s in water.items() if s}, now)
    for update in plan.statuses:
        fleet.apply_status(devices[update.device_id], update.status, update.received_at_ms, now)
    _update_completeness(session, plan.records, received, now)
    gateway = session.get(Gateway, gateway_id)
    if gateway is not None:
        fleet.record_batch(gateway, now)
    session.add(
        IngestedBatch(
            gateway_id=gateway_id,
            batch_id=batch.batch_id,
            accepted=accepted,
            rejected_json=json.dumps([_rejection_json(r) for r in plan.answer_rejections()]),
            stored_at=now,
        )
    )


def _held_row(
    gateway_id: str, batch: ForwardBatch, held: HeldRecord, now: datetime
) -> QuarantinedReading:
    item = batch.items[held.index]
    return QuarantinedReading(
        source="cloud",
        gateway_id=gateway_id,
        batch_id=batch.batch_id,
        item_index=held.index,
        record_index=held.record_index,
        device_id=held.device_id,
        channel=item.channel,
        received_at_ms=item.received_at_ms,
        payload=item.payload,
        code=held.code,
        reason=held.reason,
        boot=held.record.boot,
        seq=held.record.seq,
        stored_at=now,
    )


def _rejection_json(rejection: Rejection) -> dict[str, object]:
    return {
        "index": rejection.index,
        "device_id": rejection.device_id,
        "code": rejection.code,
        "reason": rejection.reason,
    }


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
