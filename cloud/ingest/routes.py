"""A gateway forwards a batch (``POST /ingest``) and its own quarantine; people read a
device's completeness (``GET /devices/{id}/gaps``). See docs/gateway-api.md."""

from __future__ import annotations

import zlib
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cloud.errors import BatchTooLargeError, InvalidRequestError, PermissionDeniedError
from cloud.fleet import policy as fleet_policy
from cloud.fleet.deps import GatewayDep
from cloud.identity.deps import PrincipalDep
from cloud.ingest.models import SequenceGap
from cloud.ingest.quarantine import held_counts, held_records, store_gateway_quarantine
from cloud.ingest.schemas import (
    GapOut,
    GapsOut,
    GatewayQuarantineIn,
    GatewayQuarantineOut,
    HeldRecordOut,
    IngestAnswer,
    RejectionOut,
)
from cloud.ingest.service import IngestService
from cloud.supervision.config import alert_policy
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.fields import ID_PATTERN
from cloud.web.responses import error_responses
from core.forwarding import MAX_BODY_BYTES, MAX_INFLATED_BYTES, BatchFormatError, decode_batch

router = APIRouter()

DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. br-000123")]
MAX_QUARANTINE_BODY_BYTES = 4 * 1024 * 1024


@router.post(
    "/ingest",
    tags=["gateways"],
    response_model=IngestAnswer,
    responses=error_responses(400, 401, 403, 413, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "gzip of one CBOR map {v, gw, id, sent, items} "
            "(Content-Encoding: gzip); see docs/gateway-api.md",
            "content": {"application/cbor": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def ingest(
    request: Request, gateway: GatewayDep, runtime: RuntimeDep, now: NowDep
) -> IngestAnswer:
    """Store a batch. 200 only once every accepted reading is in InfluxDB."""
    raw = await _read_body(request)
    batch = decode_batch(raw, compressed=False)
    if batch.gateway_id != gateway.id:
        raise PermissionDeniedError(
            f"the token belongs to gateway {gateway.id}, not {batch.gateway_id}"
        )
    service = IngestService(
        runtime.sessions,
        runtime.influx,
        runtime.settings.late_after_s,
        runtime.changes,
        day_zone=ZoneInfo(runtime.settings.console_timezone),
        rules=alert_policy(runtime.settings) if runtime.settings.rules_enabled else None,
    )
    report = await run_in_threadpool(service.ingest, gateway.id, batch, now)
    return IngestAnswer(
        batch_id=report.batch_id,
        accepted=report.accepted,
        duplicate_batch=report.duplicate_batch,
        rejected=[
            RejectionOut(index=r.index, device_id=r.device_id, code=r.code, reason=r.reason)
            for r in report.rejected
        ],
    )


@router.post(
    "/gateways/quarantine",
    tags=["gateways"],
    response_model=GatewayQuarantineOut,
    responses=error_responses(401, 403, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": '{"gateway_id", "entries": [{"id", "received_at_ms", "topic", '
            '"device_id", "code", "reason", "payload_b64"}]}, at most 500 entries and 4 MiB; '
            "see docs/gateway-api.md",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def upload_quarantine(
    request: Request, gateway: GatewayDep, session: SessionDep, now: NowDep
) -> GatewayQuarantineOut:
    """Keep what the gateway refused, so every message that reached the system is in the
    cloud: as evidence or with its reason. Idempotent by (gateway, entry id)."""
    raw = await _read_limited(request, MAX_QUARANTINE_BODY_BYTES)
    try:
        body = GatewayQuarantineIn.model_validate_json(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"not a quarantine upload: {exc}") from exc
    if body.gateway_id != gateway.id:
        raise PermissionDeniedError(f"the token belongs to gateway {gateway.id}")
    report = store_gateway_quarantine(session, gateway.id, body.entries, now)
    session.commit()
    return GatewayQuarantineOut(stored=report.stored, duplicates=report.duplicates)


@router.get(
    "/devices/{device_id}/gaps",
    tags=["devices"],
    response_model=GapsOut,
    responses=error_responses(401, 403, 404, 422, 503),
)
def get_gaps(device_id: DeviceId, principal: PrincipalDep, session: SessionDep) -> GapsOut:
    """The completeness of a device's record: holes in (boot, seq) below the highest
    received, and the records that arrived but were held back, with why."""
    fleet_policy.visible_device(session, principal, device_id)
    rows = session.scalars(
        select(SequenceGap)
        .where(SequenceGap.device_id == device_id)
        .order_by(SequenceGap.boot, SequenceGap.first_seq)
    )
    gaps = [
        GapOut(
            boot=gap.boot,
            first_seq=gap.first_seq,
            last_seq=gap.last_seq,
            missing=gap.last_seq - gap.first_seq + 1,
            detected_at=gap.detected_at,
        )
        for gap in rows
    ]
    counts = held_counts(session, device_id)
    held = [
        HeldRecordOut(
            boot=row.boot or 0,
            seq=row.seq or 0,
            code=row.code,
            reason=row.reason,
            source=row.source,
            received_at_ms=row.received_at_ms,
        )
        for row in held_records(session, device_id)
    ]
    return GapsOut(
        device_id=device_id,
        missing_total=sum(g.missing for g in gaps),
        gaps=gaps,
        held_total=sum(counts.values()),
        held_by_code=counts,
        held=held,
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BatchTooLargeError(f"body is over {limit} bytes")
    return bytes(body)


async def _read_body(request: Request) -> bytes:
    """The body, gunzipped when sent with Content-Encoding: gzip, within the limits."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BatchTooLargeError(f"body is over {MAX_BODY_BYTES} bytes")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "identity":
        if len(body) > MAX_INFLATED_BYTES:
            raise BatchTooLargeError(f"body is over {MAX_INFLATED_BYTES} bytes")
        return bytes(body)
    if encoding != "gzip":
        raise BatchFormatError(f"Content-Encoding {encoding!r} is not gzip")
    inflater = zlib.decompressobj(wbits=31)
    try:
        raw = inflater.decompress(bytes(body), MAX_INFLATED_BYTES + 1)
    except zlib.error as exc:
        raise BatchFormatError(f"body is not gzip: {exc}") from exc
    if len(raw) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
        raise BatchTooLargeError(f"body inflates to more than {MAX_INFLATED_BYTES} bytes")
    return raw
