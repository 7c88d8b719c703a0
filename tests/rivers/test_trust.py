"""Whether water values can be trusted (cloud.rivers.trust): pure, no services."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rivers import trust
from cloud.rivers.trust import Judgement, Reading
from core import contract as c
from fieldwatch_dev.simulator.scenario import Scenario, SensorIncident, load_scenario
from fieldwatch_dev.simulator.world import World

T0 = 1_772_409_600  # 2026-03-02T00:00:00Z
DAY = 86_400
HOUR = 3_600
TEMP, PH, DO, CONDUCTIVITY, TURBIDITY = 1, 2, 3, 4, 5
AMMONIA = 7
OK = Judgement(trust.TRUSTED)


def readings(values: Sequence[float | None], every_s: int = 300, start: int = T0) -> list[Reading]:
    return [Reading(start + i * every_s, v) for i, v in enumerate(values)]


def wire(value: float, parameter_id: int) -> float:
    """``value`` as it comes off the wire: rounded to the parameter's scale."""
    scale = c.WATER_PARAMETERS[parameter_id][2]
    return round(value * scale) / scale


def noisy(
    parameter_id: int,
    level: Callable[[float], float],
    hours: float,
    noise: float,
    every_s: int = 300,
    seed: int = 1,
) -> list[Reading]:
    """A series around ``level(seconds since start)`` with uniform noise of +- ``noise``."""
    rng = random.Random(seed)
    count = int(hours * HOUR / every_s)
    return [
        Reading(
            T0 + i * every_s, wire(level(i * every_s) + rng.uniform(-noise, noise), parameter_id)
        )
        for i in range(count)
    ]


def diurnal(mean: float, amplitude: float) -> Callable[[float], float]:
    return lambda s: mean + amplitude * math.sin(2 * math.pi * s / DAY)


def reasons(judgements: Sequence[Judgement]) -> set[str]:
    return {r for j in judgements for r in j.reasons}


def flagged(judgements: Sequence[Judgement], reason: str) -> list[int]:
    return [i for i, j in enumerate(judgements) if reason in j.reasons]


# --- status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (c.VALUE_CALIBRATING, trust.CALIBRATING),
        (c.VALUE_MAINTENANCE, trust.MAINTENANCE),
        (c.VALUE_FAULT, trust.FAULT),
    ],
)
@pytest.mark.parametrize("value", [7.5, None, 99.0])
def test_the_sondes_own_status_decides(status: int, verdict: str, value: float | None) -> None:
    history = noisy(PH, lambda s: 7.5, 2, 0.02)
    latest = Reading(history[-1].ts + 300, value, status)
    assert trust.judge_latest(PH, history, latest) == Judgement(verdict)


@pytest.mark.parametrize("status", [c.VALUE_OVER_RANGE, c.VALUE_UNDER_RANGE])
@pytest.mark.parametrize("value", [14.0, None, 7.5])
def test_over_and_under_range_from_the_sonde_are_out_of_range(
    status: int, value: float | None
) -> None:
    judged = trust.judge_series(PH, [Reading(T0, value, status)])
    assert judged == [Judgement(trust.SUSPECT, (trust.OUT_OF_RANGE,))]


@pytest.mark.parametrize(
    ("value", "out"), [(14.01, True), (-0.01, True), (14.0, False), (0.0, False)]
)
def test_a_value_outside_the_physical_range_is_out_of_range(value: float, out: bool) -> None:
    judged = trust.judge_series(PH, [Reading(T0, value)])
    assert (judged[0].reasons == (trust.OUT_OF_RANGE,)) is out
    assert (judged[0].verdict == trust.TRUSTED) is not out


def test_out_of_range_values_do_not_count_as_a_level() -> None:
    # Six hours pegged above the range: out of range each time, never also "stuck".
    series = readings([14.5] * 72)
    assert trust.judge_series(PH, series) == [Judgement(trust.SUSPECT, (trust.OUT_OF_RANGE,))] * 72


# --- stuck ------------------------------------------------------------------------------


def test_a_value_frozen_for_long_enough_is_stuck_from_the_threshold_on() -> None:
    series = readings([7.42] * 60)  # five hours, every five minutes
    judged = trust.judge_series(PH, series)
    threshold = trust.DEFAULT_LIMITS[PH].stuck_s // 300  # index of the first stuck reading
    assert judged[:threshold] == [OK] * threshold
    assert judged[threshold:] == [Judgement(trust.SUSPECT, (trust.STUCK,))] * (60 - threshold)


def test_a_short_repeat_is_fine() -> None:
    values = [7.40, 7.41, 7.41, 7.41, 7.41, 7.41, 7.41, 7.41, 7.42, 7.41]
    assert trust.judge_series(PH, readings(values)) == [OK] * len(values)


def test_a_long_repeat_of_few_readings_is_not_stuck() -> None:
    # Four readings an hour and a half apart: the span is there, the count is not.
    series = readings([7.42] * 4, every_s=90 * 60)
    assert trust.judge_series(PH, series) == [OK] * 4


def test_a_reading_of_another_status_ends_a_run() -> None:
    first = readings([7.42] * 30)
    fault = Reading(first[-1].ts + 300, None, c.VALUE_FAULT)
    second = readings([7.42] * 30, start=fault.ts + 300)
    judged = trust.judge_series(PH, [*first, fault, *second])
    assert trust.STUCK not in reasons(judged)


def test_a_concentration_below_detection_reads_zero_for_days_and_is_not_stuck() -> None:
    zero = readings([0.0] * 600)
    assert trust.judge_series(AMMONIA, zero) == [OK] * 600
    held = readings([0.42] * 600)
    judged = trust.judge_series(AMMONIA, held)
    assert flagged(judged, trust.STUCK)[0] * 300 == trust.DEFAULT_LIMITS[AMMONIA].stuck_s


def test_conductivity_at_zero_is_stuck() -> None:
    # A probe out of the water reads 0: no detection-limit excuse for conductivity.
    judged = trust.judge_series(CONDUCTIVITY, readings([0.0] * 24))
    assert judged[-1] == Judgement(trust.SUSPECT, (trust.STUCK,))


# --- spike ------------------------------------------------------------------------------


def test_a_lone_outlier_that_comes_back_is_a_spike() -> None:
    series = noisy(PH, lambda s: 7.5, 4, 0.02)
    series[30] = Reading(series[30].ts, 8.9)
    judged = trust.judge_series(PH, series)
    assert flagged(judged, trust.SPIKE) == [30]
    assert judged[30] == Judgement(trust.SUSPECT, (trust.SPIKE,))
    assert all(j == OK for i, j in enumerate(judged) if i != 30)


def test_a_dip_is_a_spike_too() -> None:
    series = noisy(DO, lambda s: 8.0, 4, 0.05)
    series[30] = Reading(series[30].ts, 2.1)
    assert flagged(trust.judge_series(DO, series), trust.SPIKE) == [30]


def test_a_spike_is_known_only_once_the_next_reading_comes_back() -> None:
    series = noisy(PH, lambda s: 7.5, 4, 0.02)
    series[30] = Reading(series[30].ts, 8.9)
    assert trust.judge_latest(PH, series[:30], series[30]) == OK
    assert trust.judge_series(PH, series[:31])[30] == OK
    assert trust.judge_series(PH, series[:32])[30].reasons == (trust.SPIKE,)


def test_a_step_change_that_stays_is_not_a_spike() -> None:
    series = noisy(PH, lambda s: 7.5 if s < 2 * HOUR else 8.9, 4, 0.02)
    judged = trust.judge_series(PH, series)
    assert judged == [OK] * len(series)


@pytest.mark.parametrize("excursion", [(8.9, 8.8), (8.6, 9.5), (9.5, 8.6)])
def test_an_excursion_of_two_readings_is_not_a_spike(excursion: tuple[float, float]) -> None:
    series = noisy(PH, lambda s: 7.5, 4, 0.02)
    series[30] = Reading(series[30].ts, excursion[0])
    series[31] = Reading(series[31].ts, excursion[1])
    assert trust.SPIKE not in reasons(trust.judge_series(PH, series))


def test_a_departure_within_the_noise_is_not_a_spike() -> None:
    # Every minute, +-3 NTU of noise: 8 NTU up and back is fast, but not beyond the noise.
    series = noisy(TURBIDITY, lambda s: 30.0, 2, 3.0, every_s=60)
    series[60] = Reading(series[60].ts, 38.0)
    assert trust.SPIKE not in reasons(trust.judge_series(TURBIDITY, series))
    series[60] = Reading(series[60].ts, 60.0)
    assert flagged(trust.judge_series(TURBIDITY, series), trust.SPIKE) == [60]


def test_a_jump_the_water_could_make_in_the_time_between_is_not_a_spike() -> None:
    # Readings 20 minutes apart: half a pH and back is far outside the noise, but within
    # what the water could do in that time (rate_abs, pH per minute).
    series = noisy(PH, lambda s: 7.5, 24, 0.02, every_s=1200)
    series[30] = Reading(series[30].ts, 8.0)
    assert trust.DEFAULT_LIMITS[PH].rate_abs * 20 > 8.0 - 7.5
    assert trust.SPIKE not in reasons(trust.judge_series(PH, series))
    series[30] = Reading(series[30].ts, 8.6)  # faster than that: a spike
    assert flagged(trust.judge_series(PH, series), trust.SPIKE) == [30]


def test_no_spike_is_judged_across_a_gap() -> None:
    before = noisy(PH, lambda s: 7.5, 3, 0.02)
    lone = Reading(before[-1].ts + 45 * 60, 10.5)  # faster than rate_abs allows in 45 min
    after = noisy(PH, lambda s: 7.5, 1, 0.02)
    after = [Reading(lone.ts + 300 + r.ts - T0, r.value) for r in after]
    assert trust.SPIKE not in reasons(trust.judge_series(PH, [*before, lone, *after]))


# --- drift ------------------------------------------------------------------------------


def test_a_level_that_keeps_moving_for_days_drifts() -> None:
    day = diurnal(7.5, 0.15)
    series = noisy(PH, lambda s: day(s) - 0.1 * s / DAY, 6 * 24, 0.02)
    judged = trust.judge_series(PH, series)
    times = [series[i].ts - T0 for i in flagged(judged, trust.DRIFT)]
    assert times  # found, and only once there are four days to compare
    assert min(times) >= 4 * DAY - trust.DEFAULT_SETTINGS.drift_day_gap_s
    assert all(j.reasons == (trust.DRIFT,) for j in judged[4 * DAY // 300 :])
    # Every four hours: too few values a day for a daily median to stand for the day.
    sparse = series[:: 4 * HOUR // 300]
    assert trust.DRIFT not in reasons(trust.judge_series(PH, sparse))
    # Silent six hours every night: no day is seen whole.
    nightly = [r for r in series if (r.ts - T0) % DAY < 18 * HOUR]
    assert trust.DRIFT not in reasons(trust.judge_series(PH, nightly))


def test_a_diurnal_cycle_is_not_drift() -> None:
    judged = trust.judge_series(PH, noisy(PH, diurnal(7.5, 0.4), 6 * 24, 0.02))
    assert judged == [OK] * len(judged)
    judged = trust.judge_series(DO, noisy(DO, diurnal(7.0, 2.5), 6 * 24, 0.05))
    assert judged == [OK] * len(judged)


def test_a_step_that_stays_is_not_drift() -> None:
    day = diurnal(7.5, 0.15)
    series = noisy(PH, lambda s: day(s) + (0.6 if s > 2.5 * DAY else 0), 7 * 24, 0.02)
    assert trust.judge_series(PH, series) == [OK] * len(series)


def test_a_pollution_episode_of_hours_is_not_drift() -> None:
    def level(s: float) -> float:
        into = s - 2 * DAY
        return 0.8 + (3.5 if 0 <= into < 12 * HOUR else 0.0)

    judged = trust.judge_series(AMMONIA, noisy(AMMONIA, level, 6 * 24, 0.02))
    assert judged == [OK] * len(judged)


def test_water_temperature_is_not_checked_for_drift() -> None:
    # Weather warms a river for days on end; a thermistor does not drift.
    series = noisy(TEMP, lambda s: diurnal(10.0, 1.5)(s) + 1.0 * s / DAY, 6 * 24, 0.05)
    assert trust.judge_series(TEMP, series) == [OK] * len(series)


# --- the project's own simulator -----------------------------------------------------------


def simulated(
    scenario: Scenario, station: int, parameter_id: int, hours: float, every_s: int = 300
) -> list[Reading]:
    world = World(scenario, seed=1)
    scale = c.WATER_PARAMETERS[parameter_id][2]
    out = []
    for ts in range(scenario.start_ts, scenario.start_ts + int(hours * HOUR), every_s):
        value, status = world.water(station, ts)[parameter_id]
        out.append(Reading(ts, None if value is None else value / scale, status))
    return out


@pytest.fixture(scope="module")
def shipped() -> Scenario:
    return load_scenario()


def incident(scenario: Scenario, kind: str) -> SensorIncident:
    return next(i for i in scenario.sensor_incidents if i.kind == kind)


def test_the_simulators_stuck_sensor_is_stuck_after_the_threshold(shipped: Scenario) -> None:
    stuck = incident(shipped, "stuck")
    pid = c.WATER_PARAMETER_IDS[stuck.parameter or ""]
    series = simulated(shipped, stuck.device, pid, 6)
    judged = trust.judge_series(pid, series)
    frozen_since = shipped.start_ts + stuck.at_s
    threshold = frozen_since + trust.DEFAULT_LIMITS[pid].stuck_s
    for reading, judgement in zip(series, judged, strict=True):
        if reading.ts >= threshold:
            assert judgement == Judgement(trust.SUSPECT, (trust.STUCK,))
        else:
            assert judgement == OK
    for other in c.WATER_PARAMETERS:
        if other != pid:
            assert set(trust.judge_series(other, simulated(shipped, stuck.device, other, 6))) == {
                OK
            }


def test_the_simulators_pollution_is_trusted(shipped: Scenario) -> None:
    pollution = incident(shipped, "pollution")
    begin = shipped.start_ts + pollution.at_s
    end = begin + pollution.duration_s
    for pid in c.WATER_PARAMETERS:
        series = simulated(shipped, pollution.device, pid, 48)
        judged = trust.judge_series(pid, series)
        during = [j for r, j in zip(series, judged, strict=True) if begin <= r.ts < end]
        assert len(during) == pollution.duration_s // 300
        assert set(judged) == {OK}, c.WATER_PARAMETERS[pid][0]
    ammonia = simulated(shipped, pollution.device, AMMONIA, 3)
    assert max(r.value or 0 for r in ammonia) > 4 * (ammonia[0].value or 0)  # it did happen


def test_a_simulated_pollution_of_half_a_day_is_neither_spike_nor_drift(
    shipped: Scenario,
) -> None:
    long = SensorIncident(kind="pollution", device=2, at_s=2 * DAY, duration_s=12 * HOUR)
    scenario = shipped.model_copy(update={"sensor_incidents": [long]})
    for pid in (DO, TURBIDITY, 6, AMMONIA, 8):
        series = simulated(scenario, 2, pid, 5 * 24)
        assert set(trust.judge_series(pid, series)) == {OK}, c.WATER_PARAMETERS[pid][0]


def test_the_simulators_calibration_is_calibrating(shipped: Scenario) -> None:
    calibration = incident(shipped, "calibration")
    pid = c.WATER_PARAMETER_IDS[calibration.parameter or ""]
    series = simulated(shipped, calibration.device, pid, 3)
    begin = shipped.start_ts + calibration.at_s
    for reading, judgement in zip(series, trust.judge_series(pid, series), strict=True):
        calibrating = begin <= reading.ts < begin + calibration.duration_s
        assert judgement == (Judgement(trust.CALIBRATING) if calibrating else OK)


# --- settings and bad input ------------------------------------------------------------------


def test_every_contract_parameter_has_limits() -> None:
    assert set(trust.DEFAULT_LIMITS) == set(c.WATER_PARAMETERS)
    for pid in c.WATER_PARAMETERS:
        assert trust.DEFAULT_SETTINGS.history_s(pid) >= trust.DEFAULT_LIMITS[pid].stuck_s
    assert trust.DEFAULT_SETTINGS.history_s(PH) == 4 * DAY


def test_settings_refuse_unknown_parameters_and_nonsense() -> None:
    with pytest.raises(ValueError, match="no water parameters"):
        trust.TrustSettings(parameters={99: trust.DEFAULT_LIMITS[PH]})
    with pytest.raises(ValueError, match="spike_k"):
        trust.TrustSettings(spike_k=0)
    with pytest.raises(ValueError, match="no trust limits"):
        trust.judge_series(PH, [Reading(T0, 7.0)], trust.TrustSettings(parameters={}))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a number"):
        Reading(T0, None)
    with pytest.raises(ValueError, match="finite"):
        Reading(T0, math.nan)
    with pytest.raises(ValueError, match="unknown value status"):
        Reading(T0, 7.0, 42)
    with pytest.raises(ValueError, match="unknown water parameter"):
        trust.judge_series(99, [])
    with pytest.raises(ValueError, match="sorted"):
        trust.judge_series(PH, [Reading(T0 + 60, 7.0), Reading(T0, 7.0)])


# --- properties -----------------------------------------------------------------------------

STATUSES = [c.VALUE_NORMAL] * 8 + [
    c.VALUE_CALIBRATING,
    c.VALUE_MAINTENANCE,
    c.VALUE_FAULT,
    c.VALUE_OVER_RANGE,
    c.VALUE_UNDER_RANGE,
]


@st.composite
def reading_series(draw: st.DrawFn) -> tuple[int, list[Reading]]:
    pid = draw(st.sampled_from(sorted(c.WATER_PARAMETERS)))
    _, _, scale, low, high = c.WATER_PARAMETERS[pid]
    level = draw(st.floats(low, high, allow_nan=False))
    near = sorted((level * 0.97, level * 1.03))
    values = st.one_of(
        st.just(level),  # repeats, for stuck
        st.floats(near[0], near[1] + 0.01, allow_nan=False),  # noise
        st.floats(low - 1, high * 1.01 + 1, allow_nan=False),  # anything, out of range too
    )
    ts = T0
    out = []
    for _ in range(draw(st.integers(0, 60))):
        ts += draw(st.sampled_from([0, 60, 300, 300, 300, 1800, 4 * HOUR]))
        status = draw(st.sampled_from(STATUSES))
        value: float | None = round(draw(values) * scale) / scale
        if status != c.VALUE_NORMAL and draw(st.booleans()):
            value = None
        out.append(Reading(ts, value, status))
    return pid, out


def without_spike(judgement: Judgement) -> Judgement:
    rest = tuple(r for r in judgement.reasons if r != trust.SPIKE)
    if judgement.verdict == trust.SUSPECT and not rest:
        return Judgement(trust.TRUSTED)
    return Judgement(judgement.verdict, rest)


@settings(deadline=None)
@given(reading_series())
def test_judge_latest_agrees_with_judge_series(case: tuple[int, list[Reading]]) -> None:
    pid, series = case
    judged = trust.judge_series(pid, series)
    for i, reading in enumerate(series):
        latest = trust.judge_latest(pid, series[:i], reading)
        assert latest == trust.judge_series(pid, series[: i + 1])[i]
        # Only a spike waits for the next reading; nothing else looks ahead.
        assert latest == without_spike(judged[i])
    if series:
        assert trust.judge_latest(pid, series[:-1], series[-1]) == judged[-1]


@settings(deadline=None)
@given(reading_series())
def test_one_judgement_per_reading_and_trusted_only_when_normal_and_clean(
    case: tuple[int, list[Reading]],
) -> None:
    pid, series = case
    judged = trust.judge_series(pid, series)
    assert len(judged) == len(series)
    for reading, judgement in zip(series, judged, strict=True):
        assert judgement.verdict in trust.VERDICTS
        assert list(judgement.reasons) == [r for r in trust.REASONS if r in judgement.reasons]
        if reading.status != c.VALUE_NORMAL:
            assert judgement.verdict != trust.TRUSTED
        if judgement.verdict == trust.TRUSTED:
            assert judgement.reasons == ()
            assert reading.status == c.VALUE_NORMAL
        if judgement.reasons:
            assert judgement.verdict == trust.SUSPECT
