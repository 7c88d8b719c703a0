"""The chaos run: a fleet publishes steadily while the pipeline is broken, on a seeded
schedule, in every way a district sees; at the end every record is accounted for.

Faults (one at a time, each back after a random outage):

- ``gateway_kill``: SIGKILL of ``fieldwatch edge run``, started again;
- ``cloud_kill``: SIGKILL of ``fieldwatch cloud serve``, started again;
- ``influx_stop``: InfluxDB stopped, started again;
- ``broker_restart``: Mosquitto stopped (clean: it saves its sessions), started again;
- ``uplink_cut``: the relay between gateway and cloud closed (requests in flight break),
  opened again.

The fleet is the simulator (``fieldwatch_dev.simulator``): the real device agents, whose
ledger says which (boot, seq) each device made and whose buffer counts what it dropped.
The verdict compares that with every (boot, seq) read back from InfluxDB.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fieldwatch_dev.bench.influx import RECORD_MEASUREMENTS, InfluxReader
from fieldwatch_dev.bench.stack import GatewayTuning, Stack
from fieldwatch_dev.simulator.fleet import Fleet, bracelet_id, station_id
from fieldwatch_dev.simulator.scenario import load_scenario
from fieldwatch_dev.simulator.world import World

FAULTS = ("gateway_kill", "cloud_kill", "influx_stop", "broker_restart", "uplink_cut")


@dataclass(frozen=True)
class PlannedFault:
    at_s: float  # from the start of the fleet's run
    kind: str
    outage_s: float


@dataclass(frozen=True)
class ChaosOptions:
    duration_s: float
    seed: int = 1
    bracelets: int = 60
    sensors: int = 10
    speedup: float = 10.0  # simulated seconds per wall second: a steady stream of records
    max_outage_s: float = 12.0
    settle_timeout_s: float = 180.0


def plan_faults(duration_s: float, seed: int, max_outage_s: float) -> list[PlannedFault]:
    """Faults at seeded random times; every kind once per round, rounds in random order.

    The last fault ends, outage included, at least a tenth of the run before its end.
    """
    rng = random.Random(seed)
    plan: list[PlannedFault] = []
    max_gap = max(2.0, min(20.0, duration_s / 15))
    min_outage = min(2.0, max_outage_s)
    at = rng.uniform(1.0, max_gap)
    cycle: list[str] = []
    while True:
        if not cycle:
            cycle = list(FAULTS)
            rng.shuffle(cycle)
        outage = rng.uniform(min_outage, max_outage_s)
        if at + outage > duration_s * 0.9:
            return plan
        plan.append(PlannedFault(round(at, 2), cycle.pop(), round(outage, 2)))
        at += outage + rng.uniform(1.0, max_gap)


@dataclass
class InjectedFault:
    kind: str
    at_s: float
    outage_s: float  # from the break until the part answers again


@dataclass
class DeviceAccount:
    made: int
    stored: int
    dropped: int
    missing: int
    duplicates: int
    unexpected: int
    held: int = 0  # still in the device's buffer at the end (a device that powered off)

    @property
    def unaccounted(self) -> int:
        """Missing and neither counted as dropped nor still held by the device; plus every
        record stored twice or never made. Without held records, missing must equal the
        drop counter exactly."""
        if self.held == 0:
            lost = abs(self.missing - self.dropped)
        else:
            lost = max(0, self.missing - self.dropped - self.held)
        return lost + self.duplicates + self.unexpected


@dataclass
class ChaosResult:
    seed: int
    duration_s: float
    devices: int
    faults: list[InjectedFault] = field(default_factory=list)
    accounts: dict[str, DeviceAccount] = field(default_factory=dict)
    settled_s: float = 0.0
    drained: bool = False

    def fault_counts(self) -> dict[str, int]:
        counts = Counter(f.kind for f in self.faults)
        return {kind: counts.get(kind, 0) for kind in FAULTS}

    def total(self, name: str) -> int:
        return sum(int(getattr(a, name)) for a in self.accounts.values())

    @property
    def ok(self) -> bool:
        return self.drained and self.total("unaccounted") == 0

    def summary_lines(self) -> list[str]:
        counts = self.fault_counts()
        faults = ", ".join(f"{kind} {n}" for kind, n in counts.items())
        outages = [f.outage_s for f in self.faults]
        longest = max(outages, default=0.0)
        return [
            f"chaos run: seed {self.seed}, {self.duration_s:g} s, {self.devices} devices",
            f"faults injected: {len(self.faults)} ({faults}); longest outage {longest:.1f} s",
            f"records made: {self.total('made')}; stored once in InfluxDB: "
            f"{self.total('stored') - self.total('duplicates')}",
            f"dropped by devices (their counters): {self.total('dropped')}; "
            f"missing from InfluxDB: {self.total('missing')}; still held by powered-off "
            f"devices: {self.total('held')}",
            f"stored twice: {self.total('duplicates')}; stored but never made: "
            f"{self.total('unexpected')}",
            f"unaccounted: {self.total('unaccounted')}"
            + ("" if self.drained else " (the fleet did not drain)"),
            f"settled {self.settled_s:.1f} s after the fleet stopped; "
            + (
                "PASS: every record stored exactly once, counted as dropped, "
                "or held by a powered-off device"
                if self.ok
                else "FAIL"
            ),
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "duration_s": self.duration_s,
            "devices": self.devices,
            "faults": [vars(f) for f in self.faults],
            "fault_counts": self.fault_counts(),
            "made": self.total("made"),
            "stored": self.total("stored"),
            "dropped": self.total("dropped"),
            "missing": self.total("missing"),
            "duplicates": self.total("duplicates"),
            "unexpected": self.total("unexpected"),
            "held": self.total("held"),
            "unaccounted": self.total("unaccounted"),
            "not_clean_devices": {
                device_id: vars(account)
                for device_id, account in self.accounts.items()
                if account.missing or account.duplicates or account.unexpected or account.held
            },
            "drained": self.drained,
            "ok": self.ok,
        }


def fleet_devices(bracelets: int, sensors: int) -> dict[str, str]:
    devices = {bracelet_id(n): "bracelet" for n in range(1, bracelets + 1)}
    devices.update({station_id(n): "river-station" for n in range(1, sensors + 1)})
    return devices


class _FleetRunner:
    """The fleet on a thread of its own (services stay on the main thread)."""

    def __init__(self, fleet: Fleet, seconds: int, speedup: float) -> None:
        self.fleet = fleet
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(seconds, speedup), name="chaos-fleet", daemon=True
        )

    def _run(self, seconds: int, speedup: float) -> None:
        try:
            self.fleet.run(seconds, speedup)
        except BaseException as exc:
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error


def _break(stack: Stack, kind: str) -> Callable[[], None]:
    """Inject one fault now; return what brings the part back."""
    assert stack.gateway is not None
    assert stack.cloud is not None
    assert stack.influx is not None
    assert stack.broker is not None
    if kind == "gateway_kill":
        stack.gateway.kill()
        return stack.gateway.start
    if kind == "cloud_kill":
        stack.cloud.kill()
        return stack.cloud.start
    if kind == "influx_stop":
        stack.influx.stop()
        return stack.influx.start
    if kind == "broker_restart":
        stack.broker.stop()
        return stack.broker.start
    if kind == "uplink_cut":
        assert stack.proxy is not None
        stack.proxy.cut()
        return stack.proxy.restore
    raise ValueError(f"unknown fault {kind}")


def run_chaos(
    options: ChaosOptions, folder: Path, say: Callable[[str], None] = print
) -> ChaosResult:
    """Run the fleet for ``duration_s`` wall seconds under faults; account for every record."""
    devices = fleet_devices(options.bracelets, options.sensors)
    result = ChaosResult(options.seed, options.duration_s, len(devices))
    plan = plan_faults(options.duration_s, options.seed, options.max_outage_s)
    gateway = GatewayTuning(forward_batch_max_age_s=0.5, backoff_max_s=4.0)
    with Stack(folder, devices, proxy=True, gateway=gateway) as stack:
        world = World(load_scenario(None), options.seed)
        fleet = Fleet(stack.broker_endpoint.url, world, options.bracelets, options.sensors)
        say(
            f"fleet: {options.bracelets} bracelets, {options.sensors} river stations at "
            f"x{options.speedup:g}; {len(plan)} faults planned (seed {options.seed})"
        )
        runner = _FleetRunner(fleet, round(options.duration_s * options.speedup), options.speedup)
        started = time.monotonic()
        runner.start()
        try:
            for fault in plan:
                delay = started + fault.at_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                broke = time.monotonic()
                restore = _break(stack, fault.kind)
                time.sleep(max(0.0, broke + fault.outage_s - time.monotonic()))
                restore()
                injected = InjectedFault(
                    fault.kind, round(broke - started, 2), round(time.monotonic() - broke, 2)
                )
                result.faults.append(injected)
                say(
                    f"  t+{injected.at_s:6.1f}s {fault.kind:<15} back after "
                    f"{injected.outage_s:5.1f} s"
                )
        finally:
            runner.join()
        say("fleet stopped making records; draining devices and pipeline ...")
        result.drained = _drain(fleet, options.settle_timeout_s)
        expected = sum(
            len(d.ledger) - d.agent.buffer.dropped - len(d.agent.buffer) for d in fleet.devices
        )
        reader = InfluxReader(stack.influx_endpoint)
        try:
            stopped = time.monotonic()
            _wait_until_stored(reader, expected, stopped + options.settle_timeout_s)
            result.settled_s = time.monotonic() - stopped
            stored = reader.records(devices)
        finally:
            reader.close()
            fleet.close()
        for device in fleet.devices:
            result.accounts[device.device_id] = account(
                [(boot, seq) for boot, seq, _kind in device.ledger],
                device.agent.buffer.dropped,
                stored.get(device.device_id, []),
                held=len(device.agent.buffer),
            )
    return result


def account(
    made: list[tuple[int, int]], dropped: int, stored: list[tuple[int, int]], held: int = 0
) -> DeviceAccount:
    """Compare what a device made with what InfluxDB holds for it."""
    made_set = set(made)
    stored_counts = Counter(stored)
    return DeviceAccount(
        made=len(made_set),
        stored=len(stored),
        dropped=dropped,
        missing=len(made_set - set(stored_counts)),
        duplicates=sum(n - 1 for n in stored_counts.values()),
        unexpected=len(set(stored_counts) - made_set),
        held=held,
    )


def _drain(fleet: Fleet, timeout_s: float) -> bool:
    """Send what the devices hold, until each is idle or powered off.

    A device that powered off (battery run down) keeps in flash what it could not send
    before: that goes out at its next boot, not in this run.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        fleet.drain(1.0)
        if all(d.idle or (d.agent.halted and d.link.client is None) for d in fleet.devices):
            return True
        if time.monotonic() >= deadline:
            return False


def _stored_count(reader: InfluxReader) -> int:
    total = 0
    for policy, measurement in RECORD_MEASUREMENTS:
        for item in reader.query(f'SELECT count("seq") FROM "{policy}"."{measurement}"'):
            total += int(item["values"][0][1])
    return total


def _wait_until_stored(reader: InfluxReader, expected: int, deadline: float) -> None:
    """Until InfluxDB holds ``expected`` points, or the deadline."""
    while time.monotonic() < deadline:
        if _stored_count(reader) >= expected:
            return
        time.sleep(1.0)
