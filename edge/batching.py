"""When to send a batch and what to put in it. Pure: counts and times in, a plan out.

The priority rule (docs/edge.md):

1. Urgent messages (events, acks, status) go first, oldest first, up to the batch
   size, but never more than ``capacity - telemetry_floor`` while telemetry waits:
   an event storm cannot stop live telemetry (zone and threshold breaches are found
   in the cloud from telemetry).
2. The room left is shared by the telemetry backlog: half of it from the newest end
   (live data stays live after an outage), half from the oldest end (the backlog
   drains and nothing waits forever).
"""

from __future__ import annotations

from dataclasses import dataclass

TELEMETRY_FLOOR_SHARE = 10  # telemetry keeps at least 1/10 of a batch when it waits


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """How many messages to take: urgent (oldest first), newest and oldest telemetry."""

    urgent: int
    newest_telemetry: int
    oldest_telemetry: int

    @property
    def size(self) -> int:
        return self.urgent + self.newest_telemetry + self.oldest_telemetry


def plan_batch(urgent_waiting: int, telemetry_waiting: int, capacity: int) -> BatchPlan:
    """Fill a batch of at most ``capacity`` from what waits in each lane."""
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    floor = 0
    if telemetry_waiting > 0:
        floor = min(telemetry_waiting, max(1, capacity // TELEMETRY_FLOOR_SHARE))
    # At least one urgent message per batch, even in a batch of one.
    urgent = min(urgent_waiting, max(capacity - floor, 1))
    telemetry = min(telemetry_waiting, capacity - urgent)
    newest = telemetry // 2
    return BatchPlan(urgent, newest, telemetry - newest)


def batch_due(
    *,
    urgent_waiting: int,
    telemetry_waiting: int,
    oldest_waiting_age_s: float | None,
    max_readings: int,
    max_age_s: float,
) -> bool:
    """Send now? Yes for any urgent message, a full batch, or a batch old enough."""
    if urgent_waiting > 0:
        return True
    if telemetry_waiting >= max_readings:
        return True
    return oldest_waiting_age_s is not None and oldest_waiting_age_s >= max_age_s


def seconds_until_due(oldest_waiting_age_s: float | None, max_age_s: float) -> float | None:
    """How long until the oldest waiting message makes a batch due; None if none waits."""
    if oldest_waiting_age_s is None:
        return None
    return max(0.0, max_age_s - oldest_waiting_age_s)
