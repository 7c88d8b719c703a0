"""Gateways, devices and their downlink.

A device's assignment is kept on its row: a river station's site (``river_sites``, the
rivers domain) or a bracelet's supervised person (``supervised_persons``, the
supervision domain), referred to by table name so this domain imports neither.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime

DEVICE_ID_LENGTH = 32
GATEWAY_ID_LENGTH = 32


class Gateway(Base):
    """An edge gateway; it authenticates with a random token of which only the hash is kept."""

    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(GATEWAY_ID_LENGTH), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_batch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    buffer_depth: Mapped[int | None] = mapped_column(BigInteger)
    buffer_bytes: Mapped[int | None] = mapped_column(BigInteger)
    oldest_buffered_age_s: Mapped[float | None] = mapped_column(Float)
    version: Mapped[str | None] = mapped_column(String(64))


class Device(Base):
    """A field device, its assignment and its latest state."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("person_id IS NULL OR site_id IS NULL", name="one_assignment"),
    )

    id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # a core.devices kind
    gateway_id: Mapped[str | None] = mapped_column(ForeignKey("gateways.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("supervised_persons.id"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("river_sites.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    config_version: Mapped[int | None] = mapped_column(BigInteger)  # the one it runs
    issued_config_version: Mapped[int | None] = mapped_column(BigInteger)  # the last one sent
    presence: Mapped[str | None] = mapped_column(String(8))
    presence_received_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_record_ts: Mapped[int | None] = mapped_column(BigInteger)  # device time, seconds
    last_boot: Mapped[int | None] = mapped_column(BigInteger)  # high-water mark (boot, seq)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    battery_pct: Mapped[int | None] = mapped_column(Integer)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_accuracy_m: Mapped[int | None] = mapped_column(Integer)
    last_fix_ts: Mapped[int | None] = mapped_column(BigInteger)  # device time of that fix, s
    # Records held back from the evidence (core.evidence): how many, and the latest.
    held_implausible_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    held_conflicting: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_held_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_held_code: Mapped[str | None] = mapped_column(String(32))
    last_held_reason: Mapped[str | None] = mapped_column(Text)


class DownlinkMessage(Base):
    """A config or command waiting for the device's gateway to publish it."""

    __tablename__ = "downlink_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # "config" or "cmd"
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
