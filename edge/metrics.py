"""The gateway's Prometheus metrics: the only module that imports prometheus_client.

Counters and histograms live in one ``EdgeMetrics`` per gateway, on a registry of its
own (two gateways in one test process do not mix). Buffer gauges are read from the
buffer's bookkeeping at each scrape, so they are never stale. Names and meanings:
docs/edge.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.buffer import BufferStats

_PREFIX = "fieldwatch_edge"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)


class EdgeMetrics:
    """Every metric the gateway exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            f"{_PREFIX}_messages_received", "Messages the broker handed over", registry=r
        )
        self.committed = Counter(
            f"{_PREFIX}_messages_committed",
            "Messages committed to the buffer",
            ["lane"],
            registry=r,
        )
        self.duplicates = Counter(
            f"{_PREFIX}_messages_duplicate",
            "Messages handed over again after a crash, already in the buffer",
            registry=r,
        )
        self.quarantined = Counter(
            f"{_PREFIX}_messages_quarantined",
            "Messages put in quarantine",
            ["reason"],
            registry=r,
        )
        self.hj212_packets = Counter(
            f"{_PREFIX}_hj212_packets",
            "HJ 212 packets by outcome: published, quarantined, repeated (a resent QN)",
            ["outcome"],
            registry=r,
        )
        self.dropped = Counter(
            f"{_PREFIX}_messages_dropped",
            "Oldest telemetry dropped because the buffer was full",
            registry=r,
        )
        self.forwarded = Counter(
            f"{_PREFIX}_messages_forwarded", "Messages the cloud confirmed stored", registry=r
        )
        self.cloud_rejected = Counter(
            f"{_PREFIX}_messages_cloud_rejected",
            "Forwarded messages the cloud kept in its own quarantine",
            registry=r,
        )
        self.forward_attempts = Counter(
            f"{_PREFIX}_forward_attempts",
            "Batch requests to the cloud by outcome",
            ["outcome"],
            registry=r,
        )
        self.forward_latency = Histogram(
            f"{_PREFIX}_forward_latency_seconds",
            "From commit to the cloud's confirmation, per message",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.backoff = Gauge(
            f"{_PREFIX}_backoff_seconds",
            "Current wait before the next forward attempt (0 when healthy)",
            registry=r,
        )
        self.heartbeats = Counter(
            f"{_PREFIX}_heartbeats", "Heartbeats sent by outcome", ["outcome"], registry=r
        )
        self.downlink = Counter(
            f"{_PREFIX}_downlink_messages",
            "Downlink messages by outcome (relayed, refused)",
            ["outcome"],
            registry=r,
        )
        self.quarantine_uploads = Counter(
            f"{_PREFIX}_quarantine_uploaded",
            "Quarantined messages uploaded to the cloud's quarantine, by outcome"
            " (stored, duplicate, refused: kept here only)",
            ["outcome"],
            registry=r,
        )
        self.broker_connected = Gauge(
            f"{_PREFIX}_broker_subscribed",
            "1 while the gateway is connected and subscribed to the local broker",
            registry=r,
        )

    def watch_buffer(self, read_stats: Callable[[], BufferStats]) -> None:
        """Export the buffer gauges, read at each scrape."""
        self.registry.register(_BufferCollector(read_stats))


class _BufferCollector(Collector):
    def __init__(self, read_stats: Callable[[], BufferStats]) -> None:
        self._read_stats = read_stats
        self._lock = threading.Lock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            stats = self._read_stats()
        depth = GaugeMetricFamily(
            f"{_PREFIX}_buffer_depth", "Messages waiting in the buffer", labels=["lane"]
        )
        depth.add_metric(["urgent"], stats.depth_urgent)
        depth.add_metric(["telemetry"], stats.depth_telemetry)
        yield depth
        yield GaugeMetricFamily(
            f"{_PREFIX}_buffer_bytes", "Accounted size of the buffered messages", stats.bytes
        )
        age = 0.0
        if stats.oldest_received_at_ms is not None:
            age = max(0.0, time.time() - stats.oldest_received_at_ms / 1000)
        yield GaugeMetricFamily(
            f"{_PREFIX}_buffer_oldest_age_seconds",
            "Age of the oldest buffered message (0 when empty)",
            age,
        )
        yield GaugeMetricFamily(
            f"{_PREFIX}_buffer_dropped_total_persisted",
            "Telemetry dropped from a full buffer since the buffer file was created",
            stats.dropped_total,
        )
        yield GaugeMetricFamily(
            f"{_PREFIX}_quarantine_size", "Messages held in the quarantine", stats.quarantined_total
        )
        yield GaugeMetricFamily(
            f"{_PREFIX}_quarantine_not_uploaded",
            "Quarantined messages not yet in the cloud's quarantine",
            stats.quarantine_not_uploaded,
        )


class MetricsServer:
    """The /metrics page on its own thread."""

    def __init__(self, metrics: EdgeMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server, self._thread = start_http_server(
            self._port, self._host, registry=self._metrics.registry
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("metrics server not started")
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None
