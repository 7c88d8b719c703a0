"""Request and response bodies of the HTTP API (they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cloud.presence import DeviceStatus

ID_PATTERN = r"^[a-z][a-z0-9-]{2,31}$"  # the contract's device id scheme, used for every id
# Text that is stored or looked up: no control characters (PostgreSQL refuses NUL).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"


class HealthOut(BaseModel):
    status: str = Field(description="ok when the API answers")
    influxdb: bool = Field(description="InfluxDB answers /ping")


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=PLAIN_TEXT)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class PersonOut(BaseModel):
    username: str
    role: str
    site_ids: list[str]


class RejectionOut(BaseModel):
    index: int = Field(description="position of the message in the batch's items")
    device_id: str
    code: str = Field(description="stable reason code (contract.md, or unknown_device...)")
    reason: str


class IngestAnswer(BaseModel):
    batch_id: str
    accepted: int
    duplicate_batch: bool
    rejected: list[RejectionOut]


class HeartbeatIn(BaseModel):
    gateway_id: str = Field(pattern=ID_PATTERN)
    sent_at_ms: int = Field(ge=0)
    uptime_s: float = Field(ge=0)
    buffer_depth: int = Field(ge=0)
    buffer_bytes: int = Field(ge=0)
    oldest_buffered_age_s: float | None = Field(default=None, ge=0)
    version: str = Field(max_length=64, pattern=PLAIN_TEXT)


class HeartbeatOut(BaseModel):
    server_time_ms: int


class DownlinkItem(BaseModel):
    id: str
    device_id: str
    channel: str = Field(description="config or cmd")
    payload_b64: str = Field(description="the CBOR message to publish, base64")


class DownlinkOut(BaseModel):
    messages: list[DownlinkItem]


class DownlinkAckIn(BaseModel):
    ids: list[str] = Field(max_length=10000)


class DownlinkAckOut(BaseModel):
    acknowledged: int


class DeviceOut(BaseModel):
    id: str
    kind: str
    gateway_id: str | None
    site_id: str | None
    person_id: int | None
    status: DeviceStatus = Field(
        description="online/offline from the device's retained status; gateway_unreachable "
        "when its gateway sent no heartbeat or batch lately"
    )
    firmware_version: str | None
    config_version: int | None
    last_seen_at: datetime | None = Field(description="when the cloud last got anything from it")
    last_record_ts: int | None = Field(description="device time of its newest record, Unix s")
    last_boot: int | None
    last_seq: int | None
    battery_pct: int | None
    last_lat: float | None
    last_lon: float | None


class GapOut(BaseModel):
    boot: int
    first_seq: int
    last_seq: int
    missing: int
    detected_at: datetime


class GapsOut(BaseModel):
    device_id: str
    missing_total: int
    gaps: list[GapOut]


class TrackPoint(BaseModel):
    time: datetime = Field(description="device time (start of the bucket when downsampled)")
    lat: float
    lon: float
    accuracy_m: int | None = None
    source: str | None = None
    boot: int | None = Field(default=None, description="absent when downsampled")
    seq: int | None = None
    late: bool | None = None


class TrackOut(BaseModel):
    device_id: str
    every_s: int | None
    points: list[TrackPoint]


class SiteOut(BaseModel):
    id: str
    name: str
    river: str
    device_ids: list[str]


class WaterPoint(BaseModel):
    time: datetime
    values: dict[str, float | None] = Field(description="physical values by parameter name")


class WaterSeriesOut(BaseModel):
    site_id: str
    every_s: int | None
    aggregate: str | None
    points: list[WaterPoint]


class SiteLatestOut(BaseModel):
    site_id: str
    name: str
    device_id: str | None
    time: datetime | None
    values: dict[str, float | None]
    statuses: dict[str, int] = Field(description="non-normal value statuses (contract.md)")


class ConfigIn(BaseModel):
    settings: dict[str, int] = Field(description="setting name to value (contract.md, config)")


class ConfigOut(BaseModel):
    device_id: str
    version: int
    downlink_id: str
