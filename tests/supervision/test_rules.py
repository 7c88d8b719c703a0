"""Zone rules in device time (cloud.supervision.rules): pure, no services."""

from __future__ import annotations

from cloud.supervision import rules
from core import geofence
from core import schedule as weekly

IN, OUT, UNDECIDED = geofence.INSIDE, geofence.OUTSIDE, geofence.UNDECIDED
MONDAY_NOON = weekly.second_of_week(0, 12, 0, 0)
HOME = rules.ZoneRule(1, "home", "inclusion", "home", dwell_s=30)
SCHOOL = rules.ZoneRule(2, "school", "exclusion", "other", dwell_s=30)
CURFEW = rules.ZoneRule(
    3,
    "home at night",
    "inclusion",
    "home",
    dwell_s=30,
    windows=tuple(weekly.parse_windows("Mon-Sun 22:00-06:00")),
    schedule_text="Mon-Sun 22:00-06:00",
)


def fix(seq: int, ts: int, accuracy_m: int = 10) -> rules.Fix:
    return rules.Fix(1, seq, ts, 31.2, 121.5, accuracy_m, "gnss")


def run(
    rule: rules.ZoneRule,
    verdicts: list[int],
    every_s: int = 15,
    track: rules.Track | None = None,
    sow: int = MONDAY_NOON,
) -> tuple[rules.Track, list[rules.Outcome]]:
    track = track or rules.Track()
    outcomes: list[rules.Outcome] = []
    for i, verdict in enumerate(verdicts):
        found, _changed = rules.step(
            track, rule, fix(i, 1_000_000 + i * every_s), verdict, sow + i * every_s
        )
        outcomes += found
    return track, outcomes


def kinds(outcomes: list[rules.Outcome]) -> list[str]:
    return [o.kind for o in outcomes]


def test_leaving_an_inclusion_zone_held_for_the_dwell_raises_one_violation_dated_at_the_first_sure_fix() -> (
    None
):
    track, outcomes = run(HOME, [IN, IN, IN, OUT, OUT, OUT, OUT, OUT])
    started = [o for o in outcomes if o.kind == "violation_started"]
    assert len(started) == 1
    assert started[0].cause == "zone_left"
    assert started[0].happened_ts == 1_000_000 + 3 * 15  # the first sure outside fix
    assert [f["seq"] for f in started[0].explanation["fixes"]] == [3, 5]  # first sure, held
    left = [o for o in outcomes if o.kind == "state_changed" and o.explanation["to"] == "outside"]
    assert [f["seq"] for f in left[0].explanation["fixes"]] == [3, 5]  # first sure, held
    assert track.state == rules.OUTSIDE
    assert kinds(outcomes).count("violation_continues") == 2  # seq 6 and 7 update it


def test_jitter_a_single_sure_fix_outside_and_undecided_fixes_change_nothing() -> None:
    track, outcomes = run(HOME, [IN, IN, IN, OUT, IN, UNDECIDED, UNDECIDED, OUT, UNDECIDED, IN, IN])
    assert track.state == rules.INSIDE
    assert not [o for o in outcomes if o.kind.startswith("violation")]


def test_undecided_fixes_do_not_break_a_candidate_so_a_slow_exit_still_counts() -> None:
    _track, outcomes = run(HOME, [IN, IN, OUT, UNDECIDED, UNDECIDED, OUT])
    assert kinds(outcomes).count("violation_started") == 1


def test_the_first_state_is_a_baseline_but_a_bad_baseline_is_a_violation() -> None:
    _track, outcomes = run(HOME, [IN, IN, IN])
    assert not [o for o in outcomes if o.kind.startswith("violation")]
    _track, outcomes = run(SCHOOL, [IN, IN, IN])
    assert kinds(outcomes).count("violation_started") == 1
    assert outcomes[1].cause == "zone_entered"


def test_coming_back_ends_the_violation_at_the_first_sure_inside_fix() -> None:
    _track, outcomes = run(HOME, [IN, IN, IN, OUT, OUT, OUT, IN, IN, IN])
    ended = [o for o in outcomes if o.kind == "violation_ended"]
    assert len(ended) == 1
    assert ended[0].happened_ts == 1_000_000 + 6 * 15


def test_an_older_fix_arriving_after_a_newer_decision_does_not_change_the_state() -> None:
    track, _ = run(HOME, [IN, IN, IN])
    outcomes, changed = rules.step(track, HOME, fix(0, 1_000_000), OUT, MONDAY_NOON)
    assert (outcomes, changed) == ([], False)


def test_a_curfew_is_broken_only_while_its_window_is_on_and_dates_from_the_window_opening() -> None:
    evening = weekly.second_of_week(0, 21, 0, 0)
    track, outcomes = run(CURFEW, [OUT] * 4, every_s=60, sow=evening)  # 21:00-21:03
    assert not [o for o in outcomes if o.kind.startswith("violation")]
    # The next fix comes at 22:10 (device time 1_000_000 + 70 min): the curfew is broken
    # since 22:00, when its window opened.
    later = rules.Fix(1, 10, 1_000_000 + 70 * 60, 31.2, 121.5, 10, "gnss")
    found, _ = rules.step(track, CURFEW, later, OUT, evening + 70 * 60)
    assert kinds(found) == ["violation_started"]
    assert found[0].cause == "curfew_broken"
    assert found[0].happened_ts == 1_000_000 + 60 * 60


def test_a_travel_permit_suspends_a_county_zone_for_its_window() -> None:
    county = rules.ZoneRule(
        4, "county", "inclusion", "county", dwell_s=0, suspended=((1_000_000, 1_000_300, 9),)
    )
    track, outcomes = run(county, [IN, OUT, OUT, OUT], every_s=60)  # 1_000_000 .. 180: permit
    assert not [o for o in outcomes if o.kind.startswith("violation")]
    # Still away after the permit: it allowed the leaving, so this is a trip overdue (dated
    # the permit's end), not a zone left.
    after = rules.Fix(1, 10, 1_000_400, 31.2, 121.5, 10, "gnss")
    found, _ = rules.step(track, county, after, OUT, MONDAY_NOON + 400)
    assert kinds(found) == ["trip_overdue"]
    assert (found[0].cause, found[0].happened_ts) == ("trip_overdue", 1_000_300)
    assert found[0].explanation["permit"]["id"] == 9


def test_an_overdue_trip_waits_for_the_grace_and_a_sure_fix_away() -> None:
    county = rules.ZoneRule(
        4,
        "county",
        "inclusion",
        "county",
        dwell_s=0,
        suspended=((1_000_000, 1_000_300, 9),),
        trip_grace_s=600,
    )
    track, _ = run(county, [IN, OUT, OUT, OUT], every_s=60)
    within = rules.Fix(1, 10, 1_000_800, 31.2, 121.5, 10, "gnss")
    assert rules.step(track, county, within, OUT, MONDAY_NOON + 800)[0] == []
    coarse = rules.Fix(1, 11, 1_001_000, 31.2, 121.5, 500, "wifi")
    assert rules.step(track, county, coarse, UNDECIDED, MONDAY_NOON + 1000)[0] == []
    sure = rules.Fix(1, 12, 1_001_100, 31.2, 121.5, 10, "gnss")
    assert kinds(rules.step(track, county, sure, OUT, MONDAY_NOON + 1100)[0]) == ["trip_overdue"]


def test_leaving_the_county_after_a_permit_ended_is_a_zone_left() -> None:
    county = rules.ZoneRule(
        4, "county", "inclusion", "county", dwell_s=0, suspended=((999_000, 999_500, 9),)
    )
    _track, outcomes = run(county, [IN, IN, OUT], every_s=60)  # from 1_000_000: after it
    assert kinds(outcomes)[-1] == "violation_started"
    assert outcomes[-1].cause == "zone_left"


def test_a_destination_zone_never_raises() -> None:
    destination = rules.ZoneRule(5, "Hangzhou", "inclusion", "destination", dwell_s=0)
    _track, outcomes = run(destination, [IN, OUT, OUT, OUT])
    assert not [o for o in outcomes if o.kind.startswith("violation")]


def test_a_stale_outside_state_with_only_coarse_fixes_since_does_not_break_the_curfew() -> None:
    evening = weekly.second_of_week(0, 21, 0, 0)
    # Out at 21:00 (sure), then home indoors: only undecided cell fixes, past 22:00.
    track, outcomes = run(CURFEW, [OUT, OUT, OUT], every_s=60, sow=evening)
    assert track.state == rules.OUTSIDE
    for minutes in (50, 65, 80, 95):
        later = rules.Fix(1, 10 + minutes, 1_000_000 + minutes * 60, 31.2, 121.5, 400, "cell")
        found, _ = rules.step(track, CURFEW, later, UNDECIDED, evening + minutes * 60)
        outcomes += found
    assert not [o for o in outcomes if o.kind.startswith("violation")]
