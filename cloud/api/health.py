"""``GET /health``: the one endpoint without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from cloud.web.deps import RuntimeDep
from cloud.web.runtime import Runtime

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str = Field(description="ok when the API answers")
    influxdb: bool = Field(description="InfluxDB answers /ping")
    database: bool = Field(description="the relational database answers")


@router.get("/health", response_model=HealthOut)
async def health(runtime: RuntimeDep) -> HealthOut:
    """The API answers; says whether InfluxDB and the database answer too."""
    influx = await run_in_threadpool(runtime.influx.ping)
    database = await run_in_threadpool(_database_answers, runtime)
    return HealthOut(status="ok", influxdb=influx, database=database)


def _database_answers(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
