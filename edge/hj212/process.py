"""The HJ 212 listener in a process of its own, started and watched by a gateway thread.

Why a process: the listener's Python work per packet (parsing, the CRC, the mapping,
the encoding, aiomqtt) is as large as the gateway's own per message; in one process
both would share one interpreter lock and one core. In its own process it runs beside
the gateway's threads (docs/benchmarks.md, "Rivers: HJ 212 listener").

The child opens its own registry watcher and buffer connection (SQLite WAL takes
writers from several processes) and its own broker connection; what it did comes back
over a pipe (its port once bound, then counts of packets published, repeated and
quarantined by reason), which the parent adds to the gateway's metrics. The parent
thread starts the child only once the gateway's broker session is subscribed, and
stops it with the gateway, giving it time to drain. A child that dies ends the thread,
and so stops the gateway (``edge.gateway``): it runs whole or not at all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.broker import BrokerAddress
from edge.buffer import Buffer, Synchronous
from edge.hj212.listener import DRAIN_S, Hj212Listener, Tally
from edge.metrics import EdgeMetrics
from edge.registry import RegistryWatcher

log = logging.getLogger(__name__)

POLL_S = 0.1
START_S = 60.0  # for the child to import, open the buffer and bind


@dataclass(frozen=True)
class ListenerConfig:
    """What the child needs; plain values, sent to it by pickling."""

    host: str
    port: int
    broker: BrokerAddress
    registry_path: Path
    buffer_path: Path
    buffer_cap_bytes: int
    buffer_synchronous: Synchronous
    time_zone: str
    log_level: str


class ListenerProcess:
    """The parent's side: ``run(stop)`` is the body of a gateway thread."""

    def __init__(
        self, config: ListenerConfig, metrics: EdgeMetrics, gateway_ready: threading.Event
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._gateway_ready = gateway_ready
        self.listening = threading.Event()
        self.port: int | None = None

    def run(self, stop: threading.Event) -> None:
        """Start the child once the gateway subscribed; relay its reports until ``stop``
        or until it ends."""
        # Published before the gateway's session subscribes, a sample would reach no one.
        while not self._gateway_ready.wait(POLL_S):
            if stop.is_set():
                return
        context = multiprocessing.get_context("spawn")
        reports, child_end = context.Pipe(duplex=False)
        stopping = context.Event()
        child = context.Process(
            target=_serve,
            args=(self._config, child_end, stopping),
            name="fieldwatch-edge-hj212",
            daemon=True,
        )
        child.start()
        child_end.close()
        try:
            while not stop.is_set():
                if not self._relay(reports, POLL_S):
                    log.error("the HJ 212 listener's process ended (exit code %s)", child.exitcode)
                    return
        finally:
            stopping.set()
            deadline = time.monotonic() + DRAIN_S + 2.0
            while (left := deadline - time.monotonic()) > 0 and self._relay(reports, left):
                pass
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                log.warning("the HJ 212 listener's process did not stop; terminating it")
                child.terminate()
                child.join(5.0)
            reports.close()

    def _relay(self, reports: Connection, wait_s: float) -> bool:
        """Take the child's reports for up to ``wait_s``; False once it has closed."""
        try:
            if not reports.poll(wait_s):
                return True
            while True:
                kind, value = reports.recv()
                if kind == "listening":
                    self.port = int(value)
                    self.listening.set()
                else:
                    self._count(value)
                if not reports.poll():
                    return True
        except (EOFError, OSError):
            return False

    def _count(self, tally: Tally) -> None:
        m = self._metrics
        for key, count in tally.items():
            m.hj212_packets.labels(key[0]).inc(count)
            if key[0] == "quarantined":
                m.quarantined.labels(key[1]).inc(count)


class _Stopping:
    """Set when the gateway asks, or when it is gone (killed: a child left behind would
    hold the port, and the next gateway could not listen)."""

    def __init__(self, asked: ProcessEvent) -> None:
        self._asked = asked
        self._parent = os.getppid()

    def is_set(self) -> bool:
        return self._asked.is_set() or os.getppid() != self._parent


def _serve(config: ListenerConfig, reports: Connection, stopping: ProcessEvent) -> None:
    """The child: the listener until ``stopping`` is set or the gateway is gone."""
    # Ctrl-C reaches the whole process group; the gateway stops the listener itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    registry = RegistryWatcher(config.registry_path)
    registry.load()
    buffer = Buffer.open(
        config.buffer_path,
        cap_bytes=config.buffer_cap_bytes,
        synchronous=config.buffer_synchronous,
    )
    try:
        listener = Hj212Listener(
            config.host,
            config.port,
            config.broker,
            registry,
            buffer,
            ZoneInfo(config.time_zone),
            on_listening=lambda port: reports.send(("listening", port)),
            on_tally=lambda tally: reports.send(("tally", tally)),
        )
        listener.run(_Stopping(stopping))
    finally:
        buffer.close()
        reports.close()
