"""The load generator's own MQTT 3.1.1 publisher, without a broker: exact packets, packet
ids that wrap past 65535, PUBACKs split across reads, the window.

A scripted peer on a real socket plays the broker, so that a packet arrives in pieces for
sure; test_bench_loadgen.py runs the publisher against Mosquitto.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest

from fieldwatch_dev.bench.rawmqtt import (
    PACKET_ID_MAX,
    PublisherError,
    RawFleet,
    next_packet_id,
    publish_packet,
    topic_field,
)

ANONYMOUS = (None, None)


def test_packet_ids_run_1_to_65535_and_wrap_to_1() -> None:
    assert next_packet_id(1) == 2
    assert next_packet_id(65_534) == 65_535
    assert next_packet_id(PACKET_ID_MAX) == 1
    packet_id, seen = 1, set()
    for _ in range(PACKET_ID_MAX):
        seen.add(packet_id)
        packet_id = next_packet_id(packet_id)
    assert seen == set(range(1, PACKET_ID_MAX + 1))
    assert packet_id == 1


def test_publish_packet_bytes() -> None:
    topic = topic_field("fw/v1/br-1/up/telemetry")
    assert topic == b"\x00\x17fw/v1/br-1/up/telemetry"
    # QoS 1: fixed header 0x32, remaining length, topic, packet id, payload.
    assert publish_packet(topic, 65_535, b"\xa1\x00\x01") == (
        b"\x32\x1e" + topic + b"\xff\xff" + b"\xa1\x00\x01"
    )
    # 200 bytes of body take two bytes of remaining length (72 + 128 * 1).
    long_packet = publish_packet(topic, 1, bytes(200 - len(topic) - 2))
    assert long_packet[:5] == b"\x32\xc8\x01\x00\x17"
    assert len(long_packet) == 3 + 200


@contextmanager
def scripted_broker() -> Iterator[tuple[int, list[socket.socket]]]:
    """A listening socket whose one connection, once it sent CONNECT, gets a CONNACK
    (accepted) from a thread; the test then speaks to it by hand."""
    with closing(socket.create_server(("127.0.0.1", 0))) as listener:
        accepted: list[socket.socket] = []

        def accept() -> None:
            conn, _address = listener.accept()
            conn.settimeout(10)
            header = conn.recv(2)
            conn.recv(header[1])  # the rest of CONNECT (shorter than 128 bytes)
            accepted.append(conn)  # before CONNACK: the test reads it once connect() returns
            conn.sendall(b"\x20\x02\x00\x00")

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1], accepted
        finally:
            thread.join(10)
            for conn in accepted:
                conn.close()


def receive_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, "the publisher closed the connection"
        data += chunk
    return data


def test_pubacks_split_across_reads_are_put_together() -> None:
    fleet = RawFleet(["br-split"], 4, lambda _d: ANONYMOUS, first_packet_id=PACKET_ID_MAX)
    with scripted_broker() as (port, accepted), closing(fleet):
        fleet.connect("127.0.0.1", port, 10)
        (conn,) = accepted
        (device,) = fleet.devices
        assert fleet.publish(device, "up/telemetry", b"one", 1)
        assert fleet.publish(device, "up/telemetry", b"two", 1)
        topic = topic_field("fw/v1/br-split/up/telemetry")
        first, second = publish_packet(topic, 65_535, b"one"), publish_packet(topic, 1, b"two")
        assert receive_exactly(conn, len(first) + len(second)) == first + second

        conn.sendall(b"\x40")  # the first byte of PUBACK 65535
        fleet.pump(5)
        assert (device.acked, device.in_flight) == (0, {65_535, 1})
        conn.sendall(b"\x02\xff\xff" + b"\x40\x02\x00")  # its rest, most of PUBACK 1
        fleet.pump(5)
        assert (device.acked, device.in_flight) == (1, {1})
        conn.sendall(b"\x01")
        fleet.pump(5)
        assert (device.acked, device.in_flight) == (2, set())
        assert device.max_in_flight == 2

        conn.sendall(b"\x40\x02\x00\x07")  # a PUBACK for nothing sent
        with pytest.raises(PublisherError, match="packet id 7"):
            fleet.pump(5)


def test_the_window_is_kept_by_the_publisher_itself() -> None:
    fleet = RawFleet(["br-window"], 2, lambda _d: ANONYMOUS)
    with scripted_broker() as (port, _accepted), closing(fleet):
        fleet.connect("127.0.0.1", port, 10)
        (device,) = fleet.devices
        assert fleet.publish(device, "up/telemetry", b"1", 1)
        assert fleet.publish(device, "up/telemetry", b"2", 1)
        assert not fleet.publish(device, "up/telemetry", b"3", 1)
        assert (device.sent, device.next_seq, device.max_in_flight) == (2, 2, 2)
