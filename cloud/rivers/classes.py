"""core.waterclass vectorised with numpy: the classes of many samples at once.

``core.waterclass.classify`` takes one sample (a few microseconds each in CPython);
``classify_many`` takes a matrix of samples, one row a sample and one column a water
parameter (``COLUMNS``, the contract's ids in order), and gives every row's class and
deciding parameters with the same bounds, tolerance and rules (NaN: no counted value;
a lake's total nitrogen left out). ``tests/rivers/test_classes.py`` checks the two
agree on random samples and at every bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from core import contract as c
from core import waterclass

COLUMNS: tuple[int, ...] = tuple(sorted(c.WATER_PARAMETERS))
_INDEX = {pid: i for i, pid in enumerate(COLUMNS)}
NO_CLASS = 0


def _tolerance(pid: int) -> float:
    return waterclass.TOLERANCE_STEPS / c.WATER_PARAMETERS[pid][2]


def _class_of_column(
    values: npt.NDArray[np.float64], pid: int, lake: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int8]:
    """Each value's class (1..6), NO_CLASS where it is NaN or sets no class."""
    out = np.zeros(values.shape[0], dtype=np.int8)
    kind = waterclass.limit_kind(pid)
    if kind is None or pid == waterclass.TOTAL_NITROGEN:
        return out
    present = ~np.isnan(values)
    tol = _tolerance(pid)
    for waterbody, rows in ((waterclass.RIVER, ~lake), (waterclass.LAKE, lake)):
        bounds = waterclass.limits(pid, waterbody)
        pick = rows & present
        if bounds is None or not pick.any():
            continue
        v = values[pick]
        if kind == waterclass.RANGE:
            low, high = bounds[0]
            inside = (v >= low - tol) & (v <= high + tol)
            out[pick] = np.where(inside, waterclass.CLASS_I, waterclass.INFERIOR_V)
        elif kind == waterclass.MAX:
            edges = np.asarray(bounds, dtype=np.float64) + tol
            out[pick] = 1 + (v[:, None] > edges[None, :]).sum(axis=1)
        else:  # MIN
            edges = np.asarray(bounds, dtype=np.float64) - tol
            out[pick] = 1 + (v[:, None] < edges[None, :]).sum(axis=1)
    return out


def classify_many(
    values: npt.NDArray[np.float64], lake: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """(classes, deciding) of ``values`` (rows: samples; columns: ``COLUMNS``; NaN: not
    counted) where ``lake`` marks the rows of lakes. ``classes`` is NO_CLASS for a row
    with nothing counted; ``deciding[i, j]`` marks the columns at row i's class."""
    if values.ndim != 2 or values.shape[1] != len(COLUMNS):
        raise ValueError(f"values must be (samples, {len(COLUMNS)})")
    per = np.stack(
        [_class_of_column(values[:, j], pid, lake) for j, pid in enumerate(COLUMNS)], axis=1
    )
    classes = per.max(axis=1).astype(np.int8)
    deciding = (per == classes[:, None]) & (classes[:, None] > NO_CLASS)
    return classes, deciding


def matrix(
    samples: Sequence[tuple[Mapping[int, float | None], Mapping[int, int] | None]],
) -> npt.NDArray[np.float64]:
    """Samples as ``classify`` takes them, as the matrix ``classify_many`` takes: a value
    not counted (None, or a status other than normal) is NaN."""
    out = np.full((len(samples), len(COLUMNS)), np.nan)
    for row, (values, statuses) in enumerate(samples):
        for pid, value in values.items():
            if value is None:
                continue
            if statuses and statuses.get(pid, c.VALUE_NORMAL) != c.VALUE_NORMAL:
                continue
            out[row, _INDEX[pid]] = value
    return out
