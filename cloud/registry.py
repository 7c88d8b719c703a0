"""The registry: gateways, people, sites, supervised persons, devices, downlink.

Used by the operators' CLI (``fieldwatch cloud add-...``) and by the API. Each function
works inside the caller's session and transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from cloud.auth.tokens import gateway_token_hash, new_gateway_token
from cloud.db.models import (
    Device,
    DeviceKind,
    DownlinkMessage,
    Gateway,
    RiverSite,
    Role,
    SiteAssignment,
    SupervisedPerson,
    User,
)
from cloud.errors import CloudError, ConflictError, NotFoundError
from core import contract as c
from core.codec import encode
from core.errors import CoreError
from core.messages import Config
from core.topics import check_device_id

CONFIG_SETTING_IDS = {name: sid for sid, (name, _low, _high) in c.CONFIG_SETTINGS.items()}


class RegistryError(CloudError):
    """A registry entry is malformed (bad id, weak password, wrong kind)."""


def _check_id(value: str, what: str) -> None:
    try:
        check_device_id(value)
    except CoreError as exc:
        raise RegistryError(f"{what} id {value!r}: {exc}") from exc


def add_gateway(session: Session, gateway_id: str, now: datetime) -> str:
    """Register a gateway; return its token, which is stored only as a hash."""
    _check_id(gateway_id, "gateway")
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


def add_user(session: Session, username: str, password: str, role: Role, now: datetime) -> User:
    if not 1 <= len(username) <= 64:
        raise RegistryError("a username has 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RegistryError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError(f"user {username} exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def add_site(session: Session, site_id: str, name: str, river: str) -> RiverSite:
    _check_id(site_id, "site")
    if session.get(RiverSite, site_id) is not None:
        raise ConflictError(f"site {site_id} exists")
    site = RiverSite(id=site_id, name=name, river=river)
    session.add(site)
    return site


def assign_site(session: Session, username: str, site_id: str) -> None:
    """Give a river chief a site to watch."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user {username}")
    if user.role != Role.river_chief:
        raise RegistryError(f"{username} is a {user.role}, not a river chief")
    if session.get(RiverSite, site_id) is None:
        raise NotFoundError(f"no site {site_id}")
    if session.get(SiteAssignment, (user.id, site_id)) is None:
        session.add(SiteAssignment(user_id=user.id, site_id=site_id))


def add_person(session: Session, reference: str, name: str) -> SupervisedPerson:
    if session.scalar(select(SupervisedPerson).where(SupervisedPerson.reference == reference)):
        raise ConflictError(f"supervised person {reference} exists")
    person = SupervisedPerson(reference=reference, name=name)
    session.add(person)
    session.flush()
    return person


def add_device(
    session: Session,
    device_id: str,
    kind: DeviceKind,
    gateway_id: str,
    now: datetime,
    *,
    site_id: str | None = None,
    person_reference: str | None = None,
) -> Device:
    """Register a device, served by ``gateway_id``, assigned to a site or a person."""
    _check_id(device_id, "device")
    if session.get(Device, device_id) is not None:
        raise ConflictError(f"device {device_id} exists")
    if session.get(Gateway, gateway_id) is None:
        raise NotFoundError(f"no gateway {gateway_id}")
    if kind is DeviceKind.bracelet and site_id is not None:
        raise RegistryError("a bracelet is assigned to a supervised person, not a site")
    if kind is DeviceKind.river_station and person_reference is not None:
        raise RegistryError("a river station is assigned to a site, not a person")
    person_id = None
    if person_reference is not None:
        person = session.scalar(
            select(SupervisedPerson).where(SupervisedPerson.reference == person_reference)
        )
        if person is None:
            raise NotFoundError(f"no supervised person {person_reference}")
        person_id = person.id
    if site_id is not None and session.get(RiverSite, site_id) is None:
        raise NotFoundError(f"no site {site_id}")
    device = Device(
        id=device_id,
        kind=kind.value,
        gateway_id=gateway_id,
        site_id=site_id,
        person_id=person_id,
        created_at=now,
    )
    session.add(device)
    return device


def issue_config(
    session: Session, device: Device, settings: dict[str, int], now: datetime
) -> DownlinkMessage:
    """Queue the device's next config version for its gateway (docs/gateway-api.md)."""
    unknown = sorted(set(settings) - set(CONFIG_SETTING_IDS))
    if unknown:
        raise RegistryError(f"unknown settings: {', '.join(unknown)}")
    version = (device.issued_config_version or device.config_version or 0) + 1
    config = Config(
        version, int(now.timestamp()), {CONFIG_SETTING_IDS[k]: v for k, v in settings.items()}
    )
    try:
        payload = encode(config)
    except CoreError as exc:
        raise RegistryError(str(exc)) from exc
    device.issued_config_version = version
    message = DownlinkMessage(
        device_id=device.id, channel="config", payload=payload, created_at=now
    )
    session.add(message)
    session.flush()
    return message
