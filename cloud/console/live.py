"""What the live map shows of each bracelet, read through the fleet policy.

The map and its event stream read the same rows the same way: a change feed names ids
only, and ``markers`` turns ids into what this person may see of them, so a change to a
device somebody may not see sends them nothing at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.fleet import policy as fleet_policy
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import DeviceStatus, device_status, latest
from cloud.identity.principal import Principal
from core.receiver import DeviceKind

# A change set larger than this is read as "everything" (one query, not an IN of 5,000).
_MAX_IDS_IN_QUERY = 500


@dataclass(frozen=True, slots=True)
class Marker:
    """One bracelet as the map draws it: WGS-84, as stored; the page shifts to draw."""

    id: str
    status: DeviceStatus
    lat: float | None
    lon: float | None
    accuracy_m: int | None
    fix_at: datetime | None  # device time of the fix
    seen_at: datetime | None  # when the cloud last heard of it
    battery_pct: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "fix_at": _iso(self.fix_at),
            "seen_at": _iso(self.seen_at),
            "battery_pct": self.battery_pct,
        }


def markers(
    session: Session,
    principal: Principal,
    now: datetime,
    silent_s: int,
    ids: Collection[str] | None = None,
) -> list[Marker]:
    """The bracelets this person may see (only ``ids``, when given), in one query."""
    query = (
        select(Device, Gateway)
        .outerjoin(Gateway, Gateway.id == Device.gateway_id)
        .where(fleet_policy.visible_devices(principal), Device.kind == DeviceKind.bracelet.value)
        .order_by(Device.id)
    )
    if ids is not None and len(ids) <= _MAX_IDS_IN_QUERY:
        query = query.where(Device.id.in_(sorted(ids)))
    chosen = None if ids is None else set(ids)
    return [
        _marker(device, gateway, now, silent_s)
        for device, gateway in session.execute(query)
        if chosen is None or device.id in chosen
    ]


def _marker(device: Device, gateway: Gateway | None, now: datetime, silent_s: int) -> Marker:
    contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at) if gateway else None
    fix_at = (
        datetime.fromtimestamp(device.last_fix_ts, UTC) if device.last_fix_ts is not None else None
    )
    return Marker(
        id=device.id,
        status=device_status(device.presence, contact, now, silent_s),
        lat=device.last_lat,
        lon=device.last_lon,
        accuracy_m=device.last_accuracy_m,
        fix_at=fix_at,
        seen_at=device.last_seen_at,
        battery_pct=device.battery_pct,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
