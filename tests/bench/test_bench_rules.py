"""`fieldwatch bench rules`: the zones part's fleet and report, the pipeline part's run with
the rules off and on and its report (their shapes, never their speed)."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import geofence
from fieldwatch.cli import app
from fieldwatch_dev.bench.rules import ZONES_PER_PERSON, make_fleet, one_cpu
from fieldwatch_dev.bench.rules_pipeline import climb_start, refine_rate


def test_every_person_has_a_county_two_circles_and_two_more_polygons() -> None:
    fleet = make_fleet(persons=6, fixes=300, seed=3)
    assert len(fleet.zones) == 6 * ZONES_PER_PERSON
    for p in range(6):
        own = fleet.zones[p * ZONES_PER_PERSON : (p + 1) * ZONES_PER_PERSON]
        assert [z.shape for z in own] == ["polygon", "circle", "polygon", "circle", "polygon"]
        county = own[0]
        assert 10_000 < county.max_x - county.min_x < 50_000
        assert all(8 <= len(z.vertices) <= 40 for z in own if z.shape == "polygon")
    assert set(fleet.person.tolist()) <= set(range(6))
    assert fleet.accuracy_m.min() >= 3
    assert fleet.accuracy_m.max() <= 500
    # The fixes are about the zones: most within 2 km of their person's home.
    near_home = [
        abs(geofence.signed_distance_m(fleet.zones[p * ZONES_PER_PERSON + 1], lat, lon)) < 2000
        for p, lat, lon in zip(fleet.person, fleet.lat, fleet.lon, strict=True)
    ]
    assert sum(near_home) > len(near_home) / 3


def test_the_same_seed_makes_the_same_fleet() -> None:
    a = make_fleet(persons=3, fixes=50, seed=9)
    b = make_fleet(persons=3, fixes=50, seed=9)
    assert [z.vertices for z in a.zones] == [z.vertices for z in b.zones]
    assert a.lat.tolist() == b.lat.tolist()


def test_bench_rules_reports_rates_verdicts_and_agreement(tmp_path: Path) -> None:
    out = tmp_path / "rules.json"
    args = ["bench", "rules", "--part", "zones", "--persons", "8", "--fixes", "3000"]
    args += ["--batch", "500", "--chunk", "2000", "--rounds", "2", "--core-fixes", "300"]
    args += ["--baseline-fixes", "600", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "fixes/s" in result.output
    assert "core and cloud disagree on 0 of 1,500 zone checks" in result.output
    report = json.loads(out.read_text())["zones"]
    assert report["zones"] == 8 * ZONES_PER_PERSON
    assert report["options"]["batch"] == 500
    names = [rate["name"] for rate in report["rates"]]
    assert names == [
        "cloud, batches of 500",
        "cloud, chunks of 2,000",
        "cloud, a call per person and zone, batches of 500",
        "plain shapely, batches of 500",
        "core, pure Python",
    ]
    for rate in report["rates"]:
        assert rate["fixes_per_s"] > 0
        assert rate["cpu_fixes_per_s"] > 0
        assert 0 < rate["core_share"] <= 1.5  # process_time ticks coarsely
        assert rate["zone_checks_per_s"] == rate["fixes_per_s"] * ZONES_PER_PERSON
    assert [r["fixes"] for r in report["rates"]] == [3000, 3000, 600, 600, 300]
    assert sorted(report["verdicts"]) == ["inside", "outside", "undecided"]
    assert abs(sum(report["verdicts"].values()) - 1) < 1e-9
    assert report["compared_fixes"] == 300
    assert report["disagreements"] == 0
    assert report["cpu"] is None


def test_pinning_to_one_cpu_is_undone_afterwards() -> None:
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this system")
    before = os.sched_getaffinity(0)
    with one_cpu(True) as cpu:
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with one_cpu(False) as cpu:
        assert cpu is None


@pytest.mark.slow
@pytest.mark.services
def test_bench_rules_pipeline_runs_the_rules_on_and_not_off(tmp_path: Path) -> None:
    """`--part pipeline --quick`: both modes on one stack, the report's shape, and alerts
    raised with the rules on and none with them off (never its speed)."""
    out = tmp_path / "rules.json"
    args = ["bench", "rules", "--part", "pipeline", "--quick", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "on / off = " in result.output
    assert "the rules ran: yes" in result.output
    report = json.loads(out.read_text())["pipeline"]
    assert report["persons"] == 4
    assert report["zones"] == 1 + 4 * (ZONES_PER_PERSON - 1)  # the county is shared
    assert set(report["verdict_mix"]) == {
        "county",
        "home",
        "victim home",
        "victim workplace",
        "victim's child's school",
    }
    # Mostly at home and in the county: few fixes outside either.
    assert report["verdict_mix"]["county"]["inside"] > 0.5
    assert report["verdict_mix"]["home"]["inside"] > 0.5
    assert [(p["round"], p["rules"]) for p in report["phases"]] == [(1, False), (1, True)]
    for phase in report["phases"]:
        assert [s["target_per_s"] for s in phase["steps"]] == [1000.0, 3000.0]
        for step in [phase["warmup"], *phase["steps"]]:
            assert step["produced"] > 0
            assert step["stored"] + step["lost"] == step["produced"]
            assert step["unexpected"] == 0
            assert step["cloud_cpu_s"] > 0
    off, on = report["off"], report["on"]
    assert off["alerts"] == {"raised": 0, "recurred": 0, "ended": 0, "evidence": 0}
    assert on["alerts"]["raised"] + on["alerts"]["recurred"] > 0
    assert on["alerts"]["evidence"] > 0
    assert set(report["alerts_by_cause"]) <= {"zone_left", "zone_entered", "curfew_broken"}
    assert report["zone_tracks"] == 4 * ZONES_PER_PERSON
    assert report["rules_ran"] is True
    for mode in (off, on):
        assert len(mode["sustained_readings_per_s"]) == 1
        assert mode["cloud_us_per_reading"] > 0
    if off["median_sustained_readings_per_s"]:
        expected = on["median_sustained_readings_per_s"] / off["median_sustained_readings_per_s"]
        assert report["ratio"] == expected


def test_the_pipeline_part_refines_between_the_last_sustained_step_and_the_next() -> None:
    assert refine_rate([(5000, True), (7500, True), (10000, False), (12500, False)]) == 8750
    assert refine_rate([(5000, True), (7500, False)]) == 6250
    assert refine_rate([(5000, False), (7500, False)]) is None  # nothing sustained
    assert refine_rate([(5000, True), (7500, True)]) is None  # nothing failed above


def test_a_later_round_climbs_from_two_steps_below_what_its_mode_sustained() -> None:
    climb = (7500.0, 10000.0, 12500.0, 15000.0, 17500.0)
    assert climb_start(climb, None) == 0
    assert climb_start(climb, 15000.0) == 1
    assert climb_start(climb, 16250.0) == 1  # a refined rate counts as the step below it
    assert climb_start(climb, 5000.0) == 0
