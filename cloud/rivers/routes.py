"""River monitoring sites: list, latest values of every site, a site's water series."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from cloud.fleet.models import Device
from cloud.identity.deps import PrincipalDep
from cloud.identity.policy import require
from cloud.rivers import policy
from cloud.rivers.models import RiverSite
from cloud.rivers.queries import stations_by_site
from cloud.rivers.schemas import SiteLatestOut, SiteOut, WaterPoint, WaterSeriesOut
from cloud.timeseries.queries import (
    Aggregate,
    latest_water_statement,
    rows_of,
    water_statement,
)
from cloud.timeseries.schema import WATER_PARAMETER_NAMES
from cloud.web.deps import RuntimeDep, SessionDep
from cloud.web.fields import ID_PATTERN
from cloud.web.responses import error_responses
from cloud.web.window import WindowDep

router = APIRouter(prefix="/sites", tags=["sites"])

SiteId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. huangpu-07")]
WaterParameter = Annotated[str, Query(pattern="^(" + "|".join(WATER_PARAMETER_NAMES) + ")$")]
_ERRORS = error_responses(401, 403, 404, 422, 503)
_STATUS_SUFFIX = "_status"


@router.get("", response_model=list[SiteOut], responses=_ERRORS)
def list_sites(principal: PrincipalDep, session: SessionDep) -> list[SiteOut]:
    """The sites the caller may see (a river chief: the ones assigned to them)."""
    require(policy.may_list_sites(principal), "see river sites")
    visible = policy.visible_sites(principal)
    stations = stations_by_site(session, visible)
    return [
        SiteOut(
            id=site.id,
            name=site.name,
            river=site.river,
            lat=site.lat,
            lon=site.lon,
            device_ids=stations[site.id],
        )
        for site in session.scalars(select(RiverSite).where(visible).order_by(RiverSite.id))
    ]


@router.get("/latest", response_model=list[SiteLatestOut], responses=_ERRORS)
def latest_values(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> list[SiteLatestOut]:
    """The newest sample of every site the caller may see (sites without one: empty)."""
    require(policy.may_list_sites(principal), "see river sites")
    visible = policy.visible_sites(principal)
    stations = stations_by_site(session, visible)
    statement = latest_water_statement()
    newest: dict[str, dict[str, Any]] = {}
    for sample in rows_of(runtime.influx.query(statement.text, statement.params)):
        newest[sample["device_id"]] = sample
    answers = []
    for site in session.scalars(select(RiverSite).where(visible).order_by(RiverSite.id)):
        samples = [newest[d] for d in stations[site.id] if d in newest]
        row = max(samples, key=lambda r: r["time"]) if samples else None
        answers.append(
            SiteLatestOut(
                site_id=site.id,
                name=site.name,
                device_id=row["device_id"] if row else None,
                time=row["time"] if row else None,
                values=_values(row) if row else {},
                statuses=_statuses(row) if row else {},
            )
        )
    return answers


@router.get("/{site_id}/water", response_model=WaterSeriesOut, responses=_ERRORS)
def water_series(
    site_id: SiteId,
    window: WindowDep,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    parameter: Annotated[list[WaterParameter] | None, Query()] = None,
    aggregate: Aggregate = Aggregate.mean,
) -> WaterSeriesOut:
    """A site's water quality over [start, end): every sample, or with ``every_s`` the
    ``aggregate`` of each bucket; ``parameter`` (repeatable) picks parameters, default all."""
    policy.visible_site(session, principal, site_id)
    names = list(dict.fromkeys(parameter)) if parameter else list(WATER_PARAMETER_NAMES)
    device_ids = list(
        session.scalars(select(Device.id).where(Device.site_id == site_id).order_by(Device.id))
    )
    points: list[WaterPoint] = []
    if device_ids:
        statement = water_statement(
            device_ids, names, window.start, window.end, window.every_s, aggregate
        )
        for row in rows_of(runtime.influx.query(statement.text, statement.params)):
            values = {name: row.get(name) for name in names}
            if any(value is not None for value in values.values()):
                points.append(WaterPoint(time=row["time"], values=values))
    return WaterSeriesOut(
        site_id=site_id,
        every_s=window.every_s,
        aggregate=aggregate.value if window.every_s else None,
        points=points,
    )


def _values(row: dict[str, Any]) -> dict[str, float | None]:
    return {name: row.get(name) for name in WATER_PARAMETER_NAMES if row.get(name) is not None}


def _statuses(row: dict[str, Any]) -> dict[str, int]:
    return {
        name: int(row[name + _STATUS_SUFFIX])
        for name in WATER_PARAMETER_NAMES
        if row.get(name + _STATUS_SUFFIX) is not None
    }
