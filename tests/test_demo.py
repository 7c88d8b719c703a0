"""`make demo` runs `fieldwatch demo`: the whole system, with data that reaches InfluxDB."""

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.services
@pytest.mark.slow
def test_demo_runs_devices_gateway_and_cloud_and_stores_every_record(tmp_path: Path) -> None:
    fieldwatch = Path(sys.executable).parent / "fieldwatch"
    done = subprocess.run(
        [
            *(str(fieldwatch), "demo", "--folder", str(tmp_path), "--duration", "5", "--no-open"),
            *("--history", "10", "--bracelets", "8", "--stations", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"cloud API\s+http://127\.0\.0\.1:\d+/docs", out), out
    assert re.search(r"console\s+http://127\.0\.0\.1:\d+/console", out), out
    assert "sign in as demo-admin" in out
    assert "or as demo-chief" in out
    assert re.search(r"gateway\s+http://127\.0\.0\.1:\d+/metrics", out), out
    assert re.search(r"MQTT broker\s+mqtt://127\.0\.0\.1:\d+", out), out
    assert "/api/v1/devices/br-000001/track" in out
    assert "/api/v1/sites/site-001/water" in out
    # Counted by the devices, and read back from InfluxDB by the demo after they drained.
    summary = re.search(r"devices made (\d+) records; InfluxDB holds .*\((\d+) in all\)", out)
    assert summary, out
    made, stored = (int(n) for n in summary.groups())
    assert made > 100
    assert stored == made
    # Passwords are written to files for the user, never printed.
    for secret_file in tmp_path.glob("*.password"):
        secret = secret_file.read_text()
        assert secret not in out
        assert secret not in done.stderr
