"""Receive → classify → commit → acknowledge, in groups.

The committer takes whatever the broker has handed over (up to ``MAX_GROUP``
messages), classifies each, commits them all in one SQLite transaction, and only
then acknowledges them to the broker, in the order they came. Group commits need no
timer: while one group commits, the next one queues up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from edge.broker import Received
from edge.buffer import Buffer, CommitReport, Incoming
from edge.classify import classify
from edge.metrics import EdgeMetrics
from edge.registry import RegistryWatcher

log = logging.getLogger(__name__)

MAX_GROUP = 2000
POLL_S = 0.1

Acknowledge = Callable[[int, int], None]


class Committer:
    """Owns the buffer's write side for new messages."""

    def __init__(
        self,
        inbox: queue.SimpleQueue[Received],
        buffer: Buffer,
        acknowledge: Acknowledge,
        registry: RegistryWatcher,
        metrics: EdgeMetrics,
        committed: threading.Event,
    ) -> None:
        self._inbox = inbox
        self._buffer = buffer
        self._acknowledge = acknowledge
        self._registry = registry
        self._metrics = metrics
        self._committed = committed

    def run(self, stop: threading.Event) -> None:
        """Commit until ``stop`` is set and the inbox is empty."""
        while True:
            try:
                first = self._inbox.get(timeout=POLL_S)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self.commit_group(group)

    def commit_group(self, group: list[Received]) -> CommitReport:
        """Commit one group, then acknowledge every message of it."""
        registry = self._registry.current()
        now_ms = time.time_ns() // 1_000_000
        now_s = now_ms / 1000
        incoming = [
            Incoming(r.topic, r.payload, now_ms, classify(r.topic, r.payload, registry, now_s))
            for r in group
        ]
        report = self._buffer.commit(incoming)
        acknowledge = self._acknowledge
        for received in group:
            acknowledge(received.mid, received.qos)
        self._count(len(group), report)
        self._committed.set()
        return report

    def _count(self, received: int, report: CommitReport) -> None:
        metrics = self._metrics
        metrics.received.inc(received)
        for lane, count in report.committed.items():
            metrics.committed.labels(lane.name.lower()).inc(count)
        for reason, count in report.quarantined.items():
            metrics.quarantined.labels(reason).inc(count)
            log.warning("quarantined %d message(s): %s", count, reason)
        if report.duplicates:
            metrics.duplicates.inc(report.duplicates)
            log.info("%d message(s) handed over again were already buffered", report.duplicates)
        if report.dropped:
            metrics.dropped.inc(report.dropped)
            log.warning("buffer full: dropped the %d oldest telemetry message(s)", report.dropped)
