"""`fieldwatch bench rivers --part hj212 --quick`: the real gateway with its HJ 212 listener,
loggers on TCP, every packet answered and in the buffer once (never its speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldwatch.cli import app


@pytest.mark.slow
@pytest.mark.services
def test_bench_rivers_hj212_quick_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rivers.json"
    args = ["bench", "rivers", "--part", "hj212", "--quick", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "lost 0" in result.output
    report = json.loads(out.read_text())["hj212"]
    assert report["lost"] == 0
    assert report["options"]["loggers"] == 4
    [only] = report["rounds"]
    assert only["packets"] == only["answered"] == only["buffered"] == 2000
    assert only["per_second"] > 0
    assert only["gateway_cpu_s"] > 0
