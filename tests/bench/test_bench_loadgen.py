"""The load generator against a real broker: every record numbered, sent and acknowledged.

One thread drives every device's socket, through the generator's own MQTT packets (``raw``,
the default) or through paho clients without ``loop_start`` (``paho``); with either, what a
subscriber receives is exactly what the result says was produced.
"""

from __future__ import annotations

import dataclasses
import queue
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager

import paho.mqtt.client as mqtt
import pytest
from fixtures.services import MosquittoFactory
from paho.mqtt.enums import CallbackAPIVersion

from core.messages import Batch, LocationFix
from core.receiver import decode
from fieldwatch_dev.bench.loadgen import (
    CLIENTS,
    Client,
    LoadError,
    LoadSpec,
    encode_records,
    generate,
)
from fieldwatch_dev.bench.rawmqtt import PACKET_ID_MAX, RawFleet
from fieldwatch_dev.local import MosquittoServer
from provisioning.broker_acl import render_acl

pytestmark = [pytest.mark.services]

DEVICES = ("br-000001", "br-000002", "br-000003")


@contextmanager
def subscriber(
    broker: MosquittoServer, username: str | None = None, password: str | None = None
) -> Iterator[queue.Queue[mqtt.MQTTMessage]]:
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="loadgen-test-sub")
    if username is not None:
        client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, message: inbox.put(message)
    client.on_subscribe = lambda *_args: subscribed.put(True)
    client.on_connect = lambda c, *_args: c.subscribe("fw/v1/+/up/#", qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        subscribed.get(timeout=10)
        yield inbox
    finally:
        client.disconnect()
        client.loop_stop()
        client._reset_sockets(sockpair_only=True)  # paho 2.2 leaves loop_start's pair open


def received_seqs(
    inbox: queue.Queue[mqtt.MQTTMessage], count: int, topic: str = "up/telemetry"
) -> dict[str, list[int]]:
    """(device -> every seq received, in order) from ``count`` records' worth of messages,
    each on ``fw/v1/<device>/<topic>``."""
    seqs: dict[str, list[int]] = defaultdict(list)
    while sum(len(s) for s in seqs.values()) < count:
        message = inbox.get(timeout=10)
        device_id = message.topic.split("/")[2]
        assert message.topic == f"fw/v1/{device_id}/{topic}"
        decoded = decode(bytes(message.payload))
        records = decoded.items if isinstance(decoded, Batch) else [decoded]
        for record in records:
            assert isinstance(record, LocationFix)
            assert record.boot == 7
            seqs[device_id].append(record.seq)
    return dict(seqs)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("per_message", "topic"), [(1, "up/telemetry"), (10, "up/batch")])
def test_every_produced_record_reaches_the_broker_once_numbered_from_zero(
    mosquitto: MosquittoServer, per_message: int, topic: str, client: Client
) -> None:
    spec = LoadSpec(
        mosquitto.host, mosquitto.port, DEVICES, 7, 600.0, per_message, 1.0, 2, client=client
    )

    with subscriber(mosquitto) as inbox:
        result = generate(spec)
        seqs = received_seqs(inbox, result.records, topic)
        assert inbox.empty()

    assert result.all_acked
    assert 1 <= result.max_in_flight <= spec.window
    assert set(result.produced) == set(DEVICES)
    assert result.records > 0
    assert result.messages * per_message == result.records
    for device_id, made in result.produced.items():
        assert made % per_message == 0
        assert seqs.get(device_id, []) == list(range(made)), device_id
    assert result.offered_per_s > 0
    assert result.cpu_s > 0


@pytest.mark.parametrize("client", CLIENTS)
def test_devices_log_in_with_the_given_credentials(
    mosquitto_factory: MosquittoFactory, client: Client
) -> None:
    broker = mosquitto_factory(users={"bench": "bench-secret"})
    spec = LoadSpec(
        broker.host, broker.port, DEVICES, 7, 300.0, 1, 0.5, username="bench", client=client
    )
    with subscriber(broker, "bench", "bench-secret") as inbox:
        result = generate(dataclasses.replace(spec, password="bench-secret"))
        received_seqs(inbox, result.records)
    assert result.all_acked

    with pytest.raises(LoadError, match="refused"):
        generate(dataclasses.replace(spec, password="wrong"))


@pytest.mark.parametrize("client", CLIENTS)
def test_each_device_logs_in_as_itself_under_the_deployment_acl(
    mosquitto_factory: MosquittoFactory, client: Client
) -> None:
    """The ACL lets a device write only under its own id: a device logged in as another
    would get its PUBACKs and have its messages dropped, so every record arriving on its
    own topic shows each device logged in as itself."""
    passwords = {device_id: f"pw-{device_id}" for device_id in DEVICES}
    broker = mosquitto_factory(
        users={**passwords, "gw-bench": "pw-gw-bench"}, acl=render_acl(["gw-bench"])
    )
    spec = LoadSpec(
        broker.host,
        broker.port,
        DEVICES,
        7,
        300.0,
        1,
        0.5,
        device_passwords=passwords,
        client=client,
    )

    with subscriber(broker, "gw-bench", "pw-gw-bench") as inbox:
        result = generate(spec)
        seqs = received_seqs(inbox, result.records)
        assert inbox.empty()

    assert result.all_acked
    assert seqs == {device_id: list(range(made)) for device_id, made in result.produced.items()}

    wrong = dict(passwords, **{DEVICES[1]: "not-its-password"})
    with pytest.raises(LoadError, match=f"{DEVICES[1]}: the broker refused"):
        generate(dataclasses.replace(spec, device_passwords=wrong))


@pytest.mark.fault
@pytest.mark.parametrize("client", CLIENTS)
def test_a_lost_connection_stops_the_generator(
    mosquitto_factory: MosquittoFactory, client: Client
) -> None:
    broker = mosquitto_factory(persistence=False)
    spec = LoadSpec(broker.host, broker.port, DEVICES, 7, 300.0, 1, 30.0, client=client)

    with pytest.raises(LoadError, match="lost"):
        generate(spec, on_connected=broker.kill)


@pytest.mark.services
def test_packet_ids_wrap_past_65535_against_mosquitto(mosquitto: MosquittoServer) -> None:
    fleet = RawFleet(["br-wrap"], 3, lambda _d: (None, None), first_packet_id=PACKET_ID_MAX - 5)
    messages = 20
    with subscriber(mosquitto) as inbox, closing(fleet):
        fleet.connect(mosquitto.host, mosquitto.port, 10)
        (device,) = fleet.devices
        while device.sent < messages:
            suffix, payload = encode_records(7, device.next_seq, 1, 1_700_000_000)
            if not fleet.publish(device, suffix, payload, 1):
                fleet.pump(1)
        while device.acked < device.sent:
            fleet.pump(1)
        seqs = []
        for _ in range(messages):
            message = inbox.get(timeout=10)
            assert message.topic == "fw/v1/br-wrap/up/telemetry"
            record = decode(bytes(message.payload))
            assert isinstance(record, LocationFix)
            seqs.append(record.seq)

    assert seqs == list(range(messages))
    assert device.packet_id == messages - 6 + 1  # 65530..65535, then 1..14: next is 15
    assert device.max_in_flight <= 3
