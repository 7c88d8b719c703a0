"""The vectorised classes agree with core.waterclass, sample by sample."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rivers import classes
from core import contract as c
from core import waterclass

WATERBODIES = (waterclass.RIVER, waterclass.LAKE)


def _wire(pid: int, value: float) -> float:
    scale = c.WATER_PARAMETERS[pid][2]
    return round(value * scale) / scale


def _bound_values() -> list[tuple[dict[int, float], str]]:
    """Every bound of every parameter, at it and one wire step either side."""
    out = []
    for pid in classes.COLUMNS:
        step = 1 / c.WATER_PARAMETERS[pid][2]
        for waterbody in WATERBODIES:
            bounds = waterclass.limits(pid, waterbody)
            if bounds is None:
                continue
            edges = bounds[0] if waterclass.limit_kind(pid) == waterclass.RANGE else bounds
            for edge in edges:
                for delta in (-step, 0.0, step):
                    out.append(({pid: _wire(pid, edge + delta)}, waterbody))
    return out


def _check(
    samples: list[tuple[dict[int, float | None], dict[int, int] | None]], lake: list[bool]
) -> None:
    got, deciding = classes.classify_many(classes.matrix(samples), np.array(lake))
    for row, ((values, statuses), is_lake) in enumerate(zip(samples, lake, strict=True)):
        waterbody = waterclass.LAKE if is_lake else waterclass.RIVER
        cls, named = waterclass.classify(values, waterbody, statuses)
        assert (int(got[row]) or None) == cls, (values, statuses, waterbody)
        assert [classes.COLUMNS[j] for j in np.flatnonzero(deciding[row])] == named


def test_every_bound_is_classed_as_core_classes_it() -> None:
    cases = _bound_values()
    _check([(v, None) for v, _ in cases], [w == waterclass.LAKE for _, w in cases])


values_of = st.fixed_dictionaries(
    {},
    optional={
        pid: st.one_of(
            st.none(),
            st.floats(low, min(high, 40), allow_nan=False).map(lambda v, p=pid: _wire(p, v)),
        )
        for pid, (_n, _u, _s, low, high) in c.WATER_PARAMETERS.items()
    },
)
statuses_of = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(sorted(c.WATER_PARAMETERS)), st.sampled_from(sorted(c.VALUE_STATUS_NAMES))
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values_of, statuses_of, st.booleans()), min_size=1, max_size=40))
def test_random_samples_are_classed_as_core_classes_them(
    rows: list[tuple[dict[int, float | None], dict[int, int] | None, bool]],
) -> None:
    _check([(v, s) for v, s, _ in rows], [lake for _, _, lake in rows])


def test_a_row_with_nothing_counted_has_no_class() -> None:
    got, deciding = classes.classify_many(classes.matrix([({}, None)]), np.array([False]))
    assert int(got[0]) == classes.NO_CLASS
    assert not deciding.any()
