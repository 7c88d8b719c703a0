"""A whole pipeline for the console's page tests: a real Mosquitto, ``fieldwatch edge run``,
``fieldwatch cloud serve`` and InfluxDB (``fieldwatch_dev.bench.stack.Stack``), with people,
sites and devices, and a way to publish as a device does. Readings reach the pages only
through the broker, the gateway and ingest, as in the field."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.models import Device
from cloud.fleet.service import place_at_site
from cloud.identity.models import Role
from cloud.identity.service import add_user
from cloud.rivers.service import add_site, assign_site
from core import contract as c
from core.codec import encode
from core.messages import LocationFix, Message, WaterSample
from core.topics import topic
from fieldwatch_dev.bench.stack import Stack

# People of the field (one password for all: console_support.PASSWORD).
FIELD_USERS = {
    "duty-admin": Role.administrator,
    "prosecutor-li": Role.prosecutor,
    "chief-east": Role.river_chief,
    "chief-west": Role.river_chief,
}
# site id -> (name, river, lat, lon, its chief)
FIELD_SITES = {
    "site-east": ("East bridge", "Huangpu", 31.2304, 121.4737, "chief-east"),
    "site-west": ("West weir", "Suzhou Creek", 31.2450, 121.4100, "chief-west"),
}
FIELD_BRACELETS = [f"br-00000{n}" for n in range(1, 6)]
# station -> site
FIELD_STATIONS = {"rs-000001": "site-east", "rs-000002": "site-east", "rs-000003": "site-west"}


@dataclass
class Field:
    """The running pipeline, and the next (boot, seq) each device publishes with."""

    stack: Stack
    url: str
    database_url: str
    _next_seq: dict[str, int] = field(default_factory=dict)

    def publish(
        self, device_id: str, messages: Iterable[Message], channel: str = "telemetry"
    ) -> None:
        """Publish as the device does: QoS 1 to its ``channel`` topic, in order (a status
        retained, as the agent's is)."""
        endpoint = self.stack.broker_endpoint
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
        client.connect(endpoint.host, endpoint.port)
        client.loop_start()
        try:
            for message in messages:
                client.publish(
                    topic(device_id, channel), encode(message), qos=1, retain=channel == "status"
                ).wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()

    def seq(self, device_id: str) -> int:
        """The next sequence number of a device (boot 1), counted from 0 as an agent's boot is."""
        number = self._next_seq.get(device_id, 0)
        self._next_seq[device_id] = number + 1
        return number

    def fix(
        self, device_id: str, ts: int, lat: float, lon: float, accuracy_m: int = 8
    ) -> LocationFix:
        return LocationFix(
            boot=1,
            seq=self.seq(device_id),
            ts=ts,
            lat_e7=round(lat * 1e7),
            lon_e7=round(lon * 1e7),
            accuracy_m=accuracy_m,
            source=c.FIX_GNSS,
        )

    def sample(
        self,
        device_id: str,
        ts: int,
        values: Mapping[str, float],
        statuses: Mapping[str, int] | None = None,
    ) -> WaterSample:
        wire = {}
        for name, value in values.items():
            pid = c.WATER_PARAMETER_IDS[name]
            wire[pid] = round(value * c.WATER_PARAMETERS[pid][2])
        flags = {c.WATER_PARAMETER_IDS[n]: s for n, s in (statuses or {}).items()}
        return WaterSample(boot=1, seq=self.seq(device_id), ts=ts, values=wire, statuses=flags)

    def device(self, device_id: str) -> Device | None:
        """The cloud's row of a device, as stored now."""
        engine = make_engine(self.database_url)
        try:
            with make_sessions(engine)() as session:
                return session.get(Device, device_id)
        finally:
            engine.dispose()

    def wait_for(self, condition: Any, timeout_s: float = 30.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(0.2)

    def caught_up(self, device_id: str) -> bool:
        """Whether the cloud holds the last record ``fix``/``sample`` made for the device."""
        made = self._next_seq.get(device_id)
        return made is not None and self.stored_seq(device_id) == made - 1

    def stored_seq(self, device_id: str) -> int | None:
        """The highest seq the cloud holds of a device (boot 1)."""
        device = self.device(device_id)
        return None if device is None else device.last_seq


def populate(database_url: str, password: str) -> None:
    """The field's people, sites and the stations' places."""
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            for username, role in FIELD_USERS.items():
                add_user(session, username, password, role, now)
            for site_id, (name, river, lat, lon, _chief) in FIELD_SITES.items():
                add_site(session, site_id, name, river, lat, lon)
            session.flush()
            for site_id, (*_place, chief) in FIELD_SITES.items():
                assign_site(session, chief, site_id)
            for station, site_id in FIELD_STATIONS.items():
                place_at_site(session, station, site_id)
    finally:
        engine.dispose()


def field_devices() -> dict[str, str]:
    return {
        **{bracelet: "bracelet" for bracelet in FIELD_BRACELETS},
        **{station: "river-station" for station in FIELD_STATIONS},
    }


def now_s() -> int:
    return int(time.time())
