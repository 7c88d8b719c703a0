"""The HJ 212 listener in a real gateway, with a real Mosquitto and an HTTP cloud: a data
logger on TCP, its packets as the station's water samples through the gateway's ordinary
path, the data responses, and the quarantine of what is refused."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_cloud_stub import CloudStub
from edge_support import (
    BRACELETS,
    GATEWAY_USER,
    STATIONS,
    broker_users,
    gateway_settings,
    metric_value,
    metrics_text,
    running_gateway,
    settings_toml,
)
from fixtures.services import MosquittoFactory
from typer.testing import CliRunner

from core import contract as c
from core.messages import WaterSample
from core.receiver import DeviceKind
from edge.buffer import Buffer
from edge.hj212 import errors as e
from edge.hj212.frame import data_response, frame, read_packet
from edge.registry import render_registry
from edge.settings import EdgeSettings
from fieldwatch.cli import app
from fieldwatch_dev.local import MosquittoServer
from provisioning.broker_acl import render_acl

pytestmark = pytest.mark.services

MN = "010000A8900016F000169DC0"
STATION = STATIONS[0]
STRANGER_MN = "999999A8900016F000169DC0"
TS = 1_767_225_600  # 2026-01-01T00:00:00Z: DataTime 20260101080000 in Shanghai


@pytest.fixture
def relay_broker(mosquitto_factory: MosquittoFactory) -> MosquittoServer:
    """The project's ACL, the gateway allowed to relay HJ 212 stations' samples."""
    return mosquitto_factory(
        users=broker_users(), acl=render_acl([GATEWAY_USER], relays=[GATEWAY_USER])
    )


def _settings(tmp_path: Path, broker: MosquittoServer, cloud: CloudStub) -> EdgeSettings:
    settings = gateway_settings(
        tmp_path, broker, cloud.url, hj212_listen="127.0.0.1:0", quarantine_upload_interval_s=0.2
    )
    devices = {d: DeviceKind.bracelet for d in BRACELETS}
    devices.update({d: DeviceKind.river_station for d in STATIONS})
    settings.registry_path.write_text(render_registry(devices, {STATION: MN}))
    return settings


class Logger:
    """A data logger's TCP connection: sends packets, reads the answers."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._pending = b""

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def answers(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        packets: list[bytes] = []
        while len(packets) < count:
            while b"\r\n" in self._pending and len(packets) < count:
                packet, _, self._pending = self._pending.partition(b"\r\n")
                packets.append(packet + b"\r\n")
            if len(packets) == count:
                break
            self.socket.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.socket.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed after {len(packets)} answers")
            self._pending += chunk
        return packets

    def nothing_more(self, wait_s: float = 0.5) -> bool:
        self.socket.settimeout(wait_s)
        try:
            chunk = self.socket.recv(65536)
        except TimeoutError:
            return not self._pending
        return not chunk and not self._pending

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def logger_factory() -> Iterator[list[Logger]]:
    loggers: list[Logger] = []
    yield loggers
    for logger in loggers:
        logger.close()


def upload(cn: str, qn: str, cp: str, *, flag: int = 5, mn: str = MN) -> bytes:
    return frame(f"QN={qn};ST=21;CN={cn};PW=123456;MN={mn};Flag={flag};CP=&&{cp}&&")


REAL_TIME = upload(
    "2011",
    "20260101080000001",
    "DataTime=20260101080000;w01001-Rtd=7.25,w01001-Flag=N;w01009-Rtd=8.45,w01009-Flag=N;"
    "w21003-Rtd=0.321,w21003-Flag=C;w21011-Flag=D;w01018-Rtd=15.0,w01018-Flag=N",
)
MINUTE = upload(
    "2051",
    "20260101081000002",
    "DataTime=20260101081000;w01001-Min=7.1,w01001-Avg=7.2,w01001-Max=7.3,w01001-Flag=N;"
    "w01010-Avg=18.5,w01010-Flag=M",
)
HOURLY = upload(
    "2061",
    "20260101090000003",
    "DataTime=20260101080000;w01009-Avg=8.10,w01009-Flag=N;w21001-Avg=1.25,w21001-Flag=S",
)
DAILY = upload(
    "2031",
    "20260102000000004",
    "DataTime=20260101000000;w01014-Avg=412,w01014-Flag=N;w01003-Avg=25.5,w01003-Flag=T",
)
UNANSWERED = upload("2011", "20260101080100005", "DataTime=20260101080100;w01001-Rtd=7.3", flag=4)


def _metrics_when(port: int, name: str, total: float, timeout: float = 10.0) -> str:
    """The metrics page once ``name`` sums to ``total`` (the listener's process reports
    its counts to the gateway every few hundredths of a second)."""
    deadline = time.monotonic() + timeout
    while True:
        text = metrics_text(port)
        if metric_value(text, name) >= total or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def _wait_stored(cloud: CloudStub, count: int) -> dict[tuple[str, int, int], WaterSample]:
    assert cloud.wait_for(
        lambda s: sum(1 for key in s.records if key[0] == STATION) >= count, 20
    ), "the station's samples did not reach the cloud"
    records = cloud.read(lambda s: {k: r for k, r in s.records.items() if k[0] == STATION})
    assert all(isinstance(r, WaterSample) for r in records.values())
    return records  # type: ignore[return-value]


def test_a_loggers_uploads_reach_the_cloud_as_the_stations_water_samples(
    tmp_path: Path, relay_broker: MosquittoServer, cloud: CloudStub, logger_factory: list[Logger]
) -> None:
    settings = _settings(tmp_path, relay_broker, cloud)
    with running_gateway(settings) as gateway:
        logger = Logger(gateway.hj212_port)
        logger_factory.append(logger)
        logger.send(REAL_TIME + MINUTE + HOURLY + DAILY + UNANSWERED)
        answers = logger.answers(4)
        assert answers == [
            data_response(read_packet(p)) for p in (REAL_TIME, MINUTE, HOURLY, DAILY)
        ]
        assert [read_packet(a).cn for a in answers] == ["9014"] * 4
        assert logger.nothing_more()  # Flag=4 asks for no answer

        records = _wait_stored(cloud, 5)
        # The logger, its answer lost, sends again: answered again, published once.
        logger.send(REAL_TIME)
        assert logger.answers(1) == answers[:1]
        text = _metrics_when(gateway.metrics_port, "fieldwatch_edge_hj212_packets_total", 6)

    assert cloud.read(lambda s: sum(1 for k in s.stored if k[0] == STATION)) == 5
    assert metric_value(text, "fieldwatch_edge_hj212_packets_total") == 6
    assert 'fieldwatch_edge_hj212_packets_total{outcome="repeated"} 1.0' in text
    boots = {boot for _, boot, _ in records}
    assert len(boots) == 1
    by_seq = {seq: records[key] for key in records for seq in [key[2]]}
    assert sorted(by_seq) == [0, 1, 2, 3, 4]
    real_time, minute, hourly, daily, unanswered = (by_seq[n] for n in range(5))
    assert (real_time.ts, real_time.values, real_time.statuses) == (
        TS,
        {2: 725, 3: 845, 7: 321},
        {7: c.VALUE_CALIBRATING, 8: c.VALUE_FAULT},
    )
    assert (minute.ts, minute.values, minute.statuses) == (
        TS + 600,
        {2: 720, 1: 1850},
        {1: c.VALUE_MAINTENANCE},
    )
    assert (hourly.ts, hourly.values, hourly.statuses) == (
        TS,
        {3: 810, 9: 125},
        {9: c.VALUE_MAINTENANCE},
    )
    assert (daily.ts, daily.values, daily.statuses) == (
        TS - 8 * 3600,
        {4: 412, 5: 255},
        {5: c.VALUE_OVER_RANGE},
    )
    assert (unanswered.ts, unanswered.values) == (TS + 60, {2: 730})
    buffer = Buffer.open(settings.buffer_path, cap_bytes=1 << 30)
    try:
        assert buffer.quarantine() == []
    finally:
        buffer.close()


def test_refused_packets_are_quarantined_with_their_reason_and_listed_by_the_cli(
    tmp_path: Path, relay_broker: MosquittoServer, cloud: CloudStub, logger_factory: list[Logger]
) -> None:
    settings = _settings(tmp_path, relay_broker, cloud)
    bad_crc = REAL_TIME[:-6] + b"0000\r\n"
    truncated = MINUTE[:60]  # the logger gave up on it and sent the next packet
    oversize = b"##0100QN=" + b"1" * 2000 + b"\r\n"
    unparsable = frame(f"QN=20260101080000009;CN=2011;MN={MN};Flag=5;CP=&&DataTime&&")
    unknown_mn = upload(
        "2011", "20260101080000010", "DataTime=20260101080000;w01001-Rtd=7", mn=STRANGER_MN
    )
    unmappable = upload("2011", "20260101080000011", "DataTime=20260101080000;w01001-Rtd=15")
    unsupported = upload("1062", "20260101080000012", "RtdInterval=30")
    with running_gateway(settings) as gateway:
        logger = Logger(gateway.hj212_port)
        logger_factory.append(logger)
        logger.send(bad_crc + truncated + oversize + unparsable + unknown_mn)
        logger.send(unmappable + unsupported + HOURLY)
        # Damaged and refused packets are not answered (a logger resends what was
        # damaged); those kept in quarantine as valid HJ 212 are.
        assert logger.answers(3) == [
            data_response(read_packet(p)) for p in (unmappable, unsupported, HOURLY)
        ]
        assert logger.nothing_more()
        logger.send(b"##0101QN=2026")
        logger.close()  # the connection ends inside a packet
        records = _wait_stored(cloud, 1)
        expected = {
            e.BAD_CRC,
            e.TRUNCATED,
            e.OVERSIZE,
            e.UNPARSABLE,
            e.UNKNOWN_MN,
            e.UNMAPPABLE,
            e.UNSUPPORTED_COMMAND,
        }
        assert cloud.wait_for(lambda s: len(s.quarantine) == 8, 20)
        text = _metrics_when(gateway.metrics_port, "fieldwatch_edge_messages_quarantined_total", 8)

    assert [r.values for r in records.values()] == [{3: 810, 9: 125}]  # HOURLY alone
    for code in expected:
        assert f'fieldwatch_edge_messages_quarantined_total{{reason="{code}"}}' in text
    uploaded = cloud.read(lambda s: list(s.quarantine.values()))
    assert {u["code"] for u in uploaded} == expected
    assert all(u["topic"].startswith("hj212://127.0.0.1:") for u in uploaded)

    config_file = tmp_path / "edge.toml"
    config_file.write_text(settings_toml(settings))
    listed = CliRunner().invoke(
        app, ["edge", "quarantine", "list", "--config", str(config_file), "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    by_code: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_code.setdefault(row["code"], []).append(row)
    assert set(by_code) == expected
    assert len(by_code[e.TRUNCATED]) == 2
    assert bytes.fromhex(by_code[e.BAD_CRC][0]["payload_hex"]) == bad_crc
    assert by_code[e.UNKNOWN_MN][0]["device_id"] is None
    assert STRANGER_MN in by_code[e.UNKNOWN_MN][0]["reason"]
    assert by_code[e.UNMAPPABLE][0]["device_id"] == STATION
    assert "0 to 14" in by_code[e.UNMAPPABLE][0]["reason"]
    assert all(r["reason"].startswith(r["code"] + ": ") for r in rows)
    text_listing = CliRunner().invoke(
        app, ["edge", "quarantine", "list", "--config", str(config_file), "--reason", e.BAD_CRC]
    )
    assert "hj212_bad_crc: the CRC field says 0000" in text_listing.output
