"""The gateway's other calls: heartbeat and downlink (docs/gateway-api.md)."""

from __future__ import annotations

import asyncio
import base64

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cloud.errors import PermissionDeniedError
from cloud.fleet import service
from cloud.fleet.deps import GatewayDep
from cloud.fleet.schemas import (
    DownlinkAckIn,
    DownlinkAckOut,
    DownlinkItem,
    DownlinkOut,
    HeartbeatIn,
    HeartbeatOut,
)
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.responses import error_responses

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
    report = service.GatewayReport(
        body.buffer_depth, body.buffer_bytes, body.oldest_buffered_age_s, body.version
    )
    service.record_heartbeat(gateway, report, now)
    session.commit()
    return HeartbeatOut(server_time_ms=int(now.timestamp() * 1000))


@router.get("/downlink", response_model=DownlinkOut, responses=error_responses(401))
async def downlink(
    gateway: GatewayDep,
    runtime: RuntimeDep,
    wait_s: int = Query(default=20, ge=0, le=300, description="long-poll wait when none wait"),
) -> DownlinkOut:
    """Config and commands for this gateway's devices, not yet acknowledged."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        messages = await run_in_threadpool(_pending, runtime.sessions, gateway.id)
        remaining = deadline - loop.time()
        if messages or remaining <= 0:
            return DownlinkOut(messages=messages)
        await asyncio.sleep(min(DOWNLINK_POLL_S, remaining))


def _pending(sessions: sessionmaker[Session], gateway_id: str) -> list[DownlinkItem]:
    with sessions() as session:
        return [
            DownlinkItem(
                id=str(row.id),
                device_id=row.device_id,
                channel=row.channel,
                payload_b64=base64.b64encode(row.payload).decode(),
            )
            for row in service.pending_downlink(session, gateway_id, DOWNLINK_BATCH)
        ]


@router.post("/downlink/ack", response_model=DownlinkAckOut, responses=error_responses(401))
def downlink_ack(
    body: DownlinkAckIn, gateway: GatewayDep, session: SessionDep, now: NowDep
) -> DownlinkAckOut:
    """These messages are published on the gateway's broker: stop offering them."""
    ids = [int(text) for text in body.ids if text.isascii() and text.isdigit() and len(text) < 18]
    acknowledged = service.acknowledge_downlink(session, gateway.id, ids, now)
    session.commit()
    return DownlinkAckOut(acknowledged=acknowledged)
