"""The whole pipeline on this machine, as a user runs it: broker, InfluxDB, the cloud
(``fieldwatch cloud serve``) and a gateway (``fieldwatch edge run``), each a process of
its own on a free loopback port, all files in one folder. A broker and an InfluxDB that
already run elsewhere may be given instead; the cloud and the gateway are always started
here, pointed at them.

The cloud and the gateway are the real commands (``fieldwatch_dev.local.fieldwatch_parts``),
so a benchmark or a chaos run measures and breaks exactly what is deployed. The gateway's
token comes from the operator command ``fieldwatch cloud add-gateway``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.service import add_device
from core.receiver import DeviceKind
from edge.settings import EdgeSettings
from fieldwatch_dev.bench.endpoints import BrokerEndpoint, InfluxEndpoint
from fieldwatch_dev.bench.uplink import UplinkProxy
from fieldwatch_dev.local import InfluxServer, MosquittoServer, ServiceError
from fieldwatch_dev.local.fieldwatch_parts import CloudServer, EdgeGateway
from fieldwatch_dev.local.mosquitto import DEPLOYMENT_MAX_QUEUED_MESSAGES

GATEWAY_ID = "gw-bench"
GATEWAY_MQTT_USER = "fieldwatch-edge"
GATEWAY_CLIENT_ID = f"fieldwatch-edge-{GATEWAY_ID}"


class StackError(RuntimeError):
    """The pipeline could not be started or registered."""


def bench_broker(folder: Path, *, persistence: bool = True) -> MosquittoServer:
    """A private, anonymous Mosquitto with the deployment's queue limit."""
    return MosquittoServer(
        folder, persistence=persistence, max_queued_messages=DEPLOYMENT_MAX_QUEUED_MESSAGES
    )


def broker_endpoint(server: MosquittoServer) -> BrokerEndpoint:
    return BrokerEndpoint(server.host, server.port)


@dataclass(frozen=True)
class GatewayTuning:
    """Gateway settings a run chooses; every other setting keeps its default."""

    forward_batch_max_readings: int = EdgeSettings.model_fields[
        "forward_batch_max_readings"
    ].default
    # The default 2 s would alone hold each reading up to 2 s at low load.
    forward_batch_max_age_s: float = 0.25
    buffer_synchronous: str = "full"
    backoff_max_s: float = 5.0


@dataclass(frozen=True)
class GatewayConfig:
    """What the bench writes in the gateway's config file."""

    broker: BrokerEndpoint
    cloud_url: str
    token: str
    tuning: GatewayTuning = field(default_factory=GatewayTuning)


def bench_gateway(folder: Path, config: GatewayConfig, devices: Mapping[str, str]) -> EdgeGateway:
    """``fieldwatch edge run`` for ``devices``, its buffer in ``folder/edge-buffer.sqlite3``.

    On a broker with credentials the gateway logs in with them; on an anonymous one with
    the deployment's gateway user (which an anonymous broker does not check).
    """
    t = config.tuning
    broker = config.broker
    settings: dict[str, object] = {
        "gateway_id": GATEWAY_ID,
        "data_dir": str(folder),
        "log_level": "WARNING",
        "mqtt_url": broker.url,
        "mqtt_username": broker.username or GATEWAY_MQTT_USER,
        "mqtt_password": broker.password or "bench-broker-password",
        "mqtt_client_id": GATEWAY_CLIENT_ID,
        "buffer_path": str(folder / "edge-buffer.sqlite3"),
        "cloud_url": config.cloud_url,
        "gateway_token": config.token,
        "forward_batch_max_readings": t.forward_batch_max_readings,
        "forward_batch_max_age_s": t.forward_batch_max_age_s,
        "buffer_synchronous": t.buffer_synchronous,
        "backoff_initial_s": 0.2,
        "backoff_max_s": t.backoff_max_s,
        "forward_timeout_s": 30.0,
        "heartbeat_interval_s": 5.0,
        "quarantine_upload_interval_s": 1.0,
        "downlink_wait_s": 5,
        "shutdown_flush_s": 2.0,
    }
    return EdgeGateway(folder, settings, devices)


class Stack:
    """Broker, InfluxDB, cloud and gateway for ``devices`` (id -> ``bracelet``/``river-station``).

    ``broker`` and ``influx`` name services that already run; without them a private
    Mosquitto and InfluxDB are started (``self.broker``, ``self.influx``; None when given).
    With ``proxy``, the gateway reaches the cloud through an ``UplinkProxy`` that a chaos
    run can cut. ``start()`` from the main thread (services die with the thread that
    started them); ``stop()`` ends everything started here and leaves a given broker
    without the gateway's session.
    """

    def __init__(
        self,
        folder: Path,
        devices: Mapping[str, str],
        *,
        proxy: bool = False,
        gateway: GatewayTuning | None = None,
        broker: BrokerEndpoint | None = None,
        influx: InfluxEndpoint | None = None,
        cloud_settings: Mapping[str, object] | None = None,
    ) -> None:
        self.folder = folder
        self._cloud_settings = dict(cloud_settings or {})
        self.devices = dict(devices)
        self.broker = bench_broker(folder / "mosquitto") if broker is None else None
        self.influx = InfluxServer(folder / "influxdb") if influx is None else None
        self._given_broker = broker
        self._given_influx = influx
        self.cloud: CloudServer | None = None
        self.gateway: EdgeGateway | None = None
        self.proxy: UplinkProxy | None = None
        self._want_proxy = proxy
        self._gateway_tuning = gateway or GatewayTuning()
        self.token = ""

    @property
    def broker_endpoint(self) -> BrokerEndpoint:
        if self._given_broker is not None:
            return self._given_broker
        assert self.broker is not None
        return broker_endpoint(self.broker)

    @property
    def influx_endpoint(self) -> InfluxEndpoint:
        if self._given_influx is not None:
            return self._given_influx
        assert self.influx is not None
        return InfluxEndpoint(self.influx.url)

    def start(self) -> None:
        if self.broker is not None:
            self.broker.start()
        if self.influx is not None:
            self.influx.start()
        cloud_folder = self.folder / "cloud"
        database_url = f"sqlite:///{cloud_folder.absolute() / 'cloud.sqlite3'}"
        settings: dict[str, object] = {
            "data_dir": str(cloud_folder.absolute()),
            "database_url": database_url,
            "log_level": "WARNING",
            **self.influx_endpoint.cloud_settings(),
            **self._cloud_settings,
        }
        cloud = self.cloud = CloudServer(cloud_folder, settings)
        try:
            self.token = cloud.operator("add-gateway", GATEWAY_ID).splitlines()[-1]
        except ServiceError as exc:
            raise StackError(str(exc)) from exc
        register_devices(database_url, self.devices)
        cloud.start()
        cloud_url = cloud.url
        if self._want_proxy:
            self.proxy = UplinkProxy(cloud.host, cloud.port)
            self.proxy.start()
            cloud_url = self.proxy.url
        config = GatewayConfig(self.broker_endpoint, cloud_url, self.token, self._gateway_tuning)
        self.gateway = bench_gateway(self.folder / "gateway", config, self.devices)
        self.gateway.start()

    def retire_gateway(self) -> None:
        """Stop the gateway and end its broker session: what is published on the broker
        from now on is neither received nor queued for it."""
        if self.gateway is not None:
            self.gateway.stop()
        self.broker_endpoint.clear_session(GATEWAY_CLIENT_ID)

    def stop(self) -> None:
        problems: list[str] = []
        for service in (self.gateway, self.cloud, self.influx, self.broker):
            if service is None:
                continue
            try:
                service.stop()
            except ServiceError as exc:
                problems.append(str(exc))
        if self._given_broker is not None and self.gateway is not None:
            try:
                self._given_broker.clear_session(GATEWAY_CLIENT_ID)
            except (OSError, ValueError) as exc:
                problems.append(f"could not end the gateway's session: {exc}")
        if self.proxy is not None:
            self.proxy.close()
        if problems:
            raise StackError("; ".join(problems))

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def register_devices(database_url: str, devices: Mapping[str, str]) -> None:
    """Register every device with the cloud, served by the bench gateway.

    Done through the cloud's registry module in one transaction: one
    ``fieldwatch cloud add-device`` process per device would take minutes for a fleet.
    """
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            for device_id, kind in sorted(devices.items()):
                add_device(session, device_id, DeviceKind(kind), GATEWAY_ID, now)
    finally:
        engine.dispose()
