"""The whole pipeline on this machine, as a user runs it: broker, InfluxDB, the cloud
(``fieldwatch cloud serve``) and a gateway (``fieldwatch edge run``), each a process of
its own on a free loopback port, all files in one folder.

The cloud and the gateway are the real commands, run as child processes with their
settings in the environment (cloud) or a config file (gateway), so a benchmark or a
chaos run measures and breaks exactly what is deployed. The gateway's token comes from
the operator command ``fieldwatch cloud add-gateway``.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from cloud.db.engine import make_engine, make_sessions
from cloud.db.models import DeviceKind as CloudDeviceKind
from cloud.registry import add_device
from edge.registry import DeviceKind, render_registry
from fieldwatch.bench.uplink import UplinkProxy
from fieldwatch.local import InfluxServer, MosquittoServer, ServiceError, free_port
from fieldwatch.local.process import ServiceProcess, find_executable

GATEWAY_ID = "gw-bench"
GATEWAY_MQTT_USER = "fieldwatch-edge"
# The deployment's broker setting (provisioning/mosquitto/mosquitto.conf): a gateway
# that is down must not have its QoS 1 backlog dropped after Mosquitto's default 1,000.
MAX_QUEUED_MESSAGES = 100_000


class StackError(RuntimeError):
    """The pipeline could not be started or registered."""


def fieldwatch_executable() -> str:
    """The ``fieldwatch`` script of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "fieldwatch"
    if not candidate.exists():
        raise StackError(f"no fieldwatch command beside {sys.executable}")
    return str(candidate)


def clean_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without FIELDWATCH_* variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FIELDWATCH_")}
    env.update(settings)
    return env


class BenchBroker(MosquittoServer):
    """A private Mosquitto configured like the deployment's (queue limit included)."""

    def _prepare(self) -> None:
        super()._prepare()
        with self.config_path.open("a") as config:
            config.write(f"max_queued_messages {MAX_QUEUED_MESSAGES}\n")


class FieldwatchProcess(ServiceProcess):
    """A ``fieldwatch ...`` command run as a service; settings passed in its environment.

    ``ServiceProcess`` spawns with this process's environment, so the command is wrapped
    in ``env`` (which execs it: the pid stays the command's) to drop inherited
    FIELDWATCH_* variables and set the service's own.
    """

    def __init__(
        self, folder: str | os.PathLike[str], port: int | None = None, *, start_timeout: float
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=20.0)
        self.settings: dict[str, str] = {}

    def _arguments(self) -> list[str]:
        raise NotImplementedError

    def _command(self) -> list[str]:
        unset = [
            arg
            for name in sorted(os.environ)
            if name.upper().startswith("FIELDWATCH_")
            for arg in ("-u", name)
        ]
        assignments = [f"{k}={v}" for k, v in sorted(self.settings.items())]
        return [
            find_executable("env"),
            *unset,
            *assignments,
            fieldwatch_executable(),
            *self._arguments(),
        ]


class CloudServer(FieldwatchProcess):
    """``fieldwatch cloud serve`` on SQLite (the embedded default) and a given InfluxDB."""

    name = "cloud"

    def __init__(self, folder: str | os.PathLike[str], influx_url: str, broker_url: str) -> None:
        # The port is chosen now: the operator commands run before the first start.
        port = free_port()
        super().__init__(folder, port, start_timeout=60.0)
        folder_path = Path(folder).absolute()
        self.settings = {
            "FIELDWATCH_PORT": str(port),
            "FIELDWATCH_DATA_DIR": str(folder_path),
            "FIELDWATCH_DATABASE_URL": f"sqlite:///{folder_path / 'cloud.sqlite3'}",
            "FIELDWATCH_INFLUX_URL": influx_url,
            "FIELDWATCH_MQTT_URL": broker_url,
            "FIELDWATCH_LOG_LEVEL": "WARNING",
            "FIELDWATCH_HOST": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def database_url(self) -> str:
        return self.settings["FIELDWATCH_DATABASE_URL"]

    def _arguments(self) -> list[str]:
        return ["cloud", "serve"]

    def _is_ready(self) -> bool:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=2.0)
        try:
            connection.request("GET", "/api/v1/health")
            return connection.getresponse().status == http.client.OK
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def operator(self, *arguments: str) -> str:
        """Run ``fieldwatch cloud ARGUMENTS`` against this cloud's database; its stdout."""
        result = subprocess.run(
            [fieldwatch_executable(), "cloud", *arguments],
            env=clean_environment(self.settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"fieldwatch cloud {' '.join(arguments)} failed: {result.stderr}")
        return result.stdout.strip()


@dataclass(frozen=True)
class GatewayTuning:
    """Gateway settings a run chooses; every other setting keeps its default."""

    forward_batch_max_readings: int = 500
    # The default 2 s would alone hold each reading up to 2 s at low load.
    forward_batch_max_age_s: float = 0.25
    buffer_synchronous: str = "full"
    backoff_max_s: float = 5.0


@dataclass(frozen=True)
class GatewayConfig:
    """What the bench writes in the gateway's config file."""

    broker_url: str
    cloud_url: str
    token: str
    tuning: GatewayTuning = field(default_factory=GatewayTuning)


class GatewayServer(FieldwatchProcess):
    """``fieldwatch edge run --config FILE``, ready once subscribed to the broker."""

    name = "gateway"

    def __init__(
        self, folder: str | os.PathLike[str], config: GatewayConfig, devices: Mapping[str, str]
    ) -> None:
        # Its "port" is the metrics page's, where readiness is seen.
        super().__init__(folder, free_port(), start_timeout=60.0)
        self.config = config
        self.devices = dict(devices)
        self.settings = {"FIELDWATCH_LOG_LEVEL": "WARNING"}

    @property
    def buffer_path(self) -> Path:
        return self.folder / "edge-buffer.sqlite3"

    @property
    def config_file(self) -> Path:
        return self.folder / "edge.toml"

    def _prepare(self) -> None:
        registry = self.folder / "edge-devices.toml"
        registry.write_text(
            render_registry({d: DeviceKind(kind) for d, kind in self.devices.items()})
        )
        c = self.config
        t = c.tuning
        values: dict[str, object] = {
            "gateway_id": GATEWAY_ID,
            "data_dir": str(self.folder),
            "mqtt_url": c.broker_url,
            "mqtt_username": GATEWAY_MQTT_USER,
            "mqtt_password": "bench-broker-password",
            "mqtt_client_id": f"fieldwatch-edge-{GATEWAY_ID}",
            "buffer_path": str(self.buffer_path),
            "registry_path": str(registry),
            "cloud_url": c.cloud_url,
            "gateway_token": c.token,
            "metrics_host": "127.0.0.1",
            "metrics_port": self.metrics_port,
            "forward_batch_max_readings": t.forward_batch_max_readings,
            "forward_batch_max_age_s": t.forward_batch_max_age_s,
            "buffer_synchronous": t.buffer_synchronous,
            "backoff_initial_s": 0.2,
            "backoff_max_s": t.backoff_max_s,
            "forward_timeout_s": 30.0,
            "heartbeat_interval_s": 5.0,
            "downlink_wait_s": 5,
            "shutdown_flush_s": 2.0,
        }
        lines = ["[edge]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
        self.config_file.write_text("\n".join(lines) + "\n")
        self.config_file.chmod(0o600)

    def _arguments(self) -> list[str]:
        return ["edge", "run", "--config", str(self.config_file)]

    def metrics(self) -> dict[str, float]:
        """The metrics page, each metric summed over its labels; empty if unreachable."""
        connection = http.client.HTTPConnection(self.host, self.metrics_port, timeout=2.0)
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
        except (OSError, http.client.HTTPException):
            return {}
        finally:
            connection.close()
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_part, _, value = line.rpartition(" ")
            name = name_part.split("{", 1)[0]
            totals[name] = totals.get(name, 0.0) + float(value)
        return totals

    def _is_ready(self) -> bool:
        return self.metrics().get("fieldwatch_edge_broker_subscribed", 0.0) >= 1.0

    @property
    def metrics_port(self) -> int:
        return self.port


class Stack:
    """Broker, InfluxDB, cloud and gateway for ``devices`` (id -> ``bracelet``/``river-station``).

    With ``proxy``, the gateway reaches the cloud through an ``UplinkProxy`` that a chaos
    run can cut. ``start()`` from the main thread (services die with the thread that
    started them); ``stop()`` ends everything.
    """

    def __init__(
        self,
        folder: Path,
        devices: Mapping[str, str],
        *,
        proxy: bool = False,
        gateway: GatewayTuning | None = None,
        influx_url: str | None = None,
    ) -> None:
        self.folder = folder
        self.devices = dict(devices)
        self.broker = BenchBroker(folder / "mosquitto")
        self.influx: InfluxServer | None = (
            None if influx_url is not None else InfluxServer(folder / "influxdb")
        )
        self._influx_url = influx_url
        self.cloud: CloudServer | None = None
        self.gateway: GatewayServer | None = None
        self.proxy: UplinkProxy | None = None
        self._want_proxy = proxy
        self._gateway_tuning = gateway or GatewayTuning()
        self.token = ""

    @property
    def influx_url(self) -> str:
        if self._influx_url is not None:
            return self._influx_url
        assert self.influx is not None
        return self.influx.url

    def start(self) -> None:
        self.broker.start()
        if self.influx is not None:
            self.influx.start()
        cloud = self.cloud = CloudServer(self.folder / "cloud", self.influx_url, self.broker.url)
        cloud.folder.mkdir(parents=True, exist_ok=True)
        self.token = cloud.operator("add-gateway", GATEWAY_ID).splitlines()[-1]
        register_devices(cloud.database_url, self.devices)
        cloud.start()
        cloud_url = cloud.url
        if self._want_proxy:
            self.proxy = UplinkProxy(cloud.host, cloud.port)
            self.proxy.start()
            cloud_url = self.proxy.url
        config = GatewayConfig(self.broker.url, cloud_url, self.token, self._gateway_tuning)
        self.gateway = GatewayServer(self.folder / "gateway", config, self.devices)
        self.gateway.start()

    def stop(self) -> None:
        problems: list[str] = []
        for service in (self.gateway, self.cloud, self.influx, self.broker):
            if service is None:
                continue
            try:
                service.stop()
            except ServiceError as exc:
                problems.append(str(exc))
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
                add_device(session, device_id, CloudDeviceKind(kind), GATEWAY_ID, now)
    finally:
        engine.dispose()
