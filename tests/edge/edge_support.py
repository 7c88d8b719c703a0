"""Helpers for gateway tests: devices that publish through a real broker, settings, a
gateway running in-process or as a `fieldwatch edge run` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.codec import encode
from core.messages import Event, Health, LocationFix, WaterSample
from core.receiver import DeviceKind
from core.topics import topic
from edge.gateway import Gateway
from edge.registry import render_registry
from edge.settings import EdgeSettings
from fieldwatch_dev.local import MosquittoServer, free_port
from provisioning.broker_acl import render_acl

GATEWAY_USER = "fieldwatch-edge"
GATEWAY_PASSWORD = "gateway-broker-pass"
GATEWAY_ID = "gw-test"
TS = 1_767_225_600  # 2026-01-01T00:00:00Z

BRACELETS = ("br-000001", "br-000002", "br-000003")
STATIONS = ("rs-000001",)
STRANGER = "br-999999"  # may log in to the broker, but is not in the gateway's registry


def device_password(device_id: str) -> str:
    return f"pw-{device_id}"


def broker_users() -> dict[str, str]:
    users = {GATEWAY_USER: GATEWAY_PASSWORD}
    for device_id in (*BRACELETS, *STATIONS, STRANGER):
        users[device_id] = device_password(device_id)
    return users


def broker_acl() -> str:
    return render_acl([GATEWAY_USER])


def write_registry(path: Path) -> Path:
    devices = {d: DeviceKind.bracelet for d in BRACELETS}
    devices.update({d: DeviceKind.river_station for d in STATIONS})
    path.write_text(render_registry(devices))
    return path


def fix(seq: int, boot: int = 1) -> bytes:
    return encode(
        LocationFix(
            boot=boot,
            seq=seq,
            ts=TS + seq,
            lat_e7=311234567 + seq,
            lon_e7=1214567890,
            accuracy_m=8,
            source=1,
        )
    )


def health(seq: int, boot: int = 1) -> bytes:
    return encode(Health(boot=boot, seq=seq, ts=TS + seq, battery_pct=80, charging=False))


def event(seq: int, boot: int = 1, code: int = 3) -> bytes:
    return encode(Event(boot=boot, seq=seq, ts=TS + seq, code=code))


def water(seq: int, boot: int = 1) -> bytes:
    return encode(WaterSample(boot=boot, seq=seq, ts=TS + seq, values={2: 712, 3: 845}))


def gateway_settings(
    tmp_path: Path, broker: MosquittoServer, cloud_url: str, **overrides: Any
) -> EdgeSettings:
    """Settings for a gateway under test: fast batches, short waits, private files."""
    values: dict[str, Any] = {
        "gateway_id": GATEWAY_ID,
        "mqtt_url": broker.url,
        "mqtt_username": GATEWAY_USER,
        "mqtt_password": GATEWAY_PASSWORD,
        "mqtt_client_id": f"edge-{tmp_path.name}",
        "buffer_path": tmp_path / "buffer.sqlite3",
        "registry_path": write_registry(tmp_path / "devices.toml"),
        "cloud_url": cloud_url,
        "metrics_host": "127.0.0.1",
        "metrics_port": free_port(),
        "forward_batch_max_readings": 200,
        "forward_batch_max_age_s": 0.2,
        "backoff_initial_s": 0.2,
        "backoff_max_s": 2.0,
        "heartbeat_interval_s": 1.0,
        "downlink_wait_s": 1,
        "shutdown_flush_s": 3.0,
        "forward_timeout_s": 5.0,
    }
    values.update(overrides)
    return EdgeSettings(**values)


def settings_toml(settings: EdgeSettings) -> str:
    """The [edge] section of a config file holding these settings."""
    lines = ["[edge]"]
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue  # unset: the default
        if name in ("mqtt_password", "gateway_token"):
            secret = getattr(settings, name).get_secret_value()
            lines.append(f'{name} = "{secret}"')
        elif isinstance(value, str):
            lines.append(f'{name} = "{value}"')
        elif isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        else:
            lines.append(f"{name} = {value}")
    return "\n".join(lines) + "\n"


@contextmanager
def running_gateway(settings: EdgeSettings) -> Iterator[Gateway]:
    """A gateway in this process, subscribed before it is yielded; stopped afterwards."""
    gateway = Gateway(settings)
    gateway.start()
    try:
        if not gateway.subscribed.wait(20):
            raise AssertionError("gateway did not subscribe to the broker")
        yield gateway
    finally:
        gateway.stop()


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def metric_value(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (any labels) on a metrics page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class GatewayProcess:
    """`fieldwatch edge run --config FILE` as a child process."""

    def __init__(self, config_file: Path, log_file: Path, metrics_port: int) -> None:
        self._config_file = config_file
        self._log_file = log_file
        self.metrics_port = metrics_port
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fieldwatch = Path(sys.executable).parent / "fieldwatch"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDWATCH_")}
        with self._log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [str(fieldwatch), "edge", "run", "--config", str(self._config_file)],
                stdout=log,
                stderr=log,
                env=env,
            )

    def wait_subscribed(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(f"gateway exited: {self._log_file.read_text()[-3000:]}")
            try:
                if metric_value(
                    metrics_text(self.metrics_port), "fieldwatch_edge_broker_subscribed"
                ):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("gateway did not subscribe in time")

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def terminate(self, timeout: float = 30.0) -> int:
        if self._process is None:
            return 0
        self._process.terminate()
        code = self._process.wait(timeout)
        self._process = None
        return code


@dataclass
class Fleet:
    """Devices, one MQTT client each (username = device id), publishing at QoS 1.

    A publish counts as sent once the broker PUBACKed it: from then on it is the
    gateway's (and the broker's) job not to lose it.
    """

    broker: MosquittoServer
    clients: dict[str, mqtt.Client] = field(default_factory=dict)
    pending: list[mqtt.MQTTMessageInfo] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self, device_ids: Mapping[str, str] | list[str] | tuple[str, ...]) -> None:
        for device_id in device_ids:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{device_id}")
            client.username_pw_set(device_id, device_password(device_id))
            connected = threading.Event()
            client.on_connect = lambda c, u, f, rc, p, ev=connected: ev.set()
            client.connect(self.broker.host, self.broker.port)
            client.loop_start()
            if not connected.wait(10):
                raise AssertionError(f"{device_id} could not connect")
            self.clients[device_id] = client

    def publish(self, device_id: str, channel: str, payload: bytes) -> None:
        self.publish_raw(device_id, topic(device_id, channel), payload)

    def publish_raw(self, device_id: str, topic_name: str, payload: bytes) -> None:
        info = self.clients[device_id].publish(topic_name, payload, qos=1)
        with self._lock:
            self.pending.append(info)

    def wait_sent(self, timeout: float = 30.0) -> None:
        with self._lock:
            pending, self.pending = self.pending, []
        for info in pending:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError("the broker did not take a device message")

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()
        self.clients.clear()
