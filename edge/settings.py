"""Settings of the edge gateway: the ``[edge]`` section and ``FIELDWATCH_*`` variables.

Built once at start-up by the gateway's wiring code, with
``fieldwatch.settings.load_settings(EdgeSettings, config_file)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AnyUrl, ByteSize, Field, HttpUrl, SecretStr, UrlConstraints

from core.errors import TopicError
from core.forwarding import MAX_ITEMS
from core.topics import check_device_id
from fieldwatch.settings import FieldwatchSettings, Port, default_data_dir

MqttUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["mqtt", "mqtts"], host_required=True)]


def _check_gateway_id(value: str) -> str:
    try:
        return check_device_id(value)
    except TopicError as exc:
        raise ValueError(f"a gateway id follows the device id scheme: {exc}") from None


GatewayId = Annotated[str, AfterValidator(_check_gateway_id)]


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::]:port`` for IPv6) as a pair; ValueError if it is not one.
    Port 0 asks the system for a free port (tests)."""
    host, colon, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (e.g. '0.0.0.0:9212')")
    return host, int(port)


def _check_listen(value: str | None) -> str | None:
    if value is not None:
        listen_address(value)
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone name (e.g. 'Asia/Shanghai')") from exc
    return value


ListenAddress = Annotated[str | None, AfterValidator(_check_listen)]
TimeZoneName = Annotated[str, AfterValidator(_check_zone)]


def _default_buffer_path(data: dict[str, Any]) -> Path:
    data_dir = data.get("data_dir")
    return (data_dir if isinstance(data_dir, Path) else default_data_dir()) / "edge-buffer.sqlite3"


def _default_registry_path(data: dict[str, Any]) -> Path:
    data_dir = data.get("data_dir")
    return (data_dir if isinstance(data_dir, Path) else default_data_dir()) / "edge-devices.toml"


def _default_client_id(data: dict[str, Any]) -> str:
    return f"fieldwatch-edge-{data.get('gateway_id', 'gateway-dev')}"


class EdgeSettings(FieldwatchSettings):
    """What one gateway needs: its broker, its buffer, its cloud, its batching."""

    section: ClassVar[str] = "edge"

    gateway_id: GatewayId = Field(
        default="gateway-dev",
        description="this gateway's id; device id scheme: 3-32 of a-z, 0-9, '-'",
    )
    mqtt_url: MqttUrl = Field(
        default=AnyUrl("mqtt://127.0.0.1:1883"),
        description="the local broker the devices publish to (mqtt:// or mqtts://)",
    )
    mqtt_username: str = Field(
        default="fieldwatch-edge", min_length=1, description="broker user of the gateway"
    )
    mqtt_password: SecretStr = Field(
        default=SecretStr("dev-mqtt-password"), description="broker password of the gateway"
    )
    buffer_path: Path = Field(
        default_factory=_default_buffer_path,
        description="SQLite file holding readings until the cloud confirms them",
    )
    buffer_max_bytes: Annotated[ByteSize, Field(gt=0)] = Field(
        default=ByteSize(1024**3),
        description="size the buffer may reach; an int of bytes or e.g. '512MiB', '2GB'",
    )
    cloud_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8000"),
        description="base URL of the cloud ingest API",
    )
    gateway_token: SecretStr = Field(
        default=SecretStr("dev-gateway-token"),
        description="bearer token the gateway presents to the cloud",
    )
    forward_batch_max_readings: int = Field(
        default=5000,
        gt=0,
        le=MAX_ITEMS,
        description=(
            "a batch is sent once it holds this many readings (a device batch counts its"
            " items, any other message 1)"
        ),
    )
    # A quarter second, as the pipeline's sustained load was measured: a live map's fix
    # waits at most that here (docs/benchmarks.md, "Console"); at high load batches fill
    # by count long before.
    forward_batch_max_age_s: float = Field(
        default=0.25,
        gt=0,
        allow_inf_nan=False,
        description="a batch is sent once its oldest reading waited this many seconds",
    )
    metrics_port: Port = Field(default=9464, description="port of the Prometheus metrics page")
    metrics_host: str = Field(
        default="0.0.0.0",  # scraped from outside the container
        min_length=1,
        description="address the metrics page listens on",
    )
    registry_path: Path = Field(
        default_factory=_default_registry_path,
        description="TOML file listing the devices this gateway serves (docs/edge.md)",
    )
    mqtt_client_id: str = Field(
        default_factory=_default_client_id,
        min_length=1,
        max_length=64,
        description="MQTT client id of the gateway's persistent session; keep it stable",
    )
    mqtt_receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="messages the broker may hand over before the gateway acknowledges",
    )
    buffer_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="SQLite synchronous mode: full survives power loss, normal only crashes",
    )
    forward_timeout_s: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, description="timeout of one cloud request"
    )
    backoff_initial_s: float = Field(
        default=0.5, gt=0, allow_inf_nan=False, description="first wait after a failed forward"
    )
    backoff_max_s: float = Field(
        default=60.0, gt=0, allow_inf_nan=False, description="longest wait between retries"
    )
    heartbeat_interval_s: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, description="time between heartbeats"
    )
    quarantine_upload_interval_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="time between uploads of the quarantine to the cloud's",
    )
    downlink_wait_s: int = Field(
        default=20, ge=0, le=300, description="long-poll wait of the downlink request"
    )
    shutdown_flush_s: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description="on SIGTERM, time spent forwarding what is buffered before exiting",
    )
    hj212_listen: ListenAddress = Field(
        default=None,
        description=(
            "host:port the HJ 212 listener takes data loggers' TCP connections on; unset:"
            " no listener (docs/hj212.md)"
        ),
    )
    hj212_time_zone: TimeZoneName = Field(
        default="Asia/Shanghai",
        description="time zone of the data loggers' clocks, which HJ 212 DataTime is in",
    )
