"""How fast the cloud's ingest stores readings, without HTTP and without the gateway.

Runs what ``POST /ingest`` runs for a request (``core.forwarding.decode_batch`` of the
gzip body, then ``IngestService.ingest``: decode and check every record again, plan,
write to InfluxDB, record sequence ranges and device state) on one thread, against a
private InfluxDB and a relational store in a temporary folder. Every round uses a fresh
boot id, so each reading is new, as in a live fleet. Reports the median of the rounds, as
readings per second and as CPU time of this process per reading (steadier than wall
time on a shared machine).
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet.service import add_device, add_gateway
from cloud.ingest.service import IngestReport, IngestService
from cloud.timeseries.influx import InfluxStore
from core.forwarding import ForwardBatch, ForwardedMessage, decode_batch, encode_batch
from core.receiver import DeviceKind
from fieldwatch_dev.bench.loadgen import encode_records
from fieldwatch_dev.bench.stack import GATEWAY_ID
from fieldwatch_dev.local.influxdb import InfluxServer

GATEWAY = GATEWAY_ID
TS = 1_795_932_000


@dataclass(frozen=True)
class IngestShape:
    """What one request holds: ``messages`` per device, ``records_per_message`` each."""

    devices: int
    messages: int
    records_per_message: int

    @property
    def readings(self) -> int:
        return self.devices * self.messages * self.records_per_message


@dataclass(frozen=True)
class IngestRate:
    shape: IngestShape
    requests: int
    readings_per_s: float
    cpu_us_per_reading: float  # this process's CPU (InfluxDB runs in its own)

    @property
    def us_per_reading(self) -> float:
        return 1e6 / self.readings_per_s

    def line(self) -> str:
        s = self.shape
        return (
            f"{s.devices} devices x {s.messages} messages x {s.records_per_message} readings "
            f"= {s.readings} a request: {self.readings_per_s:,.0f} readings/s "
            f"({self.us_per_reading:.1f} us a reading, {self.cpu_us_per_reading:.1f} us of CPU)"
        )


def _bodies(shape: IngestShape, boot: int, requests: int) -> list[bytes]:
    """The gzip bodies of ``requests`` requests, as the gateway sends them."""
    bodies = []
    seqs = dict.fromkeys(range(shape.devices), 0)
    for number in range(requests):
        items = []
        for message in range(shape.messages):
            for device in range(shape.devices):
                topic, payload = encode_records(
                    boot, seqs[device], shape.records_per_message, TS + message
                )
                seqs[device] += shape.records_per_message
                channel = topic.rsplit("/", 1)[1]
                received = (TS + message) * 1000 + 200
                items.append(ForwardedMessage(f"br-{device:06d}", channel, received, payload))
        batch = ForwardBatch(GATEWAY, f"{GATEWAY}:{boot}:{number}", TS * 1000, tuple(items))
        bodies.append(encode_batch(batch))
    return bodies


def _check_all_stored(reports: list[IngestReport], shape: IngestShape) -> None:
    """A round only counts if the cloud accepted every message, none as a duplicate."""
    messages = shape.devices * shape.messages
    for report in reports:
        if report.duplicate_batch or report.rejected or report.accepted != messages:
            raise RuntimeError(
                f"batch {report.batch_id}: {report.accepted} of {messages} messages accepted, "
                f"{len(report.rejected)} rejected, duplicate batch: {report.duplicate_batch}"
            )


def _check_influx_holds(influx: InfluxStore, readings: int) -> None:
    """Every reading of every round is a point in InfluxDB."""
    series = influx.query('SELECT count("seq") FROM "location"')
    stored = int(series[0].values[0][1]) if series and series[0].values else 0
    if stored != readings:
        raise RuntimeError(f"InfluxDB holds {stored} location points, {readings} were ingested")


def measure_ingest(
    folder: Path,
    shape: IngestShape,
    *,
    requests: int = 20,
    rounds: int = 3,
    database_url: str | None = None,
    profile_to: Path | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> IngestRate:
    """Readings per second through decode + ``IngestService.ingest``, median of ``rounds``."""
    with InfluxServer(folder / "influxdb") as influx_server:
        engine = make_engine(database_url or f"sqlite:///{folder / 'cloud.db'}")
        upgrade(engine)
        sessions = make_sessions(engine)
        now = datetime.now(UTC)
        with sessions.begin() as session:
            add_gateway(session, GATEWAY, now)
            for device in range(shape.devices):
                add_device(session, f"br-{device:06d}", DeviceKind.bracelet, GATEWAY, now)
        influx = InfluxStore(influx_server.url, "fieldwatch_bench_ingest")
        service = IngestService(sessions, influx, late_after_s=120)
        profiler = cProfile.Profile() if profile_to is not None else None
        timings = []
        cpu = []
        try:
            for boot in range(1, rounds + 1):
                bodies = _bodies(shape, boot, requests)
                started = time.perf_counter()
                cpu_started = time.process_time()
                if profiler is not None:
                    profiler.enable()
                reports = [service.ingest(GATEWAY, decode_batch(body), now) for body in bodies]
                if profiler is not None:
                    profiler.disable()
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                _check_all_stored(reports, shape)
                say(f"  round {boot}: {shape.readings * requests / timings[-1]:,.0f} readings/s")
            _check_influx_holds(influx, shape.readings * requests * rounds)
        finally:
            influx.close()
            engine.dispose()
    if profiler is not None and profile_to is not None:
        profiler.dump_stats(profile_to)
        stats = pstats.Stats(str(profile_to))
        stats.sort_stats("cumulative").print_stats(25)
    readings = shape.readings * requests
    rate = readings / statistics.median(timings)
    return IngestRate(shape, requests, rate, statistics.median(cpu) * 1e6 / readings)
