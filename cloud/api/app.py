"""The FastAPI application: ``create_app(settings)``; the runtime starts in the lifespan.

Errors are mapped to answers here and only here (see ``cloud.errors``). The grants a
person may hold are wired in here from the domains that keep them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError

from cloud import models  # noqa: F401  (every domain's tables on the one metadata)
from cloud.alerts.routes import router as alerts_router
from cloud.api import health
from cloud.cases import policy as cases_policy
from cloud.cases.routes import router as cases_router
from cloud.console.mount import error_page, is_console, mount_console
from cloud.errors import (
    AuthenticationError,
    BatchTooLargeError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    StorageUnavailableError,
)
from cloud.fleet.routes import routers as fleet_routers
from cloud.identity.principal import Grant, GrantQuery
from cloud.identity.routes import router as identity_router
from cloud.ingest.routes import router as ingest_router
from cloud.rivers import policy as rivers_policy
from cloud.rivers.checks import RiverCheckSettings
from cloud.rivers.routes import (
    blob_router,
    problem_router,
    report_router,
    river_router,
    rule_router,
)
from cloud.rivers.routes import router as rivers_router
from cloud.scheduler.runner import Scheduler, SchedulerSettings
from cloud.settings import CloudSettings
from cloud.supervision.config import alert_policy, check_settings
from cloud.supervision.routes import router as supervision_router
from cloud.timeseries.queries import rows_of
from cloud.web.runtime import Clock, Runtime, utc_now
from core.forwarding import BatchFormatError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

# Which domain answers "what was this person given": Grant -> subquery of ids.
GRANT_QUERIES: dict[Grant, GrantQuery] = {
    Grant.sites: rivers_policy.granted_sites,
    Grant.rivers: rivers_policy.granted_rivers,
    Grant.cases: cases_policy.granted_cases,
}


def create_app(settings: CloudSettings, clock: Clock = utc_now) -> FastAPI:
    """The API; InfluxDB and the database are reached only once the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, clock)
        try:
            runtime.influx.ensure_schema()
        except StorageUnavailableError as exc:
            # Not fatal: the first write creates them (InfluxStore.write).
            log.warning("InfluxDB schema not checked at start-up: %s", exc)
        runtime.changes.start()
        app.state.runtime = runtime
        scheduler = _scheduler(runtime) if settings.scheduler_enabled else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            runtime.close()

    app = FastAPI(
        title="fieldwatch cloud",
        version="1",
        description="Ingest from edge gateways, device registry, time-series queries. "
        "Every endpoint but /api/v1/health needs a bearer token: a gateway's or a person's.",
        lifespan=lifespan,
    )
    app.state.grant_queries = GRANT_QUERIES
    for router in (
        health.router,
        identity_router,
        ingest_router,
        *fleet_routers,
        rivers_router,
        river_router,
        rule_router,
        report_router,
        problem_router,
        blob_router,
        supervision_router,
        cases_router,
        alerts_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    mount_console(app)
    _add_error_handlers(app, settings)
    return app


def _scheduler(runtime: Runtime) -> Scheduler:
    s = runtime.settings
    return Scheduler(
        runtime.sessions,
        runtime.clock,
        SchedulerSettings(
            interval_s=s.scheduler_interval_s,
            lease_ttl_s=s.scheduler_lease_ttl_s,
            escalate_after_s=dict(s.escalate_after_s),
            checks=check_settings(s),
            timezone=ZoneInfo(s.console_timezone),
            policy=alert_policy(s),
            case_reminder_days=s.case_reminder_days,
            rivers=RiverCheckSettings(
                every_s=s.river_checks_every_s,
                class_worse_samples=s.class_worse_samples,
                silent_after_s=s.station_silent_after_s,
            ),
        ),
        runtime.changes,
        query=lambda statement: rows_of(runtime.influx.query(statement.text, statement.params)),
    )


# Errors answered with their message and a status, nothing else (a page in the console).
_PLAIN_STATUSES: dict[type[Exception], int] = {
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    BatchFormatError: 400,
    BatchTooLargeError: 413,
    InvalidRequestError: 422,
}

Answer = Callable[[Request, int, Exception], Response]


def _answering(answer: Answer, status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return answer(request, status, exc)

    return handler


def _add_error_handlers(app: FastAPI, settings: CloudSettings) -> None:
    retry_after = {"Retry-After": str(settings.retry_after_s)}

    def answer(
        request: Request, status: int, exc: Exception, headers: dict[str, str] | None = None
    ) -> Response:
        if is_console(request):
            return error_page(request, status, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("store unavailable: %s", exc)
        return answer(request, 503, exc, retry_after)

    async def database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        if is_console(request):
            return error_page(request, 503, "the database is unavailable")
        return JSONResponse(
            {"detail": "the database is unavailable"}, status_code=503, headers=retry_after
        )

    async def unauthenticated(request: Request, exc: Exception) -> Response:
        return answer(request, 401, exc, {"WWW-Authenticate": "Bearer"})

    async def storage_bug(request: Request, exc: Exception) -> Response:
        log.error("InfluxDB refused a request: %s", exc)
        return answer(request, 500, exc)

    app.add_exception_handler(StorageUnavailableError, unavailable)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(AuthenticationError, unauthenticated)
    for error, status in _PLAIN_STATUSES.items():
        app.add_exception_handler(error, _answering(answer, status))
    app.add_exception_handler(StorageError, storage_bug)
