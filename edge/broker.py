"""The gateway's link to the local Mosquitto: the only module that imports paho.

MQTT 5, a fixed client id, ``clean_start=False`` and a session that never expires:
while the gateway is down (crash, upgrade), the broker keeps its subscriptions and
queues every QoS 1 message for it. Acknowledgements are manual: a message is
PUBACKed only by ``ack()``, which the committer calls after the SQLite commit. What
was handed over but not acknowledged when the gateway died is handed over again.

Why MQTT 5: its Receive Maximum lets the gateway take ``mqtt_receive_maximum``
messages before acknowledging (MQTT 3.1.1 leaves it to the broker's
``max_inflight_messages``, 20 by default, which would cap group commits at 20), and
its subscription option "retain handling 1" stops the broker from resending every
retained status at each reconnect.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from core.topics import GATEWAY_SUBSCRIPTIONS
from edge.errors import BrokerError

log = logging.getLogger(__name__)

SESSION_NEVER_EXPIRES = 0xFFFFFFFF
KEEPALIVE_S = 30


@dataclass(frozen=True, slots=True)
class Received:
    """A message the broker handed over, not yet acknowledged."""

    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and as whom the gateway connects."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    client_id: str
    receive_maximum: int


class BrokerLink:
    """Subscribe, hand messages to an inbox, acknowledge, publish downlink."""

    def __init__(self, address: BrokerAddress, inbox: queue.SimpleQueue[Received]) -> None:
        self._address = address
        self._inbox = inbox
        self._client: mqtt.Client | None = None
        self._delivering = threading.Event()
        self.connected = threading.Event()
        self.subscribed = threading.Event()

    def start(self) -> None:
        """Connect in the background; paho reconnects on its own after a loss."""
        address = self._address
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=address.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        properties.ReceiveMaximum = address.receive_maximum
        self._delivering.set()
        self._client = client
        try:
            client.connect_async(
                address.host,
                address.port,
                keepalive=KEEPALIVE_S,
                clean_start=False,
                properties=properties,
            )
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to {address.host}:{address.port}: {exc}") from exc
        client.loop_start()

    def stop_delivering(self) -> None:
        """From now on, messages are left unacknowledged for the next run to take."""
        self._delivering.clear()

    def stop(self) -> None:
        """Send what is queued (acks included), disconnect, end the network thread."""
        client = self._client
        if client is None:
            return
        self._delivering.clear()
        client.disconnect()
        client.loop_stop()
        self._client = None

    def ack(self, mid: int, qos: int) -> None:
        """PUBACK one message: call only once it is committed."""
        client = self._require_client()
        result = client.ack(mid, qos)
        if result not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            # Without a connection the broker hands the message over again, and the
            # buffer recognises it: nothing to do.
            raise BrokerError(f"cannot acknowledge message {mid}: {mqtt.error_string(result)}")

    def publish(self, topic: str, payload: bytes, *, retain: bool, timeout_s: float) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        client = self._require_client()
        info = client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerError(f"cannot publish to {topic}: {mqtt.error_string(info.rc)}")
        deadline = time.monotonic() + timeout_s
        while not info.is_published():
            if time.monotonic() > deadline:
                raise BrokerError(f"no PUBACK for {topic} within {timeout_s} s")
            info.wait_for_publish(timeout=0.1)

    def _require_client(self) -> mqtt.Client:
        if self._client is None:
            raise BrokerError("the broker link is not started")
        return self._client

    # paho callbacks, on paho's network thread

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the gateway: %s", reason_code)
            return
        log.info("connected to the broker (session present: %s)", flags.session_present)
        self.connected.set()
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(name, options) for name in GATEWAY_SUBSCRIPTIONS])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("broker refused the gateway's subscriptions: %s", ", ".join(refused))
            return
        self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self._delivering.is_set():
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._delivering.is_set():
            return  # shutting down: left unacknowledged, handed over again next run
        self._inbox.put(Received(message.mid, message.qos, message.topic, bytes(message.payload)))
