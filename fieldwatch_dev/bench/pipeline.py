"""``fieldwatch bench pipeline``: the whole pipeline under rising load, beside its two
ceilings and a peer, in one run on this machine.

Order: start the stack (broker, InfluxDB, cloud, gateway), run the load steps, measure
the ceilings with the stack idle, then the peer bridge on a broker of its own with the
gateway left idle. Every rate comes from the same run, so ratios compare like with like
on a shared, noisy machine.

With a given broker (``PipelineOptions.broker``) the gateway is stopped after the steps
and its session ended, and the transport ceiling and the peer use that broker; with a
given InfluxDB (``PipelineOptions.influx``) the cloud writes into its database there, and
the storage ceiling and the peer write into databases ``ceiling`` and ``peer`` beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from fieldwatch_dev.bench.ceilings import (
    Ceiling,
    create_database,
    storage_ceiling,
    transport_ceiling,
)
from fieldwatch_dev.bench.endpoints import BrokerEndpoint, InfluxEndpoint
from fieldwatch_dev.bench.peer import PEER_CLIENT_ID, PEER_DATABASE, PeerBridge
from fieldwatch_dev.bench.stack import Stack, bench_broker, broker_endpoint
from fieldwatch_dev.bench.steps import PROBE_DEVICE, StepResult, Target, run_step

QUICK_STEPS = (5000.0, 20000.0)
FULL_STEPS = (
    2000.0,
    5000.0,
    10000.0,
    15000.0,
    20000.0,
    25000.0,
    30000.0,
    35000.0,
    40000.0,
    50000.0,
)
QUICK_PEER_STEPS = (2000.0,)
FULL_PEER_STEPS = (1000.0, 5000.0, 10000.0, 15000.0, 20000.0, 25000.0, 30000.0, 40000.0)


@dataclass(frozen=True)
class PipelineOptions:
    steps: tuple[float, ...]
    peer_steps: tuple[float, ...]
    step_seconds: float
    records_per_message: int = 100
    devices: int = 20
    drain_timeout_s: float = 30.0
    storage_points: int = 200_000
    transport_messages: int = 40_000
    rounds: int = 3
    stop_after_failures: int = 2
    broker: BrokerEndpoint | None = None  # None: a private Mosquitto
    influx: InfluxEndpoint | None = None  # None: a private InfluxDB

    @classmethod
    def quick(cls) -> PipelineOptions:
        return cls(
            QUICK_STEPS,
            QUICK_PEER_STEPS,
            5.0,
            drain_timeout_s=10.0,
            storage_points=50_000,
            transport_messages=10_000,
            rounds=1,
        )

    @classmethod
    def full(cls) -> PipelineOptions:
        return cls(FULL_STEPS, FULL_PEER_STEPS, 15.0)


@dataclass
class PipelineReport:
    options: PipelineOptions
    steps: list[StepResult] = field(default_factory=list)
    ceilings: list[Ceiling] = field(default_factory=list)
    peer: list[StepResult] = field(default_factory=list)
    cloud_max_rss_mib: float = 0.0
    gateway_max_rss_mib: float = 0.0
    elapsed_s: float = 0.0

    @property
    def sustained_per_s(self) -> float:
        return sustained(self.steps)

    @property
    def peer_sustained_per_s(self) -> float:
        return sustained(self.peer)

    @property
    def lower_ceiling(self) -> Ceiling | None:
        measured = [c for c in self.ceilings if c.readings_per_s > 0]
        return min(measured, key=lambda c: c.readings_per_s, default=None)

    def ratios(self) -> dict[str, float | None]:
        ceiling = self.lower_ceiling
        ours = self.sustained_per_s
        peer = self.peer_sustained_per_s
        return {
            "of_lower_ceiling": ours / ceiling.readings_per_s if ceiling else None,
            "of_peer": ours / peer if peer else None,
        }

    def p99_at_half_sustained(self) -> tuple[float, float | None] | None:
        """(target, p99) of the step nearest half the sustained load."""
        half = self.sustained_per_s / 2
        if half <= 0:
            return None
        step = min(self.steps, key=lambda s: abs(s.target_per_s - half))
        return step.target_per_s, step.p99_s

    def to_json(self) -> dict[str, object]:
        return {
            "services": services_json(self.options),
            "records_per_message": self.options.records_per_message,
            "devices": self.options.devices,
            "step_seconds": self.options.step_seconds,
            "steps": [s.to_json() for s in self.steps],
            "sustained_readings_per_s": self.sustained_per_s,
            "ceilings": [vars(c) for c in self.ceilings],
            "peers": {"paho_per_message_writes": [s.to_json() for s in self.peer]},
            "peer_sustained_readings_per_s": self.peer_sustained_per_s,
            "ratios": self.ratios(),
            "cloud_max_rss_mib": self.cloud_max_rss_mib,
            "gateway_max_rss_mib": self.gateway_max_rss_mib,
            "elapsed_s": self.elapsed_s,
        }


def services_json(options: PipelineOptions) -> dict[str, str]:
    """Which broker and InfluxDB the run used (never a password)."""
    return {
        "broker": "private" if options.broker is None else options.broker.shown(),
        "influx": "private" if options.influx is None else options.influx.url,
        "influx_database": "fieldwatch" if options.influx is None else options.influx.database,
    }


def sustained(steps: Sequence[StepResult]) -> float:
    """The highest offered load of a step that was sustained (0 if none)."""
    return max((s.target_per_s for s in steps if s.sustained), default=0.0)


def step_devices(count: int) -> tuple[str, ...]:
    return tuple(f"br-{n:06d}" for n in range(1, count + 1))


def _run_steps(
    target: Target,
    rates: Sequence[float],
    options: PipelineOptions,
    first_boot: int,
    say: Callable[[str], None],
) -> list[StepResult]:
    results: list[StepResult] = []
    failures = 0
    devices = step_devices(options.devices)
    for number, rate in enumerate(rates):
        result = run_step(
            target,
            devices,
            first_boot + number,
            rate,
            options.records_per_message,
            options.step_seconds,
            options.drain_timeout_s,
        )
        results.append(result)
        say(step_row(target.name, result))
        failures = 0 if result.sustained else failures + 1
        if failures >= options.stop_after_failures:
            break
    return results


def run_pipeline(
    options: PipelineOptions, folder: Path, say: Callable[[str], None] = print
) -> PipelineReport:
    """The steps, the ceilings and the peer; see the module docstring."""
    started = time.monotonic()
    report = PipelineReport(options)
    devices = {d: "bracelet" for d in step_devices(options.devices)}
    devices[PROBE_DEVICE] = "bracelet"
    say(
        f"{options.devices} devices + 1 probe, QoS 1, {options.records_per_message} readings "
        f"per message ({'contract batches, up/batch' if options.records_per_message > 1 else 'up/telemetry'}), "
        f"{options.step_seconds:g} s per step"
    )
    services = services_json(options)
    say(
        f"broker: {services['broker']}; InfluxDB: {services['influx']} "
        f"(database {services['influx_database']})"
    )
    with Stack(folder / "stack", devices, broker=options.broker, influx=options.influx) as stack:
        assert stack.cloud is not None
        assert stack.gateway is not None
        cloud_pid, gateway_pid = stack.cloud.pid or 0, stack.gateway.pid or 0
        say(f"stack up after {time.monotonic() - started:.1f} s")
        say(table_header())
        influx = stack.influx_endpoint
        target = Target("pipeline", stack.broker_endpoint, influx, (cloud_pid, gateway_pid))
        report.steps = _run_steps(target, options.steps, options, 1, say)
        for step in report.steps:
            report.cloud_max_rss_mib = max(
                report.cloud_max_rss_mib, step.max_rss_mib.get(cloud_pid, 0.0)
            )
            report.gateway_max_rss_mib = max(
                report.gateway_max_rss_mib, step.max_rss_mib.get(gateway_pid, 0.0)
            )
        if options.broker is not None:
            # The ceiling and the peer publish on this broker: not for our gateway.
            stack.retire_gateway()
        report.ceilings.append(storage_ceiling(influx, options.storage_points, options.rounds))
        report.ceilings.append(
            transport_ceiling(
                options.records_per_message,
                options.transport_messages,
                rounds=options.rounds,
                broker=options.broker,
            )
        )
        report.peer = _run_peer(options, folder, influx.with_database(PEER_DATABASE), say)
    report.elapsed_s = time.monotonic() - started
    return report


def _run_peer(
    options: PipelineOptions,
    folder: Path,
    influx: InfluxEndpoint,
    say: Callable[[str], None],
) -> list[StepResult]:
    """The peer's steps, on the given broker or a private one, into ``influx.database``."""
    create_database(influx)
    with ExitStack() as services:
        broker = options.broker
        if broker is None:
            broker = broker_endpoint(services.enter_context(bench_broker(folder / "peer-broker")))
        else:
            services.callback(broker.clear_session, PEER_CLIENT_ID)
        bridge = PeerBridge(broker, influx)
        bridge.start()
        services.callback(bridge.stop)
        peer = Target("paho peer", broker, influx, (bridge.pid or 0,))
        return _run_steps(peer, options.peer_steps, options, 101, say)


def _bound_note(steps: Sequence[StepResult], rate: float) -> str:
    """Say so when the highest step tried was sustained: the limit lies above it."""
    top = max((s.target_per_s for s in steps), default=0.0)
    return " (the highest step tried: a lower bound)" if steps and rate >= top else ""


def _ratio_note(report: PipelineReport) -> str:
    """A ratio of two rates is only as firm as they are: say which one is a lower bound."""
    ours_open = bool(_bound_note(report.steps, report.sustained_per_s))
    peer_open = bool(_bound_note(report.peer, report.peer_sustained_per_s))
    if ours_open and peer_open:
        return " (both rates are lower bounds: not a measured ratio)"
    if ours_open:
        return " (ours is a lower bound: at least this)"
    if peer_open:
        return " (the peer's rate is a lower bound: at most this)"
    return ""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def table_header() -> str:
    return (
        "| target | load/s | offered/s | stored/s | stored | lost | p50 ms | p99 ms | sustained |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )


def step_row(name: str, step: StepResult) -> str:
    return (
        f"| {name} | {step.target_per_s:,.0f} | {step.offered_per_s:,.0f} | "
        f"{step.stored_per_s:,.0f} | {step.stored:,} | {step.lost:,} | {_ms(step.p50_s)} | "
        f"{_ms(step.p99_s)} | {'yes' if step.sustained else 'no'} |"
    )


def summary_lines(report: PipelineReport) -> list[str]:
    lines = ["", "ceilings (same points / same payloads, stack idle):"]
    for ceiling in report.ceilings:
        if ceiling.readings_per_s > 0:
            lines.append(
                f"  {ceiling.name}: {ceiling.readings_per_s:,.0f} readings/s ({ceiling.detail})"
            )
        else:
            lines.append(f"  {ceiling.name}: not measured (the measuring clients failed)")
    ratios = report.ratios()
    ours = report.sustained_per_s
    peer = report.peer_sustained_per_s
    lines.append("")
    lines.append(
        f"pipeline sustained (zero loss, p99 < 2 s for the whole step): {ours:,.0f} readings/s"
        + _bound_note(report.steps, ours)
    )
    lower = report.lower_ceiling
    if lower is not None and ratios["of_lower_ceiling"] is not None:
        lines.append(f"  = {ratios['of_lower_ceiling']:.2f} of the lower ceiling ({lower.name})")
    lines.append(f"paho peer sustained: {peer:,.0f} readings/s" + _bound_note(report.peer, peer))
    if ratios["of_peer"] is not None:
        lines.append(f"  ours / peer = {ratios['of_peer']:.1f}x" + _ratio_note(report))
    half = report.p99_at_half_sustained()
    if half is not None:
        lines.append(
            f"p99 at {half[0]:,.0f}/s (nearest step to half the sustained load): {_ms(half[1])} ms"
        )
    lines.append(
        f"memory, max RSS during the steps: cloud {report.cloud_max_rss_mib:,.0f} MiB, "
        f"gateway {report.gateway_max_rss_mib:,.0f} MiB"
    )
    lines.append(
        "mqtt2influxdb (PyPI): not run; see docs/benchmarks.md (v3-only client, InfluxDB 1.6 here)"
    )
    lines.append(f"whole run: {report.elapsed_s:.0f} s")
    return lines
