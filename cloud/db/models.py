"""The relational store: SQLAlchemy 2 models. Alembic migrations (cloud/migrations) build it.

Sequence numbers and boot ids are uint32 on the wire, hence BigInteger columns.
Every time column holds UTC; ``UtcDateTime`` gives it back timezone-aware on
SQLite too, which keeps no zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEVICE_ID_LENGTH = 32
GATEWAY_ID_LENGTH = 32


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Role(StrEnum):
    """What a person is, which decides what they may see (cloud.auth.access)."""

    prosecutor = "prosecutor"
    river_chief = "river_chief"
    lawyer = "lawyer"
    party = "party"
    administrator = "administrator"


class DeviceKind(StrEnum):
    bracelet = "bracelet"
    river_station = "river-station"


class Presence(StrEnum):
    """A device's own word, from its retained status message."""

    online = "online"
    offline = "offline"


class User(Base):
    """A person who logs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


class SupervisedPerson(Base):
    """A person under non-custodial supervision, as far as a bracelet's assignment needs."""

    __tablename__ = "supervised_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # case reference
    name: Mapped[str] = mapped_column(String(128))


class RiverSite(Base):
    """A river monitoring site, where a river station is assigned."""

    __tablename__ = "river_sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    river: Mapped[str] = mapped_column(String(128))


class SiteAssignment(Base):
    """A river chief's site: they see only these."""

    __tablename__ = "site_assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(
        ForeignKey("river_sites.id", ondelete="CASCADE"), primary_key=True
    )


class Device(Base):
    """A field device, its assignment and its latest state."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("person_id IS NULL OR site_id IS NULL", name="one_assignment"),
    )

    id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
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


class SequenceRange(Base):
    """A run of consecutive sequence numbers received from one boot of a device."""

    __tablename__ = "sequence_ranges"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    boot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class SequenceGap(Base):
    """Sequence numbers missing between received ones, within one boot (inclusive)."""

    __tablename__ = "sequence_gaps"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    boot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IngestedBatch(Base):
    """A batch stored: a retry with the same (gateway, batch id) is answered from here."""

    __tablename__ = "ingested_batches"

    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected_json: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class QuarantinedReading(Base):
    """A forwarded message the cloud refused, kept with its bytes and reason."""

    __tablename__ = "quarantined_readings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    batch_id: Mapped[str] = mapped_column(String(128))
    item_index: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    received_at_ms: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DownlinkMessage(Base):
    """A config or command waiting for the device's gateway to publish it."""

    __tablename__ = "downlink_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # "config" or "cmd"
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
