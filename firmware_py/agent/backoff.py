"""When to try the broker again: exponential backoff with jitter, in device time.

Why jitter: after a broker restart, 300 bracelets that all retry on the same
second knock it over again. The jitter comes from a small generator seeded
per device, so a simulated fleet retries the same way on every run.
"""


class Backoff:
    """Delays of ``base`` doubling up to ``cap`` seconds, each stretched by up to +50 %."""

    def __init__(self, base: int = 1, cap: int = 60, seed: int = 1) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self.next_attempt = 0
        self._state = (seed & 0x7FFFFFFF) or 1

    def _random(self) -> int:
        # Park-Miller minimal standard generator: tiny, and the same on every port.
        self._state = (self._state * 48271) % 0x7FFFFFFF
        return self._state

    def due(self, now: int) -> bool:
        return now >= self.next_attempt

    def failed(self, now: int) -> int:
        """An attempt failed at ``now``; return the time of the next one."""
        delay = min(self.cap, self.base << min(self.failures, 16))
        delay += (delay * (self._random() % 51)) // 100
        self.failures += 1
        self.next_attempt = now + max(1, delay)
        return self.next_attempt

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0
