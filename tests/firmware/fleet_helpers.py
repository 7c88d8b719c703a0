"""Building fleets and checking what a subscriber received against what the devices made."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fieldwatch_dev.local import MosquittoServer
from fieldwatch_dev.simulator.fleet import Fleet, FleetOptions
from fieldwatch_dev.simulator.scenario import Scenario, load_scenario
from fieldwatch_dev.simulator.witness import WitnessProcess
from fieldwatch_dev.simulator.world import World

DRAIN_WALL_S = 60.0


def quiet_scenario() -> Scenario:
    """The Shanghai scenario without radio outages: nothing is cut mid-publish."""
    scenario = load_scenario()
    return scenario.model_copy(
        update={
            "bracelet_incidents": [i for i in scenario.bracelet_incidents if i.kind != "offline"],
            "sensor_incidents": [i for i in scenario.sensor_incidents if i.kind != "offline"],
        }
    )


def made(fleet: Fleet) -> dict[tuple[str, int, int], int]:
    """Every record the devices made: (device, boot, seq) -> kind."""
    return {
        (device.device_id, boot, seq): kind
        for device in fleet.devices
        for boot, seq, kind in device.ledger
    }


@contextmanager
def running_fleet(
    broker: MosquittoServer,
    bracelets: int,
    sensors: int,
    *,
    seed: int = 1,
    credentials: dict[str, str] | None = None,
    options: FleetOptions | None = None,
    scenario: Scenario | None = None,
) -> Iterator[Fleet]:
    world = World(scenario or quiet_scenario(), seed)
    fleet = Fleet(broker.url, world, bracelets, sensors, credentials, options)
    try:
        yield fleet
    finally:
        fleet.close()


@contextmanager
def witness_on(
    broker: MosquittoServer, client_id: str, login: tuple[str, str] | None = None
) -> Iterator[WitnessProcess]:
    witness = WitnessProcess(broker.host, broker.port, client_id, login)
    try:
        yield witness
    finally:
        witness.stop()
