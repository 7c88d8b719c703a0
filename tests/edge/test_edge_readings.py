"""Batches sized in readings: a device batch counts its items, a 413 halves the readings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from edge_cloud_stub import CloudStub
from edge_support import BRACELETS, TS, Fleet, fix, gateway_settings, running_gateway

from core.codec import encode
from core.messages import Batch, LocationFix
from edge.gateway import Gateway
from fieldwatch_dev.local import MosquittoServer

pytestmark = [pytest.mark.services, pytest.mark.fault]

DEVICE = BRACELETS[0]


def device_batch(boot: int, first_seq: int, count: int) -> bytes:
    """A catch-up batch (``up/batch``) of ``count`` location fixes."""
    items = [
        LocationFix(
            boot=boot, seq=s, ts=TS + s, lat_e7=311234567, lon_e7=1214567890, accuracy_m=8, source=1
        )
        for s in range(first_seq, first_seq + count)
    ]
    return encode(Batch(boot=boot, items=items))


def wait_depth(gateway: Gateway, depth: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while gateway.buffer_stats().depth < depth:
        if time.monotonic() > deadline:
            raise AssertionError(f"the gateway did not buffer {depth} messages")
        time.sleep(0.05)


def test_a_request_carries_up_to_the_limit_in_readings_not_messages(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, forward_batch_max_readings=50)
    cloud.down()
    with running_gateway(settings) as gateway:
        fleet.connect((DEVICE,))
        for n in range(20):  # 20 messages, 200 readings
            fleet.publish(DEVICE, "batch", device_batch(2, 10 * n, 10))
        fleet.wait_sent()
        wait_depth(gateway, 20)
        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == 200, 60)
    assert cloud.read(lambda s: max(s.stored.values())) == 1
    stored = [a.readings for a in cloud.read(lambda s: list(s.attempts)) if a.status == 200]
    assert stored == [50, 50, 50, 50]


def test_a_single_reading_per_message_fills_a_request_to_the_limit(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, forward_batch_max_readings=60)
    cloud.down()
    with running_gateway(settings) as gateway:
        fleet.connect((DEVICE,))
        fleet.publish(DEVICE, "batch", device_batch(2, 0, 30))
        for seq in range(90):
            fleet.publish(DEVICE, "telemetry", fix(seq, boot=3))
        fleet.wait_sent()
        wait_depth(gateway, 91)
        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == 120, 60)
    stored = [a.readings for a in cloud.read(lambda s: list(s.attempts)) if a.status == 200]
    assert stored == [60, 60]


def test_too_large_for_the_cloud_halves_the_readings_and_loses_nothing(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(tmp_path, broker, cloud.url, forward_batch_max_readings=200)
    cloud.refuse_larger_than(30)
    cloud.down()
    with running_gateway(settings) as gateway:
        fleet.connect((DEVICE,))
        for n in range(20):
            fleet.publish(DEVICE, "batch", device_batch(2, 10 * n, 10))
        fleet.wait_sent()
        wait_depth(gateway, 20)
        cloud.up()
        assert cloud.wait_for(lambda s: len(s.stored) == 200, 60)
    assert cloud.read(lambda s: max(s.stored.values())) == 1
    attempts = cloud.read(lambda s: list(s.attempts))
    assert [a.readings for a in attempts[:3]] == [200, 100, 50]  # each 413 halves it
    assert [a.status for a in attempts[:3]] == [413, 413, 413]
    assert all(a.readings <= 30 for a in attempts if a.status == 200)
