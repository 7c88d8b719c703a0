"""GB 3838-2002 classes as a device or gateway computes them (MicroPython and CPython).

The same bound cases as tests/rivers/test_waterclass.py: every bound of the
standard's Table 1, at the bound and one wire step beyond, built as the decoder
builds a value (round(value * scale) / scale).
"""

from mptest import assert_equal, assert_raises

from core import waterclass as wc
from core.contract import VALUE_CALIBRATING, VALUE_FAULT, VALUE_NORMAL, WATER_PARAMETERS
from core.waterclass import CLASS_I, CLASS_II, CLASS_III, CLASS_IV, CLASS_V, INFERIOR_V, LAKE, RIVER

TEMP, PH, DO, COND, TURB, CODMN, NH3N, TP, TN = 1, 2, 3, 4, 5, 6, 7, 8, 9

# GB 3838-2002 Table 1 (mg/L): (id, kind, river bounds I..V, lake and reservoir bounds I..V).
STANDARD = (
    (DO, "min", (7.5, 6, 5, 3, 2), (7.5, 6, 5, 3, 2)),
    (CODMN, "max", (2, 4, 6, 10, 15), (2, 4, 6, 10, 15)),
    (NH3N, "max", (0.15, 0.5, 1.0, 1.5, 2.0), (0.15, 0.5, 1.0, 1.5, 2.0)),
    (TP, "max", (0.02, 0.1, 0.2, 0.3, 0.4), (0.01, 0.025, 0.05, 0.1, 0.2)),
    (TN, "max", None, (0.2, 0.5, 1.0, 1.5, 2.0)),
)


def _scale(pid):
    return WATER_PARAMETERS[pid][2]


def _bound_cases():
    cases = []
    for pid, kind, river, lake in STANDARD:
        for body, bounds in ((RIVER, river), (LAKE, lake)):
            if bounds is None:
                continue
            step = 1 if kind == "max" else -1
            for index in range(5):
                units = round(bounds[index] * _scale(pid))
                cases.append((pid, body, float(bounds[index]), index + 1))
                cases.append((pid, body, units / _scale(pid), index + 1))
                cases.append((pid, body, (units + step) / _scale(pid), index + 2))
    for body in (RIVER, LAKE):
        for value, cls in ((6.0, 1), (600 / 100, 1), (599 / 100, 6), (9.0, 1), (900 / 100, 1)):
            cases.append((PH, body, value, cls))
        for value, cls in ((901 / 100, 6), (7.3, 1), (0.0, 6), (14.0, 6)):
            cases.append((PH, body, value, cls))
    return cases


def test_every_bound_of_the_table():
    cases = _bound_cases()
    assert_equal(len(cases), 9 * 5 * 3 + 18, "number of cases")
    for pid, body, value, expected in cases:
        got = wc.classify_value(pid, value, body)
        assert_equal(got, expected, f"parameter {pid} in a {body} at {value!r}")


def test_every_wire_value_near_a_bound():
    for pid, kind, river, lake in STANDARD:
        for body, bounds in ((RIVER, river), (LAKE, lake)):
            if bounds is None:
                continue
            for index in range(5):
                units = round(bounds[index] * _scale(pid))
                for offset in range(-3, 4):
                    value = (units + offset) / _scale(pid)
                    beyond = offset > 0 if kind == "max" else offset < 0
                    expected = index + 2 if beyond else index + 1
                    got = wc.classify_value(pid, value, body)
                    assert_equal(got, expected, f"parameter {pid} in a {body} at {value!r}")


def test_limits_and_kinds():
    for pid, kind, river, lake in STANDARD:
        assert_equal(wc.limit_kind(pid), kind)
        assert_equal(wc.limits(pid, RIVER), river)
        assert_equal(wc.limits(pid, LAKE), lake)
    assert_equal(wc.limit_kind(PH), "range")
    assert_equal(wc.limits(PH, RIVER), ((6.0, 9.0),) * 5)
    for pid in (TEMP, COND, TURB):
        assert_equal(wc.limit_kind(pid), None)
        assert_equal(wc.limits(pid, LAKE), None)
        assert_equal(wc.classify_value(pid, 20.0, RIVER), None)
    assert_equal(wc.classify_value(TN, 5.0, RIVER), None)


def test_float_rounding_at_the_bounds():
    assert_equal(wc.classify_value(TP, 0.1 + 0.2, RIVER), CLASS_IV)
    assert_equal(wc.classify_value(TP, (0.1 + 0.1 + 0.1) / 3, RIVER), CLASS_II)
    assert_equal(wc.classify_value(NH3N, (0.15 + 0.15 + 0.15) / 3, RIVER), CLASS_I)
    assert_equal(wc.classify_value(DO, 7.5 - 1e-12, RIVER), CLASS_I)
    assert_equal(wc.classify_value(TP, 0.1005, RIVER), CLASS_III)
    assert_equal(wc.classify_value(DO, 7.495, RIVER), CLASS_II)
    assert_equal(wc.classify_value(PH, 9.005, LAKE), INFERIOR_V)


def test_lake_and_river_phosphorus_and_nitrogen():
    assert_equal(wc.classify_value(TP, 0.05, RIVER), CLASS_II)
    assert_equal(wc.classify_value(TP, 0.05, LAKE), CLASS_III)
    assert_equal(wc.classify_value(TP, 0.3, LAKE), INFERIOR_V)
    sample = {DO: 7.0, TN: 1.2, TP: 0.02}
    assert_equal(wc.classify(sample, LAKE), (CLASS_II, [DO, TP]))
    assert_equal(wc.classify(sample, LAKE, include_tn=True), (CLASS_IV, [TN]))
    assert_equal(wc.classify(sample, RIVER, include_tn=True), (CLASS_II, [DO]))


def test_the_worst_counted_parameter_decides_and_ties_name_all():
    sample = {DO: 8.0, CODMN: 5.0, NH3N: 0.8, TP: 0.15, PH: 7.0, TEMP: 30.0}
    assert_equal(wc.classify(sample, RIVER), (CLASS_III, [CODMN, NH3N, TP]))
    assert_equal(wc.classify({DO: 8.0, NH3N: 5.0}, RIVER), (INFERIOR_V, [NH3N]))
    calibrating = {NH3N: VALUE_CALIBRATING}
    assert_equal(wc.classify({DO: 8.0, NH3N: 5.0}, RIVER, calibrating), (CLASS_I, [DO]))
    normal = {NH3N: VALUE_NORMAL}
    assert_equal(wc.classify({DO: 8.0, NH3N: 5.0}, RIVER, normal), (INFERIOR_V, [NH3N]))
    assert_equal(wc.classify({DO: None}, RIVER), (None, []))


def test_a_days_mean_leaves_out_what_does_not_count():
    samples = [
        ({DO: 7.0, NH3N: 0.4, PH: 7.0}, None),
        ({DO: 6.0, NH3N: 9.9, PH: 8.0}, {NH3N: VALUE_CALIBRATING}),
        ({DO: 5.0, NH3N: 0.6, PH: 9.0}, {}),
        ({DO: None, TP: 0.1}, {DO: VALUE_FAULT}),
    ]
    cls, deciding, means, counts = wc.classify_period(samples, RIVER)
    assert_equal(counts, {DO: 3, NH3N: 2, PH: 3, TP: 1})
    for pid, expected in ((DO, 6.0), (NH3N, 0.5), (PH, 8.0), (TP, 0.1)):
        if abs(means[pid] - expected) > 1e-9:
            raise AssertionError(f"mean of {pid}: expected {expected!r}, got {means[pid]!r}")
    assert_equal((cls, deciding), (CLASS_II, [DO, NH3N, TP]))


def test_worse_and_target():
    assert_equal(wc.worse(CLASS_II, CLASS_V), CLASS_V)
    assert_equal(wc.worse(None, CLASS_III), CLASS_III)
    assert_equal(wc.worse(None, None), None)
    assert_equal(wc.worse_than_target(CLASS_IV, CLASS_III), True)
    assert_equal(wc.worse_than_target(CLASS_III, CLASS_III), False)
    assert_equal(wc.worse_than_target(None, CLASS_III), False)
    assert_equal(wc.CLASS_NAMES[INFERIOR_V], "inferior V")
    assert_equal(wc.CLASS_NAMES[CLASS_I], "I")


def test_bad_input_is_refused():
    assert_raises(ValueError, wc.classify_value, 99, 1.0, RIVER)
    assert_raises(ValueError, wc.limits, TP, "sea")
    assert_raises(ValueError, wc.classify_value, DO, True, RIVER)
    assert_raises(ValueError, wc.classify_value, DO, float("nan"), RIVER)
