"""Rivers and their monitoring sites: lists with classes, latest values, a site's water
series and its class day by day, a river with its chiefs and sites."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, BinaryIO, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.blobs import BlobNotFoundError, BlobStore, LocalBlobStore
from cloud.blobs.kinds import PHOTO_KINDS
from cloud.blobs.store import CHUNK_BYTES, SHA256_PATTERN
from cloud.errors import InvalidRequestError
from cloud.fleet.models import Device
from cloud.identity.deps import PrincipalDep
from cloud.identity.models import User
from cloud.identity.policy import require
from cloud.rivers import assess, policy, service
from cloud.rivers.models import (
    OPEN_PROBLEM_STATUSES,
    PatrolPhoto,
    PatrolReport,
    PatrolReportNote,
    ProblemStep,
    River,
    RiverProblem,
    RiverSite,
    SiteCondition,
    StationLatest,
    WaterRule,
)
from cloud.rivers.queries import load_samples, stations_by_site
from cloud.rivers.schemas import (
    AssignIn,
    ChiefOut,
    DayClassOut,
    PhotoOut,
    ProblemDetailOut,
    ProblemOut,
    ProblemStepOut,
    ReopenIn,
    ReportNoteIn,
    ReportNoteOut,
    ReportOut,
    RiverDetailOut,
    RiverOut,
    RuleIn,
    RuleOut,
    SiteClassesOut,
    SiteLatestOut,
    SiteOut,
    VerifyIn,
    WaterPoint,
    WaterSeriesOut,
)
from cloud.rivers.service import RIVER_CODE
from cloud.timeseries.queries import (
    Aggregate,
    rows_of,
    water_statement,
)
from cloud.timeseries.schema import WATER_PARAMETER_NAMES
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.fields import ID_PATTERN, TEXT_WITH_LINES
from cloud.web.responses import error_responses
from cloud.web.window import WindowDep
from core import contract as c
from core import waterclass

router = APIRouter(prefix="/sites", tags=["sites"])
river_router = APIRouter(prefix="/rivers", tags=["rivers"])
rule_router = APIRouter(prefix="/water-rules", tags=["rivers"])

SiteId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. huangpu-07")]
RiverCode = Annotated[str, Path(pattern=RIVER_CODE.pattern, description="e.g. FX-0412")]
# A row's number: within the database's integer, so a larger one is a 422, not its error.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="its number")]
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
        samples = load_samples(
            lambda s: rows_of(runtime.influx.query(s.text, s.params)),
            device_ids,
            window.start,
            window.end,
        )
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
    rule_id: RecordId, body: RuleIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> RuleOut:
    """Change a rule (who and when are kept)."""
    rule = policy.visible_rule(session, principal, rule_id)
    service.update_rule(session, rule, _rule_input(body), principal.user_id, now)
    session.commit()
    return _rule_out(session, rule)


@rule_router.delete("/{rule_id}", response_model=RuleOut, responses=_WRITE)
def deactivate_rule(
    rule_id: RecordId, principal: PrincipalDep, session: SessionDep, now: NowDep
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


# --- patrol reports, problems and their photos -------------------------------------------

log = logging.getLogger(__name__)

report_router = APIRouter(prefix="/reports", tags=["patrols"])
problem_router = APIRouter(prefix="/problems", tags=["patrols"])
blob_router = APIRouter(prefix="/blobs", tags=["patrols"])

Sha256 = Annotated[str, Path(pattern=SHA256_PATTERN, description="SHA-256, lowercase hex")]


def _text_form(description: str) -> Any:
    return Form(
        min_length=1, max_length=service.MAX_TEXT, pattern=TEXT_WITH_LINES, description=description
    )


Lat = Annotated[float | None, Form(ge=-90, le=90, description="WGS-84 degrees, with lon")]
Lon = Annotated[float | None, Form(ge=-180, le=180, description="WGS-84 degrees, with lat")]
SiteField = Annotated[
    str | None, Form(pattern=ID_PATTERN, description="a site on the river, if at one")
]
Photos = Annotated[
    list[UploadFile] | None,
    File(
        description=f"0 to {service.MAX_PHOTOS} photos: JPEG, PNG, WebP or HEIC (told by "
        "their bytes), each at most photo_max_bytes"
    ),
]
P = TypeVar("P", bound=ProblemOut)
ProblemFilter = Literal["open", "all", "reported", "assigned", "fixed", "verified", "reopened"]


def blob_store(runtime: RuntimeDep) -> BlobStore:
    """The service's blob store: a folder, so nothing is held open between requests."""
    return LocalBlobStore(runtime.settings.blob_dir)


BlobStoreDep = Annotated[BlobStore, Depends(blob_store)]


def _photos_in(
    files: list[UploadFile] | None, store: BlobStore, runtime: RuntimeDep
) -> service.PhotosIn:
    uploads = [service.PhotoUpload(f.filename or "", f.file, f.size) for f in files or []]
    return service.PhotosIn(uploads, store, int(runtime.settings.photo_max_bytes))


@river_router.post("/{code}/reports", response_model=ReportOut, status_code=201, responses=_WRITE)
def file_report(
    code: RiverCode,
    text: Annotated[str, _text_form("what the patrol found")],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    runtime: RuntimeDep,
    store: BlobStoreDep,
    patrolled_at: Annotated[
        AwareDatetime | None, Form(description="when the patrol was; default: now")
    ] = None,
    lat: Lat = None,
    lon: Lon = None,
    site_id: SiteField = None,
    photos: Photos = None,
) -> ReportOut:
    """File a patrol or situation report on a river (multipart: the fields and the photos;
    each photo is streamed to the blob store). A river chief on the rivers they chair, a
    prosecutor on any. It is kept as filed: corrections are notes beside it."""
    require(policy.may_file_reports(principal), "file patrol reports")
    river = policy.visible_river(session, principal, code)
    report = service.file_report(
        session,
        river,
        text=text,
        patrolled_at=patrolled_at,
        lat=lat,
        lon=lon,
        site_id=site_id,
        photos=_photos_in(photos, store, runtime),
        by_user=principal.user_id,
        now=now,
    )
    session.commit()
    return _reports_out(session, [report])[0]


@river_router.get("/{code}/reports", response_model=list[ReportOut], responses=_ERRORS)
def river_reports(
    code: RiverCode,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="only reports older than this id")
    ] = None,
) -> list[ReportOut]:
    """A river's patrol reports, newest first."""
    river = policy.visible_river(session, principal, code)
    query = select(PatrolReport).where(
        PatrolReport.river_id == river.id, policy.visible_reports(principal)
    )
    if before is not None:
        query = query.where(PatrolReport.id < before)
    found = session.scalars(query.order_by(PatrolReport.id.desc()).limit(limit)).all()
    return _reports_out(session, found)


@report_router.get("/{report_id}", response_model=ReportOut, responses=_ERRORS)
def report_detail(report_id: RecordId, principal: PrincipalDep, session: SessionDep) -> ReportOut:
    """One patrol report with its photos and its notes."""
    report = policy.visible_report(session, principal, report_id)
    return _reports_out(session, [report])[0]


@report_router.post(
    "/{report_id}/notes", response_model=ReportOut, status_code=201, responses=_WRITE
)
def note_report(
    report_id: RecordId,
    body: ReportNoteIn,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> ReportOut:
    """Add a note to a report (a correction or an addition), by who filed it, a prosecutor
    or an administrator: the report stays as filed, the note beside it says who and when."""
    report = policy.visible_report(session, principal, report_id)
    require(policy.may_note_report(principal, report), "add notes to another's report")
    service.note_report(session, report, body.text, principal.user_id, now)
    session.commit()
    return _reports_out(session, [report])[0]


@blob_router.get(
    "/{sha256}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the blob's bytes, as stored",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in PHOTO_KINDS
            },
        },
        **_ERRORS,
    },
)
def read_blob(
    sha256: Sha256, principal: PrincipalDep, session: SessionDep, store: BlobStoreDep
) -> StreamingResponse:
    """A photo's bytes, streamed, to someone who may see a report or problem holding it."""
    photo = policy.visible_photo(session, principal, sha256)
    try:
        stream = store.open(sha256)
    except BlobNotFoundError:
        log.error("blob %s is named by photo %s but missing from the store", sha256, photo.id)
        raise
    return StreamingResponse(
        _chunks(stream),
        media_type=photo.content_type,
        headers={
            "Content-Length": str(photo.size),
            "ETag": f'"{sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


@river_router.post(
    "/{code}/problems", response_model=ProblemDetailOut, status_code=201, responses=_WRITE
)
def report_problem(
    code: RiverCode,
    description: Annotated[str, _text_form("what is wrong, where")],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    runtime: RuntimeDep,
    store: BlobStoreDep,
    lat: Lat = None,
    lon: Lon = None,
    site_id: SiteField = None,
    report_id: Annotated[
        int | None,
        Form(ge=1, le=2**31 - 1, description="the patrol report of this river it was found in"),
    ] = None,
    photos: Photos = None,
) -> ProblemDetailOut:
    """Report a problem on a river (multipart, like a report): it waits to be assigned."""
    require(policy.may_file_reports(principal), "report river problems")
    river = policy.visible_river(session, principal, code)
    report = policy.visible_report(session, principal, report_id) if report_id else None
    problem = service.report_problem(
        session,
        river,
        description=description,
        lat=lat,
        lon=lon,
        site_id=site_id,
        report=report,
        photos=_photos_in(photos, store, runtime),
        by_user=principal.user_id,
        now=now,
    )
    session.commit()
    return _problem_detail(session, problem)


@river_router.get("/{code}/problems", response_model=list[ProblemOut], responses=_ERRORS)
def river_problems(
    code: RiverCode,
    principal: PrincipalDep,
    session: SessionDep,
    status: Annotated[
        ProblemFilter, Query(description="open (default: not yet verified), all, or one status")
    ] = "open",
) -> list[ProblemOut]:
    """A river's problems, oldest first: by default the open ones."""
    river = policy.visible_river(session, principal, code)
    query = select(RiverProblem).where(
        RiverProblem.river_id == river.id, policy.visible_problems(principal)
    )
    if status == "open":
        query = query.where(RiverProblem.status.in_(OPEN_PROBLEM_STATUSES))
    elif status != "all":
        query = query.where(RiverProblem.status == status)
    found = session.scalars(query.order_by(RiverProblem.id)).all()
    names = _usernames(session, [u for p in found for u in (p.reported_by, p.assignee_id)])
    return [_problem_out(p, river.code, names, ProblemOut) for p in found]


@problem_router.get("/{problem_id}", response_model=ProblemDetailOut, responses=_ERRORS)
def problem_detail(
    problem_id: RecordId, principal: PrincipalDep, session: SessionDep
) -> ProblemDetailOut:
    """One problem with every step: who, when, their note and photos."""
    return _problem_detail(session, policy.visible_problem(session, principal, problem_id))


@problem_router.post("/{problem_id}/assign", response_model=ProblemDetailOut, responses=_WRITE)
def assign_problem(
    problem_id: RecordId, body: AssignIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ProblemDetailOut:
    """Give the problem to a chief of its river: by a prosecutor, an administrator or a
    chief of a higher level of the river (district > town > village)."""
    problem = policy.visible_problem(session, principal, problem_id, for_update=True)
    service.require_status_for(problem, "assigned")
    river = session.get_one(River, problem.river_id)
    assignee = service.assignee_on(session, river, body.assignee)
    policy.require_may_assign(session, principal, problem, assignee.id)
    service.assign_problem(session, problem, assignee, body.note, principal.user_id, now)
    session.commit()
    return _problem_detail(session, problem)


@problem_router.post("/{problem_id}/fix", response_model=ProblemDetailOut, responses=_WRITE)
def fix_problem(
    problem_id: RecordId,
    note: Annotated[str, _text_form("what was done")],
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    runtime: RuntimeDep,
    store: BlobStoreDep,
    photos: Photos = None,
) -> ProblemDetailOut:
    """The assignee says it is fixed (multipart: the note and photos of the fix)."""
    problem = policy.visible_problem(session, principal, problem_id, for_update=True)
    service.require_status_for(problem, "fixed")
    policy.require_may_fix(principal, problem)
    service.fix_problem(
        session, problem, note, _photos_in(photos, store, runtime), principal.user_id, now
    )
    session.commit()
    return _problem_detail(session, problem)


@problem_router.post("/{problem_id}/verify", response_model=ProblemDetailOut, responses=_WRITE)
def verify_problem(
    problem_id: RecordId, body: VerifyIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ProblemDetailOut:
    """Seen fixed, and closed: by who reported or assigned it, or a prosecutor."""
    problem = policy.visible_problem(session, principal, problem_id, for_update=True)
    service.require_status_for(problem, "verified")
    policy.require_may_verify(session, principal, problem, "verify")
    service.verify_problem(session, problem, body.note, principal.user_id, now)
    session.commit()
    return _problem_detail(session, problem)


@problem_router.post("/{problem_id}/reopen", response_model=ProblemDetailOut, responses=_WRITE)
def reopen_problem(
    problem_id: RecordId, body: ReopenIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ProblemDetailOut:
    """Not fixed after all: back to its assignee with the reason, by who may verify it."""
    problem = policy.visible_problem(session, principal, problem_id, for_update=True)
    service.require_status_for(problem, "reopened")
    policy.require_may_verify(session, principal, problem, "reopen")
    service.reopen_problem(session, problem, body.reason, principal.user_id, now)
    session.commit()
    return _problem_detail(session, problem)


def _usernames(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: username for user_id, username in rows}


def _photo_out(photo: PatrolPhoto) -> PhotoOut:
    return PhotoOut(
        sha256=photo.sha256,
        content_type=photo.content_type,
        size=photo.size,
        url=f"/api/v1/blobs/{photo.sha256}",
    )


def _reports_out(session: Session, reports: Sequence[PatrolReport]) -> list[ReportOut]:
    """The reports with their photos, notes and names, in a query each."""
    ids = [r.id for r in reports]
    photos: defaultdict[int, list[PhotoOut]] = defaultdict(list)
    notes: defaultdict[int, list[PatrolReportNote]] = defaultdict(list)
    if ids:
        for photo in session.scalars(
            select(PatrolPhoto)
            .where(PatrolPhoto.report_id.in_(ids))
            .order_by(PatrolPhoto.report_id, PatrolPhoto.position)
        ):
            photos[photo.report_id or 0].append(_photo_out(photo))
        for note in session.scalars(
            select(PatrolReportNote)
            .where(PatrolReportNote.report_id.in_(ids))
            .order_by(PatrolReportNote.id)
        ):
            notes[note.report_id].append(note)
    codes = {
        river_id: code
        for river_id, code in session.execute(
            select(River.id, River.code).where(River.id.in_({r.river_id for r in reports}))
        )
    }
    names = _usernames(
        session, [r.filed_by for r in reports] + [n.by_user for ns in notes.values() for n in ns]
    )
    return [
        ReportOut(
            id=r.id,
            river_code=codes[r.river_id],
            site_id=r.site_id,
            text=r.text,
            lat=r.lat,
            lon=r.lon,
            patrolled_at=r.patrolled_at,
            filed_by=names[r.filed_by],
            filed_at=r.filed_at,
            photos=photos[r.id],
            notes=[ReportNoteOut(text=n.text, by=names[n.by_user], at=n.at) for n in notes[r.id]],
        )
        for r in reports
    ]


def _problem_out(
    problem: RiverProblem, code: str, names: dict[int, str], kind: type[P], **extra: Any
) -> P:
    return kind(
        id=problem.id,
        river_code=code,
        site_id=problem.site_id,
        report_id=problem.report_id,
        description=problem.description,
        lat=problem.lat,
        lon=problem.lon,
        status=problem.status,  # type: ignore[arg-type]
        assignee=names.get(problem.assignee_id) if problem.assignee_id else None,
        reported_by=names[problem.reported_by],
        reported_at=problem.reported_at,
        updated_at=problem.updated_at,
        **extra,
    )


def _problem_detail(session: Session, problem: RiverProblem) -> ProblemDetailOut:
    steps = session.scalars(
        select(ProblemStep).where(ProblemStep.problem_id == problem.id).order_by(ProblemStep.id)
    ).all()
    photos: defaultdict[int, list[PhotoOut]] = defaultdict(list)
    for photo in session.scalars(
        select(PatrolPhoto)
        .where(PatrolPhoto.step_id.in_([s.id for s in steps]))
        .order_by(PatrolPhoto.step_id, PatrolPhoto.position)
    ):
        photos[photo.step_id or 0].append(_photo_out(photo))
    names = _usernames(
        session,
        [problem.reported_by, problem.assignee_id]
        + [u for s in steps for u in (s.by_user, s.assignee_id)],
    )
    code = session.get_one(River, problem.river_id).code
    detail = _problem_out(
        problem,
        code,
        names,
        ProblemDetailOut,
        steps=[
            ProblemStepOut(
                step=s.step,
                by=names[s.by_user],
                at=s.at,
                note=s.note,
                assignee=names.get(s.assignee_id) if s.assignee_id else None,
                photos=photos[s.id],
            )
            for s in steps
        ],
    )
    return detail
