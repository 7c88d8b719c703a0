"""When to send a batch and what to put in it. Pure: counts and times in, a plan out.

Sizes are in **readings**: a device batch (``up/batch``) counts its items, any other
message (a record, an ack, a status) counts 1. So a cloud request carries about the
same number of readings whether devices send them one by one or in batches.

The priority rule (docs/edge.md):

1. Urgent messages (events, acks, status) go first, oldest first, up to the batch
   size, but never more than ``capacity - telemetry_floor`` readings while telemetry
   waits: an event storm cannot stop live telemetry (zone and threshold breaches are
   found in the cloud from telemetry).
2. The room left is shared by the telemetry backlog: half of it from the newest end
   (live data stays live after an outage), half from the oldest end (the backlog
   drains and nothing waits forever).

A plan gives each part a budget of readings; ``take_within`` turns a budget into a
number of whole messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TELEMETRY_FLOOR_SHARE = 10  # telemetry keeps at least 1/10 of a batch when it waits


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Readings to take: urgent (oldest first), newest and oldest telemetry."""

    urgent: int
    newest_telemetry: int
    oldest_telemetry: int

    @property
    def size(self) -> int:
        return self.urgent + self.newest_telemetry + self.oldest_telemetry


def plan_batch(urgent_waiting: int, telemetry_waiting: int, capacity: int) -> BatchPlan:
    """Share a batch of at most ``capacity`` readings among what waits in each lane."""
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    floor = 0
    if telemetry_waiting > 0:
        floor = min(telemetry_waiting, max(1, capacity // TELEMETRY_FLOOR_SHARE))
    # At least one urgent reading per batch, even in a batch of one.
    urgent = min(urgent_waiting, max(capacity - floor, 1))
    telemetry = min(telemetry_waiting, capacity - urgent)
    newest = telemetry // 2
    return BatchPlan(urgent, newest, telemetry - newest)


def take_within(readings: Iterable[int], budget: int, *, at_least_one: bool) -> int:
    """How many of these messages (their readings, in the order they are taken) fit in
    ``budget`` readings. Stops at the first that does not fit, so the order holds; with
    ``at_least_one``, the first message is taken even if it alone exceeds the budget."""
    taken = 0
    total = 0
    for count in readings:
        if total + count > budget and not (at_least_one and taken == 0):
            break
        taken += 1
        total += count
        if total >= budget:
            break
    return taken


def batch_due(
    *,
    urgent_waiting: int,
    telemetry_waiting: int,
    oldest_waiting_age_s: float | None,
    max_readings: int,
    max_age_s: float,
) -> bool:
    """Send now? Yes for any urgent message, a full batch, or a batch old enough.

    ``telemetry_waiting`` and ``max_readings`` are readings."""
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
