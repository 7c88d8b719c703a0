"""The peer: what most MQTT-to-InfluxDB bridges do, written plainly.

A paho-mqtt subscriber (QoS 1, its own network thread) decodes each message as it
arrives and writes its readings to InfluxDB with one ``/write`` request per message,
before paho acknowledges it: no buffer, no batching across messages. Points are the
same as the cloud's (influxdb-client ``Point``), into a database of its own (``peer``, on
the pipeline's InfluxDB), so loss and latency are counted exactly as for the pipeline.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from cloud.timeseries.points import RecordContext, record_point
from core.errors import CoreError
from core.messages import Batch, LocationFix
from core.receiver import decode
from fieldwatch_dev.bench.endpoints import BrokerEndpoint, InfluxEndpoint

PEER_DATABASE = "peer"
PEER_CLIENT_ID = "peer-bridge"


def _bridge(broker: BrokerEndpoint, influx: InfluxEndpoint, ready: Any, stop: Any) -> None:
    http = httpx.Client(base_url=influx.url, auth=influx.auth, timeout=30)
    params = {"db": influx.database, "rp": "evidence", "precision": "ns"}

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        device_id = message.topic.split("/")[2]
        try:
            decoded = decode(bytes(message.payload))
        except CoreError:
            return
        records = decoded.items if isinstance(decoded, Batch) else [decoded]
        lines = [
            record_point(r, RecordContext(device_id, "peer", 0, False)).line
            for r in records
            if isinstance(r, LocationFix)
        ]
        if lines:
            http.post("/write", params=params, content="\n".join(lines).encode())

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, code: ReasonCode, props: object
    ) -> None:
        client.subscribe("fw/v1/+/up/#", qos=1)

    def on_subscribe(*_args: object) -> None:
        ready.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=PEER_CLIENT_ID, clean_session=False)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect(broker.host, broker.port, keepalive=60)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()
    http.close()


class PeerBridge:
    """The bridge in a process of its own, like the service it stands for."""

    def __init__(self, broker: BrokerEndpoint, influx: InfluxEndpoint) -> None:
        """Subscribes on ``broker``, writes into ``influx.database``."""
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_bridge, args=(broker, influx, self._ready, self._stop), daemon=True
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self, timeout_s: float = 30.0) -> None:
        self._process.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise TimeoutError("the peer bridge did not subscribe")

    def stop(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
