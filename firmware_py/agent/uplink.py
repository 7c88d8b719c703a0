"""What goes up, and when: live records, catch-up batches, and what waits in flash.

``Uplink`` owns every record from its creation until the broker acknowledged
it (PUBACK). A record goes out at once while the link is up and fewer than
``window`` publishes await their acknowledgement; otherwise it goes to the
flash buffer. While connected, the buffer drains oldest first as contract
batches, one batch in flight at a time. When the link drops, the records
still awaiting an acknowledgement go (back) to the buffer: nothing is
forgotten, at the price of a possible duplicate delivery, which receivers
absorb because they store a record once per (boot, seq).

The transport reports acknowledgements by token; ``window`` bounds what it
has in flight (the paho queue trap: it must never grow without bound).
"""

from core import contract as c
from core import topics
from firmware_py.agent.batch import MAX_ITEMS_BYTES, encode_batch

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

CHANNEL_BY_KIND = {
    c.LOCATION_FIX: "telemetry",
    c.HEALTH: "telemetry",
    c.WATER_SAMPLE: "telemetry",
    c.EVENT: "event",
    c.ACK: "ack",
}


class Outgoing:
    """One MQTT publish for the transport: QoS 1; ``token`` comes back with its PUBACK."""

    def __init__(self, topic: str, payload: bytes, retain: bool, token: int) -> None:
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.token = token

    def __repr__(self) -> str:
        return "Outgoing(%r, %d bytes, retain=%r, token=%d)" % (
            self.topic,
            len(self.payload),
            self.retain,
            self.token,
        )


class Uplink:
    """Live publishing, flash buffering and catch-up batches for one device."""

    def __init__(self, device_id: str, buffer: "Any", window: int = 8) -> None:
        self.device_id = device_id
        self.buffer = buffer
        self.window = window
        self.batch_max_records = 64
        self.connected = False
        self.sent_live = 0  # records acknowledged one by one
        self.sent_batched = 0  # records acknowledged inside a batch
        self.batches = 0
        self._topics = {}
        for kind in CHANNEL_BY_KIND:
            self._topics[kind] = topics.topic(device_id, CHANNEL_BY_KIND[kind])
        self._batch_topic = topics.topic(device_id, "batch")
        self._outbox: list[Outgoing] = []
        self._live: dict[int, Any] = {}  # token -> (boot, seq, kind, payload)
        self._batch: "Any" = None  # (token, entries) of the batch in flight
        self._other: dict[int, bool] = {}  # tokens of non-record publishes (status)
        self._token = 0

    def _next_token(self) -> int:
        self._token += 1
        return self._token

    @property
    def in_flight(self) -> int:
        """Publishes handed out and not yet acknowledged."""
        return len(self._live) + len(self._other) + (1 if self._batch is not None else 0)

    @property
    def idle(self) -> bool:
        """True when nothing waits: no buffered record and nothing in flight."""
        return not len(self.buffer) and self.in_flight == 0 and not self._outbox

    def submit(self, boot: int, seq: int, kind: int, payload: bytes) -> None:
        """Hand over a new record: out at once if the link allows, else into the buffer."""
        if self.connected and len(self._live) < self.window:
            token = self._next_token()
            self._live[token] = (boot, seq, kind, payload)
            self._outbox.append(Outgoing(self._topics[kind], payload, False, token))
        else:
            self.buffer.put(boot, seq, kind, payload)

    def publish_other(self, topic: str, payload: bytes, retain: bool) -> None:
        """Queue a publish that is not a record (a retained status); sent only while connected."""
        if not self.connected:
            return
        token = self._next_token()
        self._other[token] = True
        self._outbox.append(Outgoing(topic, payload, retain, token))

    def poll(self, now: int) -> None:
        """Start a catch-up batch when connected, none is in flight and records wait."""
        if not self.connected or self._batch is not None or not len(self.buffer):
            return
        taken = self.buffer.take(self.batch_max_records, MAX_ITEMS_BYTES)
        if not taken:
            return
        entries = [pair[0] for pair in taken]
        payload = encode_batch(entries[0][0], now, [pair[1] for pair in taken])
        token = self._next_token()
        self._batch = (token, entries)
        self._outbox.append(Outgoing(self._batch_topic, payload, False, token))

    def take_outgoing(self) -> "list[Outgoing]":
        """The publishes to make now, in order; the transport reports each token back."""
        out = self._outbox
        self._outbox = []
        return out

    def acked(self, token: int) -> None:
        """The broker acknowledged the publish with ``token``."""
        if token in self._live:
            del self._live[token]
            self.sent_live += 1
        elif self._batch is not None and self._batch[0] == token:
            entries = self._batch[1]
            self.buffer.remove(entries)
            self.sent_batched += len(entries)
            self.batches += 1
            self._batch = None
        elif token in self._other:
            del self._other[token]

    def on_connected(self) -> None:
        self.connected = True

    def on_lost(self) -> None:
        """The link dropped: every unacknowledged record goes (back) to the buffer."""
        self.connected = False
        self._outbox = []
        self._other = {}
        self._batch = None
        self.buffer.release()
        tokens = sorted(self._live)  # tokens grow with creation: oldest first
        for token in tokens:
            boot, seq, kind, payload = self._live[token]
            self.buffer.put(boot, seq, kind, payload)
        self._live = {}
