"""The gateway against a real Mosquitto and a real HTTP cloud: forwarding, quarantine,
heartbeat, metrics, downlink, shutdown."""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from edge_cloud_stub import CloudStub
from edge_support import (
    BRACELETS,
    STATIONS,
    STRANGER,
    TS,
    Fleet,
    event,
    fix,
    gateway_settings,
    health,
    metric_value,
    metrics_text,
    running_gateway,
    settings_toml,
    water,
)
from typer.testing import CliRunner

from core.codec import encode
from core.messages import Ack, Batch, Command, Config, LocationFix, Status
from core.receiver import decode
from edge.buffer import Buffer
from fieldwatch.cli import app
from fieldwatch_dev.local import MosquittoServer

pytestmark = pytest.mark.services


def _with_extra_key(message: bytes) -> bytes:
    """The message with one more map entry, key 99 -> 0: valid CBOR, not in v1."""
    head = bytearray(message)
    head[0] += 1  # a small map: the pair count is in the first byte
    return bytes(head) + bytes.fromhex("186300")


def test_every_message_reaches_the_cloud_exactly_once(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url)
    with running_gateway(settings) as gateway:
        fleet.connect((*BRACELETS, *STATIONS))
        expected = set()
        for n, device in enumerate(BRACELETS):
            for seq in range(0, 300, 3):
                fleet.publish(device, "telemetry", fix(seq))
                fleet.publish(device, "telemetry", health(seq + 1))
                fleet.publish(device, "event", event(seq + 2, code=1 + n))
                expected |= {(device, 1, seq), (device, 1, seq + 1), (device, 1, seq + 2)}
        for seq in range(50):
            fleet.publish(STATIONS[0], "telemetry", water(seq))
            expected.add((STATIONS[0], 1, seq))
        catch_up = [
            LocationFix(boot=2, seq=s, ts=TS + s, lat_e7=1, lon_e7=2, accuracy_m=9, source=2)
            for s in range(3)
        ]
        fleet.publish(BRACELETS[0], "batch", encode(Batch(boot=3, items=list(catch_up))))
        fleet.publish(
            BRACELETS[0], "ack", encode(Ack(boot=3, seq=0, ts=TS, result=0, config_version=4))
        )
        fleet.publish(BRACELETS[0], "status", encode(Status(boot=3, state=1)))
        expected |= {(BRACELETS[0], 2, s) for s in range(3)} | {(BRACELETS[0], 3, 0)}
        fleet.wait_sent()

        assert cloud.wait_for(lambda s: set(s.stored) == expected and bool(s.statuses), 30)
        assert cloud.read(lambda s: max(s.stored.values())) == 1
        assert cloud.wait_for(lambda s: len(s.heartbeats) >= 2, 10)
        heartbeat = cloud.read(lambda s: s.heartbeats[-1])
        assert heartbeat["gateway_id"] == settings.gateway_id
        assert set(heartbeat) == {
            "gateway_id",
            "sent_at_ms",
            "uptime_s",
            "buffer_depth",
            "buffer_bytes",
            "oldest_buffered_age_s",
            "version",
        }

        text = metrics_text(gateway.metrics_port)
        total = len(BRACELETS) * 300 + 50 + 3
        assert metric_value(text, "fieldwatch_edge_messages_received_total") == total
        assert metric_value(text, "fieldwatch_edge_messages_committed_total") == total
        for name in (
            "fieldwatch_edge_messages_forwarded_total",
            "fieldwatch_edge_buffer_depth",
            "fieldwatch_edge_buffer_bytes",
            "fieldwatch_edge_buffer_oldest_age_seconds",
            "fieldwatch_edge_forward_latency_seconds_count",
            "fieldwatch_edge_messages_dropped_total",
            "fieldwatch_edge_messages_quarantined_total",
        ):
            assert name in text


def test_bad_messages_are_quarantined_with_their_reason(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, quarantine_upload_interval_s=0.2)
    device = BRACELETS[0]
    bad = {
        "not_cbor": ("telemetry", b"\xff\x00\x01"),
        "oversize": ("telemetry", b"\xa0" * 20000),
        "unknown_version": ("telemetry", bytes.fromhex("a200020101")),
        "unknown_key": ("telemetry", _with_extra_key(health(9))),
        "wrong_channel": ("event", fix(7)),
        "wrong_device_kind": ("telemetry", water(8)),
    }
    with running_gateway(settings) as gateway:
        fleet.connect((device, STRANGER))
        for channel, payload in bad.values():
            fleet.publish(device, channel, payload)
        fleet.publish(STRANGER, "telemetry", fix(1))
        fleet.publish(device, "telemetry", fix(10))  # and a good one
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: (device, 1, 10) in s.stored, 20)
        assert cloud.wait_for(lambda s: len(s.quarantine) == len(bad) + 1, 20)
        text = metrics_text(gateway.metrics_port)

    expected_codes = {*bad, "unknown_device"}
    for code in expected_codes:
        assert f'fieldwatch_edge_messages_quarantined_total{{reason="{code}"}} 1.0' in text
    assert cloud.read(lambda s: set(s.stored)) == {(device, 1, 10)}
    # Every refused message reaches the cloud's quarantine too, bytes and reason intact.
    uploaded = cloud.read(lambda s: {e["code"]: e for e in s.quarantine.values()})
    assert set(uploaded) == expected_codes
    assert base64.b64decode(uploaded["not_cbor"]["payload_b64"]) == b"\xff\x00\x01"
    assert uploaded["unknown_device"]["device_id"] == STRANGER
    assert uploaded["wrong_device_kind"]["reason"].startswith("wrong_device_kind: a bracelet")

    config_file = tmp_path / "edge.toml"
    config_file.write_text(settings_toml(settings))
    result = CliRunner().invoke(
        app, ["edge", "quarantine", "list", "--config", str(config_file), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    by_code = {entry["code"]: entry for entry in entries}
    assert set(by_code) == expected_codes
    assert by_code["unknown_device"]["topic"] == f"fw/v1/{STRANGER}/up/telemetry"
    assert bytes.fromhex(by_code["not_cbor"]["payload_hex"]) == b"\xff\x00\x01"
    assert len(bytes.fromhex(by_code["oversize"]["payload_hex"])) == 20000
    assert all(entry["received_at_ms"] > 0 and entry["reason"] for entry in entries)
    text_output = CliRunner().invoke(
        app, ["edge", "quarantine", "list", "--config", str(config_file)]
    )
    assert "unknown_device" in text_output.output


def test_downlink_is_relayed_to_devices_and_acknowledged(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url)
    device = BRACELETS[0]
    fleet.connect((device,))
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = fleet.clients[device]
    client.on_message = lambda c, u, message: received.put(message)
    subscribed = threading.Event()
    client.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
    client.subscribe([(f"fw/v1/{device}/config", 1), (f"fw/v1/{device}/cmd", 1)])
    assert subscribed.wait(10)

    config = encode(Config(version=3, ts=TS, settings={1: 30, 4: 600}))
    command = encode(Command(command_id=5, ts=TS, code=2))
    cloud.offer_downlink("d-1", device, "config", config)
    cloud.offer_downlink("d-2", device, "cmd", command)
    cloud.offer_downlink("d-3", "br-777777", "cmd", command)  # not this gateway's device
    cloud.offer_downlink("d-4", device, "cmd", b"\xff")  # not a command
    with running_gateway(settings) as gateway:
        got = [received.get(timeout=20), received.get(timeout=20)]
        assert cloud.wait_for(lambda s: len(s.downlink_acks) == 4 and not s.downlink, 20)
        # the device answers; the ack comes back as ordinary uplink
        fleet.publish(device, "ack", encode(Ack(boot=1, seq=0, ts=TS, result=0, command_id=5)))
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: (device, 1, 0) in s.stored, 20)
        text = metrics_text(gateway.metrics_port)
    by_topic = {m.topic: m for m in got}
    assert by_topic[f"fw/v1/{device}/config"].payload == config
    assert by_topic[f"fw/v1/{device}/config"].retain is False  # live delivery
    assert by_topic[f"fw/v1/{device}/cmd"].payload == command
    assert decode(bytes(by_topic[f"fw/v1/{device}/cmd"].payload), "cmd") == Command(
        command_id=5, ts=TS, code=2
    )
    assert 'fieldwatch_edge_downlink_messages_total{outcome="relayed"} 2.0' in text
    assert 'fieldwatch_edge_downlink_messages_total{outcome="refused"} 2.0' in text

    # config is retained: a device that subscribes later still gets it
    late: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client.on_message = lambda c, u, message: late.put(message)
    client.unsubscribe(f"fw/v1/{device}/config")
    client.subscribe(f"fw/v1/{device}/config", 1)
    retained = late.get(timeout=10)
    assert retained.retain
    assert retained.payload == config

    buffer = Buffer.open(settings.buffer_path, cap_bytes=10**9)
    try:
        codes = {entry.code for entry in buffer.quarantine()}
    finally:
        buffer.close()
    assert codes == {"unknown_device", "not_cbor"}


def test_a_stopped_gateway_keeps_what_it_could_not_forward_and_loses_nothing(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url)
    device = BRACELETS[1]
    cloud.down()
    with running_gateway(settings) as gateway:
        fleet.connect((device,))
        for seq in range(40):
            fleet.publish(device, "telemetry", fix(seq))
        fleet.wait_sent()
        committed = "fieldwatch_edge_messages_committed_total"
        deadline_text = ""
        for _ in range(200):
            deadline_text = metrics_text(gateway.metrics_port)
            if metric_value(deadline_text, committed) == 40:
                break
            threading.Event().wait(0.05)
        assert metric_value(deadline_text, committed) == 40
    # stopped: not receiving; the broker keeps the gateway's session and queues for it
    for seq in range(40, 60):
        fleet.publish(device, "telemetry", fix(seq))
    fleet.wait_sent()
    buffer = Buffer.open(settings.buffer_path, cap_bytes=10**9)
    try:
        assert buffer.stats().depth == 40
    finally:
        buffer.close()
    cloud.up()
    with running_gateway(settings):
        assert cloud.wait_for(lambda s: len(s.stored) == 60, 30)
    assert cloud.read(lambda s: sorted(s.stored)) == [(device, 1, n) for n in range(60)]
    assert cloud.read(lambda s: max(s.stored.values())) == 1


def test_a_quarantine_entry_the_cloud_cannot_take_stays_at_the_gateway_and_the_rest_go_on(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, quarantine_upload_interval_s=0.2)
    device = BRACELETS[0]
    cloud.refuse_quarantine_entry(3)  # the third message the gateway quarantines
    with running_gateway(settings) as gateway:
        fleet.connect((device,))
        for n in range(1, 7):
            fleet.publish(device, "telemetry", b"\xff" * n)  # not CBOR: quarantined
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: len(s.quarantine) == 5, 20)
        deadline = time.monotonic() + 10
        while True:  # the mark moves once the answer is read
            text = metrics_text(gateway.metrics_port)
            left = metric_value(text, "fieldwatch_edge_quarantine_not_uploaded")
            if left == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert sorted(cloud.read(lambda s: list(s.quarantine))) == [1, 2, 4, 5, 6]
    assert metric_value(text, 'fieldwatch_edge_quarantine_uploaded_total{outcome="refused"}') == 1
    assert metric_value(text, "fieldwatch_edge_quarantine_not_uploaded") == 0
