"""The heartbeat: tells the cloud the gateway and its uplink are alive, every interval,
whether or not there is data (docs/gateway-api.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.buffer import BufferStats
from edge.cloud import CloudClient, CloudRequestError
from edge.metrics import EdgeMetrics

log = logging.getLogger(__name__)


def heartbeat_document(
    gateway_id: str, stats: BufferStats, uptime_s: float, version: str, now_ms: int
) -> dict[str, Any]:
    """The heartbeat body."""
    oldest_age_s = None
    if stats.oldest_received_at_ms is not None:
        oldest_age_s = max(0.0, (now_ms - stats.oldest_received_at_ms) / 1000)
    return {
        "gateway_id": gateway_id,
        "sent_at_ms": now_ms,
        "uptime_s": round(uptime_s, 3),
        "buffer_depth": stats.depth,
        "buffer_bytes": stats.bytes,
        "oldest_buffered_age_s": oldest_age_s,
        "version": version,
    }


class Heartbeat:
    """Sends a heartbeat at start and then every ``interval_s``."""

    def __init__(
        self,
        cloud: CloudClient,
        read_stats: Callable[[], BufferStats],
        metrics: EdgeMetrics,
        gateway_id: str,
        interval_s: float,
        version: str,
    ) -> None:
        self._cloud = cloud
        self._read_stats = read_stats
        self._metrics = metrics
        self._gateway_id = gateway_id
        self._interval_s = interval_s
        self._version = version

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            document = heartbeat_document(
                self._gateway_id,
                self._read_stats(),
                time.monotonic() - started,
                self._version,
                time.time_ns() // 1_000_000,
            )
            try:
                self._cloud.heartbeat(document)
            except CloudRequestError as exc:
                # The next beat is the retry; forwarding has its own backoff and alerts.
                self._metrics.heartbeats.labels("failed").inc()
                log.warning("heartbeat not delivered: %s", exc)
            else:
                self._metrics.heartbeats.labels("sent").inc()
            stop.wait(self._interval_s)
