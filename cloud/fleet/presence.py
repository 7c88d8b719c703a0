"""A device's status as people see it, from its own word and its gateway's. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class DeviceStatus(StrEnum):
    online = "online"  # its gateway is alive and the device said it is connected
    offline = "offline"  # its gateway is alive and the device is not connected
    gateway_unreachable = "gateway_unreachable"  # we cannot know: the gateway is silent
    unknown = "unknown"  # the gateway is alive, the device never said anything


def gateway_alive(last_contact: datetime | None, now: datetime, silent_after_s: int) -> bool:
    """A gateway is alive while its last heartbeat or batch is recent."""
    return last_contact is not None and now - last_contact <= timedelta(seconds=silent_after_s)


def device_status(
    presence: str | None,
    gateway_last_contact: datetime | None,
    now: datetime,
    silent_after_s: int,
) -> DeviceStatus:
    """``gateway_unreachable`` wins: a silent gateway says nothing about its devices."""
    return status_from(presence, gateway_alive(gateway_last_contact, now, silent_after_s))


def status_from(presence: str | None, gateway_is_alive: bool) -> DeviceStatus:
    """A device's status from its own word and whether its gateway is alive."""
    if not gateway_is_alive:
        return DeviceStatus.gateway_unreachable
    if presence == "online":
        return DeviceStatus.online
    if presence == "offline":
        return DeviceStatus.offline
    return DeviceStatus.unknown


def latest(*moments: datetime | None) -> datetime | None:
    """The most recent of the given moments, ignoring the missing ones."""
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None
