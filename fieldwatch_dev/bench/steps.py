"""One load step against a target (our pipeline or a peer), measured from InfluxDB.

Per step: the load generator offers readings at a set rate for a set time; a probe
device publishes one fix every ``PROBE_INTERVAL_S`` and a poller asks InfluxDB every
``PROBE_POLL_S`` which of them are queryable (latency publish -> queryable); afterwards
the stored points of the step's boot id are counted per device by sequence number.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fieldwatch_dev.bench.endpoints import BrokerEndpoint, InfluxEndpoint
from fieldwatch_dev.bench.influx import InfluxQueryError, InfluxReader
from fieldwatch_dev.bench.loadgen import LoadProcess, LoadSpec, RecordSource, encode_records

PROBE_DEVICE = "br-900001"
PROBE_INTERVAL_S = 0.1
PROBE_POLL_S = 0.05
SAMPLE_EVERY_S = 0.25
STALL_S = 5.0  # no new point for this long after the load ended: the rest is lost
SUSTAINED_P99_S = 2.0


@dataclass(frozen=True)
class Target:
    """Where the load goes and where its points are read back."""

    name: str
    broker: BrokerEndpoint
    influx: InfluxEndpoint  # and the database the target writes to
    pids: tuple[int, ...] = ()  # processes whose memory is sampled


@dataclass
class StepResult:
    target_per_s: float
    records_per_message: int
    offered_per_s: float = 0.0
    stored_per_s: float = 0.0
    produced: int = 0
    stored: int = 0
    lost: int = 0
    unexpected: int = 0
    p50_s: float | None = None
    p99_s: float | None = None
    probe_samples: int = 0
    probe_missing: int = 0
    all_acked: bool = True
    generator_cpu_s: float = 0.0  # the load generator's own CPU during the step
    max_rss_mib: dict[int, float] = field(default_factory=dict)
    # CPU seconds of each pipeline process from the first publish until drained.
    cpu_s: dict[int, float] = field(default_factory=dict)

    @property
    def sustained(self) -> bool:
        """Zero loss and p99 under 2 s for the whole step, at (90% of) the asked load.

        A pipeline that falls behind shows it in the probe's latency, which grows through
        the step: so "stored as fast as offered" needs no criterion of its own.
        """
        return (
            self.lost == 0
            and self.unexpected == 0
            and self.probe_missing == 0
            and self.p99_s is not None
            and self.p99_s < SUSTAINED_P99_S
            and self.offered_per_s >= 0.9 * self.target_per_s
        )

    def to_json(self) -> dict[str, object]:
        return {**vars(self), "sustained": self.sustained}


def quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, MiB (0 if it is gone)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except OSError:
        return 0.0
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LatencyProbe:
    """A device publishing single fixes; a poller timing when each becomes queryable."""

    def __init__(self, target: Target, boot: int) -> None:
        self._target = target
        self._boot = boot
        self.published: dict[int, tuple[float, int]] = {}  # seq -> (wall time, ts)
        self.seen: dict[int, float] = {}  # seq -> latency s
        self._publishing = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=PROBE_DEVICE, protocol=mqtt.MQTTv311
        )
        if target.broker.username is not None:
            self._client.username_pw_set(target.broker.username, target.broker.password)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._client.connect(self._target.broker.host, self._target.broker.port, keepalive=60)
        self._client.loop_start()
        self._publishing.set()
        for body, name in ((self._publish_loop, "probe-publish"), (self._poll_loop, "probe-poll")):
            thread = threading.Thread(target=body, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_publishing(self) -> None:
        self._publishing.clear()

    def wait_seen(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.seen) >= len(self.published):
                    return
            time.sleep(PROBE_POLL_S)

    def close(self) -> None:
        self._publishing.clear()
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._client.disconnect()
        self._client.loop_stop()

    def _publish_loop(self) -> None:
        seq = 0
        next_at = time.monotonic()
        while self._publishing.is_set():
            ts = int(time.time())
            topic, payload = encode_records(self._boot, seq, 1, ts)
            with self._lock:
                self.published[seq] = (time.time(), ts)
            self._client.publish(f"fw/v1/{PROBE_DEVICE}/{topic}", payload, qos=1)
            seq += 1
            next_at += PROBE_INTERVAL_S
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _poll_loop(self) -> None:
        reader = InfluxReader(self._target.influx, timeout_s=5.0)
        try:
            while not self._stop.wait(PROBE_POLL_S):
                with self._lock:
                    waiting = [ts for s, (_t, ts) in self.published.items() if s not in self.seen]
                if not waiting:
                    continue
                try:
                    seqs = reader.seqs_since(PROBE_DEVICE, self._boot, min(waiting) * 10**9)
                except InfluxQueryError:
                    continue
                now = time.time()
                with self._lock:
                    for seq in seqs:
                        if seq not in self.seen and seq in self.published:
                            self.seen[seq] = now - self.published[seq][0]
        finally:
            reader.close()


def run_step(
    target: Target,
    devices: tuple[str, ...],
    boot: int,
    readings_per_s: float,
    records_per_message: int,
    duration_s: float,
    drain_timeout_s: float,
    *,
    source: RecordSource | None = None,
    before_count: Callable[[int, int], None] | None = None,
) -> StepResult:
    """Offer ``readings_per_s`` for ``duration_s``; count what InfluxDB holds afterwards.

    ``source`` gives the devices' fixes (default: the generator's own); ``before_count``
    (boot, since ns) runs once the load is drained, before losses are counted (a bench
    that lets the pipeline settle counts what never arrived, not what came late)."""
    result = StepResult(readings_per_s, records_per_message)
    spec = LoadSpec(
        target.broker.host,
        target.broker.port,
        devices,
        boot,
        readings_per_s,
        records_per_message,
        duration_s,
        username=target.broker.username,
        password=target.broker.password,
        source=source,
    )
    reader = InfluxReader(target.influx)
    load = LoadProcess(spec)
    probe = LatencyProbe(target, boot)
    samples: list[tuple[float, int]] = []
    since_ns = (int(time.time()) - 5) * 10**9
    try:
        load.start()
        load.wait_started()
        cpu_before = {pid: cpu_seconds(pid) for pid in target.pids}
        probe.start()
        while not load.done():
            _sample(target, result, reader, boot, since_ns, samples)
            time.sleep(SAMPLE_EVERY_S)
        offered = load.result(30.0)
        probe.stop_publishing()
        expected = offered.records + len(probe.published)
        deadline = time.monotonic() + drain_timeout_s
        while time.monotonic() < deadline:
            stored = _sample(target, result, reader, boot, since_ns, samples)
            if stored >= expected:
                break
            recent = [count for t, count in samples if t >= time.time() - STALL_S]
            if len(recent) > 2 and recent[0] == recent[-1] == stored:
                break
            time.sleep(SAMPLE_EVERY_S)
        probe.wait_seen(min(deadline, time.monotonic() + 2.0))
        result.cpu_s = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in target.pids}
    finally:
        load.kill()
        probe.close()
    if before_count is not None:
        before_count(boot, since_ns)
    produced = {**offered.produced, PROBE_DEVICE: len(probe.published)}
    counts = reader.seq_counts(boot, since_ns)
    reader.close()
    result.produced = sum(produced.values())
    result.all_acked = offered.all_acked
    result.generator_cpu_s = offered.cpu_s
    result.offered_per_s = offered.offered_per_s
    for device_id, made in produced.items():
        count = counts.get(device_id)
        stored_count = 0 if count is None else count.count
        result.stored += stored_count
        result.lost += max(0, made - stored_count)
        if count is not None and (count.min_seq < 0 or count.max_seq >= made):
            result.unexpected += 1
    final = samples[-1][1] if samples else 0
    reached = next((t for t, count in samples if count >= final), time.time())
    elapsed = reached - offered.started_at
    result.stored_per_s = final / elapsed if elapsed > 0 else 0.0
    latencies = list(probe.seen.values())
    result.probe_samples = len(latencies)
    result.probe_missing = len(probe.published) - len(latencies)
    result.p50_s = quantile(latencies, 0.5)
    result.p99_s = quantile(latencies, 0.99)
    return result


def _sample(
    target: Target,
    result: StepResult,
    reader: InfluxReader,
    boot: int,
    since_ns: int,
    samples: list[tuple[float, int]],
) -> int:
    for pid in target.pids:
        result.max_rss_mib[pid] = max(result.max_rss_mib.get(pid, 0.0), rss_mib(pid))
    try:
        stored = reader.stored_total(boot, since_ns)
    except InfluxQueryError:
        stored = samples[-1][1] if samples else 0
    samples.append((time.time(), stored))
    return stored
