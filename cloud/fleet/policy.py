"""Who may see and steer which devices, applied as a filter of the query that lists them.

| role | devices | tracks | config |
| --- | --- | --- | --- |
| administrator, prosecutor | all | all | yes |
| river_chief | the stations of the sites granted to them | none | no |
| lawyer, party | none | none | no |
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from cloud.fleet.models import Device
from cloud.identity.models import Role
from cloud.identity.policy import require, sees_everything, visible
from cloud.identity.principal import Grant, Principal


def may_list_devices(principal: Principal) -> bool:
    return sees_everything(principal) or principal.role is Role.river_chief


def may_read_tracks(principal: Principal) -> bool:
    return sees_everything(principal)


def may_configure_devices(principal: Principal) -> bool:
    return sees_everything(principal)


def visible_devices(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``Device`` rows this person may see, for a query's WHERE."""
    if sees_everything(principal):
        return true()
    if principal.role is Role.river_chief:
        return Device.site_id.in_(principal.granted(Grant.sites).scalar_subquery())
    return false()


def visible_device(session: Session, principal: Principal, device_id: str) -> Device:
    """The device, if this person may see it; NotFoundError as if it did not exist."""
    require(may_list_devices(principal), "see devices")
    query = select(Device).where(Device.id == device_id, visible_devices(principal))
    return visible(session.scalar(query), f"device {device_id}")
