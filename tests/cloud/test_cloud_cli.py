"""The operators' commands and `fieldwatch cloud serve` under uvicorn, on the SQLite default."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cloud_support import INGEST_HEADERS, PASSWORD, T0, batch_body, fix, item

from fieldwatch_dev.local import InfluxServer, free_port

pytestmark = [pytest.mark.services, pytest.mark.slow]

FIELDWATCH = str(Path(sys.executable).with_name("fieldwatch"))
_numbers = itertools.count(1)


@pytest.fixture
def environment(tmp_path: Path, influxdb: InfluxServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDWATCH_")}
    env.update(
        FIELDWATCH_DATA_DIR=str(tmp_path / "data"),  # no database URL: SQLite in here
        FIELDWATCH_INFLUX_URL=influxdb.url,
        FIELDWATCH_INFLUX_DATABASE=f"cloud_cli_{next(_numbers)}",
        FIELDWATCH_PORT=str(free_port()),
    )
    return env


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDWATCH, "cloud", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def served(environment: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(
        [FIELDWATCH, "cloud", "serve"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{environment['FIELDWATCH_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_operators_register_and_the_served_api_ingests(
    environment: dict[str, str], served: str, tmp_path: Path
) -> None:
    county = tmp_path / "county.geojson"
    ring = [[121.3, 31.0], [121.5, 31.0], [121.5, 31.2], [121.3, 31.2], [121.3, 31.0]]
    county.write_text(
        json.dumps({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    )
    added = run(environment, "add-gateway", "gw-cli")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("fwg_")
    assert token not in added.stderr
    assert (Path(environment["FIELDWATCH_DATA_DIR"]) / "fieldwatch.sqlite3").exists()
    again = run(environment, "add-gateway", "gw-cli")
    assert (again.returncode, again.stderr.strip()) == (1, "error: gateway gw-cli exists")
    for args, stdin in [
        (("add-user", "ada", "--role", "prosecutor", "--password-stdin"), PASSWORD + "\n"),
        (("add-person", "case-1", "--name", "Li Si"), None),
        (
            (
                "add-device",
                "br-000042",
                "--kind",
                "bracelet",
                "--gateway",
                "gw-cli",
                "--person",
                "case-1",
            ),
            None,
        ),
        (("migrate",), None),
        (
            (
                "add-zone",
                "case-1",
                "--name",
                "home",
                "--rule",
                "inclusion",
                "--role",
                "home",
                "--circle",
                "31.12,121.45,250",
                "--schedule",
                "Mon-Sun 22:00-06:00",
            ),
            None,
        ),
        (
            (
                "add-zone",
                "case-1",
                "--name",
                "county",
                "--rule",
                "inclusion",
                "--role",
                "county",
                "--geojson",
                str(county),
            ),
            None,
        ),
    ]:
        result = run(environment, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    too_long = run(
        environment,
        "add-person",
        "case-2",
        "--name",
        "Wang Wu",
        "--measure",
        "bail",
        "--term-start",
        "2026-01-01",
        "--term-end",
        "2027-03-01",
    )
    assert too_long.returncode == 1
    assert "at most 12 months" in too_long.stderr
    bad_schedule = run(
        environment,
        "add-zone",
        "case-1",
        "--name",
        "x",
        "--rule",
        "inclusion",
        "--circle",
        "31.1,121.4,100",
        "--schedule",
        "Someday 25:00-26:00",
    )
    assert bad_schedule.returncode == 1
    assert "schedule" in bad_schedule.stderr
    weak = run(
        environment, "add-user", "bob", "--role", "lawyer", "--password-stdin", stdin="short\n"
    )
    assert weak.returncode == 1
    assert "at least" in weak.stderr

    _batch_id, body = batch_body("gw-cli", [item("br-000042", fix(3, s, T0 + s)) for s in range(3)])
    stored = httpx.post(
        f"{served}/api/v1/ingest",
        content=body,
        headers={**INGEST_HEADERS, "Authorization": f"Bearer {token}"},
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["accepted"] == 3
    login = httpx.post(
        f"{served}/api/v1/auth/token", json={"username": "ada", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    device = httpx.get(f"{served}/api/v1/devices/br-000042", headers=headers).json()
    assert (device["last_boot"], device["last_seq"], device["status"]) == (3, 2, "unknown")
    person = httpx.get(f"{served}/api/v1/persons/case-1", headers=headers).json()
    assert [b["device_id"] for b in person["bracelets"]] == ["br-000042"]
    zones = httpx.get(f"{served}/api/v1/persons/case-1/zones", headers=headers).json()
    assert [(z["name"], z["shape"], z["schedule"]) for z in zones] == [
        ("home", "circle", "every day 22:00-06:00"),  # the normal form
        ("county", "polygon", ""),
    ]
    assert zones[1]["geometry"]["vertices"][1] == [31.0, 121.5]  # GeoJSON's lon,lat turned
