"""InfluxDB stopped during ingest: 503, nothing acknowledged that is not stored, then stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_support import T0, Cloud, batch_body, cloud_settings, fix, item, running_cloud
from fixtures.services import InfluxFactory

from fieldwatch_dev.local import InfluxServer

pytestmark = [pytest.mark.services, pytest.mark.fault]


@pytest.fixture
def cloud_with_own_influx(
    pg_url: str, influx_factory: InfluxFactory, tmp_path: Path
) -> Iterator[tuple[Cloud, InfluxServer]]:
    influx = influx_factory()
    for cloud in running_cloud(cloud_settings(pg_url, influx.url, tmp_path)):
        yield cloud, influx


def test_influxdb_down_means_503_and_the_retry_after_restart_is_stored(
    cloud_with_own_influx: tuple[Cloud, InfluxServer],
) -> None:
    cloud, influx = cloud_with_own_influx
    token = cloud.gateway_tokens["gw-one"]
    admin = cloud.login("administrator")
    assert cloud.send("gw-one", [item("br-000001", fix(1, 0, T0))]).status_code == 200

    influx.stop()
    batch_id, body = batch_body("gw-one", [item("br-000001", fix(1, s, T0 + s)) for s in (1, 2, 4)])
    refused = cloud.ingest(token, body)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == str(cloud.settings.retry_after_s)
    # Nothing of the batch was recorded: no gap, no new state, the id not taken.
    device = cloud.client.get("/api/v1/devices/br-000001", headers=admin).json()
    assert (device["last_boot"], device["last_seq"]) == (1, 0)
    gaps = cloud.client.get("/api/v1/devices/br-000001/gaps", headers=admin).json()
    assert gaps["gaps"] == []
    assert cloud.client.get("/api/v1/health").json() == {
        "status": "ok",
        "influxdb": False,
        "database": True,
    }
    # A query needing InfluxDB is unavailable too, not an error.
    track = cloud.client.get(
        "/api/v1/devices/br-000001/track",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        headers=admin,
    )
    assert track.status_code == 503

    influx.start()
    stored = cloud.ingest(token, body)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "batch_id": batch_id,
        "accepted": 3,
        "duplicate_batch": False,
        "rejected": [],
    }
    seqs = [row["seq"] for row in cloud.points("location", "br-000001")]
    assert seqs == [0, 1, 2, 4]
    gaps = cloud.client.get("/api/v1/devices/br-000001/gaps", headers=admin).json()
    assert [(g["first_seq"], g["last_seq"]) for g in gaps["gaps"]] == [(3, 3)]
