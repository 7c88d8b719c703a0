"""The only writer of gateways, devices and their downlink. Each function works in the
caller's session and transaction (the CLI's, a route's, the ingest's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.errors import AuthenticationError, ConflictError, InvalidRequestError, NotFoundError
from cloud.fleet.models import Device, DownlinkMessage, Gateway
from cloud.fleet.tokens import gateway_token_hash, new_gateway_token
from cloud.timeseries.points import Record
from cloud.web.fields import check_id
from core import contract as c
from core.codec import decode, encode
from core.errors import CONFLICTING_RECORD, IMPLAUSIBLE_TIME, CoreError
from core.messages import Ack, Command, Config, ConfigZone, Event, Health, LocationFix, Status
from core.receiver import DeviceKind

CONFIG_SETTING_IDS = {name: sid for sid, (name, _low, _high) in c.CONFIG_SETTINGS.items()}


# --- gateways ---------------------------------------------------------------------------


def add_gateway(session: Session, gateway_id: str, now: datetime) -> str:
    """Register a gateway; return its token, which is stored only as a hash."""
    check_id(gateway_id, "gateway")
    if session.get(Gateway, gateway_id) is not None:
        raise ConflictError(f"gateway {gateway_id} exists")
    token = new_gateway_token()
    session.add(Gateway(id=gateway_id, token_hash=gateway_token_hash(token), created_at=now))
    return token


def rotate_gateway_token(session: Session, gateway_id: str) -> str:
    """A new token for a gateway; the old one stops working."""
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        raise NotFoundError(f"no gateway {gateway_id}")
    token = new_gateway_token()
    gateway.token_hash = gateway_token_hash(token)
    return token


def gateway_of_token(session: Session, token: str) -> Gateway:
    gateway = session.scalar(select(Gateway).where(Gateway.token_hash == gateway_token_hash(token)))
    if gateway is None:
        raise AuthenticationError("unknown gateway token")
    return gateway


@dataclass(frozen=True, slots=True)
class GatewayReport:
    """What a heartbeat says about the gateway's buffer."""

    buffer_depth: int
    buffer_bytes: int
    oldest_buffered_age_s: float | None
    version: str


def record_heartbeat(gateway: Gateway, report: GatewayReport, now: datetime) -> None:
    """The gateway is alive: its devices' status is trusted again."""
    gateway.last_heartbeat_at = now
    gateway.buffer_depth = report.buffer_depth
    gateway.buffer_bytes = report.buffer_bytes
    gateway.oldest_buffered_age_s = report.oldest_buffered_age_s
    gateway.version = report.version


def record_batch(gateway: Gateway, now: datetime) -> None:
    """A batch came from the gateway: as good as a heartbeat for its liveness."""
    gateway.last_batch_at = now


# --- devices ----------------------------------------------------------------------------


def add_device(
    session: Session,
    device_id: str,
    kind: DeviceKind,
    gateway_id: str,
    now: datetime,
    *,
    site_id: str | None = None,
    person_id: int | None = None,
) -> Device:
    """Register a device served by ``gateway_id``, placed at a site or worn by a person.

    The caller has found the site or person (rivers, supervision); the database's
    foreign keys hold the rest.
    """
    check_id(device_id, "device")
    if session.get(Device, device_id) is not None:
        raise ConflictError(f"device {device_id} exists")
    if session.get(Gateway, gateway_id) is None:
        raise NotFoundError(f"no gateway {gateway_id}")
    if kind is DeviceKind.bracelet and site_id is not None:
        raise InvalidRequestError("a bracelet is assigned to a supervised person, not a site")
    if kind is DeviceKind.river_station and person_id is not None:
        raise InvalidRequestError("a river station is assigned to a site, not a person")
    device = Device(
        id=device_id,
        kind=kind.value,
        gateway_id=gateway_id,
        site_id=site_id,
        person_id=person_id,
        created_at=now,
    )
    session.add(device)
    session.flush()
    return device


def place_at_site(session: Session, device_id: str, site_id: str | None) -> Device:
    """Put a river station at a site (the rivers domain has found it), or take it away."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"no device {device_id}")
    if site_id is not None and device.kind == DeviceKind.bracelet:
        raise InvalidRequestError(f"{device_id} is a bracelet; only stations go to sites")
    device.site_id = site_id
    return device


def lock_devices(session: Session, device_ids: Iterable[str]) -> dict[str, Device]:
    """These devices' rows, locked for the transaction (PostgreSQL), in id order."""
    query = select(Device).where(Device.id.in_(sorted(set(device_ids)))).order_by(Device.id)
    return {device.id: device for device in session.scalars(query.with_for_update())}


def high_water(device: Device) -> tuple[int, int] | None:
    """The highest (boot, seq) stored of the device, or None."""
    if device.last_boot is None or device.last_seq is None:
        return None
    return (device.last_boot, device.last_seq)


def apply_records(device: Device, records: Iterable[Record], now: datetime) -> None:
    """Latest state follows the newest record by (boot, seq); late ones fill history only.

    The records in buffer order; the outcome is that of applying them one by one, with
    each attribute of the device row set once.
    """
    device.last_seen_at = now
    mark = high_water(device)
    latest: dict[str, object] = {}
    for record in records:
        position = (record.boot, record.seq)
        if mark is not None and position < mark:
            continue
        mark = position
        latest["last_boot"], latest["last_seq"] = position
        latest["last_record_ts"] = record.ts
        if isinstance(record, LocationFix):
            latest["last_lat"], latest["last_lon"] = record.lat, record.lon
            latest["last_accuracy_m"], latest["last_fix_ts"] = record.accuracy_m, record.ts
        elif isinstance(record, Health) or (
            isinstance(record, Event) and record.battery_pct is not None
        ):
            latest["battery_pct"] = record.battery_pct
        elif (
            isinstance(record, Ack)
            and record.config_version is not None
            and record.result == c.ACK_DONE
        ):
            latest["config_version"] = record.config_version
    for name, value in latest.items():
        setattr(device, name, value)


def apply_status(device: Device, status: Status, received_at_ms: int, now: datetime) -> None:
    """The retained status: the one the gateway received last wins."""
    if device.presence_received_ms is not None and received_at_ms < device.presence_received_ms:
        return
    device.presence = "online" if status.online else "offline"
    device.presence_received_ms = received_at_ms
    device.last_seen_at = now
    if status.firmware is not None:
        device.firmware_version = status.firmware
    if status.config_version is not None:
        device.config_version = status.config_version


def note_held(device: Device, code: str, reason: str, now: datetime) -> None:
    """A record of the device was held back from the evidence (core.evidence): count it,
    and keep the latest reason on the device's state for people to see."""
    if code == IMPLAUSIBLE_TIME:
        device.held_implausible_time = (device.held_implausible_time or 0) + 1
    elif code == CONFLICTING_RECORD:
        device.held_conflicting = (device.held_conflicting or 0) + 1
    device.last_held_at = now
    device.last_held_code = code
    device.last_held_reason = reason


# --- downlink ---------------------------------------------------------------------------


def issue_config(
    session: Session,
    device: Device,
    settings: dict[str, int],
    now: datetime,
    zones: Sequence[ConfigZone] | None = None,
) -> DownlinkMessage:
    """Queue the device's next config version for its gateway (docs/gateway-api.md).

    A config is whole: settings left out take the device's defaults, and ``zones``
    (a bracelet's wearer's, from supervision) replace the ones it had."""
    unknown = sorted(set(settings) - set(CONFIG_SETTING_IDS))
    if unknown:
        raise InvalidRequestError(f"unknown settings: {', '.join(unknown)}")
    version = (device.issued_config_version or device.config_version or 0) + 1
    config = Config(
        version,
        int(now.timestamp()),
        {CONFIG_SETTING_IDS[k]: v for k, v in settings.items()},
        list(zones or ()),
    )
    try:
        payload = encode(config)
    except CoreError as exc:
        raise InvalidRequestError(str(exc)) from exc
    device.issued_config_version = version
    message = DownlinkMessage(
        device_id=device.id, channel="config", payload=payload, created_at=now
    )
    session.add(message)
    session.flush()
    return message


def last_issued_config(session: Session, device: Device) -> Config | None:
    """The newest config queued for the device, decoded (None: it runs its defaults)."""
    payload = session.scalar(
        select(DownlinkMessage.payload)
        .where(DownlinkMessage.device_id == device.id, DownlinkMessage.channel == "config")
        .order_by(DownlinkMessage.id.desc())
        .limit(1)
    )
    if payload is None:
        return None
    message = decode(payload, "config")
    return message if isinstance(message, Config) else None


def pending_downlink(session: Session, gateway_id: str, limit: int) -> Sequence[DownlinkMessage]:
    """Messages for this gateway's devices not yet acknowledged, oldest first."""
    return session.scalars(
        select(DownlinkMessage)
        .join(Device, Device.id == DownlinkMessage.device_id)
        .where(Device.gateway_id == gateway_id, DownlinkMessage.acked_at.is_(None))
        .order_by(DownlinkMessage.id)
        .limit(limit)
    ).all()


def acknowledge_downlink(
    session: Session, gateway_id: str, ids: Sequence[int], now: datetime
) -> int:
    """Mark these messages published; only the gateway's own devices' count."""
    if not ids:
        return 0
    own_devices = select(Device.id).where(Device.gateway_id == gateway_id)
    result = session.execute(
        update(DownlinkMessage)
        .where(
            DownlinkMessage.id.in_(ids),
            DownlinkMessage.acked_at.is_(None),
            DownlinkMessage.device_id.in_(own_devices),
        )
        .values(acked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def issue_command(
    session: Session,
    device: Device,
    code: int,
    args: dict[int, int],
    now: datetime,
    expires_in_s: int | None = None,
) -> DownlinkMessage:
    """Queue a command for the device's gateway; its id is the downlink message's id.

    The device answers with the same id (its ack, and a roll-call response's event).
    """
    if code not in c.COMMANDS:
        raise InvalidRequestError(f"unknown command {code}")
    message = DownlinkMessage(device_id=device.id, channel="cmd", payload=b"", created_at=now)
    session.add(message)
    session.flush()
    ts = int(now.timestamp())
    expires = ts + expires_in_s if expires_in_s is not None else None
    try:
        message.payload = encode(Command(message.id, ts, code, dict(args), expires))
    except CoreError as exc:
        raise InvalidRequestError(str(exc)) from exc
    return message
