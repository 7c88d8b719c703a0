"""The private InfluxDB 1.x behaves as the cloud's time-series writer will rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fixtures.services import InfluxFactory
from influxdb_client import Point, WritePrecision

from fieldwatch_dev.local import InfluxServer

pytestmark = pytest.mark.services

MEASURED_AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def reading(site: str, dissolved_oxygen: float, at: datetime = MEASURED_AT) -> str:
    """One water-quality reading as InfluxDB line protocol, built by the client library."""
    point = (
        Point("water_quality")
        .tag("site", site)
        .field("do_mg_l", dissolved_oxygen)
        .time(at, WritePrecision.S)
    )
    return str(point.to_line_protocol())


def create_database(client: httpx.Client) -> str:
    name = f"test_{uuid.uuid4().hex}"
    client.post("/query", params={"q": f'CREATE DATABASE "{name}"'}).raise_for_status()
    return name


def write(client: httpx.Client, database: str, *lines: str) -> None:
    response = client.post(
        "/write", params={"db": database, "precision": "s"}, content="\n".join(lines)
    )
    assert response.status_code == 204, response.text


def query(client: httpx.Client, database: str, influxql: str) -> list[list[Any]]:
    """The rows of the first series, times as epoch seconds; [] when nothing matched."""
    response = client.get("/query", params={"db": database, "q": influxql, "epoch": "s"})
    response.raise_for_status()
    (result,) = response.json()["results"]
    assert "error" not in result, result
    series = result.get("series", [])
    return [] if not series else [list(row) for row in series[0]["values"]]


def test_points_written_are_read_back(influxdb: InfluxServer) -> None:
    with httpx.Client(base_url=influxdb.url) as client:
        database = create_database(client)
        write(client, database, reading("hx-01", 7.4), reading("hx-02", 5.1))
        rows = query(client, database, 'SELECT "do_mg_l", "site" FROM "water_quality"')
    at = int(MEASURED_AT.timestamp())
    assert sorted(rows, key=lambda row: row[2]) == [[at, 7.4, "hx-01"], [at, 5.1, "hx-02"]]


def test_same_point_written_twice_is_stored_once(influxdb: InfluxServer) -> None:
    with httpx.Client(base_url=influxdb.url) as client:
        database = create_database(client)
        write(client, database, reading("hx-01", 7.4))
        write(client, database, reading("hx-01", 7.4))  # a retried batch
        assert query(client, database, 'SELECT COUNT("do_mg_l") FROM "water_quality"') == [[0, 1]]
        # Same measurement, tags and time: the later value replaces the earlier.
        write(client, database, reading("hx-01", 6.9))
        rows = query(client, database, 'SELECT "do_mg_l" FROM "water_quality"')
    assert rows == [[int(MEASURED_AT.timestamp()), 6.9]]


@pytest.mark.fault
def test_data_survives_stop_and_start_and_writes_fail_while_stopped(
    influx_factory: InfluxFactory,
) -> None:
    server = influx_factory()
    with httpx.Client(base_url=server.url) as client:
        database = create_database(client)
        write(client, database, reading("hx-01", 7.4))
        server.stop()
        with pytest.raises(httpx.ConnectError):
            write(client, database, reading("hx-01", 7.5, MEASURED_AT.replace(hour=9)))
        server.start()
        rows = query(client, database, 'SELECT "do_mg_l" FROM "water_quality"')
    assert rows == [[int(MEASURED_AT.timestamp()), 7.4]]


def test_with_an_admin_only_users_with_their_password_get_in(
    influx_factory: InfluxFactory,
) -> None:
    """As the influxdb image with INFLUXDB_HTTP_AUTH_ENABLED: an admin, a writer, a reader."""
    admin, writer, reader = (("u-" + uuid.uuid4().hex[:8], uuid.uuid4().hex) for _ in range(3))
    server = influx_factory(
        admin=admin, users={writer[0]: (writer[1], "ALL"), reader[0]: (reader[1], "READ")}
    )
    line = reading("site-001", 7.5)
    params = {"db": server.database, "precision": "s"}
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        assert client.post("/write", params=params, content=line).status_code == 401
        written = client.post("/write", params=params, content=line, auth=writer)
        assert written.status_code == 204, written.text
        refused = client.post("/write", params=params, content=line, auth=reader)
        assert refused.status_code == 403
        wrong = client.post("/write", params=params, content=line, auth=(writer[0], "nope"))
        assert wrong.status_code == 401
        query = {"db": server.database, "q": "SELECT count(do_mg_l) FROM water_quality"}
        answer = client.get("/query", params=query, auth=reader).json()
    assert answer["results"][0]["series"][0]["values"][0][1] == 1
    # A restart keeps the accounts (they live in the meta folder) and redoes nothing wrong.
    server.restart()
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        again = client.post("/write", params=params, content=line, auth=writer)
        assert again.status_code == 204, again.text
