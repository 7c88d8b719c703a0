"""``fieldwatch demo``: the system as far as it exists, running locally.

Starts a private Mosquitto (with per-device credentials and the contract's
ACL) and a private InfluxDB in a folder, runs a demo bracelet and a demo
river station that publish wire-contract messages through the broker, and a
demo collector that decodes them with ``core.receiver`` and stores them in
InfluxDB, setting aside (with the reason) whatever breaks the contract. The
collector is a stand-in until the edge gateway and cloud ingest land; the
devices are stand-ins until the firmware agents and the fleet simulator do.
"""

import math
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import httpx
import paho.mqtt.client as mqtt
import typer
from influxdb_client import Point, WritePrecision
from paho.mqtt.enums import CallbackAPIVersion

from core import codec, contract, topics
from core.errors import CoreError
from core.messages import Event, EventFix, Health, LocationFix, Message, WaterSample
from core.receiver import decode
from fieldwatch.local import InfluxServer, MosquittoServer
from provisioning.broker_acl import render_acl

BRACELET = "br-000001"
RIVER_STATION = "rs-000001"
GATEWAY = "gw-demo"
DATABASE = "fieldwatch"


class Collector:
    """Subscribes as the gateway, decodes, writes each message to InfluxDB, counts."""

    def __init__(self, broker: MosquittoServer, password: str, influx_url: str) -> None:
        self.stored = 0
        self.quarantined: list[str] = []
        self._http = httpx.Client(base_url=influx_url, timeout=10)
        self._client = _client(GATEWAY, password, broker)
        self._client.on_connect = self._subscribe
        self._client.on_message = self._receive

    def start(self) -> None:
        self._client.loop_start()

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
        self._http.close()

    def _subscribe(self, client: mqtt.Client, *_: object) -> None:
        for pattern in topics.GATEWAY_SUBSCRIPTIONS:
            client.subscribe(pattern, qos=1)

    def _receive(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            device_id, channel = topics.parse(msg.topic)
            message = decode(bytes(msg.payload), channel)
        except CoreError as exc:
            self.quarantined.append(f"{msg.topic}: {exc}")
            return
        lines = [p.to_line_protocol() for p in _points(device_id, message)]
        if lines:
            response = self._http.post(
                "/write", params={"db": DATABASE, "precision": "s"}, content="\n".join(lines)
            )
            response.raise_for_status()
            self.stored += 1


def _points(device_id: str, message: Message) -> list[Point]:
    def point(measurement: str, ts: int) -> Point:
        made: Point = Point(measurement).tag("device_id", device_id).time(ts, WritePrecision.S)
        return made

    if isinstance(message, LocationFix):
        return [
            point("location", message.ts)
            .field("lat", message.lat)
            .field("lon", message.lon)
            .field("accuracy_m", message.accuracy_m)
            .field("seq", message.seq)
        ]
    if isinstance(message, WaterSample):
        p = point("water_quality", message.ts).field("seq", message.seq)
        for pid, raw in message.values.items():
            name, _unit, scale, _low, _high = contract.WATER_PARAMETERS[pid]
            p = p.field(name, raw / scale)
        return [p]
    if isinstance(message, Health):
        return [point("health", message.ts).field("battery_pct", message.battery_pct)]
    if isinstance(message, Event):
        return [point("event", message.ts).field("code", message.code).field("seq", message.seq)]
    return []


def _client(username: str, password: str, broker: MosquittoServer) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
    client.username_pw_set(username, password)
    client.connect(broker.host, broker.port)
    return client


def _publish_fleet(clients: dict[str, mqtt.Client], step: int, boot: int) -> None:
    """One second of the demo fleet: a walk round People's Square, a river's daily cycle."""
    now = int(time.time())
    angle = step / 60.0
    fix = LocationFix(
        boot,
        2 * step,
        now,
        int(312304560 + 8000 * math.sin(angle)),
        int(1214737120 + 9000 * math.cos(angle)),
        8,
        contract.FIX_GNSS,
        130,
    )
    bracelet = clients[BRACELET]
    bracelet.publish(topics.topic(BRACELET, "telemetry"), codec.encode(fix), qos=1)
    if step % 10 == 0:
        health = Health(boot, 2 * step + 1, now, max(5, 90 - step // 10), False, -85)
        bracelet.publish(topics.topic(BRACELET, "telemetry"), codec.encode(health), qos=1)
    if step == 5:
        strap = Event(
            boot,
            2 * step + 1,
            now,
            contract.EV_STRAP_OPENED,
            fix=EventFix(fix.lat_e7, fix.lon_e7, 8, contract.FIX_GNSS),
        )
        bracelet.publish(topics.topic(BRACELET, "event"), codec.encode(strap), qos=1)
    if step == 3:
        # What a broken device might send: refused with its reason, not stored.
        bracelet.publish(topics.topic(BRACELET, "telemetry"), b"\xa1\x00\x02", qos=1)
    oxygen = 780 + int(150 * math.sin(step / 30.0))
    sample = WaterSample(boot, step, now, {1: 1425, 2: 742, 3: oxygen, 7: 412, 8: 95})
    clients[RIVER_STATION].publish(
        topics.topic(RIVER_STATION, "telemetry"), codec.encode(sample), qos=1
    )


def demo_command(
    folder: Annotated[Path, typer.Option(help="Where the demo keeps its services' files.")] = Path(
        ".demo"
    ),
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Start broker and InfluxDB, run demo devices through them, and say where to look."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    passwords = {name: secrets.token_urlsafe(18) for name in (BRACELET, RIVER_STATION, GATEWAY)}
    password_file = folder / "gateway.password"
    password_file.write_text(passwords[GATEWAY])
    password_file.chmod(0o600)

    broker = MosquittoServer(folder / "mosquitto", users=passwords, acl=render_acl([GATEWAY]))
    influx = InfluxServer(folder / "influxdb")
    typer.echo("starting Mosquitto and InfluxDB ...")
    with broker, influx:
        httpx.post(
            f"{influx.url}/query", params={"q": f"CREATE DATABASE {DATABASE}"}
        ).raise_for_status()
        collector = Collector(broker, passwords[GATEWAY], influx.url)
        collector.start()
        devices = {d: _client(d, passwords[d], broker) for d in (BRACELET, RIVER_STATION)}
        for client in devices.values():
            client.loop_start()
        _print_where_to_look(broker, influx, password_file)

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        started = time.monotonic()
        boot = int(time.time()) % 100000 + 1
        step = 0
        try:
            while not stop.is_set():
                if duration is not None and time.monotonic() - started >= duration:
                    break
                _publish_fleet(devices, step, boot)
                step += 1
                if step % 5 == 0:
                    typer.echo(
                        f"[{step:4d}s] stored {collector.stored} messages, "
                        f"set aside {len(collector.quarantined)}"
                    )
                stop.wait(1.0)
        except KeyboardInterrupt:
            pass
        time.sleep(1.0)  # let the last QoS 1 deliveries land
        for client in devices.values():
            client.loop_stop()
            client.disconnect()
        collector.stop()
        typer.echo(f"stored {collector.stored} messages; InfluxDB now holds {_counts(influx.url)}")
        for reason in collector.quarantined:
            typer.echo(f"set aside (breaks the wire contract): {reason}")
    typer.echo("stopped Mosquitto and InfluxDB")


def _counts(influx_url: str) -> str:
    """Points per measurement, read back from InfluxDB itself."""
    counts = []
    for measurement, field in (("location", "lat"), ("water_quality", "seq"), ("event", "code")):
        response = httpx.get(
            f"{influx_url}/query",
            params={"db": DATABASE, "q": f"SELECT count({field}) FROM {measurement}"},
        )
        series = response.json()["results"][0].get("series", [])
        counts.append(f"{series[0]['values'][0][1] if series else 0} {measurement}")
    return ", ".join(counts)


def _print_where_to_look(broker: MosquittoServer, influx: InfluxServer, password: Path) -> None:
    query = "SELECT * FROM location ORDER BY time DESC LIMIT 5"
    typer.echo(
        "\n".join(
            [
                "",
                "fieldwatch demo is running. Where to look:",
                f"  MQTT broker   {broker.url}  (devices {BRACELET}, {RIVER_STATION}; ACL on)",
                f"    watch it:   mosquitto_sub -h {broker.host} -p {broker.port} -u {GATEWAY} "
                f"-P \"$(cat {password})\" -t 'fw/v1/#' -v",
                f"  InfluxDB      {influx.url}  (database {DATABASE})",
                f"    query it:   curl -sG {influx.url}/query --data-urlencode db={DATABASE} "
                f'--data-urlencode "q={query}"',
                f"  service logs  {broker.log_path}, {influx.log_path}",
                "  the wire contract: docs/contract.md",
                "Press Ctrl-C to stop.",
                "",
            ]
        )
    )
