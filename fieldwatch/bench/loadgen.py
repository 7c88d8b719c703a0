"""Offered load: devices publishing location fixes at QoS 1, at a paced rate, in a process
of their own.

Each device has its own MQTT connection (client id = device id) and numbers its records
from 0 within the boot id it is given, as the contract says. To reach tens of thousands
of readings a second it may put ``records_per_message`` fixes in one contract batch
(``up/batch``, up to 256 records); with 1, each fix is a message of its own on
``up/telemetry``. Messages are encoded with cbor2's canonical form, which is the
contract's deterministic form (a test checks it against ``core.codec``), because the
pure-Python device encoder would take a core of its own at these rates.

A device keeps at most ``window`` publishes waiting for their PUBACK; when every device
is at its window the generator waits, so the offered rate it reports is what the broker
took, not what was asked.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cbor2
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from core import contract as c

MAX_BATCH_RECORDS = 256
_BASE_LAT_E7 = 311_234_567
_BASE_LON_E7 = 1_214_567_890


def fix_record(boot: int, seq: int, ts: int) -> dict[int, Any]:
    """One GNSS location fix as the contract's CBOR map (small integer keys)."""
    return {
        c.K_VERSION: c.SCHEMA_VERSION,
        c.K_KIND: c.LOCATION_FIX,
        c.K_BOOT: boot,
        c.K_SEQ: seq,
        c.K_TS: ts,
        10: _BASE_LAT_E7 + seq % 10_000,
        11: _BASE_LON_E7 - seq % 7_000,
        12: 8,
        13: c.FIX_GNSS,
        14: 120,
    }


def encode_records(boot: int, first_seq: int, count: int, ts: int) -> tuple[str, bytes]:
    """(topic suffix, payload) of ``count`` fixes from ``first_seq``: a batch if more than one."""
    if count == 1:
        return "up/telemetry", cbor2.dumps(fix_record(boot, first_seq, ts), canonical=True)
    items = [fix_record(boot, seq, ts) for seq in range(first_seq, first_seq + count)]
    batch = {c.K_VERSION: c.SCHEMA_VERSION, c.K_KIND: c.BATCH, c.K_BOOT: boot, 10: items}
    return "up/batch", cbor2.dumps(batch, canonical=True)


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    devices: tuple[str, ...]
    boot: int
    readings_per_s: float
    records_per_message: int
    duration_s: float
    window: int = 16
    ack_timeout_s: float = 60.0


@dataclass
class LoadResult:
    produced: dict[str, int] = field(default_factory=dict)  # device -> records (seq 0..n-1)
    messages: int = 0
    started_at: float = 0.0  # wall clock (time.time) of the first publish
    publish_s: float = 0.0  # from the first publish to the last
    all_acked: bool = True

    @property
    def records(self) -> int:
        return sum(self.produced.values())

    @property
    def offered_per_s(self) -> float:
        return self.records / self.publish_s if self.publish_s > 0 else 0.0


class _Device:
    """One device's connection and counters; acks arrive on paho's thread."""

    def __init__(self, device_id: str, host: str, port: int, window: int) -> None:
        self.device_id = device_id
        self.next_seq = 0
        self.sent = 0
        self.acked = 0
        self.connected = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311
        )
        client.max_inflight_messages_set(window)
        client.on_connect = lambda *_args: self.connected.set()
        client.on_publish = self._on_publish
        client.connect(host, port, keepalive=60)
        client.loop_start()
        self.client = client

    def _on_publish(self, *_args: object) -> None:
        self.acked += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def generate(spec: LoadSpec, on_connected: Callable[[], None] = lambda: None) -> LoadResult:
    """Publish at the asked rate for the asked time; wait for every PUBACK."""
    devices = [_Device(d, spec.host, spec.port, spec.window) for d in spec.devices]
    result = LoadResult()
    try:
        for device in devices:
            if not device.connected.wait(30):
                raise TimeoutError(f"{device.device_id} could not connect")
        on_connected()
        per_message = spec.records_per_message
        messages_per_s = spec.readings_per_s / per_message
        started = time.monotonic()
        result.started_at = time.time()
        turn = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= spec.duration_s:
                break
            due = int(elapsed * messages_per_s) + 1 - result.messages
            if due <= 0:
                time.sleep(min(0.002, 1 / messages_per_s))
                continue
            published = 0
            for _ in range(len(devices)):
                device = devices[turn % len(devices)]
                turn += 1
                if device.sent - device.acked >= spec.window:
                    continue
                topic, payload = encode_records(
                    spec.boot, device.next_seq, per_message, int(time.time())
                )
                info = device.client.publish(f"fw/v1/{device.device_id}/{topic}", payload, qos=1)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    continue
                device.next_seq += per_message
                device.sent += 1
                result.messages += 1
                published += 1
                if published >= due:
                    break
            if published == 0:
                time.sleep(0.001)  # every device at its window: the broker sets the pace
        result.publish_s = time.monotonic() - started
        deadline = time.monotonic() + spec.ack_timeout_s
        while any(d.acked < d.sent for d in devices) and time.monotonic() < deadline:
            time.sleep(0.01)
        result.all_acked = all(d.acked >= d.sent for d in devices)
        result.produced = {d.device_id: d.next_seq for d in devices}
    finally:
        for device in devices:
            device.close()
    return result


def _child(spec: LoadSpec, pipe: Any) -> None:
    try:
        pipe.send(("ok", generate(spec, lambda: pipe.send(("started", None)))))
    except BaseException as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


class LoadProcess:
    """``generate(spec)`` in a child process: the measuring process keeps its core."""

    def __init__(self, spec: LoadSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(spec, sender), daemon=True)
        self._sender = sender

    def start(self) -> None:
        self._process.start()
        self._sender.close()

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """Until every device is connected and publishing begins."""
        status, value = self._receive(timeout_s)
        if status != "started":
            raise RuntimeError(f"load generator failed: {value}")

    def done(self) -> bool:
        return self._receiver.poll(0)

    def _receive(self, timeout_s: float) -> tuple[str, Any]:
        if not self._receiver.poll(timeout_s):
            self._process.kill()
            raise TimeoutError("the load generator did not answer")
        status, value = self._receiver.recv()
        return str(status), value

    def result(self, timeout_s: float) -> LoadResult:
        status, value = self._receive(timeout_s)
        self._process.join(10)
        if status != "ok":
            raise RuntimeError(f"load generator failed: {value}")
        assert isinstance(value, LoadResult)
        return value

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


@contextmanager
def load_running(spec: LoadSpec) -> Iterator[LoadProcess]:
    process = LoadProcess(spec)
    process.start()
    try:
        yield process
    finally:
        process.kill()
