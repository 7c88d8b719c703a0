"""The host transport: one device's MQTT session over paho-mqtt, on the fleet's own loop.

CPython only. No thread per device: the fleet simulator selects on every
link's socket and calls ``loop_read``/``loop_write``/``loop_misc`` itself,
so hundreds of devices run in one thread, deterministically ordered.

Like ``umqtt.simple`` on a board, a link holds no queue of its own: the agent
decides what to publish and keeps every record until its PUBACK, and at most
``Uplink.window`` publishes are in flight per device, far under paho's cap
of 65,535 queued messages (FIELD-NOTES: the queue trap). Each connection
gets a fresh paho client, so paho never resends a message of an old session
on its own: after a drop, the agent's buffer is the one owner of what was
not acknowledged.
"""

from __future__ import annotations

import socket
from collections import deque

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

KEEPALIVE_S = 60
CONNECTED = "connected"
REFUSED = "refused"
LOST = "lost"
MESSAGE = "message"
ACKED = "acked"
SUBSCRIBED = "subscribed"


class LinkEvent:
    """Something the session reported: connected, refused, lost, a message, an ack."""

    __slots__ = ("kind", "payload", "token", "topic")

    def __init__(self, kind: str, topic: str = "", payload: bytes = b"", token: int = 0) -> None:
        self.kind = kind
        self.topic = topic
        self.payload = payload
        self.token = token


class PahoLink:
    """One device's connection to the broker, driven from outside (no paho thread)."""

    def __init__(self, device_id: str, host: str, port: int, password: str | None = None) -> None:
        self.device_id = device_id
        self.host = host
        self.port = port
        self.password = password
        self.events: deque[LinkEvent] = deque()
        self.client: mqtt.Client | None = None
        self.session_up = False  # CONNACK accepted and not lost since
        self._tokens: dict[int, int] = {}  # paho mid -> agent token

    # --- session ---------------------------------------------------------------------

    def connect(self, will_topic: str, will_payload: bytes) -> bool:
        """Open a new session (CONNECT sent); False if the broker cannot be reached."""
        self.close()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if self.password is not None:
            client.username_pw_set(self.device_id, self.password)
        client.will_set(will_topic, will_payload, qos=1, retain=True)
        client.max_inflight_messages_set(64)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        try:
            client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
        except OSError:
            return False
        self.client = client
        self._tokens = {}
        return True

    def close(self) -> None:
        """End the session cleanly (DISCONNECT: the broker does not send the will)."""
        client = self.client
        if client is None:
            return
        self.client = None
        self.session_up = False
        client.on_disconnect = None
        client.disconnect()
        _flush_quietly(client)
        _close_socket(client)

    def cut(self) -> None:
        """Lose the link abruptly (radio off): the broker sends the will after the keepalive."""
        client = self.client
        if client is None:
            return
        self.client = None
        self.session_up = False
        _close_socket(client)

    def subscribe(self, topics: list[str]) -> None:
        if self.client is not None:
            self.client.subscribe([(topic, 1) for topic in topics])

    def publish(self, topic: str, payload: bytes, retain: bool, token: int) -> None:
        """QoS 1 publish; ``token`` comes back in an ACKED event with its PUBACK."""
        if self.client is None:
            return
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            self._tokens[info.mid] = token

    # --- the external loop ---------------------------------------------------------------

    def socket(self) -> socket.socket | None:
        if self.client is None:
            return None
        sock = self.client.socket()
        return sock if isinstance(sock, socket.socket) else None

    def want_write(self) -> bool:
        return self.client is not None and self.client.want_write()

    def read(self) -> None:
        if self.client is not None:
            self._check(self.client.loop_read())

    def write(self) -> None:
        if self.client is not None:
            self._check(self.client.loop_write())

    def misc(self) -> None:
        if self.client is not None:
            self._check(self.client.loop_misc())

    def _check(self, rc: MQTTErrorCode) -> None:
        if rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            return
        if self.client is not None:
            self._lost()

    def _lost(self) -> None:
        client = self.client
        self.client = None
        was_up = self.session_up
        self.session_up = False
        if client is not None:
            client.on_disconnect = None
            _close_socket(client)
        self.events.append(LinkEvent(LOST if was_up else REFUSED))

    # --- paho callbacks (called inside read/write/misc, on this thread) ---------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if reason_code.is_failure:
            self._lost()
            return
        self.session_up = True
        self.events.append(LinkEvent(CONNECTED))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if client is self.client:
            self._lost()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        token = self._tokens.pop(mid, None)
        if token is not None and client is self.client:
            self.events.append(LinkEvent(ACKED, token=token))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: object,
    ) -> None:
        if client is self.client:
            self.events.append(LinkEvent(SUBSCRIBED))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if client is self.client:
            self.events.append(LinkEvent(MESSAGE, msg.topic, bytes(msg.payload)))


def _flush_quietly(client: mqtt.Client) -> None:
    # Push the DISCONNECT out; a dead socket is no reason to fail a close.
    try:
        client.loop_write()
    except OSError:
        pass


def _close_socket(client: mqtt.Client) -> None:
    sock = client.socket()
    if isinstance(sock, socket.socket):
        try:
            sock.close()
        except OSError:
            pass
