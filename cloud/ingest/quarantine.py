"""Gateways' own quarantine, uploaded, and what the quarantine says of a device's records.

A gateway keeps what it refuses (docs/edge.md) and uploads it here, so the cloud holds
every message that reached the system: stored as evidence, or kept with its reason. An
upload is idempotent by (gateway, entry id). A held record of a registered device of
that gateway is counted on the device, and named by (boot, seq) in its completeness
report, like the records the cloud holds itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.errors import InvalidRequestError
from cloud.fleet import service as fleet
from cloud.fleet.models import Device
from cloud.ingest.models import QuarantinedReading
from cloud.ingest.schemas import QuarantineEntryIn
from cloud.timeseries.points import Record
from core.devices import records_of
from core.errors import CONFLICTING_RECORD, IMPLAUSIBLE_TIME, CoreError
from core.receiver import decode
from core.topics import parse

# Held back from the evidence rather than refused as malformed: named record by record.
HELD_CODES = frozenset({IMPLAUSIBLE_TIME, CONFLICTING_RECORD})
HELD_LISTED = 1000


@dataclass(frozen=True, slots=True)
class UploadReport:
    stored: int
    duplicates: int


def store_gateway_quarantine(
    session: Session, gateway_id: str, entries: Sequence[QuarantineEntryIn], now: datetime
) -> UploadReport:
    """Keep a gateway's refused messages; a row per message, or per held record."""
    ids = [entry.id for entry in entries]
    known = set(
        session.scalars(
            select(QuarantinedReading.gateway_entry_id).where(
                QuarantinedReading.gateway_id == gateway_id,
                QuarantinedReading.gateway_entry_id.in_(ids),
            )
        )
    )
    stored = duplicates = 0
    for entry in entries:
        if entry.id in known:
            duplicates += 1
            continue
        known.add(entry.id)
        stored += 1
        payload = _payload(entry)
        channel = _channel(entry.topic)
        device = _own_device(session, gateway_id, entry.device_id)
        rows = [
            QuarantinedReading(
                source="gateway",
                gateway_id=gateway_id,
                gateway_entry_id=entry.id,
                device_id=entry.device_id,
                topic=entry.topic,
                channel=channel,
                received_at_ms=entry.received_at_ms,
                payload=payload,
                code=entry.code,
                reason=entry.reason,
                stored_at=now,
            )
        ]
        if entry.code in HELD_CODES and channel is not None:
            records = _records(payload, channel)
            if records:
                rows = [
                    _held_copy(rows[0], index, r.boot, r.seq) for index, r in enumerate(records)
                ]
                if device is not None:
                    for _ in records:
                        fleet.note_held(device, entry.code, entry.reason, now)
        session.add_all(rows)
    return UploadReport(stored, duplicates)


def _payload(entry: QuarantineEntryIn) -> bytes:
    try:
        return base64.b64decode(entry.payload_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"entry {entry.id}: payload_b64 is not base64") from exc


def _channel(topic: str) -> str | None:
    try:
        return parse(topic)[1]
    except CoreError:
        return None


def _records(payload: bytes, channel: str) -> list[Record]:
    try:
        return records_of(decode(payload, channel))
    except CoreError:
        return []


def _own_device(session: Session, gateway_id: str, device_id: str | None) -> Device | None:
    """The device, if registered and served by this gateway: only then is it counted."""
    if device_id is None:
        return None
    device = session.get(Device, device_id)
    return device if device is not None and device.gateway_id == gateway_id else None


def _held_copy(row: QuarantinedReading, index: int, boot: int, seq: int) -> QuarantinedReading:
    return QuarantinedReading(
        source=row.source,
        gateway_id=row.gateway_id,
        gateway_entry_id=row.gateway_entry_id,
        record_index=index,
        device_id=row.device_id,
        topic=row.topic,
        channel=row.channel,
        received_at_ms=row.received_at_ms,
        payload=row.payload,
        code=row.code,
        reason=row.reason,
        boot=boot,
        seq=seq,
        stored_at=row.stored_at,
    )


def held_counts(session: Session, device_id: str) -> dict[str, int]:
    """How many of the device's records are held back, by reason code."""
    query = (
        select(QuarantinedReading.code, func.count())
        .where(QuarantinedReading.device_id == device_id, QuarantinedReading.boot.is_not(None))
        .group_by(QuarantinedReading.code)
    )
    return {code: int(count) for code, count in session.execute(query)}


def held_records(session: Session, device_id: str) -> Sequence[QuarantinedReading]:
    """The device's held records by (boot, seq), at most ``HELD_LISTED``."""
    return session.scalars(
        select(QuarantinedReading)
        .where(QuarantinedReading.device_id == device_id, QuarantinedReading.boot.is_not(None))
        .order_by(QuarantinedReading.boot, QuarantinedReading.seq, QuarantinedReading.id)
        .limit(HELD_LISTED)
    ).all()
