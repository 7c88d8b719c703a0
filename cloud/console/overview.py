"""What the overview page counts, each in one aggregate query filtered by the policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cloud.fleet import policy as fleet_policy
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import DeviceStatus, gateway_alive, latest, status_from
from cloud.identity.policy import sees_everything
from cloud.identity.principal import Principal
from cloud.ingest.models import DailyRecordCount


@dataclass(frozen=True, slots=True)
class GatewayLine:
    id: str
    alive: bool
    last_contact: datetime | None
    backlog: int | None  # messages buffered at its last heartbeat
    oldest_buffered_age_s: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    devices: Counter[DeviceStatus]
    gateways: list[GatewayLine] | None  # None: not this person's to see

    @property
    def device_total(self) -> int:
        return sum(self.devices.values())


def overview(session: Session, principal: Principal, now: datetime, silent_s: int) -> Overview:
    """Devices by status among those this person may see; gateways, for those who see all."""
    devices: Counter[DeviceStatus] = Counter()
    if fleet_policy.may_list_devices(principal):
        cutoff = now - timedelta(seconds=silent_s)
        alive = and_(
            Gateway.id.is_not(None),
            or_(Gateway.last_heartbeat_at >= cutoff, Gateway.last_batch_at >= cutoff),
        )
        rows = session.execute(
            select(alive.label("alive"), Device.presence, func.count())
            .select_from(Device)
            .outerjoin(Gateway, Gateway.id == Device.gateway_id)
            .where(fleet_policy.visible_devices(principal))
            .group_by(alive, Device.presence)
        )
        for is_alive, presence, count in rows:
            devices[status_from(presence, bool(is_alive))] += int(count)
    gateways = None
    if sees_everything(principal):
        gateways = []
        for gateway in session.scalars(select(Gateway).order_by(Gateway.id)):
            contact = latest(gateway.last_heartbeat_at, gateway.last_batch_at)
            gateways.append(
                GatewayLine(
                    gateway.id,
                    gateway_alive(contact, now, silent_s),
                    contact,
                    gateway.buffer_depth,
                    gateway.oldest_buffered_age_s,
                )
            )
    return Overview(devices, gateways)


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of today where the console's readers are (a day is local, not UTC)."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), zone)


def readings_on(session: Session, principal: Principal, day: date) -> int | None:
    """Records stored with a device time on local ``day``, of the devices this person may
    see (one aggregate query over ingest's daily counts); None when they may see none."""
    if not fleet_policy.may_list_devices(principal):
        return None
    total = session.scalar(
        select(func.coalesce(func.sum(DailyRecordCount.records), 0))
        .join(Device, Device.id == DailyRecordCount.device_id)
        .where(DailyRecordCount.day == day, fleet_policy.visible_devices(principal))
    )
    return int(total or 0)
