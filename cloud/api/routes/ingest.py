"""``POST /ingest``: a gateway forwards a batch (docs/gateway-api.md)."""

from __future__ import annotations

import zlib

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import GatewayDep, NowDep, ServicesDep
from cloud.api.routes import error_responses
from cloud.api.schemas import IngestAnswer, RejectionOut
from cloud.errors import BatchTooLargeError, PermissionDeniedError
from core.forwarding import MAX_BODY_BYTES, MAX_INFLATED_BYTES, BatchFormatError, decode_batch

router = APIRouter(tags=["gateways"])


@router.post(
    "/ingest",
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
    request: Request, gateway: GatewayDep, services: ServicesDep, now: NowDep
) -> IngestAnswer:
    """Store a batch. 200 only once every accepted reading is in InfluxDB."""
    raw = await _read_body(request)
    batch = decode_batch(raw, compressed=False)
    if batch.gateway_id != gateway.id:
        raise PermissionDeniedError(
            f"the token belongs to gateway {gateway.id}, not {batch.gateway_id}"
        )
    report = await run_in_threadpool(services.ingest.ingest, gateway.id, batch, now)
    return IngestAnswer(
        batch_id=report.batch_id,
        accepted=report.accepted,
        duplicate_batch=report.duplicate_batch,
        rejected=[
            RejectionOut(index=r.index, device_id=r.device_id, code=r.code, reason=r.reason)
            for r in report.rejected
        ],
    )


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
