"""A subscriber that counts what the devices' records look like on the broker.

It decodes every uplink message with ``core.receiver`` (as a gateway would)
and counts distinct (device, boot, seq) records and duplicates. Its session
is persistent (clean_session off, QoS 1), so a broker restart loses nothing
for it: Mosquitto keeps its subscription and queues what arrives meanwhile.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from core import contract as c
from core import topics
from core.errors import CoreError
from core.messages import Ack, Batch, Health, Message
from core.receiver import decode


class Witness:
    """Counts the records every device published, by (device, boot, seq)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "fieldwatch-witness",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.seen: Counter[tuple[str, int, int]] = Counter()
        self.kinds: dict[tuple[str, int, int], int] = {}
        self.acks: list[tuple[str, Ack]] = []
        self.batches = 0
        self.undecodable: list[str] = []
        self.health_dropped: dict[str, int] = {}  # the highest `dropped` each device reported
        self.redelivered = 0  # messages the broker sent again (DUP) that we had already
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._host = host
        self._port = port

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and wait until the subscriptions hold."""
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise TimeoutError("the witness could not subscribe")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if not reason_code.is_failure:
            client.subscribe([(topics.PREFIX + "/+/up/#", 1)])

    def _on_subscribe(self, *_: object) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            device_id, channel = topics.parse(msg.topic)
            message = decode(bytes(msg.payload), channel)
        except CoreError as exc:
            with self._lock:
                self.undecodable.append(f"{msg.topic}: {exc}")
            return
        items: list[Message] = message.items if isinstance(message, Batch) else [message]
        with self._lock:
            keys = [_key(device_id, item) for item in items]
            if msg.dup and all(key in self.seen for key in keys):
                # The broker sending again what it had in flight to us (e.g. across its
                # restart): a duplicate of the broker-to-us hop, not of the device's sending.
                self.redelivered += 1
                return
            if isinstance(message, Batch):
                self.batches += 1
            for item in items:
                key = _key(device_id, item)
                self.seen[key] += 1
                self.kinds[key] = item.KIND
                if isinstance(item, Ack):
                    self.acks.append((device_id, item))
                if isinstance(item, Health) and item.dropped is not None:
                    known = self.health_dropped.get(device_id, 0)
                    self.health_dropped[device_id] = max(known, item.dropped)

    def snapshot(self) -> WitnessCounts:
        """What was counted so far (callable from any thread)."""
        with self._lock:
            return WitnessCounts(
                dict(self.seen),
                dict(self.kinds),
                list(self.acks),
                self.batches,
                list(self.undecodable),
                dict(self.health_dropped),
            )


# --- in a process of its own ------------------------------------------------------------------
#
# In the simulator's process the witness's paho thread competes for the GIL with
# the fleet loop running flat out; Mosquitto then queues for it (1,000 messages by
# default) and drops the rest. A process of its own keeps up.


def _key(device_id: str, record: Message) -> tuple[str, int, int]:
    return device_id, int(getattr(record, "boot")), int(getattr(record, "seq"))  # noqa: B009


class WitnessCounts:
    """What a witness counted, as plain data."""

    def __init__(
        self,
        seen: dict[tuple[str, int, int], int],
        kinds: dict[tuple[str, int, int], int],
        acks: list[tuple[str, Ack]],
        batches: int,
        undecodable: list[str],
        health_dropped: dict[str, int],
    ) -> None:
        self.health_dropped = health_dropped
        self.seen = seen
        self.kinds = kinds
        self.acks = acks
        self.batches = batches
        self.undecodable = undecodable

    def distinct(self) -> int:
        return len(self.seen)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.seen.values())

    def keys(self) -> set[tuple[str, int, int]]:
        return set(self.seen)

    def by_kind(self) -> dict[str, int]:
        counts: Counter[str] = Counter(c.KIND_NAMES[k] for k in self.kinds.values())
        return dict(counts)


def _serve(
    conn: Connection, host: str, port: int, client_id: str, login: tuple[str, str] | None
) -> None:
    username, password = login if login is not None else (None, None)
    witness = Witness(host, port, client_id, username, password)
    try:
        witness.start()
    except (OSError, TimeoutError) as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        request = conn.recv()
        if request == "stop":
            witness.stop()
            conn.send(("stopped", None))
            return
        conn.send(("counts", witness.snapshot()))


class WitnessProcess:
    """A Witness running in a child process; ``counts()`` asks it what it saw so far."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "fieldwatch-witness",
        login: tuple[str, str] | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, host, port, client_id, login), daemon=True
        )
        self._process.start()
        kind, detail = self._conn.recv()
        if kind != "ready":
            self._process.join(5)
            raise RuntimeError(f"witness did not start: {detail}")

    def counts(self) -> WitnessCounts:
        self._conn.send("counts")
        _, counts = self._conn.recv()
        assert isinstance(counts, WitnessCounts)
        return counts

    def wait_for(
        self, expected: int, timeout_s: float = 30.0, settle_s: float = 1.0
    ) -> WitnessCounts:
        """Counts once ``expected`` distinct records arrived, or nothing new came for ``settle_s``."""
        deadline = time.monotonic() + timeout_s
        counts = self.counts()
        last_total, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            counts = self.counts()
            total = sum(counts.seen.values())
            if counts.distinct() >= expected:
                return counts
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            elif time.monotonic() - last_change >= settle_s:
                return counts
            time.sleep(0.05)
        return counts

    def stop(self) -> None:
        try:
            self._conn.send("stop")
            self._conn.recv()
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
