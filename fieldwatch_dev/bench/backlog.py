"""The gateway's cost per buffered reading: a backlog of a million readings, as an outage
of the cloud leaves it, built with the gateway's own buffer module (``Buffer.commit``, the
committer's path), then the real ``fieldwatch edge run`` started on it with the cloud
unreachable. Disk: the SQLite file (and its WAL). Memory: the gateway's resident size on
that backlog, beside the same gateway on an empty buffer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from core.receiver import DeviceKind
from core.topics import topic
from edge.buffer import Buffer, Incoming
from edge.classify import classify
from edge.registry import Registry
from fieldwatch_dev.bench.loadgen import encode_records
from fieldwatch_dev.bench.stack import GatewayConfig, bench_broker, bench_gateway, broker_endpoint
from fieldwatch_dev.bench.steps import rss_mib
from fieldwatch_dev.local import MosquittoServer, free_port

GROUP = 1000  # messages per transaction, as the committer groups them
SETTLE_S = 5.0
DEVICES = 300


@dataclass(frozen=True)
class BacklogCost:
    readings: int
    records_per_message: int
    disk_bytes: int
    gateway_rss_mib: float
    empty_gateway_rss_mib: float

    @property
    def disk_per_reading(self) -> float:
        return self.disk_bytes / self.readings

    @property
    def memory_per_reading(self) -> float:
        extra = (self.gateway_rss_mib - self.empty_gateway_rss_mib) * 1024 * 1024
        return extra / self.readings

    def line(self) -> str:
        return (
            f"{self.readings:,} readings, {self.records_per_message} per message: disk "
            f"{self.disk_bytes / 2**20:,.0f} MiB ({self.disk_per_reading:,.0f} B/reading); gateway "
            f"RSS {self.gateway_rss_mib:,.0f} MiB vs {self.empty_gateway_rss_mib:,.0f} MiB "
            f"empty ({self.memory_per_reading:,.1f} B/reading)"
        )


def build_backlog(path: Path, readings: int, records_per_message: int) -> None:
    """Commit ``readings`` location fixes from ``DEVICES`` bracelets into a fresh buffer."""
    buffer = Buffer.open(path, cap_bytes=1 << 40, synchronous="normal")
    registry = Registry({f"br-{d + 1:06d}": DeviceKind.bracelet for d in range(DEVICES)})
    try:
        messages = readings // records_per_message
        now_ms = time.time_ns() // 1_000_000
        ts = int(time.time())
        group: list[Incoming] = []
        for n in range(messages):
            device_id = f"br-{n % DEVICES + 1:06d}"
            first_seq = (n // DEVICES) * records_per_message
            channel, payload = encode_records(1, first_seq, records_per_message, ts)
            name = "batch" if channel == "up/batch" else "telemetry"
            name_of = topic(device_id, name)
            verdict = classify(name_of, payload, registry, now_ms / 1000)
            group.append(Incoming(name_of, payload, now_ms, verdict))
            if len(group) == GROUP:
                buffer.commit(group)
                group = []
        if group:
            buffer.commit(group)
    finally:
        buffer.close()


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _gateway_rss(folder: Path, broker: MosquittoServer, devices: dict[str, str]) -> float:
    unreachable = f"http://127.0.0.1:{free_port()}"
    config = GatewayConfig(broker_endpoint(broker), unreachable, "none")
    gateway = bench_gateway(folder, config, devices)
    gateway.start()
    try:
        time.sleep(SETTLE_S)  # the forwarder plans and fails a few batches meanwhile
        assert gateway.pid is not None
        return rss_mib(gateway.pid)
    finally:
        gateway.stop()


def measure_backlog(folder: Path, readings: int, records_per_message: int) -> BacklogCost:
    devices = {f"br-{n:06d}": "bracelet" for n in range(1, DEVICES + 1)}
    with bench_broker(folder / "mosquitto") as broker:
        empty = _gateway_rss(folder / "empty", broker, devices)
        full = folder / "full"
        full.mkdir(parents=True, exist_ok=True)
        buffer_path = full / "edge-buffer.sqlite3"
        build_backlog(buffer_path, readings, records_per_message)
        disk = _disk_bytes(buffer_path)
        loaded = _gateway_rss(full, broker, devices)
    return BacklogCost(readings, records_per_message, disk, loaded, empty)
