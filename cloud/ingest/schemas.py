"""Request and response bodies of ingest and completeness."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cloud.web.fields import ID_PATTERN, PLAIN_TEXT

MAX_QUARANTINE_ENTRIES = 500


class RejectionOut(BaseModel):
    index: int = Field(description="position of the message in the batch's items")
    device_id: str
    code: str = Field(description="stable reason code (docs/contract.md, docs/gateway-api.md)")
    reason: str


class IngestAnswer(BaseModel):
    batch_id: str
    accepted: int = Field(description="messages of which something was stored")
    duplicate_batch: bool
    rejected: list[RejectionOut] = Field(
        description="messages refused, and records held back (one entry each), all kept in "
        "the cloud's quarantine"
    )


class GapOut(BaseModel):
    boot: int
    first_seq: int
    last_seq: int
    missing: int
    detected_at: datetime


class HeldRecordOut(BaseModel):
    boot: int
    seq: int
    code: str = Field(description="implausible_time, conflicting_record, ...")
    reason: str
    source: str = Field(description="who held it: cloud, or gateway")
    received_at_ms: int = Field(description="when the gateway received it (its clock)")


class GapsOut(BaseModel):
    device_id: str
    missing_total: int = Field(description="records known to be missing: in no run")
    gaps: list[GapOut]
    held_total: int = Field(description="records that arrived but were held back, with why")
    held_by_code: dict[str, int]
    held: list[HeldRecordOut] = Field(description="the held records, by (boot, seq); at most 1000")


class QuarantineEntryIn(BaseModel):
    """One row of a gateway's own quarantine."""

    id: int = Field(ge=0, description="the gateway's quarantine row id")
    received_at_ms: int = Field(ge=0)
    topic: str = Field(max_length=65535, pattern=PLAIN_TEXT)
    device_id: str | None = Field(default=None, max_length=64, pattern=PLAIN_TEXT)
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    reason: str = Field(max_length=4096, pattern=PLAIN_TEXT)
    payload_b64: str


class GatewayQuarantineIn(BaseModel):
    gateway_id: str = Field(pattern=ID_PATTERN)
    entries: list[QuarantineEntryIn] = Field(max_length=MAX_QUARANTINE_ENTRIES)


class GatewayQuarantineOut(BaseModel):
    stored: int = Field(description="entries stored now")
    duplicates: int = Field(description="entries stored by an earlier upload")
