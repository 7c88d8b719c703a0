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
from core.messages import Batch, LocationFix
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


def sample_fixes(count: int, devices: int = 300, per_message: int = 1) -> list[Incoming]:
    """``count`` distinct GNSS fixes from ``devices`` bracelets, as the committer sees them:
    one a message, or device batches of ``per_message``."""
    now_ms = time.time_ns() // 1_000_000
    now_s = now_ms / 1000
    registry = Registry({f"br-{d:06d}": DeviceKind.bracelet for d in range(devices)})
    messages = []
    for n in range(count // per_message):
        device_id = f"br-{n % devices:06d}"
        first = (n // devices) * per_message
        fixes = [
            LocationFix(
                boot=1,
                seq=seq,
                ts=_TS + seq,
                lat_e7=311234567 + seq % 1000,
                lon_e7=1214567890 - seq % 1000,
                accuracy_m=8,
                source=1,
                speed_cm_s=120,
            )
            for seq in range(first, first + per_message)
        ]
        if per_message == 1:
            name, payload = topic(device_id, "telemetry"), encode(fixes[0])
        else:
            name, payload = topic(device_id, "batch"), encode(Batch(boot=1, items=fixes))
        messages.append(Incoming(name, payload, now_ms, classify(name, payload, registry, now_s)))
    return messages


def measure(
    count: int,
    rounds: int,
    group: int,
    synchronous: Synchronous,
    folder: Path | None = None,
    per_message: int = 1,
) -> BufferRate:
    """Commit ``count`` fixes (``per_message`` a message) in groups of ``group`` messages,
    ``rounds`` times; the median rate in readings per second."""
    fixes = sample_fixes(count, per_message=per_message)
    count = len(fixes) * per_message
    rates = []
    with tempfile.TemporaryDirectory(prefix="fieldwatch-bench-", dir=folder) as tmp:
        for round_number in range(rounds):
            path = Path(tmp) / f"buffer-{round_number}.sqlite3"
            buffer = Buffer.open(path, cap_bytes=1 << 40, synchronous=synchronous)
            try:
                started = time.perf_counter()
                for start in range(0, len(fixes), group):
                    buffer.commit(fixes[start : start + group])
                elapsed = time.perf_counter() - started
            finally:
                buffer.close()
            rates.append(count / elapsed)
    return BufferRate(synchronous, group, statistics.median(rates))
