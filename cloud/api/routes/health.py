"""``GET /health``: the one endpoint without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import ServicesDep
from cloud.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
async def health(services: ServicesDep) -> HealthOut:
    """The API answers; says whether InfluxDB answers too."""
    return HealthOut(status="ok", influxdb=await run_in_threadpool(services.influx.ping))
