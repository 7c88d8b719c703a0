"""What the machine allows, for the same data: the two ceilings the pipeline sits under.

- storage: points/s InfluxDB accepts for the pipeline's own points (the cloud's
  ``record_point``, influxdb-client ``Point`` serialisation), sent as ready-made
  line-protocol batches of 5,000 lines by one writer;
- transport: messages/s Mosquitto relays for the load generator's payloads at QoS 1,
  between C clients that do nothing else (``mosquitto_pub --repeat``, ``mosquitto_sub``).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from cloud.timeseries.points import RecordContext, record_point
from core.messages import LocationFix
from fieldwatch_dev.bench.endpoints import BrokerEndpoint, InfluxEndpoint
from fieldwatch_dev.bench.loadgen import encode_records
from fieldwatch_dev.bench.stack import bench_broker, broker_endpoint
from fieldwatch_dev.local.process import find_executable

LINES_PER_WRITE = 5000
CEILING_DATABASE = "ceiling"


@dataclass(frozen=True)
class Ceiling:
    name: str
    readings_per_s: float
    detail: str


def create_database(influx: InfluxEndpoint) -> None:
    """``influx.database`` with the cloud's ``evidence`` policy as default, so queries match."""
    database = influx.database
    statements = [
        f'CREATE DATABASE "{database}"',
        f'CREATE RETENTION POLICY "evidence" ON "{database}" DURATION INF REPLICATION 1 DEFAULT',
    ]
    with httpx.Client(base_url=influx.url, auth=influx.auth, timeout=30) as client:
        for statement in statements:
            client.post("/query", params={"q": statement}).raise_for_status()


def pipeline_lines(count: int, devices: int = 20) -> list[str]:
    """``count`` location points exactly as the cloud writes them."""
    ts = int(time.time())
    lines = []
    for i in range(count):
        device = f"br-{i % devices + 1:06d}"
        seq = i // devices
        fix = LocationFix(1, seq, ts, 311234567 + seq % 10000, 1214567890, 8, 1, 120)
        context = RecordContext(device, "gw-bench", ts * 1000, False)
        lines.append(record_point(fix, context).line)
    return lines


def storage_ceiling(influx: InfluxEndpoint, points: int, rounds: int = 3) -> Ceiling:
    """Median points/s of ``rounds`` writes of ``points`` points, 5,000 lines a request.

    Into the database ``ceiling`` of the given InfluxDB (``influx.database`` is not used).
    """
    influx = influx.with_database(CEILING_DATABASE)
    create_database(influx)
    lines = pipeline_lines(points)
    bodies = [
        "\n".join(lines[i : i + LINES_PER_WRITE]).encode()
        for i in range(0, len(lines), LINES_PER_WRITE)
    ]
    rates = []
    params = {"db": CEILING_DATABASE, "rp": "evidence", "precision": "ns"}
    with httpx.Client(base_url=influx.url, auth=influx.auth, timeout=60) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            for body in bodies:
                client.post("/write", params=params, content=body).raise_for_status()
            rates.append(points / (time.perf_counter() - started))
    return Ceiling(
        "storage (InfluxDB, line protocol)",
        statistics.median(rates),
        f"{points:,} points in writes of {LINES_PER_WRITE:,} lines, one writer, median of {rounds}",
    )


CEILING_SUBSCRIBER = "fieldwatch-ceiling-sub"


def transport_ceiling(
    records_per_message: int,
    messages: int,
    publishers: int = 4,
    rounds: int = 3,
    broker: BrokerEndpoint | None = None,
) -> Ceiling:
    """Median messages/s relayed at QoS 1 from ``publishers`` C clients to one C subscriber.

    On ``broker`` if given (nothing else should subscribe there meanwhile), else on a
    private broker of its own.
    """
    _topic, payload = encode_records(1, 0, records_per_message, int(time.time()))
    per_publisher = messages // publishers
    rates = []
    with tempfile.TemporaryDirectory(prefix="fieldwatch-transport-") as folder:
        payload_file = Path(folder) / "payload.cbor"
        payload_file.write_bytes(payload)
        with ExitStack() as stack:
            if broker is None:
                server = stack.enter_context(
                    bench_broker(Path(folder) / "mosquitto", persistence=False)
                )
                broker = broker_endpoint(server)
            env = broker.client_environment(Path(folder) / "client-options")
            for _ in range(rounds):
                rates.append(_relay_round(broker, env, payload_file, per_publisher, publishers))
    rates = [r for r in rates if r > 0]
    median_messages = statistics.median(rates) if rates else 0.0
    return Ceiling(
        "transport (Mosquitto, QoS 1)",
        median_messages * records_per_message,
        f"{median_messages:,.0f} msg/s of {len(payload):,} B ({records_per_message} readings "
        f"each), {publishers} mosquitto_pub -> 1 mosquitto_sub, median of {rounds}",
    )


def _subscribed(subscriber: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0) -> bool:
    """Until the subscriber's log shows its SUBACK; False if it ended or never got one.

    Publishing before that would lose messages the subscriber then waits for."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and subscriber.poll() is None:
        if b"received SUBACK" in log.read_bytes():
            return True
        time.sleep(0.02)
    return False


def _relay_round(
    broker: BrokerEndpoint,
    env: dict[str, str],
    payload: Path,
    per_publisher: int,
    publishers: int,
) -> float:
    """Messages/s from the first publish to the subscriber's last message; 0 on failure."""
    total = per_publisher * publishers
    host, port = broker.host, str(broker.port)
    log = payload.parent / "subscriber.log"
    with log.open("wb") as log_file:
        # -d: the client logs when the broker granted the subscription, line-buffered by
        # stdbuf so it can be read at once; -F %l: each payload's length, not its bytes.
        subscriber = subprocess.Popen(
            [
                *(find_executable("stdbuf"), "-oL"),
                *(find_executable("mosquitto_sub"), "-h", host, "-p", port, "-q", "1", "-d"),
                *("-t", "fw/v1/+/up/batch", "-i", CEILING_SUBSCRIBER, "-C", str(total)),
                *("-F", "%l"),
            ],
            stdout=log_file,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    senders: list[subprocess.Popen[bytes]] = []
    try:
        if not _subscribed(subscriber, log):
            return 0.0
        started = time.perf_counter()
        senders = [
            subprocess.Popen(
                [
                    *(find_executable("mosquitto_pub"), "-h", host, "-p", port, "-q", "1"),
                    *("-t", f"fw/v1/br-{n + 1:06d}/up/batch", "-f", str(payload)),
                    *("--repeat", str(per_publisher), "-i", f"fieldwatch-ceiling-pub-{n}"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            for n in range(publishers)
        ]
        subscriber.wait(timeout=120)
        elapsed = time.perf_counter() - started
        for sender in senders:
            sender.wait(timeout=30)
    except subprocess.TimeoutExpired:
        return 0.0
    finally:
        for process in (subscriber, *senders):
            if process.poll() is None:
                process.kill()
                process.wait()
    return total / elapsed if subscriber.returncode == 0 else 0.0
