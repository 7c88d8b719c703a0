"""`make demo` runs `fieldwatch demo`: the whole system, with data that reaches InfluxDB,
and a console where the demo's administrator sees the fleet move and its river chief
sees their site."""

import json
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import IO, Any

import httpx
import pytest


def _wait_for_line(stream: IO[str], pattern: str, timeout_s: float, seen: list[str]) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line like {pattern!r} in:\n{''.join(seen)}")


def _signed_in(console: str, username: str, password: str) -> httpx.Client:
    """A client signed in through the console's form, CSRF cookie and field included."""
    client = httpx.Client(base_url=console, timeout=30, follow_redirects=True)
    form = client.get("/console/sign-in").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match, form
    answer = client.post(
        "/console/sign-in",
        data={"csrf_token": match.group(1), "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    assert username in answer.text
    return client


def _fleet_moves(client: httpx.Client, within_s: float) -> tuple[list[dict[str, Any]], bool]:
    """The live map stream's first set, and whether a newer fix of one of its bracelets
    arrives within ``within_s``."""
    first: list[dict[str, Any]] = []
    name = ""
    deadline = time.monotonic() + within_s
    with client.stream("GET", "/console/live", timeout=within_s + 30) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name == "devices":
                devices = json.loads(line[5:])
                if not first:
                    first = devices
                    fixes = {d["id"]: d["fix_at"] for d in first}
                elif any(d["fix_at"] != fixes.get(d["id"]) for d in devices):
                    return first, True
            if time.monotonic() > deadline:
                break
    return first, False


@pytest.mark.services
@pytest.mark.slow
def test_demo_runs_devices_gateway_and_cloud_and_stores_every_record(tmp_path: Path) -> None:
    fieldwatch = Path(sys.executable).parent / "fieldwatch"
    demo = subprocess.Popen(
        [
            *(str(fieldwatch), "demo", "--folder", str(tmp_path), "--duration", "60", "--no-open"),
            *("--history", "10", "--bracelets", "8", "--stations", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert demo.stdout is not None
        line = _wait_for_line(demo.stdout, r"console\s+http://127\.0\.0\.1:\d+/console", 180, seen)
        console = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # type: ignore[union-attr]
        _wait_for_line(demo.stdout, "Press Ctrl-C", 30, seen)

        with closing(
            _signed_in(console, "demo-admin", (tmp_path / "admin.password").read_text())
        ) as admin:
            assert "br-000008" in admin.get("/console/map").text
            # The fleet moves: the stream's first set, then a change, within the demo's run.
            first, moved = _fleet_moves(admin, 45)
        assert {d["id"] for d in first} == {f"br-{n:06d}" for n in range(1, 9)}
        # Most have a fix after ten minutes (one indoors may have none yet).
        assert sum(d["lat"] is not None for d in first) >= 4
        assert moved, "no bracelet reported a new fix to the open map"

        with closing(
            _signed_in(console, "demo-chief", (tmp_path / "chief.password").read_text())
        ) as chief:
            sites = chief.get("/console/sites").text
            assert "/console/sites/site-001" in sites
            assert "/console/sites/site-002" not in sites
            assert chief.get("/console/sites/site-002").status_code == 404
            assert chief.get("/console/map").status_code == 403

        out, err = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    out = "".join(seen) + out
    assert demo.returncode == 0, out + err
    assert re.search(r"cloud API\s+http://127\.0\.0\.1:\d+/docs", out), out
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
    # Supervision is real: the scenario's incidents of the first ten minutes are alerts
    # of the right bracelet, with the device time of the incident.
    assert "or as demo-prosecutor / demo-local-prosecutor" in out
    with closing(sqlite3.connect(tmp_path / "cloud.sqlite3")) as database:
        raised = set(database.execute("SELECT cause, device_id FROM alerts"))
        persons = database.execute(
            "SELECT count(*), count(term_end), count(DISTINCT measure) FROM supervised_persons"
        ).fetchone()
        worn = database.execute(
            "SELECT count(*) FROM bracelet_assignments WHERE ended_at IS NULL"
        ).fetchone()
    assert {
        ("strap_opened", "br-000003"),
        ("sos", "br-000005"),
        ("zone_entered", "br-000002"),
        ("low_battery", "br-000006"),
        ("term_ending", None),
    } <= raised, raised
    assert persons == (8, 8, 3)
    assert worn == (8,)
    # Passwords are written to files for the user, never printed.
    for secret_file in tmp_path.glob("*.password"):
        secret = secret_file.read_text()
        assert secret not in out
        assert secret not in err
