"""``fieldwatch simulate`` end to end, and the simulator's determinism."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import contract as c
from fieldwatch.cli import app
from fieldwatch_dev.local import MosquittoServer
from fieldwatch_dev.simulator.scenario import ScenarioError, load_scenario
from fieldwatch_dev.simulator.world import World
from tests.firmware.fleet_helpers import DRAIN_WALL_S, running_fleet


@pytest.mark.services
def test_simulate_prints_progress_and_a_summary_matching_its_subscriber(
    mosquitto: MosquittoServer,
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--broker",
            mosquitto.url,
            "--bracelets",
            "15",
            "--sensors",
            "3",
            "--duration",
            "300",
            "--speedup",
            "0",
            "--seed",
            "4",
            "--progress-every",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "scenario shanghai-minhang, seed 4: 15 bracelets, 3 river stations" in out
    assert re.search(r"t\+\s+\d+s  connected \d+/18  made \d+", out)
    made = int(re.search(r"records made:\s+(\d+)", out)[1])  # type: ignore[index]
    delivered = int(re.search(r"records delivered: (\d+)", out)[1])  # type: ignore[index]
    counted = int(re.search(r"subscriber counted: (\d+) distinct", out)[1])  # type: ignore[index]
    assert "dropped (full buffers): 0; still buffered: 0" in out
    assert made == delivered == counted > 0


def test_simulate_refuses_a_bad_broker_url_and_a_bad_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--broker", "http://x"])
    assert result.exit_code == 2
    assert "mqtt://HOST:PORT" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(ScenarioError, match="start"):
        load_scenario(bad)


def test_the_world_is_the_same_for_the_same_seed() -> None:
    scenario = load_scenario()
    one, again, other = World(scenario, 3), World(scenario, 3), World(scenario, 4)
    times = range(scenario.start_ts, scenario.start_ts + 86_400, 397)
    states = [one.wearer_state(n, t, None) for n in range(1, 30) for t in times]
    assert states == [again.wearer_state(n, t, None) for n in range(1, 30) for t in times]
    assert states != [other.wearer_state(n, t, None) for n in range(1, 30) for t in times]
    assert one.water(2, scenario.start_ts + 3600) == again.water(2, scenario.start_ts + 3600)


@pytest.mark.services
def test_a_fleet_makes_the_same_fixes_and_samples_for_the_same_seed(
    mosquitto: MosquittoServer,
) -> None:
    def run() -> list[tuple[str, int, int]]:
        with running_fleet(mosquitto, 10, 2, seed=9) as fleet:
            fleet.run(600, speedup=0)
            assert fleet.drain(DRAIN_WALL_S)
            return sorted(
                (d.device_id, kind, sum(1 for _, _, k in d.ledger if k == kind))
                for d in fleet.devices
                for kind in (c.LOCATION_FIX, c.WATER_SAMPLE, c.EVENT)
            )

    assert run() == run()


def test_the_scenario_describes_shanghai_incidents() -> None:
    scenario = load_scenario()
    kinds = {i.kind for i in scenario.bracelet_incidents}
    assert {
        "strap_cut",
        "sos",
        "exclusion_zone",
        "leave_county",
        "battery_rundown",
        "offline",
    } <= kinds
    assert {i.kind for i in scenario.sensor_incidents} == {
        "pollution",
        "calibration",
        "stuck",
        "offline",
    }
    world = World(scenario, 1)
    start = scenario.start_ts
    polluted = world.water(2, start + 3000)
    clean = world.water(2, start + 60)
    assert polluted[7][0] > clean[7][0] + 2000  # ammonia up by more than 2 mg/L
    assert polluted[3][0] < clean[3][0]  # less oxygen
    assert world.water(4, start + 60)[3][1] == c.VALUE_CALIBRATING
    assert world.water(5, start + 60)[5] == world.water(5, start + 6000)[5]  # stuck turbidity
