"""The fast trust judgements give exactly what the straightforward ones gave.

``_reference_judge_series`` and ``_reference_judge_latest`` are the first implementation of
``cloud.rivers.trust`` (a reading at a time: each check looks its windows up afresh), kept
here verbatim as the oracle: long series and hypothesis's must be judged the same.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rivers import trust
from cloud.rivers.trust import (
    CALIBRATING,
    DAY_S,
    DRIFT,
    FAULT,
    MAD_TO_SIGMA,
    MAINTENANCE,
    OUT_OF_RANGE,
    SPIKE,
    STUCK,
    SUSPECT,
    TRUSTED,
    Judgement,
    Reading,
    TrustSettings,
)
from core import contract as c

T0 = 1_772_409_600  # 2026-03-02T00:00:00Z
DAY = 86_400
HOUR = 3_600

# --- the oracle: the first implementation, verbatim -----------------------------------------

_VERDICT_OF_STATUS = {
    c.VALUE_CALIBRATING: CALIBRATING,
    c.VALUE_MAINTENANCE: MAINTENANCE,
    c.VALUE_FAULT: FAULT,
}
_OUT_OF_RANGE_STATUSES = (c.VALUE_OVER_RANGE, c.VALUE_UNDER_RANGE)


def _reference_judge_series(
    parameter_id: int, readings: Sequence[Reading], settings: TrustSettings = trust.DEFAULT_SETTINGS
) -> list[Judgement]:
    series = _ReferenceSeries(parameter_id, readings, settings)
    return [series.judge(i) for i in range(len(readings))]


def _reference_judge_latest(
    parameter_id: int,
    history: Sequence[Reading],
    latest: Reading,
    settings: TrustSettings = trust.DEFAULT_SETTINGS,
) -> Judgement:
    readings = [*history, latest]
    return _ReferenceSeries(parameter_id, readings, settings).judge(len(readings) - 1)


class _ReferenceSeries:
    def __init__(
        self, parameter_id: int, readings: Sequence[Reading], settings: TrustSettings
    ) -> None:
        if parameter_id not in c.WATER_PARAMETERS:
            raise ValueError(f"unknown water parameter {parameter_id!r}")
        _, _, scale, low, high = c.WATER_PARAMETERS[parameter_id]
        self.limits = settings.limits(parameter_id)
        self.settings = settings
        self.readings = readings
        self.low, self.high = float(low), float(high)
        self.floor_wire = round(low * scale)
        n = len(readings)
        self.usable = [False] * n
        self.wire = [0] * n
        self.run_start = list(range(n))
        self.position = [-1] * n
        use_ts: list[int] = []
        use_values: list[float] = []
        for i, reading in enumerate(readings):
            if i and reading.ts < readings[i - 1].ts:
                raise ValueError("readings must be sorted by ts")
            value = reading.value
            if value is None or reading.status != c.VALUE_NORMAL:
                continue
            if not self.low <= value <= self.high:
                continue
            self.usable[i] = True
            self.wire[i] = round(value * scale)
            if i and self.usable[i - 1] and self.wire[i - 1] == self.wire[i]:
                self.run_start[i] = self.run_start[i - 1]
            self.position[i] = len(use_ts)
            use_ts.append(reading.ts)
            use_values.append(value)
        self.use_ts = np.asarray(use_ts, dtype=np.int64)
        self.use_values = np.asarray(use_values, dtype=np.float64)

    def judge(self, i: int) -> Judgement:
        reading = self.readings[i]
        by_status = _VERDICT_OF_STATUS.get(reading.status)
        if by_status is not None:
            return Judgement(by_status)
        if reading.status in _OUT_OF_RANGE_STATUSES or not self.usable[i]:
            return Judgement(SUSPECT, (OUT_OF_RANGE,))
        reasons = []
        if self._stuck(i):
            reasons.append(STUCK)
        if self._spike(i):
            reasons.append(SPIKE)
        if self._drift(i):
            reasons.append(DRIFT)
        return Judgement(SUSPECT, tuple(reasons)) if reasons else Judgement(TRUSTED)

    def _stuck(self, i: int) -> bool:
        first = self.run_start[i]
        limits = self.limits
        if i - first + 1 < limits.stuck_readings:
            return False
        if self.readings[i].ts - self.readings[first].ts < limits.stuck_s:
            return False
        return not (limits.stuck_at_floor_ok and self.wire[i] == self.floor_wire)

    def _spike(self, i: int) -> bool:
        settings, limits = self.settings, self.limits
        if i == 0 or i + 1 >= len(self.readings):
            return False
        if not (self.usable[i - 1] and self.usable[i + 1]):
            return False
        before, here, after = self.readings[i - 1], self.readings[i], self.readings[i + 1]
        if here.ts - before.ts > settings.spike_gap_s or after.ts - here.ts > settings.spike_gap_s:
            return False
        p = self.position[i]
        start = max(0, p - settings.spike_window)
        window = [
            float(v)
            for t, v in zip(self.use_ts[start:p], self.use_values[start:p], strict=True)
            if here.ts - t <= settings.spike_window_s
        ]
        if len(window) < settings.spike_min_window:
            return False
        level = _median(window)
        mad = _median([abs(v - level) for v in window])
        sigma = max(MAD_TO_SIGMA * mad, limits.noise_abs, limits.noise_rel * abs(level))
        x = float(self.use_values[p])
        departure = abs(x - level)
        if departure <= settings.spike_k * sigma:
            return False
        prev, nxt = float(self.use_values[p - 1]), float(self.use_values[p + 1])
        if abs(prev - level) >= departure / 2 or abs(nxt - level) >= departure / 2:
            return False
        rate = max(limits.rate_abs, limits.rate_rel * abs(level))
        jump_in_ok = abs(x - prev) <= rate * (here.ts - before.ts) / 60
        jump_out_ok = abs(nxt - x) <= rate * (after.ts - here.ts) / 60
        return not (jump_in_ok or jump_out_ok)

    def _drift(self, i: int) -> bool:
        settings, limits = self.settings, self.limits
        if limits.drift_abs is None:
            return False
        p = self.position[i]
        ts = self.use_ts[: p + 1]
        now = int(ts[p])
        days = settings.drift_days + 1
        gap = settings.drift_day_gap_s
        if now - int(ts[0]) < days * DAY_S - gap:
            return False
        medians: list[float] = []
        for day in range(days):
            end = int(np.searchsorted(ts, now - day * DAY_S, side="right"))
            begin = int(np.searchsorted(ts, now - (day + 1) * DAY_S, side="right"))
            if end - begin < settings.drift_day_readings:
                return False
            seen = ts[begin:end]
            if int(seen[0]) - (now - (day + 1) * DAY_S) > gap:
                return False
            if (now - day * DAY_S) - int(seen[-1]) > gap:
                return False
            if len(seen) > 1 and int(np.max(np.diff(seen))) > gap:
                return False
            medians.append(float(np.median(self.use_values[begin:end])))
        direction = 0
        for newer, older in pairwise(medians):
            step = newer - older
            if abs(step) < max(limits.drift_abs, limits.drift_rel * abs(older)) or step == 0:
                return False
            sign = 1 if step > 0 else -1
            if direction and sign != direction:
                return False
            direction = sign
        return True


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2


# --- long fixed series ---------------------------------------------------------------------


def eventful(parameter_id: int, days: float, every_s: int = 300, seed: int = 1) -> list[Reading]:
    """A river's series with all the checks have to find: a daily cycle and noise, a stuck
    run, spikes, a drift of several days, gaps, non-normal statuses and repeated times."""
    _, _, scale, low, high = c.WATER_PARAMETERS[parameter_id]
    rng = random.Random(seed)
    span = high - low
    mean = low + span * 0.05 + 1.0
    amplitude, noise = span * 0.004, span * 0.0008
    limits = trust.DEFAULT_LIMITS[parameter_id]
    drift_per_day = 3 * max(limits.drift_abs or amplitude, 2 * limits.drift_rel * abs(mean))
    out: list[Reading] = []
    ts = T0
    held: float | None = None
    while ts < T0 + days * DAY:
        s = ts - T0
        level = mean + amplitude * math.sin(2 * math.pi * s / DAY)
        if 4.5 * DAY <= s < 9.5 * DAY:  # a sensor drifting for five days
            level += drift_per_day * (s - 4.5 * DAY) / DAY
        value = level + rng.uniform(-noise, noise)
        status = c.VALUE_NORMAL
        roll = rng.random()
        if 2 * DAY <= s < 2 * DAY + 14 * HOUR:  # frozen for 14 hours
            held = value if held is None else held
            value = held
        elif roll < 0.004:
            value = level + rng.choice((-1, 1)) * span * 0.05  # a lone spike
        elif roll < 0.006:
            status = rng.choice(
                (c.VALUE_CALIBRATING, c.VALUE_MAINTENANCE, c.VALUE_FAULT, c.VALUE_OVER_RANGE)
            )
        elif roll < 0.007:
            value = high + 1.0  # out of the physical range
        value = min(max(value, low - 1.0), high + 1.0)
        wire_value: float | None = round(value * scale) / scale
        if status in c.VALUE_STATUSES_WITHOUT_VALUE:
            wire_value = None
        out.append(Reading(ts, wire_value, status))
        if 3 * DAY + 6 * HOUR <= s < 3 * DAY + 11 * HOUR:
            ts += 5 * HOUR  # a gap longer than a day's allowed one
        elif rng.random() < 0.003:
            ts += 0  # the same second twice
        else:
            ts += every_s
    return out


def assert_same(parameter_id: int, series: list[Reading], settings: TrustSettings) -> None:
    expected = _reference_judge_series(parameter_id, series, settings)
    assert trust.judge_series(parameter_id, series, settings) == expected
    step = max(1, len(series) // 40)
    for i in range(0, len(series), step):
        assert trust.judge_latest(parameter_id, series[:i], series[i], settings) == (
            _reference_judge_latest(parameter_id, series[:i], series[i], settings)
        )


DRIFTY = TrustSettings(drift_days=2, drift_day_readings=3, spike_window=8, spike_min_window=3)


def test_long_series_are_judged_as_the_reference_judged_them() -> None:
    for pid in c.WATER_PARAMETERS:
        series = eventful(pid, 10)
        found = {r for j in _reference_judge_series(pid, series) for r in j.reasons}
        assert found >= {STUCK, SPIKE, OUT_OF_RANGE}
        if trust.DEFAULT_LIMITS[pid].drift_abs is not None:
            assert DRIFT in found
        assert_same(pid, series, trust.DEFAULT_SETTINGS)
        assert_same(pid, series, DRIFTY)


def test_minute_series_are_judged_as_the_reference_judged_them() -> None:
    for pid in (2, 5, 7):
        assert_same(pid, eventful(pid, 5, every_s=60, seed=2), trust.DEFAULT_SETTINGS)


def test_sparse_and_gappy_series_are_judged_as_the_reference_judged_them() -> None:
    for pid in (2, 4):
        series = eventful(pid, 10, seed=3)
        assert_same(pid, series[::7], trust.DEFAULT_SETTINGS)
        nightly = [r for r in series if (r.ts - T0) % DAY < 20 * HOUR]
        assert_same(pid, nightly, trust.DEFAULT_SETTINGS)
        assert_same(pid, nightly, DRIFTY)


def test_trivial_series_are_judged_as_the_reference_judged_them() -> None:
    for series in ([], [Reading(T0, 7.0)], [Reading(T0, None, c.VALUE_FAULT)]):
        assert trust.judge_series(2, series) == _reference_judge_series(2, series)


def test_a_value_at_the_same_second_after_a_reading_is_not_in_its_day() -> None:
    daily = TrustSettings(drift_days=1, drift_day_readings=1, drift_day_gap_s=DAY)
    series = [Reading(T0, 7.0), Reading(T0 + DAY, 7.0), Reading(T0 + DAY, 9.0)]
    judged = trust.judge_series(2, series, daily)
    assert judged == _reference_judge_series(2, series, daily)
    assert [DRIFT in j.reasons for j in judged] == [False, False, True]


def test_a_jump_just_beyond_the_plausible_rate_is_a_spike() -> None:
    # pH moves at most 0.05 a minute: 0.25 in five minutes is plausible, 0.26 is not.
    level = readings_of([7.50, 7.51] * 12)
    for value, spike in ((7.75, False), (7.77, True)):
        series = [*level, Reading(level[-1].ts + 300, value), Reading(level[-1].ts + 600, 7.50)]
        judged = trust.judge_series(2, series)
        assert judged == _reference_judge_series(2, series)
        assert (SPIKE in judged[-2].reasons) is spike


def test_daily_medians_moving_by_exactly_the_least_step_drift() -> None:
    quarter = trust.ParameterLimits(6, 3 * HOUR, False, 0.01, 0.0, 0.05, 0.0, 0.25, 0.0)
    exact = TrustSettings(parameters={**trust.DEFAULT_LIMITS, 2: quarter})
    values = [7.0 + 0.25 * (i // 288) + (0.125 if i % 2 else 0.0) for i in range(5 * 288)]
    series = readings_of(values)
    judged = trust.judge_series(2, series, exact)
    assert judged == _reference_judge_series(2, series, exact)
    assert DRIFT in judged[-1].reasons


def readings_of(values: Sequence[float], every_s: int = 300) -> list[Reading]:
    return [Reading(T0 + i * every_s, v) for i, v in enumerate(values)]


# --- properties ---------------------------------------------------------------------------------

STATUSES = [c.VALUE_NORMAL] * 12 + [
    c.VALUE_CALIBRATING,
    c.VALUE_MAINTENANCE,
    c.VALUE_FAULT,
    c.VALUE_OVER_RANGE,
    c.VALUE_UNDER_RANGE,
]


@st.composite
def trust_settings(draw: st.DrawFn) -> TrustSettings:
    if draw(st.booleans()):
        return trust.DEFAULT_SETTINGS
    spike_min_window = draw(st.integers(3, 8))
    return TrustSettings(
        spike_window=draw(st.integers(spike_min_window, 30)),
        spike_min_window=spike_min_window,
        spike_window_s=draw(st.sampled_from([600, 2 * HOUR, 6 * HOUR])),
        spike_gap_s=draw(st.sampled_from([60, 1800, 4 * HOUR])),
        spike_k=draw(st.sampled_from([0.5, 3.0, 6.0])),
        drift_days=draw(st.integers(1, 3)),
        drift_day_readings=draw(st.integers(1, 14)),
        drift_day_gap_s=draw(st.sampled_from([HOUR, 4 * HOUR, 12 * HOUR, DAY])),
    )


@st.composite
def long_series(draw: st.DrawFn) -> tuple[int, list[Reading], TrustSettings]:
    """Up to days of readings around a level that trends, jumps, sticks and pauses."""
    pid = draw(st.sampled_from(sorted(c.WATER_PARAMETERS)))
    _, _, scale, low, high = c.WATER_PARAMETERS[pid]
    span = high - low
    mean = draw(st.floats(low, high, allow_nan=False))
    trend = (  # per day
        draw(st.sampled_from([0.0, 0.005, -0.01, 0.03])) * span
        + draw(st.sampled_from([0.0, 0.2, -0.3])) * abs(mean)
    )
    noise = draw(st.sampled_from([0.0, 0.0001, 0.001])) * span
    every_s = draw(st.sampled_from([60, 300, 1800, 3600, 7200]))
    odd_steps = draw(st.lists(st.sampled_from([0, 60, 5 * HOUR, DAY // 2]), max_size=3))
    same, wild = draw(st.sampled_from([0.1, 0.5, 0.95])), draw(st.sampled_from([0, 0.02, 0.1]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    ts = T0
    out = []
    value = mean
    for _ in range(draw(st.one_of(st.integers(0, 60), st.integers(100, 600)))):
        ts += rng.choice(odd_steps) if odd_steps and rng.random() < 0.03 else every_s
        status = rng.choice(STATUSES)
        roll = rng.random()
        if roll < same:
            pass  # the same value again
        elif roll < same + wild:
            value = rng.uniform(low - 1, high * 1.01 + 1)
        else:
            value = mean + trend * (ts - T0) / DAY + rng.uniform(-noise, noise)
        number: float | None = round(value * scale) / scale
        if status != c.VALUE_NORMAL and rng.random() < 0.5:
            number = None
        out.append(Reading(ts, number, status))
    return pid, out, draw(trust_settings())


@settings(deadline=None, max_examples=1000)
@given(long_series())
def test_judge_series_agrees_with_the_reference(
    case: tuple[int, list[Reading], TrustSettings],
) -> None:
    pid, series, chosen = case
    assert trust.judge_series(pid, series, chosen) == _reference_judge_series(pid, series, chosen)
    if series:
        history, latest = series[:-1], series[-1]
        assert trust.judge_latest(pid, history, latest, chosen) == _reference_judge_latest(
            pid, history, latest, chosen
        )
