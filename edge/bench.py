"""Buffer throughput: readings committed per second (``fieldwatch edge bench-buffer``).

Commits realistic location fixes through ``Buffer.commit``, the committer's own path
(dedup digest, record keys, row, counters, cap check), in groups as the committer forms them, into
a fresh buffer file in a temporary folder. The figure is recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.codec import encode
from core.messages import LocationFix
from core.receiver import DeviceKind
from core.topics import topic
from edge.buffer import Buffer, Incoming, Synchronous
from edge.classify import classify
from edge.registry import Registry

_TS = 1_767_225_600  # 2026-01-01


@dataclass(frozen=True, slots=True)
class BufferRate:
    """Median readings committed per second for one configuration."""

    synchronous: Synchronous
    group: int
    per_second: float


def sample_fixes(count: int, devices: int = 300) -> list[Incoming]:
    """``count`` distinct GNSS fixes from ``devices`` bracelets, as the committer sees them."""
    now_ms = time.time_ns() // 1_000_000
    now_s = now_ms / 1000
    registry = Registry({f"br-{d:06d}": DeviceKind.bracelet for d in range(devices)})
    fixes = []
    for n in range(count):
        device_id = f"br-{n % devices:06d}"
        payload = encode(
            LocationFix(
                boot=1,
                seq=n // devices,
                ts=_TS + n // devices,
                lat_e7=311234567 + n % 1000,
                lon_e7=1214567890 - n % 1000,
                accuracy_m=8,
                source=1,
                speed_cm_s=120,
            )
        )
        name = topic(device_id, "telemetry")
        fixes.append(Incoming(name, payload, now_ms, classify(name, payload, registry, now_s)))
    return fixes


def measure(
    count: int, rounds: int, group: int, synchronous: Synchronous, folder: Path | None = None
) -> BufferRate:
    """Commit ``count`` fixes in groups of ``group``, ``rounds`` times; the median rate."""
    fixes = sample_fixes(count)
    rates = []
    with tempfile.TemporaryDirectory(prefix="fieldwatch-bench-", dir=folder) as tmp:
        for round_number in range(rounds):
            path = Path(tmp) / f"buffer-{round_number}.sqlite3"
            buffer = Buffer.open(path, cap_bytes=1 << 40, synchronous=synchronous)
            try:
                started = time.perf_counter()
                for start in range(0, count, group):
                    buffer.commit(fixes[start : start + group])
                elapsed = time.perf_counter() - started
            finally:
                buffer.close()
            rates.append(count / elapsed)
    return BufferRate(synchronous, group, statistics.median(rates))
