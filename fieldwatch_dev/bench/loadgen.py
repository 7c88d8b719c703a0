"""Offered load: devices publishing location fixes at QoS 1, at a paced rate, in a process
of their own.

Each device has its own MQTT connection (client id = device id; the given username and
password, if any) and numbers its records from 0 within the boot id it is given, as the
contract says. To reach tens of thousands of readings a second it may put
``records_per_message`` fixes in one contract batch (``up/batch``, up to 256 records);
with 1, each fix is a message of its own on ``up/telemetry``. Messages are encoded with
cbor2's canonical form, which is the contract's deterministic form (a test checks it
against ``core.codec``), because the pure-Python device encoder would take a core of its
own at these rates.

A device keeps at most ``window`` publishes waiting for their PUBACK; when every device
is at its window the generator waits, so the offered rate it reports is what the broker
took, not what was asked.

Real devices are machines of their own, so the generator must take as little as possible
of the CPU the pipeline under test runs on. One thread drives every device's socket through
one selector: no thread switches, no contention for the GIL. By default (``client="raw"``)
each device speaks the few MQTT 3.1.1 packets it needs itself (``rawmqtt``), since paho's
per-publish Python work was most of the generator's CPU at one reading a message; with
``client="paho"`` each device is a paho client without a network thread, driven through
paho's external event loop (``loop_read``, ``loop_write``, ``loop_misc``).
docs/benchmarks.md gives the CPU per message of each.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import resource
import selectors
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import cbor2
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from core import contract as c
from fieldwatch_dev.bench.rawmqtt import PublisherError, RawFleet

MAX_BATCH_RECORDS = 256
Client = Literal["raw", "paho"]
CLIENTS: tuple[Client, ...] = ("raw", "paho")
_BASE_LAT_E7 = 311_234_567
_BASE_LON_E7 = 1_214_567_890
_MISC_EVERY_S = 1.0  # paho's keepalive bookkeeping (loop_misc)
_WINDOW_WAIT_S = 0.005  # every device at its window: wait this long at most for a PUBACK
_TICK_S = 0.002  # publish what is due at most this often (a few messages per wake-up)


def fix_record(
    boot: int,
    seq: int,
    ts: int,
    lat_e7: int | None = None,
    lon_e7: int | None = None,
    accuracy_m: int = 8,
    source: int = c.FIX_GNSS,
) -> dict[int, Any]:
    """One location fix as the contract's CBOR map (small integer keys); by default a GNSS
    fix moving about one place, the generator's own."""
    record = {
        c.K_VERSION: c.SCHEMA_VERSION,
        c.K_KIND: c.LOCATION_FIX,
        c.K_BOOT: boot,
        c.K_SEQ: seq,
        c.K_TS: ts,
        10: _BASE_LAT_E7 + seq % 10_000 if lat_e7 is None else lat_e7,
        11: _BASE_LON_E7 - seq % 7_000 if lon_e7 is None else lon_e7,
        12: accuracy_m,
        13: source,
    }
    if lat_e7 is None:
        record[14] = 120  # the generator's own fixes carry a speed
    return record


def pack_records(boot: int, items: Sequence[dict[int, Any]]) -> tuple[str, bytes]:
    """(topic suffix, payload) of records: one on ``up/telemetry``, more in a batch."""
    if len(items) == 1:
        return "up/telemetry", cbor2.dumps(items[0], canonical=True)
    batch = {c.K_VERSION: c.SCHEMA_VERSION, c.K_KIND: c.BATCH, c.K_BOOT: boot, 10: list(items)}
    return "up/batch", cbor2.dumps(batch, canonical=True)


def encode_records(boot: int, first_seq: int, count: int, ts: int) -> tuple[str, bytes]:
    """(topic suffix, payload) of ``count`` fixes from ``first_seq``: a batch if more than one."""
    return pack_records(
        boot, [fix_record(boot, s, ts) for s in range(first_seq, first_seq + count)]
    )


class RecordSource(Protocol):
    """What a device publishes, when a bench wants its own fixes (picklable: it travels to
    the generator's process)."""

    def encode(
        self, device_index: int, boot: int, first_seq: int, count: int, ts: int
    ) -> tuple[str, bytes]: ...


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
    username: str | None = None
    password: str | None = None
    # Device id -> password: each device logs in as itself (username = device id), as the
    # deployment's ACL (provisioning.broker_acl) wants. Takes the place of username/password.
    device_passwords: Mapping[str, str] | None = None
    client: Client = "raw"
    # What each device publishes (None: ``encode_records``, one place, GNSS).
    source: RecordSource | None = None

    def login(self, device_id: str) -> tuple[str | None, str | None]:
        """(username, password) the device connects with; (None, None) is anonymous."""
        if self.device_passwords is not None:
            return device_id, self.device_passwords[device_id]
        if self.username is None:
            return None, None
        return self.username, self.password


@dataclass
class LoadResult:
    produced: dict[str, int] = field(default_factory=dict)  # device -> records (seq 0..n-1)
    messages: int = 0
    started_at: float = 0.0  # wall clock (time.time) of the first publish
    publish_s: float = 0.0  # from the first publish to the last
    all_acked: bool = True
    cpu_s: float = (
        0.0  # the generator process's CPU (user + system) from first publish to last PUBACK
    )
    max_in_flight: int = 0  # the most publishes one device had awaiting PUBACK at once

    @property
    def records(self) -> int:
        return sum(self.produced.values())

    @property
    def offered_per_s(self) -> float:
        return self.records / self.publish_s if self.publish_s > 0 else 0.0


class LoadError(RuntimeError):
    """A device could not connect, or lost its connection while publishing."""


class _Device:
    """One device's MQTT session and counters, driven by the generator's thread only."""

    def __init__(self, device_id: str, spec: LoadSpec) -> None:
        self.device_id = device_id
        self.next_seq = 0
        self.sent = 0
        self.acked = 0
        self.max_in_flight = 0
        self.connected = False
        self.problem: str | None = None
        self.writing = False  # registered for EVENT_WRITE: paho has bytes it could not send
        self.topic_prefix = f"fw/v1/{device_id}/"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311
        )
        username, password = spec.login(device_id)
        if username is not None:
            client.username_pw_set(username, password)
        client.max_inflight_messages_set(spec.window)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        self.client = client

    def _on_connect(self, _c: object, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        if code.is_failure:
            self.problem = f"{self.device_id}: the broker refused the connection ({code})"
        else:
            self.connected = True

    def _on_publish(self, *_args: object) -> None:
        self.acked += 1

    def _on_disconnect(self, *_args: object) -> None:
        self.connected = False
        if self.problem is None:
            self.problem = f"{self.device_id}: the connection was lost"


class _PahoFleet:
    """Every device's socket in one selector; ``pump`` does what the sockets are ready for."""

    def __init__(self, spec: LoadSpec) -> None:
        self.devices = [_Device(d, spec) for d in spec.devices]
        self._selector = selectors.DefaultSelector()
        self._next_misc = 0.0

    def connect(self, host: str, port: int, timeout_s: float) -> None:
        for device in self.devices:
            try:
                device.client.connect(host, port, keepalive=60)
            except OSError as exc:
                raise LoadError(f"{device.device_id}: cannot reach {host}:{port}: {exc}") from exc
            sock = device.client.socket()
            assert sock is not None
            self._selector.register(sock, selectors.EVENT_READ, device)
            self.want_write(device)
        deadline = time.monotonic() + timeout_s
        while not all(d.connected for d in self.devices):
            if time.monotonic() >= deadline:
                waiting = [d.device_id for d in self.devices if not d.connected]
                raise LoadError(f"not connected after {timeout_s:g} s: {', '.join(waiting)}")
            self.pump(0.05)

    def publish(self, device: _Device, suffix: str, payload: bytes, records: int) -> bool:
        """Hand the message to paho; False if it would not take it."""
        info = device.client.publish(device.topic_prefix + suffix, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        device.next_seq += records
        device.sent += 1
        device.max_in_flight = max(device.max_in_flight, device.sent - device.acked)
        self.want_write(device)
        return True

    def want_write(self, device: _Device) -> None:
        """Watch the socket for writability while paho holds bytes it could not send."""
        wants = device.client.want_write()
        if wants != device.writing:
            sock = device.client.socket()
            assert sock is not None
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
            self._selector.modify(sock, events, device)
            device.writing = wants

    def pump(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for socket events; read PUBACKs, write what is pending."""
        for key, mask in self._selector.select(timeout_s):
            device: _Device = key.data
            client = device.client
            if mask & selectors.EVENT_READ:
                rc = client.loop_read()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._fail(device, rc)
            if mask & selectors.EVENT_WRITE:
                rc = client.loop_write()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._fail(device, rc)
                self.want_write(device)
            if device.problem is not None:
                raise LoadError(device.problem)
        now = time.monotonic()
        if now >= self._next_misc:
            self._next_misc = now + _MISC_EVERY_S
            for device in self.devices:
                device.client.loop_misc()

    def _fail(self, device: _Device, rc: MQTTErrorCode) -> None:
        raise LoadError(device.problem or f"{device.device_id}: {mqtt.error_string(rc)}")

    def close(self) -> None:
        """Disconnect every device (DISCONNECT is sent at once) and drop the selector."""
        for device in self.devices:
            sock = device.client.socket()
            if sock is not None:
                with suppress(KeyError):  # never registered: its connect failed
                    self._selector.unregister(sock)
            device.client.on_disconnect = None
            device.client.disconnect()
        self._selector.close()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _DeviceState(Protocol):
    @property
    def device_id(self) -> str: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def sent(self) -> int: ...
    @property
    def acked(self) -> int: ...
    @property
    def max_in_flight(self) -> int: ...


_D = TypeVar("_D", bound=_DeviceState)


class _Fleet(Protocol[_D]):
    """What ``generate`` needs of the devices' MQTT side, raw or paho."""

    @property
    def devices(self) -> Sequence[_D]: ...
    def connect(self, host: str, port: int, timeout_s: float) -> None: ...
    def publish(self, device: _D, suffix: str, payload: bytes, records: int) -> bool: ...
    def pump(self, timeout_s: float) -> None: ...
    def close(self) -> None: ...


def _fleet(spec: LoadSpec) -> _Fleet[Any]:
    if spec.client == "raw":
        return RawFleet(spec.devices, spec.window, spec.login)
    if spec.client == "paho":
        return _PahoFleet(spec)
    raise ValueError(f"unknown MQTT client {spec.client!r}: one of {', '.join(CLIENTS)}")


def generate(spec: LoadSpec, on_connected: Callable[[], None] = lambda: None) -> LoadResult:
    """Publish at the asked rate for the asked time; wait for every PUBACK."""
    fleet = _fleet(spec)
    try:
        return _generate(fleet, spec, on_connected)
    except PublisherError as exc:
        raise LoadError(str(exc)) from exc
    finally:
        fleet.close()


def _generate(fleet: _Fleet[_D], spec: LoadSpec, on_connected: Callable[[], None]) -> LoadResult:
    devices = fleet.devices
    result = LoadResult()
    fleet.connect(spec.host, spec.port, 30.0)
    on_connected()
    per_message = spec.records_per_message
    messages_per_s = spec.readings_per_s / per_message
    window = spec.window
    source = spec.source
    cpu_started = _cpu_s()
    started = time.monotonic()
    result.started_at = time.time()
    turn = 0
    while True:
        now = time.monotonic()
        elapsed = now - started
        if elapsed >= spec.duration_s:
            break
        due = int(elapsed * messages_per_s) + 1 - result.messages
        published = 0
        if due > 0:
            for _ in range(len(devices)):
                index = turn % len(devices)
                device = devices[index]
                turn += 1
                if device.sent - device.acked >= window:
                    continue
                ts = int(time.time())
                if source is None:
                    suffix, payload = encode_records(spec.boot, device.next_seq, per_message, ts)
                else:
                    suffix, payload = source.encode(
                        index, spec.boot, device.next_seq, per_message, ts
                    )
                if not fleet.publish(device, suffix, payload, per_message):
                    continue
                result.messages += 1
                published += 1
                if published >= due:
                    break
        if published < due:
            # Every device that could was at its window: the broker sets the pace.
            fleet.pump(_WINDOW_WAIT_S)
        else:
            # Sleep rather than wake at each PUBACK: the acks of a tick are read at once.
            next_due = started + result.messages / messages_per_s
            time.sleep(max(_TICK_S, next_due - time.monotonic()))
            fleet.pump(0)
    result.publish_s = time.monotonic() - started
    deadline = time.monotonic() + spec.ack_timeout_s
    while any(d.acked < d.sent for d in devices) and time.monotonic() < deadline:
        fleet.pump(0.05)
    result.cpu_s = _cpu_s() - cpu_started
    result.all_acked = all(d.acked >= d.sent for d in devices)
    result.produced = {d.device_id: d.next_seq for d in devices}
    result.max_in_flight = max(d.max_in_flight for d in devices)
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


@dataclass(frozen=True)
class GeneratorCost:
    """What the generator itself costs: its process's CPU per 10,000 messages."""

    records_per_message: int
    readings_per_s: float
    offered_per_s: float
    messages: int
    cpu_s: float

    @property
    def cpu_s_per_10k_messages(self) -> float:
        return self.cpu_s / self.messages * 10_000 if self.messages else 0.0

    @property
    def core_share(self) -> float:
        """CPU seconds per second of publishing: 1.0 is one core."""
        seconds = self.messages * self.records_per_message / self.offered_per_s
        return self.cpu_s / seconds if self.offered_per_s else 0.0


def generator_cost(host: str, port: int, spec: LoadSpec, rounds: int) -> list[GeneratorCost]:
    """Run the generator ``rounds`` times (boot 1, 2, ...) against a broker; its CPU each time."""
    costs = []
    for number in range(rounds):
        round_spec = dataclasses.replace(spec, host=host, port=port, boot=spec.boot + number)
        with load_running(round_spec) as process:
            process.wait_started()
            result = process.result(spec.duration_s + spec.ack_timeout_s + 30)
        costs.append(
            GeneratorCost(
                spec.records_per_message,
                spec.readings_per_s,
                result.offered_per_s,
                result.messages,
                result.cpu_s,
            )
        )
    return costs
