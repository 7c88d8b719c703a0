"""Devices: list and detail with latest state, track, config."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from cloud.fleet import policy, service
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import device_status, latest
from cloud.fleet.schemas import ConfigIn, ConfigOut, DeviceOut, HeldOut, TrackOut, TrackPoint
from cloud.identity.deps import PrincipalDep
from cloud.identity.policy import require
from cloud.timeseries.queries import rows_of, track_statement
from cloud.web.deps import NowDep, RuntimeDep, SessionDep
from cloud.web.fields import ID_PATTERN
from cloud.web.responses import error_responses
from cloud.web.window import WindowDep
from core.receiver import DeviceKind

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="e.g. br-000123")]
_ERRORS = error_responses(401, 403, 404, 422, 503)


@router.get("", response_model=list[DeviceOut], responses=_ERRORS)
def list_devices(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    kind: DeviceKind | None = None,
) -> list[DeviceOut]:
    """Every device the caller may see, with its latest state and status (one query)."""
    require(policy.may_list_devices(principal), "list devices")
    query = (
        select(Device, Gateway)
        .outerjoin(Gateway, Gateway.id == Device.gateway_id)
        .where(policy.visible_devices(principal))
        .order_by(Device.id)
    )
    if kind is not None:
        query = query.where(Device.kind == kind.value)
    silent_s = runtime.settings.gateway_silent_after_s
    return [
        device_out(device, gateway, now, silent_s) for device, gateway in session.execute(query)
    ]


@router.get("/{device_id}", response_model=DeviceOut, responses=_ERRORS)
def get_device(
    device_id: DeviceId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> DeviceOut:
    """One device's latest state and status."""
    device = policy.visible_device(session, principal, device_id)
    gateway = session.get(Gateway, device.gateway_id) if device.gateway_id else None
    return device_out(device, gateway, now, runtime.settings.gateway_silent_after_s)


@router.get("/{device_id}/track", response_model=TrackOut, responses=_ERRORS)
def get_track(
    device_id: DeviceId,
    window: WindowDep,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TrackOut:
    """A bracelet's location fixes over [start, end), oldest first; every fix, or with
    ``every_s`` the first fix of each bucket (at most 10,000 points)."""
    require(policy.may_read_tracks(principal), "read tracks")
    policy.visible_device(session, principal, device_id)
    statement = track_statement(device_id, window.start, window.end, window.every_s)
    rows = rows_of(runtime.influx.query(statement.text, statement.params))
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
    device_id: DeviceId, body: ConfigIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ConfigOut:
    """Issue the device's next config version; its gateway relays it (retained)."""
    require(policy.may_configure_devices(principal), "configure devices")
    device = policy.visible_device(session, principal, device_id)
    message = service.issue_config(session, device, body.settings, now)
    session.commit()
    return ConfigOut(
        device_id=device_id,
        version=device.issued_config_version or 0,
        downlink_id=str(message.id),
    )


def device_out(device: Device, gateway: Gateway | None, now: datetime, silent_s: int) -> DeviceOut:
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
        held=HeldOut(
            implausible_time=device.held_implausible_time,
            conflicting_record=device.held_conflicting,
            last_at=device.last_held_at,
            last_code=device.last_held_code,
            last_reason=device.last_held_reason,
        ),
    )
