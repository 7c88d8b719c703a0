"""``fieldwatch bench rivers --part hj212``: HJ 212 packets per second that the gateway's
listener takes into its buffer, with nothing lost.

The real ``fieldwatch edge run`` (its HJ 212 listener on) on a private Mosquitto, its
cloud unreachable so that every sample stays in its buffer to be counted. Several data
loggers, each a TCP connection of this process, send their stations' uploads (real-time,
minute, hourly and daily data in turn, nine pollutants each, Flag=5: each answered with
9014) with a window of packets unanswered. A round's rate is its packets over the time
from its first packet sent to the buffer's commit count reaching them; each round's
samples are then read back from the buffer file: one per packet sent, each its
station's, with the DataTime sent, and distinct (boot, seq). Rounds run one after the
other in one run on one gateway; the median is reported.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from core.messages import WaterSample
from core.receiver import DeviceKind, decode
from edge.hj212.frame import frame
from edge.registry import render_registry
from fieldwatch_dev.bench.endpoints import BrokerEndpoint
from fieldwatch_dev.bench.stack import GatewayConfig, bench_broker, bench_gateway, broker_endpoint
from fieldwatch_dev.bench.steps import cpu_seconds
from fieldwatch_dev.local import free_port
from fieldwatch_dev.local.fieldwatch_parts import EdgeGateway

Part = Literal["hj212", "classify"]  # classify: rivers_classify.py
ZONE = ZoneInfo("Asia/Shanghai")
CNS = ("2011", "2051", "2061", "2031")
SETTLE_TIMEOUT_S = 60.0
POLL_S = 0.05  # the metrics page reads the buffer at each scrape: not too often


@dataclass(frozen=True)
class Hj212Options:
    loggers: int  # concurrent TCP connections
    stations: int  # each logger speaks for stations / loggers of them
    packets: int  # per round, over all loggers
    rounds: int
    window: int  # packets a logger may have unanswered

    # A logger waits for the answer to a packet before it gives up on it (HJ 212-2017:
    # a timeout, then a resend), so it has only a few unanswered at a time.
    @classmethod
    def full(cls) -> Hj212Options:
        return cls(loggers=16, stations=40, packets=40_000, rounds=3, window=4)

    @classmethod
    def quick(cls) -> Hj212Options:
        return cls(loggers=4, stations=8, packets=2_000, rounds=1, window=4)


@dataclass(frozen=True)
class Hj212Round:
    packets: int
    answered: int
    buffered: int
    lost: int
    seconds: float
    answers_seconds: float
    gateway_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.packets / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Hj212Report:
    options: Hj212Options
    rounds: list[Hj212Round]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def median_per_second(self) -> float:
        return statistics.median(r.per_second for r in self.rounds)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.rounds)

    def to_json(self) -> dict[str, object]:
        return {
            "options": asdict(self.options),
            "rounds": [dict(asdict(r), per_second=r.per_second) for r in self.rounds],
            "median_per_second": self.median_per_second,
            "lost": self.lost,
            "load_before": self.load_before,
            "load_after": self.load_after,
        }


def station_id(n: int) -> str:
    return f"rs-{n + 1:06d}"


def mn_of(n: int) -> str:
    return f"010000A89{n + 1:015d}"


def packet(n: int, station: int, when: datetime) -> bytes:
    """The n-th upload of the run, of ``station``, its DataTime ``when`` (Shanghai time)."""
    cn = CNS[n % len(CNS)]
    field = "Rtd" if cn == "2011" else "Avg"
    local = when.astimezone(ZONE)
    values = (
        ("w01001", 7 + (n % 100) / 100),
        ("w01009", 8.25),
        ("w01010", 18.5),
        ("w01014", 400 + n % 50),
        ("w01003", 12.5),
        ("w01019", 3.1),
        ("w21003", 0.321),
        ("w21011", 0.041),
        ("w21001", 1.35),
    )
    cp = ";".join(f"{code}-{field}={value},{code}-Flag=N" for code, value in values)
    return frame(
        f"QN={n:017d};ST=21;CN={cn};PW=123456;MN={mn_of(station)};Flag=5;"
        f"CP=&&DataTime={local:%Y%m%d%H%M%S};{cp}&&"
    )


def run_hj212(options: Hj212Options, folder: Path, say: Callable[[str], None]) -> Hj212Report:
    """Start a broker and a gateway with its listener, run the rounds, stop them."""
    load_before = os.getloadavg()
    with bench_broker(folder / "mosquitto", persistence=False) as broker:
        gateway, port = _gateway(folder / "gateway", broker_endpoint(broker), options.stations)
        gateway.start()
        try:
            _wait_listening(port)
            rounds = []
            first = time.time() - 20 * 86400  # each station's DataTimes: one second apart
            counters = [0] * options.stations
            for index in range(options.rounds):
                start = index * options.packets
                result = _round(options, gateway, port, start, first, counters)
                say(
                    f"  round {index + 1}: {result.packets:,} packets in {result.seconds:.2f} s"
                    f" = {result.per_second:,.0f} packets/s into the buffer; answered "
                    f"{result.answered:,}, buffered {result.buffered:,}, lost {result.lost}"
                )
                rounds.append(result)
        finally:
            gateway.stop()
    return Hj212Report(options, rounds, load_before, os.getloadavg())


def _gateway(folder: Path, broker: BrokerEndpoint, stations: int) -> tuple[EdgeGateway, int]:
    unreachable = f"http://127.0.0.1:{free_port()}"  # every sample stays in the buffer
    config = GatewayConfig(broker, unreachable, "none")
    gateway = bench_gateway(folder, config, {})
    registry = folder / "hj212-stations.toml"
    folder.mkdir(parents=True, exist_ok=True)
    registry.write_text(
        render_registry(
            {station_id(n): DeviceKind.river_station for n in range(stations)},
            {station_id(n): mn_of(n) for n in range(stations)},
        )
    )
    port = free_port()
    gateway.devices = None
    gateway.settings.update({"registry_path": str(registry), "hj212_listen": f"127.0.0.1:{port}"})
    return gateway, port


def _round(
    options: Hj212Options,
    gateway: EdgeGateway,
    port: int,
    start: int,
    first: float,
    counters: list[int],
) -> Hj212Round:
    """One round; ``counters`` holds each station's uploads so far (their DataTimes)."""
    per_logger = options.packets // options.loggers
    count = per_logger * options.loggers
    loads: list[list[bytes]] = []
    sent: set[tuple[str, int]] = set()
    for logger in range(options.loggers):
        # A logger speaks for its own stations: every loggers-th one.
        own = list(range(logger, options.stations, options.loggers)) or [logger % options.stations]
        frames = []
        for k in range(per_logger):
            n = start + logger * per_logger + k
            station = own[k % len(own)]
            when = datetime.fromtimestamp(int(first) + counters[station], UTC)
            counters[station] += 1
            frames.append(packet(n, station, when))
            sent.add((station_id(station), int(when.timestamp())))
        loads.append(frames)
    committed_before = _committed(gateway)
    assert gateway.pid is not None
    cpu_before = _cpu_with_children(gateway.pid)
    began = time.perf_counter()
    answered = asyncio.run(_send_all(port, loads, options.window))
    answers_done = time.perf_counter()
    deadline = answers_done + SETTLE_TIMEOUT_S
    while _committed(gateway) < committed_before + count and time.perf_counter() < deadline:
        time.sleep(POLL_S)
    finished = time.perf_counter()
    cpu = _cpu_with_children(gateway.pid) - cpu_before
    buffered = _buffered(gateway.folder / "edge-buffer.sqlite3", sent)
    return Hj212Round(
        packets=count,
        answered=answered,
        buffered=buffered,
        lost=count - buffered,
        seconds=finished - began,
        answers_seconds=answers_done - began,
        gateway_cpu_s=cpu,
    )


async def _send_all(port: int, loads: list[list[bytes]], window: int) -> int:
    answers = await asyncio.gather(*(_logger(port, frames, window) for frames in loads))
    return sum(answers)


async def _logger(port: int, frames: list[bytes], window: int) -> int:
    """One data logger: at most ``window`` packets unanswered; the answers it got."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    slots = asyncio.Semaphore(window)
    answered = 0

    async def read_answers() -> None:
        nonlocal answered
        while answered < len(frames):
            line = await reader.readuntil(b"\r\n")
            if b"CN=9014" in line:
                answered += 1
                slots.release()

    reading = asyncio.create_task(read_answers())
    for data in frames:
        await slots.acquire()
        writer.write(data)
        await writer.drain()
    await asyncio.wait_for(reading, SETTLE_TIMEOUT_S)
    writer.close()
    await writer.wait_closed()
    return answered


def _wait_listening(port: int, timeout: float = 60.0) -> None:
    """Until the listener (a process the gateway starts once subscribed) takes connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _cpu_with_children(pid: int) -> float:
    """CPU of the gateway and of its children (the listener's process)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:  # a child is listed under the thread that started it
            children.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children)


def _committed(gateway: EdgeGateway) -> float:
    return gateway.metrics().get("fieldwatch_edge_messages_committed_total", 0.0)


def _buffered(path: Path, sent: set[tuple[str, int]]) -> int:
    """How many of ``sent`` (station, ts) are in the buffer, each once, numbered apart."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT device_id, payload FROM message WHERE channel = 'telemetry'"
        ).fetchall()
    finally:
        connection.close()
    found: set[tuple[str, int]] = set()
    numbers: set[tuple[str, int, int]] = set()
    for device_id, payload in rows:
        sample = decode(bytes(payload), "telemetry")
        if not isinstance(sample, WaterSample):
            continue
        key = (device_id, sample.ts)
        if key in sent:
            found.add(key)
            numbers.add((device_id, sample.boot, sample.seq))
    return min(len(found), len(numbers))


def summary_lines(report: Hj212Report) -> list[str]:
    o = report.options
    rates = ", ".join(f"{r.per_second:,.0f}" for r in report.rounds)
    cpu = statistics.median(r.gateway_cpu_s * 1e6 / r.packets for r in report.rounds)
    return [
        f"HJ 212 listener: {o.loggers} loggers, {o.stations} stations, {o.packets:,} packets"
        f" a round, window {o.window}, {len(report.rounds)} round(s)",
        f"  median {report.median_per_second:,.0f} packets/s into the buffer (rounds {rates});"
        f" lost {report.lost}; gateway CPU {cpu:,.0f} us a packet",
        "  load average before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
            *report.load_before, *report.load_after
        ),
    ]
