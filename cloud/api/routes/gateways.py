"""The gateway's other calls: heartbeat and downlink (docs/gateway-api.md)."""

from __future__ import annotations

import asyncio
import base64

from fastapi import APIRouter, Query
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import GatewayDep, NowDep, ServicesDep, SessionDep
from cloud.api.routes import error_responses
from cloud.api.schemas import (
    DownlinkAckIn,
    DownlinkAckOut,
    DownlinkItem,
    DownlinkOut,
    HeartbeatIn,
    HeartbeatOut,
)
from cloud.db.models import Device, DownlinkMessage
from cloud.errors import PermissionDeniedError

router = APIRouter(prefix="/gateways", tags=["gateways"])

DOWNLINK_POLL_S = 0.5
DOWNLINK_BATCH = 500


@router.post("/heartbeat", response_model=HeartbeatOut, responses=error_responses(401, 403))
def heartbeat(
    body: HeartbeatIn, gateway: GatewayDep, session: SessionDep, now: NowDep
) -> HeartbeatOut:
    """The gateway is alive: its devices' status is trusted again."""
    if body.gateway_id != gateway.id:
        raise PermissionDeniedError(f"the token belongs to gateway {gateway.id}")
    gateway.last_heartbeat_at = now
    gateway.buffer_depth = body.buffer_depth
    gateway.buffer_bytes = body.buffer_bytes
    gateway.oldest_buffered_age_s = body.oldest_buffered_age_s
    gateway.version = body.version
    session.commit()
    return HeartbeatOut(server_time_ms=int(now.timestamp() * 1000))


@router.get("/downlink", response_model=DownlinkOut, responses=error_responses(401))
async def downlink(
    gateway: GatewayDep,
    services: ServicesDep,
    wait_s: int = Query(default=20, ge=0, le=300, description="long-poll wait when none wait"),
) -> DownlinkOut:
    """Config and commands for this gateway's devices, not yet acknowledged."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        messages = await run_in_threadpool(_pending, services.sessions, gateway.id)
        remaining = deadline - loop.time()
        if messages or remaining <= 0:
            return DownlinkOut(messages=messages)
        await asyncio.sleep(min(DOWNLINK_POLL_S, remaining))


def _pending(sessions: sessionmaker[Session], gateway_id: str) -> list[DownlinkItem]:
    with sessions() as session:
        rows = session.execute(
            select(DownlinkMessage)
            .join(Device, Device.id == DownlinkMessage.device_id)
            .where(Device.gateway_id == gateway_id, DownlinkMessage.acked_at.is_(None))
            .order_by(DownlinkMessage.id)
            .limit(DOWNLINK_BATCH)
        ).scalars()
        return [
            DownlinkItem(
                id=str(row.id),
                device_id=row.device_id,
                channel=row.channel,
                payload_b64=base64.b64encode(row.payload).decode(),
            )
            for row in rows
        ]


@router.post("/downlink/ack", response_model=DownlinkAckOut, responses=error_responses(401))
def downlink_ack(
    body: DownlinkAckIn, gateway: GatewayDep, session: SessionDep, now: NowDep
) -> DownlinkAckOut:
    """These messages are published on the gateway's broker: stop offering them."""
    ids = [int(text) for text in body.ids if text.isascii() and text.isdigit() and len(text) < 18]
    if not ids:
        return DownlinkAckOut(acknowledged=0)
    own_devices = select(Device.id).where(Device.gateway_id == gateway.id)
    result = session.execute(
        update(DownlinkMessage)
        .where(
            DownlinkMessage.id.in_(ids),
            DownlinkMessage.acked_at.is_(None),
            DownlinkMessage.device_id.in_(own_devices),
        )
        .values(acked_at=now)
    )
    session.commit()
    return DownlinkAckOut(acknowledged=result.rowcount)  # type: ignore[attr-defined]
