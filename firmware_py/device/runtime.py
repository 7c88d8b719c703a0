"""The device's main loop: Wi-Fi, clock, MQTT (umqtt.simple), watchdog, and the agent.

``umqtt.simple`` publishes QoS 1 synchronously: ``publish`` returns once the
PUBACK came, or raises OSError; so one publish is in flight at a time and an
acknowledged token is reported right away. A connect attempt blocks for at
most ``SOCKET_TIMEOUT_S``; strap and button edges are latched by interrupts
meanwhile, so backoff never loses an event, and the agent's backoff keeps
attempts rare. The watchdog is fed once per loop: a hung socket resets the
board, and the buffer and counters in flash carry on after the reboot.
"""

import gc
import json
import time

import machine
import network
from umqtt.simple import MQTTClient

try:
    from typing import Any

    from firmware_py.agent.device import DeviceAgent
    from firmware_py.bracelet.board import BraceletBoard
    from firmware_py.river_sensor.board import RiverBoard
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

SOCKET_TIMEOUT_S = 5
WATCHDOG_MS = 30000
LOOP_SLEEP_MS = 200
# time.time() counts from 2000-01-01 on ports with the old embedded epoch.
EPOCH_OFFSET = 0 if time.gmtime(0)[0] == 1970 else 946684800


def load_device_file(path: str = "/device.json") -> "dict[str, Any]":
    """The board's identity and wiring: device_id, password, broker, wifi, pins."""
    with open(path) as f:
        device = json.load(f)
    if not isinstance(device, dict):
        raise ValueError("%s holds no JSON object" % path)
    return device


def now_s() -> int:
    return time.time() + EPOCH_OFFSET


def start_wifi(ssid: str, password: str) -> "network.WLAN":
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(ssid, password)
    return wlan


def set_clock() -> None:
    """Set the RTC by NTP; records wait until the clock is set (the agent checks)."""
    try:
        import ntptime

        ntptime.settime()
    except (OSError, ImportError):
        pass


class Link:
    """One umqtt.simple session at a time."""

    def __init__(self, device: "dict[str, Any]") -> None:
        self.device = device
        self.client: "MQTTClient | None" = None
        self.inbox: list[Any] = []

    def connect(self, will_topic: str, will_payload: bytes, topics: "list[str]") -> bool:
        d = self.device
        client = MQTTClient(
            d["device_id"],
            d["broker_host"],
            port=d.get("broker_port", 1883),
            user=d["device_id"],
            password=d["password"],
            keepalive=60,
        )
        client.set_last_will(will_topic, will_payload, retain=True, qos=1)
        client.set_callback(self._on_message)
        try:
            client.connect(timeout=SOCKET_TIMEOUT_S)
            for topic in topics:
                client.subscribe(topic, qos=1)
        except OSError:
            return False
        self.client = client
        return True

    def _on_message(self, topic: bytes, payload: bytes) -> None:
        self.inbox.append((topic.decode(), bytes(payload)))

    def drop(self) -> None:
        client = self.client
        self.client = None
        if client is not None:
            try:
                client.sock.close()
            except (OSError, AttributeError):
                pass


def run(
    agent: "DeviceAgent",
    board: "BraceletBoard | RiverBoard",
    device: "dict[str, Any]",
    wlan: "network.WLAN",
) -> None:
    """Forever: step the board, exchange with the broker, feed the watchdog."""
    watchdog = machine.WDT(timeout=WATCHDOG_MS)
    link = Link(device)
    set_clock()
    agent.start(now_s())
    while True:
        watchdog.feed()
        now = now_s()
        if link.client is None and wlan.isconnected() and agent.wants_connection(now):
            will_topic, will_payload = agent.will()
            if link.connect(will_topic, will_payload, agent.subscriptions()):
                agent.on_connected(now)
            else:
                agent.on_connect_failed(now)
        if link.client is not None:
            try:
                link.client.check_msg()
            except OSError:
                link.drop()
                agent.on_connection_lost(now)
        while link.inbox:
            topic, payload = link.inbox.pop(0)
            agent.on_message(topic, payload, now)
        board.step(now)
        for out in agent.take_outgoing():
            if link.client is None:
                break
            try:
                link.client.publish(out.topic, out.payload, out.retain, 1)
                agent.on_published(out.token)
            except OSError:
                link.drop()
                agent.on_connection_lost(now)
        if agent.reboot_requested and agent.uplink.idle:
            machine.reset()
        gc.collect()
        time.sleep_ms(LOOP_SLEEP_MS)
