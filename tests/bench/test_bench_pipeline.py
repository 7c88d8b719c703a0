"""`fieldwatch bench pipeline`: a table and JSON whose loss is counted from InfluxDB.

Checks the shape and the bookkeeping only; speeds are never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldwatch.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_a_short_run_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    json_file = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        [
            *("bench", "pipeline", "--quick", "--steps", "2000", "--peer-steps", "500"),
            *("--step-seconds", "3", "--devices", "4", "--json", str(json_file)),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "| pipeline | 2,000 |" in result.output
    assert "| paho peer | 500 |" in result.output
    assert "storage (InfluxDB, line protocol)" in result.output
    assert "transport (Mosquitto, QoS 1)" in result.output
    report = json.loads(json_file.read_text())
    assert set(report) >= {"steps", "ceilings", "peers", "ratios", "sustained_readings_per_s"}
    for step in [*report["steps"], *report["peers"]["paho_per_message_writes"]]:
        # Loss is what the devices made minus what InfluxDB holds, per device by seq.
        assert step["produced"] > 0
        assert step["stored"] + step["lost"] == step["produced"]
        assert step["unexpected"] == 0
        assert step["probe_samples"] > 0
    assert [c["name"] for c in report["ceilings"]] == [
        "storage (InfluxDB, line protocol)",
        "transport (Mosquitto, QoS 1)",
    ]
    assert all(c["readings_per_s"] > 0 for c in report["ceilings"])
