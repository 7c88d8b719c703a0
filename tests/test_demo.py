"""`make demo` runs `fieldwatch demo`: it must start the services, move data and say where to look."""

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.services
@pytest.mark.slow
def test_demo_starts_services_stores_readings_and_says_where_to_look(tmp_path: Path) -> None:
    fieldwatch = Path(sys.executable).parent / "fieldwatch"
    done = subprocess.run(
        [str(fieldwatch), "demo", "--folder", str(tmp_path), "--duration", "6"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"MQTT broker\s+mqtt://127\.0\.0\.1:\d+", out), out
    assert re.search(r"InfluxDB\s+http://127\.0\.0\.1:\d+", out), out
    assert "mosquitto_sub" in out
    # Read back from InfluxDB by the demo itself, after the devices stopped.
    held = re.search(r"InfluxDB now holds (\d+) location, (\d+) water_quality, (\d+) event", out)
    assert held, out
    locations, samples, events = (int(n) for n in held.groups())
    assert locations >= 4
    assert samples >= 4
    assert events == 1
    assert "set aside (breaks the wire contract)" in out
    assert "unknown_version" in out
    # The gateway password is written for the user, never printed.
    password = (tmp_path / "gateway.password").read_text()
    assert password not in out
    assert password not in done.stderr
