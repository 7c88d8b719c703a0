"""`fieldwatch edge run` killed with SIGKILL mid-stream, twice, and restarted: every
reading the broker took from a device reaches the cloud, and none is stored twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_cloud_stub import CloudStub
from edge_support import (
    BRACELETS,
    Fleet,
    GatewayProcess,
    event,
    fix,
    gateway_settings,
    settings_toml,
)

from fieldwatch_dev.local import MosquittoServer

pytestmark = [pytest.mark.services, pytest.mark.fault, pytest.mark.slow]

PER_DEVICE = 1500


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, broker: MosquittoServer, cloud: CloudStub, fleet: Fleet
) -> None:
    settings = gateway_settings(
        tmp_path,
        broker,
        cloud.url,
        forward_batch_max_readings=50,
        forward_batch_max_age_s=0.05,
        mqtt_receive_maximum=200,
    )
    config_file = tmp_path / "edge.toml"
    config_file.write_text(settings_toml(settings))
    gateway = GatewayProcess(config_file, tmp_path / "gateway.log", settings.metrics_port)
    gateway.start()
    try:
        gateway.wait_subscribed()
        fleet.connect(BRACELETS)
        expected = {(d, 1, seq) for d in BRACELETS for seq in range(PER_DEVICE)}
        kills = {400: "kill", 500: "restart", 1000: "kill", 1100: "restart"}
        for seq in range(PER_DEVICE):
            for device in BRACELETS:
                if seq % 100 == 0:
                    fleet.publish(device, "event", event(seq))
                else:
                    fleet.publish(device, "telemetry", fix(seq))
            if seq % 20 == 19:
                fleet.wait_sent()  # a steady stream rather than one burst
            if kills.get(seq) == "kill":
                gateway.kill()  # SIGKILL while it commits, acknowledges and forwards
            elif kills.get(seq) == "restart":
                gateway.start()
                gateway.wait_subscribed()
        fleet.wait_sent()
        assert cloud.wait_for(lambda s: len(s.stored) == len(expected), 120)
        assert gateway.terminate() == 0
    finally:
        gateway.kill()

    stored = cloud.read(lambda s: dict(s.stored))
    assert set(stored) == expected
    twice = {key: count for key, count in stored.items() if count > 1}
    assert not twice
