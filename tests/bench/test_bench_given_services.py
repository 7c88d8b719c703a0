"""`fieldwatch bench pipeline` against a broker and an InfluxDB it is given by URL.

The harness starts them (a broker that wants a password, an InfluxDB); the bench starts
only the cloud and the gateway, pointed at them. Speeds are never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fixtures.services import InfluxFactory, MosquittoFactory
from typer.testing import CliRunner

from fieldwatch.cli import app
from fieldwatch_dev.local.mosquitto import DEPLOYMENT_MAX_QUEUED_MESSAGES

pytestmark = [pytest.mark.slow, pytest.mark.services]

BROKER_USER, BROKER_PASSWORD = "bench-user", "given-broker-secret"
DATABASE = "given_fieldwatch"


def series_count(influx_url: str, database: str) -> int:
    response = httpx.get(
        f"{influx_url}/query",
        params={"db": database, "q": 'SELECT count("seq") FROM "evidence"."location"'},
    )
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def test_the_bench_runs_against_a_given_broker_and_influxdb(
    mosquitto_factory: MosquittoFactory, influx_factory: InfluxFactory, tmp_path: Path
) -> None:
    # Configured as docs/benchmarks.md asks of a given broker: the deployment's queue limit
    # (Mosquitto's default 1,000 drops messages while the ceiling's subscriber catches up).
    broker = mosquitto_factory(
        users={BROKER_USER: BROKER_PASSWORD}, max_queued_messages=DEPLOYMENT_MAX_QUEUED_MESSAGES
    )
    influx = influx_factory()
    json_file = tmp_path / "bench.json"

    result = CliRunner().invoke(
        app,
        [
            *("bench", "pipeline", "--quick", "--steps", "1000", "--peer-steps", "300"),
            *("--step-seconds", "2", "--devices", "3", "--json", str(json_file)),
            *("--mqtt-url", f"mqtt://{BROKER_USER}:{BROKER_PASSWORD}@{broker.host}:{broker.port}"),
            *("--influx-url", influx.url, "--influx-database", DATABASE),
        ],
    )

    assert result.exit_code == 0, result.output
    assert BROKER_PASSWORD not in result.output
    report = json.loads(json_file.read_text())
    assert BROKER_PASSWORD not in json_file.read_text()
    assert report["services"] == {
        "broker": f"mqtt://{BROKER_USER}:********@{broker.host}:{broker.port}",
        "influx": influx.url,
        "influx_database": DATABASE,
    }
    (step,) = report["steps"]
    (peer,) = report["peers"]["paho_per_message_writes"]
    for measured in (step, peer):
        assert measured["produced"] > 0
        assert measured["lost"] == 0
        assert measured["unexpected"] == 0
        assert measured["stored"] == measured["produced"]
    # What was counted is in the given InfluxDB, in the given database and the peer's.
    assert series_count(influx.url, DATABASE) == step["produced"]
    assert series_count(influx.url, "peer") == peer["produced"]
    # The devices logged in to the given broker (a bench broker of its own would have
    # let them in anonymously, and this one would not have seen them).
    broker_log = broker.log_path.read_text()
    assert "as br-000001" in broker_log
    assert "as fieldwatch-edge-gw-bench" in broker_log
    assert "as peer-bridge" in broker_log
    assert all(c["readings_per_s"] > 0 for c in report["ceilings"])
