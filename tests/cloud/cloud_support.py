"""Helpers for the cloud tests: batches as a gateway builds them, a running cloud app."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session

from cloud.api.app import create_app
from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet.service import add_device, add_gateway
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.rivers.service import add_site, assign_site
from cloud.settings import CloudSettings
from cloud.supervision.service import add_person, assign_bracelet
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.schema import POLICY_BY_MEASUREMENT
from core.codec import encode
from core.forwarding import ForwardBatch, ForwardedMessage, encode_batch
from core.messages import Health, LocationFix, Message, Status, WaterSample
from core.receiver import DeviceKind

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, device time of the crafted records
PASSWORD = "correct horse battery"
_batch_numbers = itertools.count(1)
_influx_numbers = itertools.count(1)


def fix(
    boot: int, seq: int, ts: int, lat_e7: int = 311_234_567, lon_e7: int = 1_214_567_890
) -> LocationFix:
    return LocationFix(boot, seq, ts, lat_e7, lon_e7, 8, 1, 120)


def health(boot: int, seq: int, ts: int, battery_pct: int = 80) -> Health:
    return Health(boot, seq, ts, battery_pct, False)


def water(boot: int, seq: int, ts: int, ammonia_mg_l: float, ph: float = 7.2) -> WaterSample:
    return WaterSample(boot, seq, ts, {2: round(ph * 100), 7: round(ammonia_mg_l * 1000)})


def channel_of(message: Message) -> str:
    if isinstance(message, Status):
        return "status"
    return {3: "event", 5: "ack", 6: "batch"}.get(message.KIND, "telemetry")


def item(device_id: str, message: Message, received_at_ms: int | None = None) -> ForwardedMessage:
    """A message as the gateway forwards it; received when its device time says by default."""
    ts = getattr(message, "ts", None) or T0
    received = ts * 1000 + 200 if received_at_ms is None else received_at_ms
    return ForwardedMessage(device_id, channel_of(message), received, encode(message))


def batch_body(
    gateway_id: str,
    items: list[ForwardedMessage],
    batch_id: str | None = None,
    sent_at_ms: int | None = None,
) -> tuple[str, bytes]:
    batch_id = batch_id or f"{gateway_id}:{next(_batch_numbers):09d}"
    sent = (
        sent_at_ms
        if sent_at_ms is not None
        else max((i.received_at_ms for i in items), default=0) + 500
    )
    body = encode_batch(ForwardBatch(gateway_id, batch_id, sent, tuple(items)))
    return batch_id, body


INGEST_HEADERS = {"Content-Type": "application/cbor", "Content-Encoding": "gzip"}


@dataclass
class Clock:
    """The service's clock, moved by the test."""

    now: datetime = field(default_factory=lambda: datetime.fromtimestamp(T0 + 3600, UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Cloud:
    """A migrated, populated cloud app behind a TestClient, and its InfluxDB."""

    settings: CloudSettings
    client: httpx.Client
    influx: InfluxStore
    clock: Clock
    gateway_tokens: dict[str, str]
    people: dict[str, str]  # username -> role

    def ingest(self, token: str, body: bytes) -> httpx.Response:
        return self.client.post(
            "/api/v1/ingest",
            content=body,
            headers={**INGEST_HEADERS, "Authorization": f"Bearer {token}"},
        )

    def send(self, gateway_id: str, items: list[ForwardedMessage], **kwargs: Any) -> httpx.Response:
        _batch_id, body = batch_body(gateway_id, items, **kwargs)
        return self.ingest(self.gateway_tokens[gateway_id], body)

    def login(self, username: str) -> dict[str, str]:
        response = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def points(self, measurement: str, device_id: str) -> list[dict[str, Any]]:
        """Every stored point of a device, every field, as InfluxDB returns them."""
        policy = POLICY_BY_MEASUREMENT[measurement].name
        series = self.influx.query(
            f'SELECT * FROM "{policy}"."{measurement}" WHERE device_id = $d ORDER BY time',
            {"d": device_id},
        )
        return [row for s in series for row in s.rows()]


@contextmanager
def database(cloud: Cloud) -> Iterator[Session]:
    """A transaction on the test cloud's database, committed at the end."""
    engine = make_engine(str(cloud.settings.database_url))
    try:
        with make_sessions(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def populate(settings: CloudSettings, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """Two gateways, one person of each role, two sites, bracelets and river stations."""
    engine = make_engine(str(settings.database_url))
    upgrade(engine)
    tokens: dict[str, str] = {}
    people: dict[str, str] = {}
    with make_sessions(engine).begin() as session:
        for gateway_id in ("gw-one", "gw-two"):
            tokens[gateway_id] = add_gateway(session, gateway_id, now)
        for role in Role:
            username = role.value.replace("_", "-")
            add_user(session, username, PASSWORD, role, now)
            people[username] = role.value
        add_site(session, "site-east", "East bridge", "Huangpu")
        add_site(session, "site-west", "West weir", "Suzhou Creek")
        assign_site(session, "river-chief", "site-east")
        person = add_person(session, "case-2026-001", "Zhang San")
        add_device(session, "br-000001", DeviceKind.bracelet, "gw-one", now)
        assign_bracelet(session, person, "br-000001", now, None)
        add_device(session, "br-000002", DeviceKind.bracelet, "gw-one", now)
        add_device(session, "br-000009", DeviceKind.bracelet, "gw-two", now)
        add_device(
            session, "rs-000001", DeviceKind.river_station, "gw-one", now, site_id="site-east"
        )
        add_device(
            session, "rs-000002", DeviceKind.river_station, "gw-one", now, site_id="site-west"
        )
    engine.dispose()
    return tokens, people


def running_cloud(settings: CloudSettings) -> Iterator[Cloud]:
    clock = Clock()
    tokens, people = populate(settings, clock())
    influx = InfluxStore(str(settings.influx_url), settings.influx_database)
    try:
        with (
            served(create_app(settings, clock)) as base_url,
            httpx.Client(base_url=base_url, timeout=60) as client,
        ):
            yield Cloud(settings, client, influx, clock, tokens, people)
    finally:
        influx.close()


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; its base URL."""
    from fieldwatch_dev.local import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="cloud-under-test")
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the cloud app did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def cloud_settings(
    database_url: str, influx_url: str, data_dir: Path, **overrides: Any
) -> CloudSettings:
    """The tests drive the scheduler's checks themselves (``Scheduler.tick``) unless told."""
    values: dict[str, Any] = {"scheduler_enabled": False, **overrides}
    return CloudSettings(
        database_url=database_url,
        influx_url=influx_url,
        influx_database=f"cloud_test_{next(_influx_numbers)}",
        data_dir=data_dir,
        **values,
    )
