"""Buffer → cloud: plan a batch, send it, settle it by the cloud's answer.

One batch is in flight at a time. A batch that may have reached the cloud (no
answer, a 5xx, or found in flight at start-up) is marked so in the buffer and keeps
its id and its messages until the cloud answers, across restarts, so the cloud's
batch-id check turns any resend into a no-op. Such a batch is never released and
re-planned, not even when a later attempt certainly failed (connection refused): its
records under a new batch id could be stored twice. Messages leave the buffer only
when the cloud answers 200.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from core.forwarding import ForwardBatch
from edge.answers import Action, CloudAnswer
from edge.backoff import Backoff
from edge.batching import batch_due, plan_batch, seconds_until_due
from edge.buffer import Buffer, ClaimedBatch
from edge.cloud import CloudClient, StoredReport
from edge.metrics import EdgeMetrics

log = logging.getLogger(__name__)

IDLE_POLL_S = 1.0
CLOUD_REFUSED_BATCH = "cloud_refused_batch"
CLOUD_TOO_LARGE = "cloud_too_large"


@dataclass(frozen=True, slots=True)
class ForwardPolicy:
    """Batch limits from the settings (``max_readings``: readings, not messages)."""

    gateway_id: str
    max_readings: int
    max_age_s: float


@dataclass(frozen=True, slots=True)
class Pause:
    """What the loop does next: ``backoff`` waits are not cut short by new messages."""

    seconds: float
    backoff: bool = False
    empty: bool = False  # nothing waits and nothing is in flight


class Forwarder:
    """Owns the buffer's forwarding side: claim, confirm, release, quarantine batches."""

    def __init__(
        self,
        buffer: Buffer,
        cloud: CloudClient,
        metrics: EdgeMetrics,
        policy: ForwardPolicy,
        backoff: Backoff,
        wake: threading.Event,
    ) -> None:
        self._buffer = buffer
        self._cloud = cloud
        self._metrics = metrics
        self._policy = policy
        self._backoff = backoff
        self._wake = wake
        self._capacity = policy.max_readings
        suspect = buffer.suspect_in_flight()
        if suspect:
            log.info("%d batch(es) left in flight by the last run: sent again as they are", suspect)

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set."""
        while not stop.is_set():
            self._wake.clear()
            pause = self.attempt()
            if pause.backoff:
                stop.wait(pause.seconds)
            elif pause.seconds > 0:
                self._wake.wait(pause.seconds)

    def flush(self, seconds: float) -> None:
        """At shutdown: send everything now, until the buffer is empty, the cloud fails,
        or ``seconds`` ran out. What is left stays buffered for the next run."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pause = self.attempt(force=True)
            if pause.backoff or pause.empty:
                return

    def attempt(self, *, force: bool = False) -> Pause:
        """One step: send the batch in flight, or a new one if one is due."""
        batch = self._buffer.in_flight()
        if batch is None:
            now_ms = time.time_ns() // 1_000_000
            waiting = self._buffer.waiting(self._policy.max_readings)
            age_s = None
            if waiting.oldest_received_at_ms is not None:
                age_s = max(0.0, (now_ms - waiting.oldest_received_at_ms) / 1000)
            if age_s is None:
                return Pause(IDLE_POLL_S, empty=True)
            due = force or batch_due(
                urgent_waiting=waiting.urgent,
                telemetry_waiting=waiting.telemetry,
                oldest_waiting_age_s=age_s,
                max_readings=self._capacity,
                max_age_s=self._policy.max_age_s,
            )
            if not due:
                until = seconds_until_due(age_s, self._policy.max_age_s)
                return Pause(min(IDLE_POLL_S, until if until is not None else IDLE_POLL_S))
            plan = plan_batch(waiting.urgent, waiting.telemetry, self._capacity)
            batch = self._buffer.claim(plan, self._policy.gateway_id, now_ms)
            if batch is None:
                return Pause(0.0)
        return self._send(batch)

    def _send(self, batch: ClaimedBatch) -> Pause:
        request = ForwardBatch(
            self._policy.gateway_id, batch.batch_id, time.time_ns() // 1_000_000, batch.items
        )
        answer, report = self._cloud.post_batch(request)
        self._metrics.forward_attempts.labels(answer.outcome).inc()
        if answer.action is Action.DELETE:
            self._stored(batch, report)
            return Pause(0.0)
        if answer.action is Action.QUARANTINE:
            count = self._buffer.quarantine_batch(
                batch.batch_id, CLOUD_REFUSED_BATCH, answer.detail
            )
            self._metrics.quarantined.labels(CLOUD_REFUSED_BATCH).inc(count)
            log.error(
                "cloud refused batch %s (%d kept in quarantine): %s",
                batch.batch_id,
                count,
                answer.detail,
            )
            return Pause(0.0)
        if answer.action is Action.SPLIT:
            return self._split(batch, answer)
        if answer.action is Action.RESEND_SAME and not batch.maybe_stored:
            self._buffer.mark_maybe_stored(batch.batch_id)
        if answer.action is Action.RELEASE_AND_RETRY and not batch.maybe_stored:
            self._buffer.release(batch.batch_id)
        return self._back_off(batch, answer)

    def _stored(self, batch: ClaimedBatch, report: StoredReport | None) -> None:
        received = self._buffer.confirm(batch.batch_id)
        now_s = time.time()
        for received_at_ms in received:
            self._metrics.forward_latency.observe(max(0.0, now_s - received_at_ms / 1000))
        self._metrics.forwarded.inc(len(received))
        if report is not None and report.rejected:
            self._metrics.cloud_rejected.inc(report.rejected)
        if self._backoff.failures:
            log.info("cloud reachable again; batch %s stored", batch.batch_id)
        self._backoff.reset()
        self._metrics.backoff.set(0)
        self._capacity = min(self._policy.max_readings, self._capacity * 2)

    def _split(self, batch: ClaimedBatch, answer: CloudAnswer) -> Pause:
        if len(batch.items) <= 1:
            count = self._buffer.quarantine_batch(batch.batch_id, CLOUD_TOO_LARGE, answer.detail)
            self._metrics.quarantined.labels(CLOUD_TOO_LARGE).inc(count)
            log.error("a single message is too large for the cloud; kept in quarantine")
        else:
            self._buffer.release(batch.batch_id)
            self._capacity = max(1, batch.readings // 2)
            log.warning(
                "cloud: batch too large; next batches hold at most %d readings", self._capacity
            )
        return Pause(0.0)

    def _back_off(self, batch: ClaimedBatch, answer: CloudAnswer) -> Pause:
        wait = self._backoff.next_wait(answer.retry_after_s)
        self._metrics.backoff.set(wait)
        level = logging.ERROR if answer.alert else logging.WARNING
        log.log(
            level,
            "batch %s not stored (%s); retry in %.1f s: %s",
            batch.batch_id,
            answer.outcome,
            wait,
            answer.detail,
        )
        return Pause(wait, backoff=True)
