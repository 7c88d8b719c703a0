"""The device table (``/console/devices``) and a device's page (``/console/devices/{id}``).

What a person sees is filtered in the queries by ``cloud.fleet.policy``; a device they
may not see is answered as one that does not exist. The table is one query (the missing
readings of every device in a grouped subquery); with htmx's ``HX-Request`` header only
the table is sent back, so filtering and sorting redraw the table and keep the address
shareable, while the same address without JavaScript answers the whole page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.console import device_views as views
from cloud.console.i18n import N_, local_time
from cloud.console.pages import PREFIX, Viewer, ViewerDep, render
from cloud.errors import StorageUnavailableError
from cloud.fleet import policy as fleet_policy
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import DeviceStatus, device_status, latest
from cloud.identity.policy import require
from cloud.identity.principal import Principal
from cloud.ingest.models import SequenceGap
from cloud.rivers.models import RiverSite
from cloud.supervision.models import SupervisedPerson
from cloud.timeseries.influx import InfluxStore, quote_identifier
from cloud.timeseries.queries import Statement, rows_of, to_ns, track_statement
from cloud.timeseries.schema import DEVICE_TAG, EVIDENCE, LOCATION
from cloud.web.deps import RuntimeDep, SessionDep
from core import devices

router = APIRouter(prefix=PREFIX, include_in_schema=False)

TABLE_PATH = f"{PREFIX}/devices"
GAPS_SHOWN = 200  # a device's page lists at most this many gaps (the total counts all)


# ---------------------------------------------------------------- the table


@router.get("/devices", response_model=None)
def device_table(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    sort: str = "",
    direction: Annotated[str, Query(alias="dir")] = "",
    status: str = "",
    kind: str = "",
    q: str = "",
    battery_below: str = "",
    missing: str = "",
) -> Response:
    require(fleet_policy.may_list_devices(viewer.principal), "list devices")
    table_filter = views.parse_filter(status, kind, q, battery_below, missing)
    order = views.parse_order(sort, direction)
    lines = device_lines(
        session, viewer.principal, table_filter, viewer.now, runtime.settings.gateway_silent_after_s
    )
    context = table_context(table_filter, order, views.sort_lines(lines, order))
    fragment = wants_fragment(request)
    response = render(
        request, "devices_table.html" if fragment else "devices.html", context, viewer=viewer
    )
    response.headers["Vary"] = "HX-Request"
    if fragment:  # the address to share: this view's, without the form's empty fields
        response.headers["HX-Push-Url"] = views.table_href(TABLE_PATH, table_filter, order)
    return response


def wants_fragment(request: Request) -> bool:
    """htmx asks for the table alone, except when it restores a page from history
    without a copy of it (then it needs the whole page)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in headers


def device_lines(
    session: Session,
    principal: Principal,
    table_filter: views.TableFilter,
    now: datetime,
    silent_s: int,
) -> list[views.DeviceLine]:
    """The visible devices matching the filter, in one query; the status filter is
    applied to the status computed as shown."""
    missing_by_device = (
        select(
            SequenceGap.device_id.label("device_id"),
            func.sum(SequenceGap.last_seq - SequenceGap.first_seq + 1).label("missing"),
        )
        .group_by(SequenceGap.device_id)
        .subquery()
    )
    missing = func.coalesce(missing_by_device.c.missing, 0)
    query = (
        select(Device, Gateway.last_heartbeat_at, Gateway.last_batch_at, missing)
        .outerjoin(Gateway, Gateway.id == Device.gateway_id)
        .outerjoin(missing_by_device, missing_by_device.c.device_id == Device.id)
        .where(fleet_policy.visible_devices(principal))
        .order_by(Device.id)
    )
    if table_filter.kind is not None:
        query = query.where(Device.kind == table_filter.kind)
    if table_filter.text:
        query = query.where(Device.id.contains(table_filter.text, autoescape=True))
    if table_filter.battery_below is not None:
        query = query.where(Device.battery_pct < table_filter.battery_below)
    if table_filter.missing_only:
        query = query.where(missing > 0)
    lines = []
    for device, heartbeat_at, batch_at, missing_count in session.execute(query):
        status = device_status(device.presence, latest(heartbeat_at, batch_at), now, silent_s)
        if table_filter.matches_status(status):
            lines.append(line_of(device, status, int(missing_count)))
    return lines


def line_of(device: Device, status: DeviceStatus, missing: int) -> views.DeviceLine:
    return views.DeviceLine(
        id=device.id,
        kind=device.kind,
        status=status,
        battery_pct=device.battery_pct,
        last_seen_at=device.last_seen_at,
        missing=missing,
        firmware_version=device.firmware_version,
        config_version=device.config_version,
        issued_config_version=device.issued_config_version,
    )


@dataclass(frozen=True, slots=True)
class Column:
    """A header of the table: its sort key, its label and where a click on it goes."""

    key: views.SortKey
    label: str
    href: str
    aria_sort: str
    numeric: bool


COLUMNS = (
    (views.SortKey.id, N_("Device"), False),
    (views.SortKey.kind, N_("Kind"), False),
    (views.SortKey.status, N_("Status"), False),
    (views.SortKey.battery, N_("Battery"), True),
    (views.SortKey.last_seen, N_("Last seen"), False),
    (views.SortKey.missing, N_("Missing readings"), True),
    (views.SortKey.firmware, N_("Firmware"), False),
    (views.SortKey.config, N_("Config version"), True),
)


def table_context(
    table_filter: views.TableFilter, order: views.TableOrder, lines: list[views.DeviceLine]
) -> dict[str, Any]:
    columns = [
        Column(
            key,
            label,
            views.table_href(TABLE_PATH, table_filter, views.toggled(order, key)),
            views.aria_sort(order, key),
            numeric,
        )
        for key, label, numeric in COLUMNS
    ]
    return {
        "lines": lines,
        "columns": columns,
        "filter": table_filter,
        "order": order,
        "statuses": list(DeviceStatus),
        "kinds": devices.DEVICE_KINDS,
        "kind_labels": views.KIND_LABELS,
        "table_path": TABLE_PATH,
        "battery_low": 20,
    }


# ---------------------------------------------------------------- a device's page


@dataclass(frozen=True, slots=True)
class Completeness:
    gaps: list[SequenceGap]  # the first GAPS_SHOWN, by boot and seq
    gap_count: int
    missing_total: int


@dataclass(frozen=True, slots=True)
class TrackView:
    """The track section: the period asked for and what it holds (or why nothing)."""

    start_input: str
    end_input: str
    preset: str | None
    period: views.Period | None = None
    track: views.Track | None = None
    error: str | None = None
    unavailable: bool = False


@router.get("/devices/{device_id}", response_model=None)
def device_page(
    device_id: str,
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    start: str = "",
    end: str = "",
    last: str = "",
) -> Response:
    device = fleet_policy.visible_device(session, viewer.principal, device_id)
    gateway = session.get(Gateway, device.gateway_id) if device.gateway_id else None
    contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at) if gateway else None
    status = device_status(
        device.presence, contact, viewer.now, runtime.settings.gateway_silent_after_s
    )
    completeness = completeness_of(session, device.id)
    track = None
    if device.kind == devices.BRACELET and fleet_policy.may_read_tracks(viewer.principal):
        track = track_view(session, runtime.influx, device.id, viewer, (start, end, last))
    context = {
        "device": device,
        "status": status,
        "gateway": gateway,
        "gateway_contact": contact,
        "site": session.get(RiverSite, device.site_id) if device.site_id else None,
        "person": person_of(session, device, viewer.principal),
        "kind_labels": views.KIND_LABELS,
        "last_record_at": _from_device_time(device.last_record_ts),
        "completeness": completeness,
        "gaps_shown": GAPS_SHOWN,
        "track": track,
        "map_data": map_data(track.track, viewer) if track and track.track else None,
        "presets": list(views.PRESETS),
        "preset_labels": views.PRESET_LABELS,
        "bucket_label": views.bucket_label,
        "page_path": f"{TABLE_PATH}/{device.id}",
        "break_reasons": views.BreakReason,
    }
    return render(request, "device.html", context, viewer=viewer)


def person_of(session: Session, device: Device, principal: Principal) -> SupervisedPerson | None:
    """The bracelet's supervised person, for those who may follow them (their tracks)."""
    if device.person_id is None or not fleet_policy.may_read_tracks(principal):
        return None
    return session.get(SupervisedPerson, device.person_id)


def _from_device_time(ts_s: int | None) -> datetime | None:
    return None if ts_s is None else datetime.fromtimestamp(ts_s, UTC)


def completeness_of(session: Session, device_id: str) -> Completeness:
    """The device's sequence gaps (the first of them) and their totals, counted in SQL."""
    gap_count, missing_total = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(SequenceGap.last_seq - SequenceGap.first_seq + 1), 0),
        ).where(SequenceGap.device_id == device_id)
    ).one()
    gaps = session.scalars(
        select(SequenceGap)
        .where(SequenceGap.device_id == device_id)
        .order_by(SequenceGap.boot, SequenceGap.first_seq)
        .limit(GAPS_SHOWN)
    )
    return Completeness(list(gaps), int(gap_count), int(missing_total))


def track_view(
    session: Session,
    influx: InfluxStore,
    device_id: str,
    viewer: Viewer,
    asked: tuple[str, str, str],
) -> TrackView:
    """The track over the period asked for; a period that cannot be read, or a store that
    does not answer, is said on the page, which shows everything else."""
    start, end, last = asked
    try:
        period = views.parse_period(start, end, last, viewer.now, viewer.zone)
    except views.PeriodError as exc:
        return TrackView(start, end, None, error=str(exc))
    inputs = (
        period.local_input(period.start, viewer.zone),
        period.local_input(period.end, viewer.zone),
    )
    try:
        track = load_track(session, influx, device_id, period)
    except StorageUnavailableError:
        return TrackView(*inputs, period.preset, period, unavailable=True)
    return TrackView(*inputs, period.preset, period, track)


def load_track(
    session: Session, influx: InfluxStore, device_id: str, period: views.Period
) -> views.Track:
    """Every fix when the period holds few enough to draw (counted first, which costs far
    less than reading them), else one per bucket with the late fixes read apart."""
    fix_count, late_count = count_fixes(influx, device_id, period)
    if views.shows_every_fix(fix_count):
        fixes = query_fixes(influx, device_id, period, None)
        return views.raw_track(fixes, gap_spans(session, device_id, {f.boot for f in fixes}))
    every_s = views.bucket_seconds(period.span)
    buckets = query_fixes(influx, device_id, period, every_s)
    late = query_late(influx, device_id, period) if late_count else []
    return views.bucketed_track(buckets, every_s, late, late_count)


def query_fixes(
    influx: InfluxStore, device_id: str, period: views.Period, every_s: int | None
) -> list[views.Fix]:
    statement = track_statement(device_id, period.start, period.end, every_s)
    return views.fixes_of(rows_of(influx.query(statement.text, statement.params)))


_LOCATION_TABLE = f"{quote_identifier(EVIDENCE.name)}.{quote_identifier(LOCATION)}"
_PERIOD_WHERE = f"{DEVICE_TAG} = $device AND time >= $start AND time < $end"


def _period_params(device_id: str, period: views.Period) -> dict[str, Any]:
    return {"device": device_id, "start": to_ns(period.start), "end": to_ns(period.end)}


def counts_statement(device_id: str, period: views.Period) -> Statement:
    """The period's fixes and late fixes, counted: two statements in one request."""
    text = (
        f"SELECT count(seq) AS fixes FROM {_LOCATION_TABLE} WHERE {_PERIOD_WHERE}; "
        f"SELECT count(seq) AS late FROM {_LOCATION_TABLE} WHERE {_PERIOD_WHERE} AND late = true"
    )
    return Statement(text, _period_params(device_id, period))


def late_statement(device_id: str, period: views.Period) -> Statement:
    """The period's first late fixes (``late`` is a boolean field), oldest first."""
    text = (
        f"SELECT lat, lon, accuracy_m, boot, seq, late FROM {_LOCATION_TABLE} "
        f"WHERE {_PERIOD_WHERE} AND late = true ORDER BY time ASC LIMIT {views.LATE_DRAWN}"
    )
    return Statement(text, _period_params(device_id, period))


def count_fixes(influx: InfluxStore, device_id: str, period: views.Period) -> tuple[int, int]:
    """(fixes, late fixes) in the period; a count of none answers no row at all."""
    statement = counts_statement(device_id, period)
    counts = {"fixes": 0, "late": 0}
    for row in rows_of(influx.query(statement.text, statement.params)):
        for name in counts:
            if row.get(name) is not None:
                counts[name] = int(row[name])
    return counts["fixes"], counts["late"]


def query_late(influx: InfluxStore, device_id: str, period: views.Period) -> list[views.Fix]:
    statement = late_statement(device_id, period)
    return views.fixes_of(rows_of(influx.query(statement.text, statement.params)))


def gap_spans(session: Session, device_id: str, boots: set[int | None]) -> list[views.GapSpan]:
    known = [boot for boot in boots if boot is not None]
    if not known:
        return []
    rows = session.execute(
        select(SequenceGap.boot, SequenceGap.first_seq, SequenceGap.last_seq).where(
            SequenceGap.device_id == device_id, SequenceGap.boot.in_(known)
        )
    )
    return [views.GapSpan(boot, first, last) for boot, first, last in rows]


def map_data(track: views.Track, viewer: Viewer) -> dict[str, Any]:
    """What device.js draws, and no more: the points as [lat, lon] (WGS-84), the pieces
    of line as [first, end) indices into them, the marked late fixes as [lat, lon, time]
    and the two ends. Times come formatted in the reader's zone and language, as the page
    shows them, for those few only."""

    def when(fix: views.Fix) -> str:
        return local_time(fix.time, viewer.zone, viewer.language)

    def end(fix: views.Fix) -> dict[str, Any]:
        return {"lat": fix.lat, "lon": fix.lon, "time": when(fix)}

    return {
        "points": [[fix.lat, fix.lon] for fix in track.fixes],
        "segments": track.segment_ranges,
        "late": [[fix.lat, fix.lon, when(fix)] for fix in track.late],
        "first": end(track.fixes[0]) if track.fixes else None,
        "last": end(track.fixes[-1]) if track.fixes else None,
    }
