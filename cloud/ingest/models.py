"""Completeness (runs and gaps of sequence numbers), batches stored, and the quarantine."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UtcDateTime


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


class DailyRecordCount(Base):
    """How many records of a device were stored with a device time on a local day: what
    the console's "readings today" sums, kept by ingest as it stores them (counting the
    time series on every page view would grow through the day)."""

    __tablename__ = "daily_record_counts"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    records: Mapped[int] = mapped_column(BigInteger)


class IngestedBatch(Base):
    """A batch stored: a retry with the same (gateway, batch id) is answered from here."""

    __tablename__ = "ingested_batches"

    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected_json: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class QuarantinedReading(Base):
    """A message refused, or one record of it held back, kept with its bytes and reason.

    ``source`` says who refused it: ``cloud`` (a forwarded batch's item: ``batch_id``,
    ``item_index``) or ``gateway`` (its own quarantine, uploaded: ``gateway_entry_id``,
    ``topic``). A held record (``core.evidence``) names its ``boot`` and ``seq`` and, in
    a device batch, its position among the message's records (``record_index``); the
    payload is always the whole message, byte for byte.
    """

    __tablename__ = "quarantined_readings"
    __table_args__ = (
        UniqueConstraint("gateway_id", "gateway_entry_id", "record_index"),
        Index("ix_quarantined_readings_device_boot", "device_id", "boot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(8), default="cloud", server_default="cloud")
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    gateway_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    batch_id: Mapped[str | None] = mapped_column(String(128))
    item_index: Mapped[int | None] = mapped_column(Integer)
    record_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    device_id: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(16))
    received_at_ms: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    boot: Mapped[int | None] = mapped_column(BigInteger)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)
