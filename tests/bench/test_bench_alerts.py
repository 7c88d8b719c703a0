"""`fieldwatch bench alerts`: the ground truth it takes from the world (pure, no services),
the way it decides from stored fixes when a zone's violation began, and a short run end
to end whose scorecard must hold every cause it scripted and find their alerts. Speeds
are never asserted."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from fieldwatch_dev.bench.alerts import (
    CLOUD_ZONE,
    CURFEW_AFTER_S,
    AlertsOptions,
    Plan,
    StoredFix,
    ZonePlan,
    cloud_window,
    curfew_clock,
    ground_truth,
    make_plan,
    percentile,
    run_alerts,
    summary_lines,
    world_for,
    zone_decision,
)
from fieldwatch_dev.simulator.scenario import load_scenario
from fieldwatch_dev.simulator.world import offset

START = 1_796_300_017  # not on a whole minute
SCRIPTED = {
    "strap_opened",
    "sos",
    "low_battery",
    "power_off",
    "zone_entered",
    "zone_left",
    "no_fix",
    "curfew_broken",
    "trip_overdue",
    "roll_call_missed",
}


def _plan(bracelets: int = 16) -> tuple[AlertsOptions, Plan]:
    options = AlertsOptions.quick()
    world, opens = world_for(load_scenario(options.scenario), options.seed, START)
    return options, make_plan(world, opens, bracelets, options.seconds)


def test_the_curfew_opens_on_a_whole_minute_and_the_world_reads_22_00_then() -> None:
    opens, clock = curfew_clock(START)
    assert opens % 60 == 0
    assert START + CURFEW_AFTER_S <= opens < START + CURFEW_AFTER_S + 60
    assert datetime.fromtimestamp(opens, clock).strftime("%H:%M:%S") == "22:00:00"
    world, world_opens = world_for(load_scenario(AlertsOptions().scenario), 1, START)
    assert world_opens == opens
    assert world.local_s(opens) == 22 * 3600
    # The cloud's schedule is the same moment in its own time zone, for 8 hours.
    local = datetime.fromtimestamp(opens, CLOUD_ZONE)
    assert cloud_window(opens, 8) == f"Mon-Sun {local:%H:%M}-{(local.hour + 8) % 24:02d}:{local:%M}"


def test_the_ground_truth_holds_every_scripted_incident_and_what_must_stay_quiet() -> None:
    options, plan = _plan()
    expected, quiet = ground_truth(plan, options)
    causes = {e.cause for e in expected}
    assert causes == SCRIPTED
    by_device = {(e.device, e.cause) for e in expected}
    assert (1, "strap_opened") in by_device
    assert (2, "sos") in by_device
    assert {(3, "low_battery"), (3, "power_off")} <= by_device
    assert {(4, "zone_entered"), (5, "zone_entered")} <= by_device
    assert {(5, "no_fix"), (6, "no_fix")} <= by_device  # the one with the radio off too
    assert (8, "zone_left") in by_device  # out of the county without a permit
    assert {(10, "trip_overdue"), (16, "trip_overdue")} <= by_device  # the permits ended
    assert {(11, "curfew_broken"), (12, "curfew_broken")} <= by_device
    assert (13, "roll_call_missed") in by_device
    # Nothing for the short outage, the trip within its permit, the answered roll call.
    assert not {e for e in expected if e.device in (7, 9)}
    assert any(q.startswith("br-000007: radio off for 20 s") for q in quiet)
    assert any(q.startswith("br-000009: a trip within its permit") for q in quiet)
    assert any("roll call it answers after" in q for q in quiet)
    # The curfew breach of the wearer out before it opened begins at the opening.
    curfew = next(e for e in expected if e.device == 11)
    assert curfew.event_ts == plan.curfew_opens_ts
    # The overdue trip is the cloud's to decide, after the permit and its grace.
    overdue = next(e for e in expected if e.cause == "trip_overdue")
    assert overdue.clock == "cloud"
    assert overdue.event_ts == plan.permits[10].ends_ts
    assert not any(e.device == 10 and e.cause == "zone_left" for e in expected)


def test_a_violation_is_decided_by_sure_fixes_held_for_the_dwell() -> None:
    home = ZonePlan("home:1", "home", "inclusion", "home", 31.1, 121.4, 300.0)

    def fix(seq: int, ts: int, north_m: float, accuracy_m: int) -> StoredFix:
        lat, lon = offset(31.1, 121.4, north_m, 0.0)
        return StoredFix(1, seq, ts, lat, lon, accuracy_m, "gnss" if accuracy_m < 50 else "cell")

    fixes = [
        fix(0, 100, 50, 10),  # surely inside
        fix(1, 130, 50, 10),  # held: the baseline, inside since 100
        fix(2, 160, 250, 200),  # undecided: changes nothing
        fix(3, 170, 800, 5),  # surely outside: a candidate
        fix(4, 190, 820, 5),  # held 20 s only
        fix(5, 200, 830, 5),  # held 30 s: outside since 170
    ]
    assert zone_decision(home, fixes, 150, None) == (200, 170)
    # Out of force until 185 (a curfew opening then): the violation begins at the opening.
    curfew = ZonePlan("home:1", "home", "inclusion", "home", 31.1, 121.4, 300.0, "x", 185, 9999)
    assert zone_decision(curfew, fixes, 150, None) == (200, 185)
    # Undecided fixes never decide anything.
    assert zone_decision(home, [fix(i, 100 + 30 * i, 250, 200) for i in range(5)], 0, None) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([], 0.5) is None


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.timeout(600)  # the run is real time: about 5 minutes with the stack's start
def test_a_short_run_finds_the_alerts_of_the_incidents_it_scripted(tmp_path: Path) -> None:
    options = AlertsOptions.quick()
    lines: list[str] = []

    report = run_alerts(options, tmp_path, say=lines.append)

    summary = "\n".join(summary_lines(report))
    # The scorecard's shape: a row for every scripted cause, every incident listed.
    rows = {row.cause: row for row in report.rows()}
    assert set(rows) >= SCRIPTED
    for cause in SCRIPTED:
        assert f"| {cause} |" in summary
        assert rows[cause].incidents >= 1
    assert len(report.results) == sum(row.incidents for row in rows.values())
    assert report.missed == sum(row.missed for row in rows.values())
    assert "incidents:" in summary
    assert ("PASS" in summary) or ("FAIL" in summary)
    json.dumps(report.to_json())  # every figure can be written out
    # The incidents whose alerts come from the bracelet's own records and the cloud's
    # clock checks, each found once, on the right bracelet.
    found = {(r.expected.device, r.expected.cause) for r in report.results if r.alert}
    assert {
        (1, "strap_opened"),
        (2, "sos"),
        (3, "low_battery"),
        (3, "power_off"),
        (4, "zone_entered"),
        (5, "zone_entered"),
        (5, "no_fix"),
        (6, "no_fix"),
        (8, "zone_left"),
        (11, "curfew_broken"),
        (12, "curfew_broken"),
        (13, "roll_call_missed"),
    } <= found, summary
    assert report.duplicates == 0, summary
    # Ordinary wearers at home near the zones' edges sent coarse fixes across them.
    assert report.coarse_at_edges, summary
    # The entry made with the radio off came with the catch-up, dated when it happened.
    entry = next(
        r for r in report.results if r.expected.device == 5 and r.expected.cause == "zone_entered"
    )
    assert entry.alert is not None
    assert not entry.live
    assert entry.alert.happened_ts < entry.alert.raised_ts - 20
    assert any("as the fixes say" in note for note in entry.notes), entry.notes
