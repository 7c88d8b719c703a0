"""Request and response bodies of the fleet's routes (they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cloud.fleet.presence import DeviceStatus
from cloud.web.fields import ID_PATTERN, PLAIN_TEXT


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


class HeldOut(BaseModel):
    """Records of the device held back from the evidence (core.evidence), by reason."""

    implausible_time: int = Field(description="device time ahead of the receiver's clock")
    conflicting_record: int = Field(description="a (boot, seq) already taken by another record")
    last_at: datetime | None = Field(description="when the latest was held")
    last_code: str | None
    last_reason: str | None


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
    held: HeldOut


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


class ConfigIn(BaseModel):
    settings: dict[str, int] = Field(description="setting name to value (contract.md, config)")


class ConfigOut(BaseModel):
    device_id: str
    version: int
    downlink_id: str
