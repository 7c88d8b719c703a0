"""GB 3838-2002 classes: every bound of Table 1, statuses, ties, daily means, properties.

The table below is typed again from the standard (Table 1, basic items), not
read from core.waterclass, so a wrong figure there fails here.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import waterclass as wc
from core.contract import (
    VALUE_CALIBRATING,
    VALUE_FAULT,
    VALUE_MAINTENANCE,
    VALUE_NORMAL,
    VALUE_OVER_RANGE,
    VALUE_STATUS_NAMES,
    VALUE_UNDER_RANGE,
    WATER_PARAMETER_IDS,
    WATER_PARAMETERS,
)
from core.waterclass import CLASS_I, CLASS_II, CLASS_III, CLASS_IV, CLASS_V, INFERIOR_V, LAKE, RIVER

TEMP = WATER_PARAMETER_IDS["water_temp"]
PH = WATER_PARAMETER_IDS["ph"]
DO = WATER_PARAMETER_IDS["dissolved_oxygen"]
COND = WATER_PARAMETER_IDS["conductivity"]
TURB = WATER_PARAMETER_IDS["turbidity"]
CODMN = WATER_PARAMETER_IDS["permanganate_index"]
NH3N = WATER_PARAMETER_IDS["ammonia_nitrogen"]
TP = WATER_PARAMETER_IDS["total_phosphorus"]
TN = WATER_PARAMETER_IDS["total_nitrogen"]

# GB 3838-2002 Table 1 (mg/L): id: (kind, river bounds I..V, lake and reservoir bounds I..V).
STANDARD = {
    DO: ("min", (7.5, 6, 5, 3, 2), (7.5, 6, 5, 3, 2)),
    CODMN: ("max", (2, 4, 6, 10, 15), (2, 4, 6, 10, 15)),
    NH3N: ("max", (0.15, 0.5, 1.0, 1.5, 2.0), (0.15, 0.5, 1.0, 1.5, 2.0)),
    TP: ("max", (0.02, 0.1, 0.2, 0.3, 0.4), (0.01, 0.025, 0.05, 0.1, 0.2)),
    TN: ("max", None, (0.2, 0.5, 1.0, 1.5, 2.0)),
}
NO_CLASS = (TEMP, COND, TURB)


def scale(parameter_id: int) -> int:
    return int(WATER_PARAMETERS[parameter_id][2])


def wire(value: float, parameter_id: int) -> float:
    """The value as it comes off the wire: round(value * scale) / scale."""
    return round(value * scale(parameter_id)) / scale(parameter_id)


def bound_cases() -> list[tuple[int, str, float, int]]:
    """(parameter, water body, value, class) at and one wire step beyond every bound."""
    cases = []
    for pid, (kind, river, lake) in STANDARD.items():
        for body, bounds in ((RIVER, river), (LAKE, lake)):
            if bounds is None:
                continue
            step = 1 if kind == "max" else -1
            for index, bound in enumerate(bounds):
                units = round(bound * scale(pid))
                cls = index + 1
                cases.append((pid, body, float(bound), cls))
                cases.append((pid, body, units / scale(pid), cls))
                cases.append((pid, body, (units + step) / scale(pid), cls + 1))
    for body in (RIVER, LAKE):
        cases.extend(
            [
                (PH, body, 6.0, CLASS_I),
                (PH, body, 600 / 100, CLASS_I),
                (PH, body, 599 / 100, INFERIOR_V),
                (PH, body, 9.0, CLASS_I),
                (PH, body, 900 / 100, CLASS_I),
                (PH, body, 901 / 100, INFERIOR_V),
                (PH, body, 7.3, CLASS_I),
                (PH, body, 0.0, INFERIOR_V),
                (PH, body, 14.0, INFERIOR_V),
            ]
        )
    return cases


BOUND_CASES = bound_cases()


def test_the_bound_table_covers_every_bound() -> None:
    # 4 parameters x 2 bodies + TN for lakes = 9 rows of 5 bounds, 3 cases each; pH 9 x 2.
    assert len(BOUND_CASES) == 9 * 5 * 3 + 18


@pytest.mark.parametrize(
    ("pid", "body", "value", "expected"),
    BOUND_CASES,
    ids=[f"{WATER_PARAMETERS[p][0]}-{b}-{v!r}" for p, b, v, _ in BOUND_CASES],
)
def test_a_value_at_a_bound_is_in_the_better_class(
    pid: int, body: str, value: float, expected: int
) -> None:
    assert wc.classify_value(pid, value, body) == expected


def test_limits_are_the_standards() -> None:
    for pid, (kind, river, lake) in STANDARD.items():
        assert wc.limit_kind(pid) == kind
        assert wc.limits(pid, LAKE) == lake
        assert wc.limits(pid, RIVER) == river
    for body in (RIVER, LAKE):
        assert wc.limits(PH, body) == ((6.0, 9.0),) * 5
    assert wc.limit_kind(PH) == "range"
    for pid in NO_CLASS:
        assert wc.limit_kind(pid) is None
        for body in (RIVER, LAKE):
            assert wc.limits(pid, body) is None


def test_parameters_that_set_no_class() -> None:
    for pid in NO_CLASS:
        assert wc.classify_value(pid, 25.0, RIVER) is None
        assert wc.classify_value(pid, 25.0, LAKE) is None
    assert wc.classify_value(TN, 5.0, RIVER) is None
    assert wc.classify({TEMP: 31.0, COND: 5000.0, TURB: 900.0, TN: 9.0, DO: 8.0}, RIVER) == (
        CLASS_I,
        [DO],
    )


def test_lake_and_river_phosphorus() -> None:
    for value, river, lake in (
        (0.01, CLASS_I, CLASS_I),
        (0.015, CLASS_I, CLASS_II),
        (0.025, CLASS_II, CLASS_II),
        (0.05, CLASS_II, CLASS_III),
        (0.1, CLASS_II, CLASS_IV),
        (0.2, CLASS_III, CLASS_V),
        (0.3, CLASS_IV, INFERIOR_V),
        (0.4, CLASS_V, INFERIOR_V),
        (0.401, INFERIOR_V, INFERIOR_V),
    ):
        assert wc.classify_value(TP, value, RIVER) == river, value
        assert wc.classify_value(TP, value, LAKE) == lake, value


def test_lake_nitrogen_counts_only_when_asked() -> None:
    assert wc.classify_value(TN, 1.2, LAKE) == CLASS_IV
    sample = {DO: 7.0, TN: 1.2, TP: 0.02}
    assert wc.classify(sample, LAKE) == (CLASS_II, [DO, TP])
    assert wc.classify(sample, LAKE, include_tn=True) == (CLASS_IV, [TN])
    # A river's TN never counts, asked or not.
    assert wc.classify(sample, RIVER, include_tn=True) == (CLASS_II, [DO])


def test_float_rounding_at_the_bounds() -> None:
    # Sums and means of wire values land a few units in the last place off a bound.
    assert 0.1 + 0.2 > 0.3
    assert wc.classify_value(TP, 0.1 + 0.2, RIVER) == CLASS_IV
    assert wc.classify_value(NH3N, (0.15 + 0.15 + 0.15) / 3, RIVER) == CLASS_I
    assert wc.classify_value(TP, sum([0.1] * 10) / 10, RIVER) == CLASS_II
    assert wc.classify_value(DO, 7.5 - 1e-12, RIVER) == CLASS_I
    assert wc.classify_value(DO, 6 * (1 - 1e-15), RIVER) == CLASS_II
    assert wc.classify_value(PH, 9.0 + 1e-12, RIVER) == CLASS_I
    assert wc.classify_value(PH, 6.0 - 1e-12, RIVER) == CLASS_I
    # Half a wire step beyond is beyond (a mean can fall between wire values).
    assert wc.classify_value(TP, 0.1005, RIVER) == CLASS_III
    assert wc.classify_value(NH3N, 0.1505, RIVER) == CLASS_II
    assert wc.classify_value(DO, 7.495, RIVER) == CLASS_II
    assert wc.classify_value(PH, 9.005, RIVER) == INFERIOR_V


def test_every_wire_value_near_a_bound() -> None:
    # Every wire value within 3 steps of every bound, built the way the decoder builds it
    # (the bounds of one parameter lie more than 3 steps apart).
    for pid, (kind, river, lake) in STANDARD.items():
        for body, bounds in ((RIVER, river), (LAKE, lake)):
            for index, bound in enumerate(bounds or ()):
                units = round(bound * scale(pid))
                for offset in range(-3, 4):
                    value = (units + offset) / scale(pid)
                    beyond = offset > 0 if kind == "max" else offset < 0
                    expected = index + 2 if beyond else index + 1
                    assert wc.classify_value(pid, value, body) == expected, (pid, body, value)


def test_the_worst_parameter_decides() -> None:
    sample = {PH: 7.6, DO: 6.5, CODMN: 3.1, NH3N: 1.2, TP: 0.12, TEMP: 18.0}
    assert wc.classify(sample, RIVER) == (CLASS_IV, [NH3N])
    assert wc.classify({DO: 1.5, NH3N: 3.0}, RIVER) == (INFERIOR_V, [DO, NH3N])
    assert wc.classify({PH: 5.5, DO: 9.0}, RIVER) == (INFERIOR_V, [PH])


def test_ties_name_every_deciding_parameter() -> None:
    sample = {DO: 8.0, CODMN: 5.0, NH3N: 0.8, TP: 0.15, PH: 7.0}
    assert wc.classify(sample, RIVER) == (CLASS_III, [CODMN, NH3N, TP])
    assert wc.classify({PH: 7.0, DO: 8.0}, RIVER) == (CLASS_I, [PH, DO])


def test_values_that_do_not_count() -> None:
    sample = {DO: 8.0, NH3N: 5.0, TP: None}
    assert wc.classify(sample, RIVER) == (INFERIOR_V, [NH3N])
    for status in (
        VALUE_CALIBRATING,
        VALUE_MAINTENANCE,
        VALUE_FAULT,
        VALUE_OVER_RANGE,
        VALUE_UNDER_RANGE,
    ):
        assert wc.classify(sample, RIVER, {NH3N: status}) == (CLASS_I, [DO]), status
    assert wc.classify(sample, RIVER, {NH3N: VALUE_NORMAL}) == (INFERIOR_V, [NH3N])
    assert wc.classify(sample, RIVER, {}) == (INFERIOR_V, [NH3N])
    # A status for a parameter that has no value changes nothing.
    assert wc.classify(sample, RIVER, {TP: VALUE_FAULT}) == (INFERIOR_V, [NH3N])
    assert wc.classify({}, RIVER) == (None, [])
    assert wc.classify({TP: None, TEMP: 20.0}, RIVER) == (None, [])
    assert wc.classify({DO: 1.0}, RIVER, {DO: VALUE_FAULT}) == (None, [])


def test_a_days_samples_average_only_what_counts() -> None:
    samples = [
        ({DO: 7.0, NH3N: 0.4, PH: 7.0, TEMP: 20.0}, None),
        # The ammonia analyser calibrates: its 9.9 must not reach the mean.
        ({DO: 6.0, NH3N: 9.9, PH: 8.0, TEMP: 22.0}, {NH3N: VALUE_CALIBRATING}),
        ({DO: 5.0, NH3N: 0.6, PH: 9.0, TEMP: 24.0}, {}),
        ({DO: None, NH3N: None, TP: 0.1}, {DO: VALUE_FAULT, NH3N: VALUE_MAINTENANCE}),
    ]
    cls, deciding, means, counts = wc.classify_period(samples, RIVER)
    assert counts == {DO: 3, NH3N: 2, PH: 3, TEMP: 3, TP: 1}
    assert means[DO] == pytest.approx(6.0)
    assert means[NH3N] == pytest.approx(0.5)
    assert means[PH] == pytest.approx(8.0)  # the mean of the readings, not of H+
    assert means[TEMP] == pytest.approx(22.0)
    assert means[TP] == pytest.approx(0.1)
    assert (cls, deciding) == (CLASS_II, [DO, NH3N, TP])
    # With the calibration value counted the day would be inferior V.
    counted = [(values, None) for values, _ in samples[:3]]
    assert wc.classify_period(counted, RIVER)[:2] == (INFERIOR_V, [NH3N])


def test_a_period_mean_exactly_at_a_bound() -> None:
    samples = [({TP: wire(0.1, TP), NH3N: 150 / 1000}, None)] * 3 + [
        ({TP: 0.09, NH3N: 0.14}, None),
        ({TP: 0.11, NH3N: 0.16}, None),
    ]
    cls, deciding, means, counts = wc.classify_period(samples, RIVER)
    assert counts == {TP: 5, NH3N: 5}
    assert means[NH3N] == pytest.approx(0.15)
    assert (cls, deciding) == (CLASS_II, [TP])  # NH3-N's mean 0.15 is class I


def test_a_period_of_a_lake_with_nitrogen() -> None:
    samples = [({TN: 1.4, TP: 0.02}, None), ({TN: 1.6, TP: 0.03}, None)]
    assert wc.classify_period(samples, LAKE)[:2] == (CLASS_II, [TP])  # 0.025: class II
    cls, deciding, means, counts = wc.classify_period(samples, LAKE, include_tn=True)
    assert (cls, deciding) == (CLASS_IV, [TN])
    assert counts == {TN: 2, TP: 2}
    assert means[TN] == pytest.approx(1.5)
    assert wc.classify_period([], RIVER) == (None, [], {}, {})
    calibrating = [({TP: 0.5}, {TP: VALUE_CALIBRATING})]
    assert wc.classify_period(calibrating, RIVER) == (None, [], {}, {})


def test_worse_and_target() -> None:
    assert wc.worse(CLASS_II, CLASS_IV) == CLASS_IV
    assert wc.worse(INFERIOR_V, CLASS_I) == INFERIOR_V
    assert wc.worse(None, CLASS_III) == CLASS_III
    assert wc.worse(CLASS_III, None) == CLASS_III
    assert wc.worse(None, None) is None
    assert wc.worse_than_target(CLASS_IV, CLASS_III) is True
    assert wc.worse_than_target(CLASS_III, CLASS_III) is False
    assert wc.worse_than_target(CLASS_II, CLASS_III) is False
    assert wc.worse_than_target(None, CLASS_III) is False
    assert wc.worse_than_target(INFERIOR_V, None) is False


def test_names() -> None:
    assert (CLASS_I, CLASS_II, CLASS_III, CLASS_IV, CLASS_V, INFERIOR_V) == (1, 2, 3, 4, 5, 6)
    assert wc.CLASS_NAMES == {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "inferior V"}
    assert (wc.RIVER, wc.LAKE) == ("river", "lake")


def test_bad_input_is_refused() -> None:
    with pytest.raises(wc.WaterClassError, match="unknown water parameter id 99"):
        wc.classify_value(99, 1.0, RIVER)
    with pytest.raises(wc.WaterClassError, match="water body"):
        wc.limits(TP, "sea")
    with pytest.raises(wc.WaterClassError, match="water body"):
        wc.classify({DO: 8.0}, "reservoir")
    with pytest.raises(wc.WaterClassError, match="unknown water parameter id 0"):
        wc.classify({0: None}, RIVER)
    with pytest.raises(ValueError, match="must be a number"):
        wc.classify_value(DO, math.nan, RIVER)
    with pytest.raises(ValueError, match="must be a number"):
        wc.classify_value(DO, True, RIVER)
    with pytest.raises(ValueError, match="must be a number"):
        wc.classify_period([({DO: "8"}, None)], RIVER)
    with pytest.raises(ValueError, match="unknown water parameter id"):
        wc.limit_kind(True)


# --- properties ------------------------------------------------------------------------

PIDS = sorted(WATER_PARAMETERS)
STATUSES = sorted(VALUE_STATUS_NAMES)


def values_for(pid: int) -> st.SearchStrategy[float]:
    """Wire values over the parameter's physical range, denser near the class bounds."""
    _, _, factor, low, high = WATER_PARAMETERS[pid]
    anywhere = st.integers(int(low * factor), int(high * factor)).map(lambda u: u / factor)
    entry = STANDARD.get(pid)
    near = [b for bounds in entry[1:] if bounds for b in bounds] if entry else [6.0, 9.0]
    close = st.tuples(st.sampled_from(near), st.integers(-2, 2)).map(
        lambda p: (round(p[0] * factor) + p[1]) / factor
    )
    return st.one_of(anywhere, close)


@st.composite
def samples(draw: st.DrawFn) -> tuple[dict[int, float | None], dict[int, int]]:
    chosen = draw(st.lists(st.sampled_from(PIDS), unique=True))
    values: dict[int, float | None] = {}
    statuses: dict[int, int] = {}
    for pid in chosen:
        values[pid] = draw(st.one_of(st.none(), values_for(pid)))
        if draw(st.booleans()):
            statuses[pid] = draw(st.sampled_from(STATUSES))
    return values, statuses


bodies = st.sampled_from([RIVER, LAKE])


def counted_classes(
    values: dict[int, float | None], statuses: dict[int, int], body: str, include_tn: bool
) -> dict[int, int]:
    out = {}
    for pid, value in values.items():
        if value is None or statuses.get(pid, VALUE_NORMAL) != VALUE_NORMAL:
            continue
        if pid == TN and not include_tn:
            continue
        cls = wc.classify_value(pid, value, body)
        if cls is not None:
            out[pid] = cls
    return out


@settings(max_examples=300, deadline=None)
@given(sample=samples(), body=bodies, include_tn=st.booleans())
def test_the_class_is_the_worst_counted_parameters(
    sample: tuple[dict[int, float | None], dict[int, int]], body: str, include_tn: bool
) -> None:
    values, statuses = sample
    classes = counted_classes(values, statuses, body, include_tn)
    cls, deciding = wc.classify(values, body, statuses, include_tn=include_tn)
    if not classes:
        assert (cls, deciding) == (None, [])
    else:
        assert cls == max(classes.values())
        assert deciding == sorted(p for p, c in classes.items() if c == cls)


@settings(max_examples=300, deadline=None)
@given(sample=samples(), body=bodies, extra=st.data())
def test_a_counted_worse_value_never_improves_the_class(
    sample: tuple[dict[int, float | None], dict[int, int]], body: str, extra: st.DataObject
) -> None:
    values, statuses = sample
    before, _ = wc.classify(values, body, statuses)
    pid = extra.draw(st.sampled_from([DO, CODMN, NH3N, TP, PH]))
    value = extra.draw(values_for(pid))
    old = values.get(pid)
    if old is not None and statuses.get(pid, VALUE_NORMAL) == VALUE_NORMAL:
        # Replacing a counted value: only by one at least as bad.
        new_cls = wc.classify_value(pid, value, body)
        old_cls = wc.classify_value(pid, old, body)
        assert new_cls is not None
        assert old_cls is not None
        if new_cls < old_cls:
            value = old
    after, _ = wc.classify({**values, pid: value}, body, {**statuses, pid: VALUE_NORMAL})
    assert after is not None
    assert after == wc.worse(before, after)
    assert after >= (before or CLASS_I)


@settings(max_examples=200, deadline=None)
@given(
    days=st.lists(samples(), max_size=6),
    body=bodies,
)
def test_a_period_is_the_class_of_its_means(
    days: list[tuple[dict[int, float | None], dict[int, int]]], body: str
) -> None:
    cls, deciding, means, counts = wc.classify_period(days, body)
    for pid, count in counts.items():
        counted = [
            v[pid]
            for v, s in days
            if v.get(pid) is not None and s.get(pid, VALUE_NORMAL) == VALUE_NORMAL
        ]
        assert count == len(counted)
        assert means[pid] == pytest.approx(sum(counted) / count)  # type: ignore[arg-type]
    assert set(means) == set(counts)
    assert (cls, deciding) == wc.classify(means, body)
