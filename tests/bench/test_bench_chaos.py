"""The chaos run, short: every fault once or more, every record accounted for exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldwatch_dev.bench.chaos import FAULTS, ChaosOptions, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.fault]


def test_a_minute_of_faults_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    options = ChaosOptions(duration_s=60, seed=3, bracelets=20, sensors=4, max_outage_s=4)
    lines: list[str] = []

    result = run_chaos(options, tmp_path, say=lines.append)

    assert result.drained
    assert all(count >= 1 for count in result.fault_counts().values()), result.fault_counts()
    assert set(result.fault_counts()) == set(FAULTS)
    assert result.total("made") > 0
    for device_id, device in result.accounts.items():
        assert device.missing == device.dropped, device_id
        assert device.duplicates == 0, device_id
        assert device.unexpected == 0, device_id
    assert result.total("unaccounted") == 0
    assert result.ok
    summary = "\n".join(result.summary_lines())
    assert "unaccounted: 0" in summary
    for kind in FAULTS:
        assert f"{kind} " in summary
