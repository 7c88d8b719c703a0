"""Runs a fleet of simulated devices on a simulated clock, in one thread.

The clock moves in whole simulated seconds. At each second every device that
is due (its agent's next wake, a scenario change, or something its link
reported) takes a step; between seconds the network is pumped: one
``select`` over every device's socket and paho's read/write/misc calls.
With ``speedup`` X a simulated second lasts 1/X wall seconds (0: as fast as
the machine goes). What the devices sense depends only on the seed and the
simulated time, so the records made are the same on every run; only which
of them travel live and which in a catch-up batch depends on the broker.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from core import contract as c
from fieldwatch_dev.simulator.devices import SimBracelet, SimDevice, SimRiverStation
from fieldwatch_dev.simulator.world import World
from firmware_py.host.paho_link import PahoLink

MISC_EVERY_S = 1.0  # paho keepalive and timeouts, in wall time


class FleetError(RuntimeError):
    """The fleet cannot run as asked (bad broker address, missing credentials)."""


def parse_broker(url: str) -> tuple[str, int]:
    """``mqtt://HOST:PORT`` -> (host, port)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise FleetError(f"broker must look like mqtt://HOST:PORT, not {url!r}")
    return parts.hostname, parts.port or 1883


def bracelet_id(number: int) -> str:
    return f"br-{number:06d}"


def station_id(number: int) -> str:
    return f"rs-{number:06d}"


@dataclass
class FleetStats:
    """Counts over the whole fleet at one moment."""

    devices: int = 0
    connected: int = 0
    created: int = 0
    created_by_kind: dict[str, int] = field(default_factory=dict)
    sent_live: int = 0
    sent_batched: int = 0
    batches: int = 0
    buffered: int = 0
    dropped: int = 0
    in_flight: int = 0

    @property
    def delivered(self) -> int:
        """Records the broker acknowledged."""
        return self.sent_live + self.sent_batched


@dataclass
class FleetOptions:
    """How the simulated devices are built."""

    capacity: int = 2000  # flash buffer slots per device
    window: int = 8  # publishes in flight per device
    agent_options: dict[str, Any] = field(default_factory=dict)


class Fleet:
    """N bracelets and M river stations against one broker."""

    def __init__(
        self,
        broker_url: str,
        world: World,
        bracelets: int,
        sensors: int,
        credentials: dict[str, str] | None = None,
        options: FleetOptions | None = None,
    ) -> None:
        host, port = parse_broker(broker_url)
        self.world = world
        self.now = world.start_ts
        options = options or FleetOptions()
        self.devices: list[SimDevice] = []
        for number in range(1, bracelets + 1):
            device_id = bracelet_id(number)
            link = PahoLink(device_id, host, port, _password(credentials, device_id))
            self.devices.append(
                SimBracelet(number, device_id, world, link, **self._agent_options(options, number))
            )
        for number in range(1, sensors + 1):
            device_id = station_id(number)
            link = PahoLink(device_id, host, port, _password(credentials, device_id))
            self.devices.append(
                SimRiverStation(
                    number, device_id, world, link, **self._agent_options(options, 1000 + number)
                )
            )
        self._last_misc = 0.0
        self._started = False

    @staticmethod
    def _agent_options(options: FleetOptions, number: int) -> dict[str, Any]:
        return {
            "capacity": options.capacity,
            "window": options.window,
            "seed": number,
            **options.agent_options,
        }

    def device(self, device_id: str) -> SimDevice:
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(device_id)

    # --- running ---------------------------------------------------------------------

    def start(self) -> None:
        """Boot every device (simulated time stands at the scenario's start)."""
        for device in self.devices:
            device.start(self.now)
        self._started = True

    def run(
        self,
        seconds: int,
        speedup: float = 1.0,
        progress: Callable[[FleetStats, int], None] | None = None,
        progress_every_s: float = 5.0,
    ) -> None:
        """Advance the simulated clock by ``seconds``, the devices working as they go."""
        if not self._started:
            self.start()
        wall0 = time.monotonic()
        last_progress = wall0
        for tick in range(seconds):
            self._tick(produce=True)
            if speedup > 0:
                deadline = wall0 + (tick + 1) / speedup
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.pump(min(left, 0.05))
            else:
                self.pump(0)
            if progress is not None and time.monotonic() - last_progress >= progress_every_s:
                last_progress = time.monotonic()
                progress(self.stats(), self.now - self.world.start_ts)

    def run_until_subscribed(self, max_seconds: int = 600) -> bool:
        """Run (making records) until every device can hear its config and commands."""
        for _ in range(max_seconds):
            if all(device.subscribed for device in self.devices):
                return True
            self.run(1, speedup=0)
            self.pump(0.01)
        return all(device.subscribed for device in self.devices)

    def drain(self, wall_timeout_s: float = 60.0) -> bool:
        """Stop making records; keep connecting and sending until every device is idle.

        The clock keeps moving (so reconnection backoff runs out), every
        device's radio is on. Returns False if ``wall_timeout_s`` passed first.
        """
        deadline = time.monotonic() + wall_timeout_s
        while time.monotonic() < deadline:
            if all(device.idle for device in self.devices):
                return True
            self._tick(produce=False)
            self.pump(0.005)
        return all(device.idle for device in self.devices)

    def close(self) -> None:
        """Disconnect every device cleanly."""
        for device in self.devices:
            device.link.close()

    def _tick(self, produce: bool) -> None:
        self.now += 1
        now = self.now
        for device in self.devices:
            if device.link.events or now >= device.wake_at or not produce:
                device.step(now, produce)

    def pump(self, timeout: float) -> None:
        """One round of network I/O for every link: select, read, write, keepalive."""
        readers: dict[Any, PahoLink] = {}
        writers: list[Any] = []
        for device in self.devices:
            sock = device.link.socket()
            if sock is None:
                continue
            readers[sock] = device.link
            if device.link.want_write():
                writers.append(sock)
        if not readers:
            if timeout > 0:
                time.sleep(timeout)
            return
        readable, writable, _ = select.select(list(readers), writers, [], timeout)
        for sock in writable:
            readers[sock].write()
        for sock in readable:
            readers[sock].read()
        wall = time.monotonic()
        if wall - self._last_misc >= MISC_EVERY_S:
            self._last_misc = wall
            for link in readers.values():
                link.misc()

    # --- counting ------------------------------------------------------------------------

    def stats(self) -> FleetStats:
        stats = FleetStats(devices=len(self.devices))
        for device in self.devices:
            agent = device.agent
            uplink = agent.uplink
            stats.connected += 1 if uplink.connected else 0
            stats.created += len(device.ledger)
            for kind, count in agent.created_by_kind.items():
                name = c.KIND_NAMES[kind]
                stats.created_by_kind[name] = stats.created_by_kind.get(name, 0) + count
            stats.sent_live += uplink.sent_live
            stats.sent_batched += uplink.sent_batched
            stats.batches += uplink.batches
            stats.buffered += len(agent.buffer)
            stats.dropped += agent.buffer.dropped
            stats.in_flight += uplink.in_flight
        return stats


def _password(credentials: dict[str, str] | None, device_id: str) -> str | None:
    if credentials is None:
        return None
    if device_id not in credentials:
        raise FleetError(f"no credentials for {device_id}")
    return credentials[device_id]
