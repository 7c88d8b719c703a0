"""Surface-water classes of GB 3838-2002: which class a sample, or a day of samples, is in.

The bounds are those of the standard's Table 1 (basic items), in mg/L but pH::

    parameter (core.contract id)  I        II      III     IV      V
    pH (2)                        6 to 9 for every class
    dissolved oxygen (3)  >=      7.5      6       5       3       2
    permanganate index (6) <=     2        4       6       10      15
    ammonia nitrogen (7)  <=      0.15     0.5     1.0     1.5     2.0
    total phosphorus (8)  <=      0.02     0.1     0.2     0.3     0.4     rivers
                                  0.01     0.025   0.05    0.1     0.2     lakes, reservoirs
    total nitrogen (9)    <=      0.2      0.5     1.0     1.5     2.0     lakes, reservoirs

Class I of dissolved oxygen reads "saturation 90 % (or 7.5)": only the 7.5 mg/L
form is used here, since the stations report mg/L. A bound is inclusive: a value
at it is in the better class. Beyond class V is inferior V (``INFERIOR_V``), and
so is a pH outside 6..9. Water temperature (whose limit is a change against the
natural temperature, not a level), conductivity and turbidity set no class.

A site takes the class of its worst parameter (the single-factor method of the
evaluation rules, 地表水环境质量评价办法(试行), 环办[2011]22号). Those rules
leave water temperature, total nitrogen and faecal coliforms out of the class
and evaluate them apart as reference indicators, total nitrogen for lakes and
reservoirs only. So here: total nitrogen sets no class for a river; for a lake
``limits`` and ``classify_value`` give its class, and ``classify`` and
``classify_period`` count it only when asked (``include_tn=True``).

Values arrive as ``round(value * scale) / scale`` (core.contract scales), so
0.1 mg/L of phosphorus may be 100 / 1000 and a mean of such values may be off
by a few units in the last place. A value within a thousandth of its wire step
of a bound counts as at the bound: far below what the wire can tell apart,
far above float rounding (in double precision, and in the single precision of
some boards).

Runs on MicroPython: no typing at run time, no dataclasses.
"""

from core.contract import VALUE_NORMAL, WATER_PARAMETER_IDS, WATER_PARAMETERS
from core.errors import CoreError

try:
    from typing import Any, Mapping
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

CLASS_I, CLASS_II, CLASS_III, CLASS_IV, CLASS_V, INFERIOR_V = 1, 2, 3, 4, 5, 6
CLASS_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "inferior V"}

RIVER = "river"
LAKE = "lake"  # lakes and reservoirs (湖、库)
WATERBODIES = (RIVER, LAKE)

MAX = "max"  # a class holds values at most its bound
MIN = "min"  # ... at least its bound
RANGE = "range"  # ... within (low, high)

PH = WATER_PARAMETER_IDS["ph"]
DISSOLVED_OXYGEN = WATER_PARAMETER_IDS["dissolved_oxygen"]
PERMANGANATE_INDEX = WATER_PARAMETER_IDS["permanganate_index"]
AMMONIA_NITROGEN = WATER_PARAMETER_IDS["ammonia_nitrogen"]
TOTAL_PHOSPHORUS = WATER_PARAMETER_IDS["total_phosphorus"]
TOTAL_NITROGEN = WATER_PARAMETER_IDS["total_nitrogen"]

# Fraction of a parameter's wire step (1 / scale) within which a value is at a bound.
TOLERANCE_STEPS = 0.001

_PH_RANGE = (6.0, 9.0)
# id: (kind, river bounds, lake bounds); None: no class for that water body.
_LIMITS = {
    PH: (RANGE, (_PH_RANGE,) * 5, (_PH_RANGE,) * 5),
    DISSOLVED_OXYGEN: (MIN, (7.5, 6.0, 5.0, 3.0, 2.0), (7.5, 6.0, 5.0, 3.0, 2.0)),
    PERMANGANATE_INDEX: (MAX, (2.0, 4.0, 6.0, 10.0, 15.0), (2.0, 4.0, 6.0, 10.0, 15.0)),
    AMMONIA_NITROGEN: (MAX, (0.15, 0.5, 1.0, 1.5, 2.0), (0.15, 0.5, 1.0, 1.5, 2.0)),
    TOTAL_PHOSPHORUS: (MAX, (0.02, 0.1, 0.2, 0.3, 0.4), (0.01, 0.025, 0.05, 0.1, 0.2)),
    TOTAL_NITROGEN: (MAX, None, (0.2, 0.5, 1.0, 1.5, 2.0)),
}


class WaterClassError(CoreError):
    """An unknown parameter id or water body, or a value that is no number (a ValueError)."""


def _check_parameter(parameter_id: "Any") -> None:
    if type(parameter_id) is not int or parameter_id not in WATER_PARAMETERS:
        raise WaterClassError("unknown water parameter id %r" % (parameter_id,))


def _check_waterbody(waterbody: "Any") -> None:
    if waterbody not in WATERBODIES:
        raise WaterClassError("the water body must be %r or %r, got %r" % (RIVER, LAKE, waterbody))


def _check_value(parameter_id: int, value: "Any") -> None:
    # A bool is no number here (nor an int on MicroPython); NaN is refused.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise WaterClassError(
            "parameter %d: the value must be a number, got %r" % (parameter_id, value)
        )


def limit_kind(parameter_id: int) -> "str | None":
    """The kind of bound: "max", "min" (dissolved oxygen), "range" (pH), or None (no class)."""
    _check_parameter(parameter_id)
    entry = _LIMITS.get(parameter_id)
    return None if entry is None else entry[0]


def limits(parameter_id: int, waterbody: str) -> "tuple[Any, ...] | None":
    """The bounds of classes I..V for the water body, or None when the parameter sets no class.

    A bound is a number, but for pH a (low, high) pair (the same for every class).
    """
    _check_parameter(parameter_id)
    _check_waterbody(waterbody)
    entry = _LIMITS.get(parameter_id)
    if entry is None:
        return None
    return entry[1] if waterbody == RIVER else entry[2]


def _tolerance(parameter_id: int) -> float:
    return TOLERANCE_STEPS / WATER_PARAMETERS[parameter_id][2]


def classify_value(parameter_id: int, value: float, waterbody: str) -> "int | None":
    """The class (1..6) of one value, or None when the parameter sets no class for the water body."""
    bounds = limits(parameter_id, waterbody)
    _check_value(parameter_id, value)
    if bounds is None:
        return None
    kind = _LIMITS[parameter_id][0]
    tolerance = _tolerance(parameter_id)
    if kind == RANGE:
        low, high = bounds[0]
        return CLASS_I if low - tolerance <= value <= high + tolerance else INFERIOR_V
    for index in range(5):
        if kind == MAX:
            if value <= bounds[index] + tolerance:
                return index + 1
        elif value >= bounds[index] - tolerance:
            return index + 1
    return INFERIOR_V


def _counts(parameter_id: int, statuses: "Any") -> bool:
    # A value counts unless its status is present and not normal.
    if not statuses:
        return True
    status = statuses.get(parameter_id)
    return status is None or status == VALUE_NORMAL


def classify(
    values: "Mapping[int, float | None]",
    waterbody: str,
    statuses: "Mapping[int, int] | None" = None,
    include_tn: bool = False,
) -> "tuple[int | None, list[int]]":
    """(class, deciding): the worst class over the values that count, and who set it.

    A value counts when it is not None, its status (if given) is VALUE_NORMAL and
    its parameter sets a class; a lake's total nitrogen counts only with
    ``include_tn``. ``deciding`` is the sorted list of parameter ids at the worst
    class (several when tied). (None, []) when no value counts.
    """
    _check_waterbody(waterbody)
    worst = None
    deciding: list[int] = []
    for parameter_id in values:
        _check_parameter(parameter_id)
        value = values[parameter_id]
        if value is None or not _counts(parameter_id, statuses):
            continue
        if parameter_id == TOTAL_NITROGEN and not include_tn:
            continue
        cls = classify_value(parameter_id, value, waterbody)
        if cls is None:
            continue
        if worst is None or cls > worst:
            worst = cls
            deciding = [parameter_id]
        elif cls == worst:
            deciding.append(parameter_id)
    deciding.sort()
    return worst, deciding


def classify_period(
    samples: "Any", waterbody: str, include_tn: bool = False
) -> "tuple[int | None, list[int], dict[int, float], dict[int, int]]":
    """(class, deciding, means, counts) of a period (a day, say) from its samples.

    ``samples`` is an iterable of (values, statuses) pairs, as ``classify`` takes
    them (statuses may be None). Each parameter is averaged over its counted
    values only (present, status normal); ``means`` and ``counts`` hold every
    parameter with at least one, those that set no class included, and the
    means are classified as one sample.
    """
    _check_waterbody(waterbody)
    totals: dict[int, float] = {}
    counts: dict[int, int] = {}
    for values, statuses in samples:
        for parameter_id in values:
            value = values[parameter_id]
            _check_parameter(parameter_id)
            if value is None or not _counts(parameter_id, statuses):
                continue
            _check_value(parameter_id, value)
            # pH is averaged as the readings themselves, not as H+ concentrations:
            # a mean of concentrations would let one acid reading outweigh a day of
            # neutral ones, and the class only asks whether pH stays within 6..9.
            totals[parameter_id] = totals.get(parameter_id, 0.0) + value
            counts[parameter_id] = counts.get(parameter_id, 0) + 1
    means: dict[int, float] = {}
    for parameter_id in totals:
        means[parameter_id] = totals[parameter_id] / counts[parameter_id]
    cls, deciding = classify(means, waterbody, None, include_tn)
    return cls, deciding, means, counts


def worse(a: "int | None", b: "int | None") -> "int | None":
    """The worse (higher) of two classes; None (no class) yields to the other."""
    if a is None:
        return b
    if b is None:
        return a
    return a if a > b else b


def worse_than_target(cls: "int | None", target: "int | None") -> bool:
    """True when the class is worse than the target class; never with no class or no target."""
    if cls is None or target is None:
        return False
    return cls > target
