"""How long to wait before retrying the cloud. Pure, apart from the random source.

Exponential with "equal jitter": the n-th consecutive failure waits between half
and all of ``min(max, initial * 2**n)``. The floor keeps retries from a fleet of
gateways spread out and growing; the jitter keeps them from arriving together after
a cloud restart. A ``Retry-After`` from the cloud is a lower bound: the wait is
never shorter than what the cloud asked for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Consecutive-failure counter and the wait it implies."""

    initial_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")

    def ceiling(self) -> float:
        """The upper end of the next wait, before jitter."""
        return min(self.max_s, self.initial_s * 2.0 ** min(self.failures, 62))

    def next_wait(self, retry_after_s: float | None = None) -> float:
        """Record a failure and return how long to wait before the next attempt."""
        ceiling = self.ceiling()
        self.failures += 1
        wait = ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)
        if retry_after_s is not None:
            # The cloud's figure, plus jitter so that gateways told the same do not return together.
            wait = max(wait, retry_after_s + self.rng.uniform(0.0, ceiling / 2))
        return wait

    def reset(self) -> None:
        """A success: the next failure starts again from ``initial_s``."""
        self.failures = 0
