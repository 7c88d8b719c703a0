"""The gateway's wiring: builds the parts from the settings, starts and stops them.

Threads, each with one job and its own buffer connection:

- paho's network thread (``edge.broker``) puts messages in the inbox;
- the committer commits them and acknowledges them to the broker;
- the forwarder sends batches to the cloud;
- the heartbeat, the downlink relay and the quarantine uploader talk to the cloud on
  their own schedule;
- with ``hj212_listen`` set, a thread starts and watches the HJ 212 listener, a process
  of its own (``edge.hj212.process``: an asyncio loop that takes data loggers' TCP
  packets and publishes them to the broker as their stations' water samples);
- the metrics page answers scrapes.

If one of them ends unexpectedly, the whole gateway stops (exit status 1) rather than
run half-alive: the buffer keeps what it holds and the broker keeps what was not
acknowledged, so a supervisor restarting it loses nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from edge.backoff import Backoff
from edge.broker import BrokerAddress, BrokerLink, Received
from edge.buffer import Buffer, BufferStats
from edge.cloud import CloudClient
from edge.committer import Committer
from edge.downlink import PUBLISH_TIMEOUT_S, DownlinkRelay
from edge.forwarder import Forwarder, ForwardPolicy
from edge.heartbeat import Heartbeat
from edge.hj212.listener import DRAIN_S
from edge.hj212.process import ListenerConfig, ListenerProcess
from edge.metrics import EdgeMetrics, MetricsServer
from edge.registry import RegistryWatcher
from edge.settings import EdgeSettings, listen_address
from edge.uploader import QuarantineUploader

log = logging.getLogger(__name__)

_MQTT_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def broker_address(settings: EdgeSettings) -> BrokerAddress:
    """Where the gateway's broker is, from the settings."""
    url = settings.mqtt_url
    return BrokerAddress(
        host=url.host or "127.0.0.1",
        port=url.port or _MQTT_DEFAULT_PORTS[url.scheme],
        tls=url.scheme == "mqtts",
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value(),
        client_id=settings.mqtt_client_id,
        receive_maximum=settings.mqtt_receive_maximum,
    )


def software_version() -> str:
    try:
        return version("fieldwatch")
    except PackageNotFoundError:
        return "unknown"


class Gateway:
    """One running gateway. ``start()``, then ``stop()``; or ``run()`` until asked to stop."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self.metrics = EdgeMetrics()
        self.stop_requested = threading.Event()
        self.failed: str | None = None
        self._stopping = False
        self._buffers: list[Buffer] = []
        self._clouds: list[CloudClient] = []
        self._threads: dict[str, threading.Thread] = {}
        self._stops: dict[str, threading.Event] = {}
        self._link: BrokerLink | None = None
        self._metrics_server: MetricsServer | None = None
        self._forwarder: Forwarder | None = None
        self._hj212: ListenerProcess | None = None
        self._stats_buffer: Buffer | None = None
        self._downlink_buffer: Buffer | None = None
        self._stats_lock = threading.Lock()

    # -- start ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the buffer, load the registry, connect, start every thread."""
        s = self._settings
        registry = RegistryWatcher(s.registry_path)
        registry.load()
        committer_buffer = self._open_buffer()
        forwarder_buffer = self._open_buffer()
        downlink_buffer = self._downlink_buffer = self._open_buffer()
        self._stats_buffer = self._open_buffer()

        self.metrics.watch_buffer(self.buffer_stats)
        self._metrics_server = MetricsServer(self.metrics, s.metrics_host, s.metrics_port)
        self._metrics_server.start()

        inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
        link = BrokerLink(broker_address(s), inbox)
        self._link = link
        committed = threading.Event()
        committer = Committer(inbox, committer_buffer, link.ack, registry, self.metrics, committed)
        self._forwarder = Forwarder(
            forwarder_buffer,
            self._cloud(),
            self.metrics,
            ForwardPolicy(s.gateway_id, s.forward_batch_max_readings, s.forward_batch_max_age_s),
            Backoff(s.backoff_initial_s, s.backoff_max_s),
            committed,
        )
        heartbeat = Heartbeat(
            self._cloud(),
            self.buffer_stats,
            self.metrics,
            s.gateway_id,
            s.heartbeat_interval_s,
            software_version(),
        )
        relay = DownlinkRelay(
            self._cloud(),
            self._publish,
            downlink_buffer,
            registry,
            self.metrics,
            s.downlink_wait_s,
            Backoff(s.backoff_initial_s, s.backoff_max_s),
        )
        uploader = QuarantineUploader(
            self._open_buffer(),
            self._cloud(),
            self.metrics,
            s.gateway_id,
            s.quarantine_upload_interval_s,
            Backoff(s.backoff_initial_s, s.backoff_max_s),
        )
        self._spawn("committer", committer.run)
        link.start()
        self._spawn("forwarder", self._forwarder.run)
        self._spawn("heartbeat", heartbeat.run)
        self._spawn("downlink", relay.run)
        self._spawn("quarantine", uploader.run)
        self._spawn("broker-watch", self._watch_broker)
        if s.hj212_listen is not None:
            host, port = listen_address(s.hj212_listen)
            config = ListenerConfig(
                host,
                port,
                broker_address(s),
                s.registry_path,
                s.buffer_path,
                int(s.buffer_max_bytes),
                s.buffer_synchronous,
                s.hj212_time_zone,
                s.log_level,
            )
            self._hj212 = ListenerProcess(config, self.metrics, link.subscribed)
            self._spawn("hj212", self._hj212.run)
        log.info(
            "gateway %s started: broker %s, cloud %s, buffer %s",
            s.gateway_id,
            s.mqtt_url,
            s.cloud_url,
            s.buffer_path,
        )

    def _open_buffer(self) -> Buffer:
        s = self._settings
        buffer = Buffer.open(
            s.buffer_path, cap_bytes=int(s.buffer_max_bytes), synchronous=s.buffer_synchronous
        )
        self._buffers.append(buffer)
        return buffer

    def _cloud(self) -> CloudClient:
        s = self._settings
        cloud = CloudClient(
            str(s.cloud_url), s.gateway_token.get_secret_value(), s.forward_timeout_s
        )
        cloud.start()
        self._clouds.append(cloud)
        return cloud

    def _spawn(self, name: str, body: Callable[[threading.Event], None]) -> None:
        stop = threading.Event()

        def supervised() -> None:
            try:
                body(stop)
            finally:
                if not self._stopping:
                    self.failed = name
                    log.error("the %s thread ended unexpectedly; stopping the gateway", name)
                    self.stop_requested.set()

        thread = threading.Thread(target=supervised, name=f"edge-{name}", daemon=True)
        self._stops[name] = stop
        self._threads[name] = thread
        thread.start()

    def _watch_broker(self, stop: threading.Event) -> None:
        link = self._link
        while link is not None and not stop.wait(0.2):
            self.metrics.broker_connected.set(1 if link.subscribed.is_set() else 0)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        if self._link is None:
            raise RuntimeError("gateway not started")
        self._link.publish(topic, payload, retain=retain, timeout_s=PUBLISH_TIMEOUT_S)

    # -- while running -------------------------------------------------------------------

    def buffer_stats(self) -> BufferStats:
        """Buffer statistics (thread-safe)."""
        if self._stats_buffer is None:
            raise RuntimeError("gateway not started")
        with self._stats_lock:
            return self._stats_buffer.stats()

    @property
    def subscribed(self) -> threading.Event:
        if self._link is None:
            raise RuntimeError("gateway not started")
        return self._link.subscribed

    @property
    def hj212_port(self) -> int:
        """The HJ 212 listener's port, once it listens (it waits for the broker first)."""
        listener = self._hj212
        if listener is None:
            raise RuntimeError("no HJ 212 listener: hj212_listen is not set")
        if not listener.listening.wait(60) or listener.port is None:
            raise RuntimeError("the HJ 212 listener did not start")
        return listener.port

    @property
    def metrics_port(self) -> int:
        if self._metrics_server is None:
            raise RuntimeError("gateway not started")
        return self._metrics_server.port

    def run(self) -> int:
        """Start, wait until ``stop_requested`` is set (SIGTERM), stop. Exit status."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        self.stop_requested.wait()
        self.stop()
        return 1 if self.failed else 0

    # -- stop ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving, commit and acknowledge what was handed over, flush what the
        cloud takes within ``shutdown_flush_s``, leave the rest in the buffer."""
        if self._stopping:
            return
        self._stopping = True
        log.info("gateway stopping")
        # The listener first, so that no logger is answered once the gateway stops taking
        # messages; what it published and the gateway has not taken waits at the broker
        # for the gateway's session.
        self._end("hj212", timeout_s=DRAIN_S + 2.0)
        if self._link is not None:
            self._link.stop_delivering()
        self._end("committer")
        if self._link is not None:
            self._link.stop()
        self._end("broker-watch")
        self._end("forwarder")
        if self._forwarder is not None and self.failed is None:
            self._forwarder.flush(self._settings.shutdown_flush_s)
        # A downlink long poll cannot be interrupted: its thread (a daemon) is left to
        # end on its own; it checks the stop flag before touching anything else.
        self._end("heartbeat", timeout_s=self._settings.forward_timeout_s)
        self._end("quarantine", timeout_s=self._settings.forward_timeout_s)
        self._end("downlink", timeout_s=1.0)
        for cloud in self._clouds:
            cloud.close()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        downlink = self._threads.get("downlink")
        for buffer in self._buffers:
            if buffer is self._downlink_buffer and downlink is not None and downlink.is_alive():
                continue  # still in use by the relay's last poll; the process exit closes it
            buffer.close()
        log.info("gateway stopped")

    def _end(self, name: str, timeout_s: float | None = None) -> None:
        stop = self._stops.get(name)
        thread = self._threads.get(name)
        if stop is None or thread is None:
            return
        stop.set()
        thread.join(timeout_s)
        if thread.is_alive():
            log.info("the %s thread is still waiting on the network; not waiting for it", name)
