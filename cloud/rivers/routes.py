"""Rivers and their monitoring sites: lists with classes, latest values, a site's water
series and its class day by day, a river with its chiefs and sites."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.errors import InvalidRequestError
from cloud.fleet.models import Device
from cloud.identity.deps import PrincipalDep
from cloud.identity.models import User
from cloud.identity.policy import require
from cloud.rivers import assess, policy, service
from cloud.rivers.checks import sample_of
from cloud.rivers.models import River, RiverSite, SiteCondition, StationLatest, WaterRule
from cloud.rivers.queries import stations_by_site
from cloud.rivers.schemas import (
    ChiefOut,
    DayClassOut,
    RiverDetailOut,
    RiverOut,
    RuleIn,
    RuleOut,
    SiteClassesOut,
    SiteLatestOut,
    SiteOut,
    WaterPoint,
    WaterSeriesOut,
)
from cloud.rivers.service import RIVER_CODE
from cloud.timeseries.queries import (
    Aggregate,
    rows_of,
    water_samples_statement,
    water_statement,
)
from cloud.timeseries.schema import WATER_PARAMETER_NAMES
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.fields import ID_PATTERN
from cloud.web.responses import error_responses
from cloud.web.window import WindowDep
from core import contract as c
from core import waterclass

router = APIRouter(prefix="/sites", tags=["sites"])
river_router = APIRouter(prefix="/rivers", tags=["rivers"])
rule_router = APIRouter(prefix="/water-rules", tags=["rivers"])

SiteId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. huangpu-07")]
RiverCode = Annotated[str, Path(pattern=RIVER_CODE.pattern, description="e.g. FX-0412")]
MAX_CLASS_SPAN = timedelta(days=92)
WaterParameter = Annotated[str, Query(pattern="^(" + "|".join(WATER_PARAMETER_NAMES) + ")$")]
_ERRORS = error_responses(401, 403, 404, 422, 503)
_WRITE = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=list[SiteOut], responses=_ERRORS)
def list_sites(principal: PrincipalDep, session: SessionDep) -> list[SiteOut]:
    """The sites the caller may see (a river chief: those of the rivers they chair and
    those given to them), each with its class as the rivers' checks last judged it."""
    require(policy.may_list_sites(principal), "see river sites")
    return site_list(session, policy.visible_sites(principal))


@router.get("/{site_id}/classes", response_model=SiteClassesOut, responses=_ERRORS)
def site_classes(
    site_id: SiteId,
    window: WindowDep,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SiteClassesOut:
    """A site's class day by day over [start, end) (local days of the console's time zone):
    GB 3838-2002 on the daily means of the values that counted (trusted ones only)."""
    site = policy.visible_site(session, principal, site_id)
    if window.end - window.start > MAX_CLASS_SPAN:
        raise InvalidRequestError(f"classes span at most {MAX_CLASS_SPAN.days} days a request")
    device_ids = list(
        session.scalars(select(Device.id).where(Device.site_id == site_id).order_by(Device.id))
    )
    days: list[DayClassOut] = []
    if device_ids:
        statement = water_samples_statement(device_ids, window.start, window.end)
        samples = [
            sample_of(row)
            for row in rows_of(runtime.influx.query(statement.text, statement.params))
        ]
        zone = ZoneInfo(runtime.settings.console_timezone)
        for day in assess.daily_classes(
            assess.assess(samples, site.waterbody), site.waterbody, zone
        ):
            days.append(
                DayClassOut(
                    day=day.day,
                    water_class=_class_name(day.cls),
                    deciding=[c.WATER_PARAMETERS[p][0] for p in day.deciding],
                    means={c.WATER_PARAMETERS[p][0]: round(v, 4) for p, v in day.means.items()},
                    counted={c.WATER_PARAMETERS[p][0]: n for p, n in day.counts.items()},
                    not_counted=day.suspect,
                )
            )
    return SiteClassesOut(
        site_id=site.id,
        waterbody=site.waterbody,
        target_class=_class_name(site.target_class),
        days=days,
    )


def site_list(session: Session, visible: ColumnElement[bool]) -> list[SiteOut]:
    """The sites ``visible`` admits with their stations, river code and condition."""
    stations = stations_by_site(session, visible)
    rows = session.execute(
        select(RiverSite, SiteCondition, River.code)
        .outerjoin(SiteCondition, SiteCondition.site_id == RiverSite.id)
        .outerjoin(River, River.id == RiverSite.river_id)
        .where(visible)
        .order_by(RiverSite.id)
    ).all()
    return [_site_out(site, condition, code, stations[site.id]) for site, condition, code in rows]


def _site_out(
    site: RiverSite, condition: SiteCondition | None, code: str | None, device_ids: list[str]
) -> SiteOut:
    return SiteOut(
        id=site.id,
        name=site.name,
        river=site.river,
        river_code=code,
        waterbody=site.waterbody,
        target_class=_class_name(site.target_class),
        lat=site.lat,
        lon=site.lon,
        device_ids=device_ids,
        water_class=_class_name(condition.water_class) if condition else None,
        deciding=json.loads(condition.deciding_json) if condition else [],
        suspect=json.loads(condition.suspect_json) if condition else {},
        sample_time=(
            datetime.fromtimestamp(condition.sample_ts, UTC)
            if condition and condition.sample_ts is not None
            else None
        ),
        assessed_at=condition.assessed_at if condition else None,
    )


def _latest_values(row: StationLatest) -> dict[str, float | None]:
    return {
        name: getattr(row, name) for name in WATER_PARAMETER_NAMES if getattr(row, name) is not None
    }


def _class_name(value: int | None) -> str | None:
    return waterclass.CLASS_NAMES.get(value) if value is not None else None


@river_router.get("", response_model=list[RiverOut], responses=_ERRORS)
def list_rivers(principal: PrincipalDep, session: SessionDep) -> list[RiverOut]:
    """The rivers the caller may see (a river chief: those they chair), with their chiefs,
    sites and the worst class among those sites now."""
    require(policy.may_list_rivers(principal), "see rivers")
    found = session.scalars(
        select(River).where(policy.visible_rivers(principal)).order_by(River.code)
    ).all()
    return [_river_out(session, river, RiverOut) for river in found]


@river_router.get("/{code}", response_model=RiverDetailOut, responses=_ERRORS)
def river_detail(code: RiverCode, principal: PrincipalDep, session: SessionDep) -> RiverOut:
    """One river with its course (GeoJSON), chiefs and sites."""
    river = policy.visible_river(session, principal, code)
    return _river_out(session, river, RiverDetailOut)


def _river_out(session: Session, river: River, kind: type[RiverOut]) -> RiverOut:
    chiefs = [
        ChiefOut(level=level, username=username, since=since)
        for level, username, since in service.chiefs_of(session, river.id)
    ]
    sites = session.execute(
        select(RiverSite.id, SiteCondition.water_class)
        .outerjoin(SiteCondition, SiteCondition.site_id == RiverSite.id)
        .where(RiverSite.river_id == river.id)
        .order_by(RiverSite.id)
    ).all()
    worst = max((cls for _id, cls in sites if cls is not None), default=None)
    bbox = (
        [river.min_lon, river.min_lat, river.max_lon, river.max_lat]
        if river.min_lon is not None
        else None
    )
    extra: dict[str, Any] = {}
    if kind is RiverDetailOut:
        extra["geometry"] = json.loads(river.geometry_json) if river.geometry_json else None
    return kind(
        code=river.code,
        name=river.name,
        chiefs=chiefs,
        site_ids=[site_id for site_id, _cls in sites],
        worst_class=_class_name(worst),
        bbox=[float(v) for v in bbox if v is not None] if bbox else None,
        **extra,
    )


@router.get("/latest", response_model=list[SiteLatestOut], responses=_ERRORS)
def latest_values(principal: PrincipalDep, session: SessionDep) -> list[SiteLatestOut]:
    """The newest sample of every site the caller may see (sites without one: empty), as
    the ingest kept it for each station (``station_latest``)."""
    require(policy.may_list_sites(principal), "see river sites")
    visible = policy.visible_sites(principal)
    stations = stations_by_site(session, visible)
    wanted = [d for ids in stations.values() for d in ids]
    newest = {
        row.device_id: row
        for row in session.scalars(select(StationLatest).where(StationLatest.device_id.in_(wanted)))
    }
    answers = []
    for site in session.scalars(select(RiverSite).where(visible).order_by(RiverSite.id)):
        samples = [newest[d] for d in stations[site.id] if d in newest]
        row = max(samples, key=lambda r: r.ts) if samples else None
        answers.append(
            SiteLatestOut(
                site_id=site.id,
                name=site.name,
                device_id=row.device_id if row else None,
                time=datetime.fromtimestamp(row.ts, UTC) if row else None,
                values=_latest_values(row) if row else {},
                statuses=json.loads(row.statuses_json) if row else {},
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


# --- alert rules --------------------------------------------------------------------


@router.get("/{site_id}/rules", response_model=list[RuleOut], responses=_ERRORS)
def site_rules(site_id: SiteId, principal: PrincipalDep, session: SessionDep) -> list[RuleOut]:
    """The alert rules that apply to a site: its own and its river's (active or not)."""
    site = policy.visible_site(session, principal, site_id)
    require(policy.may_set_rules(principal), "see alert rules")
    return [_rule_out(session, r) for r in service.rules_of_site(session, site, active_only=False)]


@router.post("/{site_id}/rules", response_model=RuleOut, status_code=201, responses=_WRITE)
def add_site_rule(
    site_id: SiteId, body: RuleIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> RuleOut:
    """Set an alert rule on a site (checked by the rivers' checks every minute)."""
    require(policy.may_set_rules(principal), "set alert rules")
    site = policy.visible_site(session, principal, site_id)
    rule = service.add_rule(
        session, _rule_input(body), site=site, by_user=principal.user_id, now=now
    )
    session.commit()
    return _rule_out(session, rule)


@river_router.get("/{code}/rules", response_model=list[RuleOut], responses=_ERRORS)
def river_rules(code: RiverCode, principal: PrincipalDep, session: SessionDep) -> list[RuleOut]:
    """The alert rules set on a whole river."""
    river = policy.visible_river(session, principal, code)
    require(policy.may_set_rules(principal), "see alert rules")
    found = session.scalars(
        select(WaterRule).where(WaterRule.river_id == river.id).order_by(WaterRule.id)
    )
    return [_rule_out(session, r) for r in found]


@river_router.post("/{code}/rules", response_model=RuleOut, status_code=201, responses=_WRITE)
def add_river_rule(
    code: RiverCode, body: RuleIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> RuleOut:
    """Set an alert rule on every site of a river."""
    require(policy.may_set_rules(principal), "set alert rules")
    river = policy.visible_river(session, principal, code)
    rule = service.add_rule(
        session, _rule_input(body), river=river, by_user=principal.user_id, now=now
    )
    session.commit()
    return _rule_out(session, rule)


@rule_router.put("/{rule_id}", response_model=RuleOut, responses=_WRITE)
def replace_rule(
    rule_id: int, body: RuleIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> RuleOut:
    """Change a rule (who and when are kept)."""
    rule = policy.visible_rule(session, principal, rule_id)
    service.update_rule(session, rule, _rule_input(body), principal.user_id, now)
    session.commit()
    return _rule_out(session, rule)


@rule_router.delete("/{rule_id}", response_model=RuleOut, responses=_WRITE)
def deactivate_rule(
    rule_id: int, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> RuleOut:
    """Switch a rule off: it stays, inactive, with who switched it off and when."""
    rule = policy.visible_rule(session, principal, rule_id)
    service.set_rule_active(rule, False, principal.user_id, now)
    session.commit()
    return _rule_out(session, rule)


def _rule_input(body: RuleIn) -> service.RuleInput:
    return service.RuleInput(
        body.kind,
        body.parameter,
        body.threshold,
        body.duration_s,
        body.days,
        body.class_limit,
        body.severity,
        body.note,
    )


def _rule_out(session: Session, rule: WaterRule) -> RuleOut:
    code = (
        session.scalar(select(River.code).where(River.id == rule.river_id))
        if rule.river_id
        else None
    )
    names = {
        u.id: u.username
        for u in session.scalars(
            select(User).where(User.id.in_([i for i in (rule.created_by, rule.updated_by) if i]))
        )
    }
    return RuleOut(
        id=rule.id,
        kind=rule.kind,  # type: ignore[arg-type]
        parameter=rule.parameter,
        threshold=rule.threshold,
        duration_s=rule.duration_s,
        days=rule.days,
        class_limit=rule.class_limit,
        severity=rule.severity,  # type: ignore[arg-type]
        note=rule.note,
        site_id=rule.site_id,
        river_code=code,
        active=rule.active,
        created_by=names.get(rule.created_by or 0),
        created_at=rule.created_at,
        updated_by=names.get(rule.updated_by or 0),
        updated_at=rule.updated_at,
    )
