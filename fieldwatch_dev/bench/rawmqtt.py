"""Just enough MQTT 3.1.1 for the load generator's devices: CONNECT, PUBLISH at QoS 1,
PUBACK, PINGREQ, DISCONNECT, every socket non-blocking in one selector.

Why not paho: the generator shares the 2-core machine with the pipeline it measures, and
paho's per-publish Python work (a message-info object, locks, its packet queue) made it
cost about 55 µs of CPU a message. Here a publish is one bytes concatenation and one
``send``; a PUBACK is four bytes looked up in a set. Nothing else of MQTT is spoken: no
subscriptions, no QoS 2, no reconnects (a lost connection is an error, as the generator
wants), no TLS.

Packet identifiers cycle 1..65535 (0 is not allowed). With at most ``window`` publishes
awaiting their PUBACK and ``window`` <= 65535, an identifier is never reused while in flight.
"""

from __future__ import annotations

import selectors
import socket
import struct
import time
from collections.abc import Callable, Sequence
from contextlib import suppress

from fieldwatch_dev.local.mosquitto import connect_packet, remaining_length, utf8_field

PACKET_ID_MAX = 65_535
_CONNACK = 0x20
_PUBLISH_QOS1 = 0x32  # PUBLISH, DUP 0, QoS 1, RETAIN 0
_PUBACK = 0x40
_PINGRESP = 0xD0
_PINGREQ_PACKET = b"\xc0\x00"
_DISCONNECT_PACKET = b"\xe0\x00"
# The CONNECT helper asks for a 10 s keepalive: the broker drops a client it hears nothing
# from for 15 s, so a device that has sent nothing since the last look pings.
_PING_EVERY_S = 5.0
_RECV_BYTES = 65_536
_PACKET_ID = struct.Struct(">H")
_CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class PublisherError(RuntimeError):
    """A device could not connect, was refused, broke the protocol or lost its connection."""


def next_packet_id(packet_id: int) -> int:
    """The identifier after ``packet_id``: 1, 2, ..., 65535, 1, ... (0 is never used)."""
    return packet_id % PACKET_ID_MAX + 1


def topic_field(topic: str) -> bytes:
    """A topic name as PUBLISH carries it: two bytes of length, then UTF-8."""
    return utf8_field(topic)


def publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    """PUBLISH at QoS 1 (not retained, not a duplicate); ``topic`` from ``topic_field``."""
    length = len(topic) + 2 + len(payload)
    return (
        bytes((_PUBLISH_QOS1,))
        + remaining_length(length)
        + topic
        + _PACKET_ID.pack(packet_id)
        + payload
    )


class RawDevice:
    """One device's connection and counters, used by the fleet's thread only."""

    def __init__(self, device_id: str, first_packet_id: int) -> None:
        self.device_id = device_id
        self.topic_prefix = f"fw/v1/{device_id}/"
        self.next_seq = 0
        self.sent = 0
        self.acked = 0
        self.max_in_flight = 0  # the most publishes ever awaiting a PUBACK at once
        self.connected = False
        self.sock: socket.socket | None = None
        self.in_flight: set[int] = set()
        self.packet_id = first_packet_id  # the identifier the next PUBLISH takes
        self.inbox = bytearray()  # received bytes not yet a whole packet
        self.outbox = bytearray()  # bytes the socket did not take yet
        self.sent_at_last_look = 0
        self._topics: dict[str, bytes] = {}

    def topic(self, suffix: str) -> bytes:
        field = self._topics.get(suffix)
        if field is None:
            field = self._topics[suffix] = topic_field(self.topic_prefix + suffix)
        return field


class RawFleet:
    """Every device's socket in one selector: publish, read PUBACKs, ping, disconnect.

    ``login(device_id)`` gives the (username, password) a device connects with, or
    (None, None) for an anonymous login.
    """

    def __init__(
        self,
        device_ids: Sequence[str],
        window: int,
        login: Callable[[str], tuple[str | None, str | None]],
        first_packet_id: int = 1,
    ) -> None:
        if not 1 <= window <= PACKET_ID_MAX:
            raise ValueError(f"window must be 1..{PACKET_ID_MAX}, got {window}")
        if not 1 <= first_packet_id <= PACKET_ID_MAX:
            raise ValueError(f"packet ids are 1..{PACKET_ID_MAX}, got {first_packet_id}")
        self.devices = [RawDevice(d, first_packet_id) for d in device_ids]
        self.window = window
        self._login = login
        self._selector = selectors.DefaultSelector()
        self._next_ping_look = 0.0

    def connect(self, host: str, port: int, timeout_s: float) -> None:
        """Open every device's connection, send CONNECT, wait for every CONNACK."""
        deadline = time.monotonic() + timeout_s
        self._next_ping_look = time.monotonic() + _PING_EVERY_S  # CONNECT counts as heard
        for device in self.devices:
            username, password = self._login(device.device_id)
            try:
                sock = socket.create_connection((host, port), timeout=timeout_s)
            except OSError as exc:
                raise PublisherError(
                    f"{device.device_id}: cannot reach {host}:{port}: {exc}"
                ) from exc
            device.sock = sock
            # Clean session, so nothing of an earlier run lingers (mqtt_connack's packet).
            packet = connect_packet(
                device.device_id, username, password if username is not None else None
            )
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, device)
            self._write(device, packet)
        while not all(d.connected for d in self.devices):
            if time.monotonic() >= deadline:
                waiting = [d.device_id for d in self.devices if not d.connected]
                raise PublisherError(f"not connected after {timeout_s:g} s: {', '.join(waiting)}")
            self.pump(0.05)

    def publish(self, device: RawDevice, suffix: str, payload: bytes, records: int) -> bool:
        """PUBLISH ``payload`` on the device's ``suffix`` topic; False if at its window."""
        in_flight = device.in_flight
        if len(in_flight) >= self.window:
            return False
        packet_id = device.packet_id
        device.packet_id = packet_id % PACKET_ID_MAX + 1  # next_packet_id, inlined
        in_flight.add(packet_id)
        if len(in_flight) > device.max_in_flight:
            device.max_in_flight = len(in_flight)
        self._write(device, publish_packet(device.topic(suffix), packet_id, payload))
        device.next_seq += records
        device.sent += 1
        return True

    def pump(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for socket events; read what came, write what is left."""
        for key, mask in self._selector.select(timeout_s):
            device: RawDevice = key.data
            if mask & selectors.EVENT_READ:
                self._read(device)
            if mask & selectors.EVENT_WRITE:
                self._flush(device)
        now = time.monotonic()
        if now >= self._next_ping_look:
            self._next_ping_look = now + _PING_EVERY_S
            for device in self.devices:
                if device.connected and device.sent == device.sent_at_last_look:
                    self._write(device, _PINGREQ_PACKET)
                device.sent_at_last_look = device.sent

    def close(self) -> None:
        """Send DISCONNECT on every open connection and close it; drop the selector."""
        for device in self.devices:
            sock = device.sock
            if sock is None:
                continue
            device.sock = None
            with suppress(KeyError):
                self._selector.unregister(sock)
            # Best effort: on the error paths the connection may already be gone, and
            # that error has been raised already.
            with suppress(OSError):
                if device.connected:
                    sock.settimeout(1.0)
                    sock.sendall(bytes(device.outbox) + _DISCONNECT_PACKET)
                sock.shutdown(socket.SHUT_WR)
            sock.close()
        self._selector.close()

    def _write(self, device: RawDevice, packet: bytes) -> None:
        if device.outbox:  # keep the order: behind what is already waiting
            device.outbox += packet
            return
        assert device.sock is not None
        try:
            written = device.sock.send(packet)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise self._lost(device, exc) from exc
        if written < len(packet):
            device.outbox += memoryview(packet)[written:]
            self._selector.modify(device.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, device)

    def _flush(self, device: RawDevice) -> None:
        assert device.sock is not None
        try:
            written = device.sock.send(device.outbox)
        except BlockingIOError:
            return
        except OSError as exc:
            raise self._lost(device, exc) from exc
        del device.outbox[:written]
        if not device.outbox:
            self._selector.modify(device.sock, selectors.EVENT_READ, device)

    def _read(self, device: RawDevice) -> None:
        assert device.sock is not None
        try:
            data = device.sock.recv(_RECV_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            raise self._lost(device, exc) from exc
        if not data:
            raise self._lost(device, None)
        inbox = device.inbox
        inbox += data
        size = len(inbox)
        start = 0
        while size - start >= 2:
            kind = inbox[start]
            if kind == _PUBACK and inbox[start + 1] == 2:  # the common case, four bytes
                if size - start < 4:
                    break
                self._acked(device, (inbox[start + 2] << 8) | inbox[start + 3])
                start += 4
                continue
            header = _fixed_header(inbox, start)
            if header is None:
                break
            body_start, length = header
            end = body_start + length
            if end > size:
                break
            self._handle(device, kind, bytes(inbox[body_start:end]))
            start = end
        del inbox[:start]

    def _acked(self, device: RawDevice, packet_id: int) -> None:
        try:
            device.in_flight.remove(packet_id)
        except KeyError:
            raise PublisherError(
                f"{device.device_id}: PUBACK for packet id {packet_id}, which awaits none"
            ) from None
        device.acked += 1

    def _handle(self, device: RawDevice, kind: int, body: bytes) -> None:
        if kind == _CONNACK and len(body) == 2 and not device.connected:
            code = body[1]
            if code != 0:
                reason = _CONNACK_CODES.get(code, "unknown return code")
                raise PublisherError(
                    f"{device.device_id}: the broker refused the connection ({code}: {reason})"
                )
            device.connected = True
        elif kind == _PINGRESP and not body:
            pass
        else:
            raise PublisherError(
                f"{device.device_id}: unexpected packet from the broker: "
                f"type {kind >> 4}, flags {kind & 0x0F}, {len(body)} bytes"
            )

    def _lost(self, device: RawDevice, exc: OSError | None) -> PublisherError:
        why = "the broker closed it" if exc is None else str(exc)
        state = "the connection was lost" if device.connected else "no CONNACK"
        return PublisherError(f"{device.device_id}: {state} ({why})")


def _fixed_header(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """(where the body starts, its length) of the packet at ``start``; None if incomplete."""
    length = 0
    shift = 0
    index = start + 1
    while index < len(buffer):
        digit = buffer[index]
        index += 1
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            return index, length
        shift += 7
        if shift > 21:
            raise PublisherError("malformed remaining length from the broker")
    return None
