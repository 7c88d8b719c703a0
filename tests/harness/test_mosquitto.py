"""The private Mosquitto broker behaves as the edge and cloud code will rely on."""

from __future__ import annotations

import queue
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fixtures.services import MosquittoFactory
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from fieldwatch_dev.local import MosquittoServer, ServiceError
from provisioning.broker_acl import render_acl

TIMEOUT = 5.0
QUIET = 0.3  # how long "nothing more arrives" is watched for

DEVICE_PASSWORDS = {"br-0001": "pw-0001", "br-0002": "pw-0002"}
GATEWAY, GATEWAY_PASSWORD = "gw-01", "pw-gw-01"


class BrokerRefusedError(Exception):
    """The broker answered CONNECT with a failure reason code."""


@dataclass
class MqttSession:
    """A connected paho client (own network thread) and what it has received."""

    client: mqtt.Client
    inbox: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    subacks: queue.Queue[list[ReasonCode]] = field(default_factory=queue.Queue)

    def subscribe(self, topic: str, qos: int = 1) -> ReasonCode:
        """Subscribe and return the broker's SUBACK code (0 to 2: granted QoS; 128: refused)."""
        self.client.subscribe(topic, qos)
        (granted,) = self.subacks.get(timeout=TIMEOUT)
        return granted

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait for the broker's PUBACK (for QoS 1)."""
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(TIMEOUT)

    def receive(self) -> mqtt.MQTTMessage:
        return self.inbox.get(timeout=TIMEOUT)

    def assert_nothing_more(self) -> None:
        try:
            message = self.inbox.get(timeout=QUIET)
        except queue.Empty:
            return
        pytest.fail(f"unexpected message on {message.topic}: {message.payload!r}")


@contextmanager
def connected(
    broker: MosquittoServer,
    client_id: str = "",
    *,
    username: str | None = None,
    password: str | None = None,
    clean_session: bool = True,
) -> Iterator[MqttSession]:
    """A paho 2 client connected over MQTT 3.1.1; raises BrokerRefusedError if the broker says no."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    session = MqttSession(client)
    connacks: queue.Queue[ReasonCode] = queue.Queue()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        connacks.put(code)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        session.inbox.put(message)

    def on_subscribe(_c: mqtt.Client, _u: Any, _m: int, codes: list[ReasonCode], _p: Any) -> None:
        session.subacks.put(codes)

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    try:
        code = connacks.get(timeout=TIMEOUT)
        if code.is_failure:
            raise BrokerRefusedError(str(code))
        yield session
    finally:
        client.disconnect()
        client.loop_stop()
        close_socket_pair(client)


def close_socket_pair(client: mqtt.Client) -> None:
    """Close the socket pair paho 2.2's ``loop_start()`` opens and ``loop_stop()`` leaves open.

    Left alone, it is closed when the client is collected, which may be during a later
    test, whose run then fails on the ResourceWarning (warnings are errors here).
    """
    client._reset_sockets(sockpair_only=True)


def connack_code(broker: MosquittoServer, username: str | None, password: str | None) -> ReasonCode:
    """The broker's answer to one CONNECT, read without a network thread.

    With loop_start() a refused client would sit out paho's reconnect delay
    before loop_stop() returns. (And loop() before loop_start() leaks a
    socket pair in paho 2.2, hence two separate helpers.)
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    connacks: queue.Queue[ReasonCode] = queue.Queue()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        connacks.put(code)

    client.on_connect = on_connect
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(broker.host, broker.port, keepalive=30)
    deadline = time.monotonic() + TIMEOUT
    try:
        while connacks.empty() and time.monotonic() < deadline:
            client.loop(timeout=0.05)
        return connacks.get_nowait()
    finally:
        client.disconnect()


def topic_for(test: str) -> str:
    """A topic no other test on the shared broker uses."""
    return f"test/{test}/{uuid.uuid4().hex}"


# -- the broker itself -----------------------------------------------------------


@pytest.mark.services
def test_qos1_message_reaches_subscriber(mosquitto: MosquittoServer) -> None:
    topic = topic_for("qos1")
    with connected(mosquitto) as subscriber, connected(mosquitto) as publisher:
        assert subscriber.subscribe(topic, qos=1) == 1
        publisher.publish(topic, b"hello", qos=1)
        message = subscriber.receive()
    assert (message.topic, message.payload, message.qos) == (topic, b"hello", 1)


@pytest.mark.services
def test_broker_listens_on_a_private_loopback_port(mosquitto: MosquittoServer) -> None:
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert mosquitto.port not in (1883, 8883)


@pytest.mark.services
@pytest.mark.fault
def test_retained_message_survives_restart(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    port = broker.port
    with connected(broker) as publisher:
        publisher.publish("fw/v1/br-0001/status", b"online", qos=1, retain=True)
    broker.restart()
    assert broker.port == port
    with connected(broker) as subscriber:
        subscriber.subscribe("fw/v1/br-0001/status")
        message = subscriber.receive()
    assert (message.payload, message.retain) == (b"online", True)


@pytest.mark.services
@pytest.mark.fault
def test_persistent_session_gets_messages_sent_while_away_across_restart(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    topic = "fw/v1/br-0001/cmd"
    with connected(broker, "gateway-persistent", clean_session=False) as subscriber:
        subscriber.subscribe(topic, qos=1)
    with connected(broker) as publisher:
        publisher.publish(topic, b"before restart", qos=1)
    broker.restart()
    with connected(broker) as publisher:
        publisher.publish(topic, b"after restart", qos=1)
    # Same client id, no new SUBSCRIBE: the broker kept the session and its queue.
    with connected(broker, "gateway-persistent", clean_session=False) as subscriber:
        received = [subscriber.receive().payload, subscriber.receive().payload]
        subscriber.assert_nothing_more()
    assert received == [b"before restart", b"after restart"]


@pytest.mark.services
@pytest.mark.fault
def test_failed_start_raises_with_log_tail_and_leaves_nothing_running(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        broker = MosquittoServer(tmp_path_factory.mktemp("mosquitto"), port=port)
        with pytest.raises(ServiceError, match="exited with code") as failure:
            broker.start()
    assert "Address already in use" in str(failure.value)
    assert not broker.is_running
    assert broker.pid is None


# -- users and the ACL from provisioning.broker_acl ---------------------------------


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    users = {**DEVICE_PASSWORDS, GATEWAY: GATEWAY_PASSWORD}
    folder = tmp_path_factory.mktemp("mosquitto-acl")
    with MosquittoServer(folder, users=users, acl=render_acl([GATEWAY])) as broker:
        yield broker


@contextmanager
def as_user(broker: MosquittoServer, username: str) -> Iterator[MqttSession]:
    password = {**DEVICE_PASSWORDS, GATEWAY: GATEWAY_PASSWORD}[username]
    with connected(broker, username=username, password=password) as session:
        yield session


@pytest.mark.services
def test_device_telemetry_reaches_gateway(secured_broker: MosquittoServer) -> None:
    with as_user(secured_broker, GATEWAY) as gateway, as_user(secured_broker, "br-0001") as device:
        assert gateway.subscribe("fw/v1/+/up/#") == 1
        device.publish("fw/v1/br-0001/up/telemetry", b"reading")
        message = gateway.receive()
    assert (message.topic, message.payload) == ("fw/v1/br-0001/up/telemetry", b"reading")


@pytest.mark.services
def test_device_cannot_publish_as_another_device(secured_broker: MosquittoServer) -> None:
    with as_user(secured_broker, GATEWAY) as gateway, as_user(secured_broker, "br-0001") as device:
        gateway.subscribe("fw/v1/+/up/#")
        # MQTT 3.1.1: the broker acknowledges the denied publish and drops it.
        device.publish("fw/v1/br-0002/up/telemetry", b"forged")
        # The broker relays one publisher's messages in order, so once this
        # one arrives, the forged one would have arrived before it.
        device.publish("fw/v1/br-0001/up/telemetry", b"marker")
        assert gateway.receive().payload == b"marker"
        gateway.assert_nothing_more()


@pytest.mark.services
def test_wrong_password_is_refused(secured_broker: MosquittoServer) -> None:
    code = connack_code(secured_broker, "br-0001", "not-its-password")
    assert code.is_failure
    assert connack_code(secured_broker, "br-0001", DEVICE_PASSWORDS["br-0001"]) == 0


@pytest.mark.services
def test_anonymous_client_is_refused(secured_broker: MosquittoServer) -> None:
    assert connack_code(secured_broker, None, None).is_failure


@pytest.mark.services
def test_device_cannot_read_another_devices_commands(secured_broker: MosquittoServer) -> None:
    with as_user(secured_broker, GATEWAY) as gateway, as_user(secured_broker, "br-0001") as device:
        device.subscribe("fw/v1/br-0002/cmd")
        assert device.subscribe("fw/v1/br-0001/cmd") == 1
        gateway.publish("fw/v1/br-0002/cmd", b"for br-0002")
        gateway.publish("fw/v1/br-0001/cmd", b"for br-0001")
        message = device.receive()
        device.assert_nothing_more()
    assert (message.topic, message.payload) == ("fw/v1/br-0001/cmd", b"for br-0001")


def test_render_acl_refuses_gateway_names_that_would_widen_rules() -> None:
    for bad in ("", "gw/+", "gw#", "gw 01", "gw\nuser br-0001"):
        with pytest.raises(ValueError, match="gateway"):
            render_acl([bad])


@pytest.mark.services
@pytest.mark.parametrize(("limit", "published", "kept"), [(5, 30, 5), (50, 30, 30)])
def test_an_offline_session_keeps_at_most_max_queued_messages(
    mosquitto_factory: MosquittoFactory, limit: int, published: int, kept: int
) -> None:
    broker = mosquitto_factory(max_queued_messages=limit)
    topic = "fw/v1/br-0001/up/telemetry"
    with connected(broker, "gateway-away", clean_session=False) as subscriber:
        subscriber.subscribe(topic, qos=1)
    with connected(broker) as publisher:
        for n in range(published):
            publisher.publish(topic, str(n).encode(), qos=1)
    with connected(broker, "gateway-away", clean_session=False) as subscriber:
        received = [subscriber.receive().payload for _ in range(kept)]
        subscriber.assert_nothing_more()
    # The oldest are kept; what came once the queue was full is dropped.
    assert received == [str(n).encode() for n in range(kept)]
