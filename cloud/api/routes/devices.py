"""Devices: list and detail with latest state, completeness (gaps), track, config."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import NowDep, PersonDep, ServicesDep, SessionDep
from cloud.api.routes import error_responses
from cloud.api.schemas import (
    ID_PATTERN,
    ConfigIn,
    ConfigOut,
    DeviceOut,
    GapOut,
    GapsOut,
    TrackOut,
    TrackPoint,
)
from cloud.api.window import WindowDep
from cloud.auth import access
from cloud.auth.access import Person
from cloud.db.models import Device, DeviceKind, Gateway, SequenceGap
from cloud.presence import device_status, latest
from cloud.registry import issue_config
from cloud.timeseries.queries import rows_of, track_statement

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. br-000123")]
_ERRORS = error_responses(401, 403, 404, 422, 503)


@router.get("", response_model=list[DeviceOut], responses=_ERRORS)
def list_devices(
    person: PersonDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
    kind: DeviceKind | None = None,
) -> list[DeviceOut]:
    """Every device the caller may see, with its latest state and status."""
    access.require(access.may_list_devices(person), "list devices")
    query = select(Device, Gateway).outerjoin(Gateway, Gateway.id == Device.gateway_id)
    if kind is not None:
        query = query.where(Device.kind == kind.value)
    query = query.order_by(Device.id)
    silent_s = services.settings.gateway_silent_after_s
    return [
        _device_out(device, gateway, now, silent_s)
        for device, gateway in session.execute(query)
        if access.may_see_device(person, device.site_id)
    ]


@router.get("/{device_id}", response_model=DeviceOut, responses=_ERRORS)
def get_device(
    device_id: DeviceId, person: PersonDep, session: SessionDep, services: ServicesDep, now: NowDep
) -> DeviceOut:
    """One device's latest state and status."""
    device = _visible_device(session, person, device_id)
    gateway = session.get(Gateway, device.gateway_id) if device.gateway_id else None
    return _device_out(device, gateway, now, services.settings.gateway_silent_after_s)


@router.get("/{device_id}/gaps", response_model=GapsOut, responses=_ERRORS)
def get_gaps(device_id: DeviceId, person: PersonDep, session: SessionDep) -> GapsOut:
    """Records known to be missing: holes in (boot, seq) below the highest received."""
    _visible_device(session, person, device_id)
    rows = session.scalars(
        select(SequenceGap)
        .where(SequenceGap.device_id == device_id)
        .order_by(SequenceGap.boot, SequenceGap.first_seq)
    )
    gaps = [
        GapOut(
            boot=gap.boot,
            first_seq=gap.first_seq,
            last_seq=gap.last_seq,
            missing=gap.last_seq - gap.first_seq + 1,
            detected_at=gap.detected_at,
        )
        for gap in rows
    ]
    return GapsOut(device_id=device_id, missing_total=sum(g.missing for g in gaps), gaps=gaps)


@router.get("/{device_id}/track", response_model=TrackOut, responses=_ERRORS)
def get_track(
    device_id: DeviceId,
    window: WindowDep,
    person: PersonDep,
    session: SessionDep,
    services: ServicesDep,
) -> TrackOut:
    """A bracelet's location fixes over [start, end), oldest first; every fix, or with
    ``every_s`` the first fix of each bucket (at most 10,000 points)."""
    access.require(access.may_read_tracks(person), "read tracks")
    _visible_device(session, person, device_id)
    statement = track_statement(device_id, window.start, window.end, window.every_s)
    rows = rows_of(services.influx.query(statement.text, statement.params))
    points = [
        TrackPoint(
            time=row["time"],
            lat=row["lat"],
            lon=row["lon"],
            accuracy_m=row.get("accuracy_m"),
            source=row.get("source"),
            boot=row.get("boot"),
            seq=row.get("seq"),
            late=row.get("late"),
        )
        for row in rows
        if row.get("lat") is not None and row.get("lon") is not None
    ]
    return TrackOut(device_id=device_id, every_s=window.every_s, points=points)


@router.put("/{device_id}/config", response_model=ConfigOut, responses=_ERRORS)
def put_config(
    device_id: DeviceId, body: ConfigIn, person: PersonDep, session: SessionDep, now: NowDep
) -> ConfigOut:
    """Issue the device's next config version; its gateway relays it (retained)."""
    access.require(access.may_configure_devices(person), "configure devices")
    device = _visible_device(session, person, device_id)
    message = issue_config(session, device, body.settings, now)
    session.commit()
    return ConfigOut(
        device_id=device_id,
        version=device.issued_config_version or 0,
        downlink_id=str(message.id),
    )


def _visible_device(session: Session, person: Person, device_id: str) -> Device:
    access.require(access.may_list_devices(person), "see devices")
    device = session.get(Device, device_id)
    access.require_visible(
        device is not None and access.may_see_device(person, device.site_id),
        f"device {device_id}",
    )
    assert device is not None
    return device


def _device_out(device: Device, gateway: Gateway | None, now: datetime, silent_s: int) -> DeviceOut:
    contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at) if gateway else None
    return DeviceOut(
        id=device.id,
        kind=device.kind,
        gateway_id=device.gateway_id,
        site_id=device.site_id,
        person_id=device.person_id,
        status=device_status(device.presence, contact, now, silent_s),
        firmware_version=device.firmware_version,
        config_version=device.config_version,
        last_seen_at=device.last_seen_at,
        last_record_ts=device.last_record_ts,
        last_boot=device.last_boot,
        last_seq=device.last_seq,
        battery_pct=device.battery_pct,
        last_lat=device.last_lat,
        last_lon=device.last_lon,
    )
