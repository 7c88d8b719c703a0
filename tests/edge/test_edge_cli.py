"""`fieldwatch edge` commands that need no broker: refusals at start-up, status."""

from __future__ import annotations

import json
from pathlib import Path

from edge_support import event, fix
from typer.testing import CliRunner

from core.topics import topic
from edge.buffer import Buffer, Incoming
from edge.classify import Accepted
from edge.lanes import Lane
from fieldwatch.cli import app


def write_config(tmp_path: Path, **values: str) -> Path:
    config = tmp_path / "edge.toml"
    lines = ["[edge]", *(f'{key} = "{value}"' for key, value in values.items())]
    config.write_text("\n".join(lines) + "\n")
    return config


def test_run_refuses_to_start_without_a_registry(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        registry_path=str(tmp_path / "missing.toml"),
        buffer_path=str(tmp_path / "buffer.sqlite3"),
    )
    result = CliRunner().invoke(app, ["edge", "run", "--config", str(config)])
    assert result.exit_code == 1
    assert "missing.toml: not found" in result.output


def test_run_refuses_a_bad_setting(tmp_path: Path) -> None:
    config = write_config(tmp_path, buffer_synchronous="sometimes")
    result = CliRunner().invoke(app, ["edge", "run", "--config", str(config)])
    assert result.exit_code == 2
    assert "buffer_synchronous" in result.output


def test_status_reports_depth_bytes_and_drops(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite3"
    buffer = Buffer.open(path, cap_bytes=10**9)
    device = "br-000001"
    buffer.commit(
        [
            Incoming(
                topic(device, "telemetry"),
                fix(0),
                5,
                Accepted(device, "telemetry", Lane.TELEMETRY, 1),
            ),
            Incoming(
                topic(device, "event"), event(1), 6, Accepted(device, "event", Lane.URGENT, 1)
            ),
        ]
    )
    buffer.close()
    config = write_config(tmp_path, buffer_path=str(path))
    result = CliRunner().invoke(app, ["edge", "status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["depth_urgent"], status["depth_telemetry"]) == (1, 1)
    assert status["oldest_received_at_ms"] == 5
    assert status["dropped_total"] == 0
    empty = CliRunner().invoke(app, ["edge", "quarantine", "list", "--config", str(config)])
    assert "quarantine is empty" in empty.output
