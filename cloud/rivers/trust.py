"""Whether each water value of a river station can be trusted. Pure: no I/O.

``judge_series`` takes one parameter's readings of one station (sorted by time)
and returns a ``Judgement`` per reading: a verdict and the reasons behind it.
``judge_latest`` judges the newest reading against the ones before it, for the
ingest; it gives what ``judge_series`` gives for the last reading of the same
data.

Status first. A sonde that says it is calibrating, in maintenance or faulty is
believed: the verdict is ``calibrating``, ``maintenance`` or ``fault`` with no
reasons, whatever the number, and no check runs. Over or under range from the
sonde is ``suspect`` with ``out_of_range``. Only values with the normal status
and a number go through the checks; only they feed the windows the checks
compare against. Any failed check makes the value ``suspect``; ``trusted`` means
a normal status and no failed check.

The checks (thresholds per parameter in ``DEFAULT_LIMITS``, the rest in
``TrustSettings``):

out_of_range
    The value is outside the parameter's physical range (``core.contract``'s
    low and high). No other check runs on it and it feeds no window.

stuck
    The value on the wire (``round(value * scale)``) has been identical for at
    least ``stuck_readings`` consecutive readings spanning at least ``stuck_s``
    seconds: a real sonde's last digit flickers. Only the readings from that
    point on are suspect: when a run starts nobody can know it will last.
    Any reading that is not usable (another status, out of range) ends a run; a
    gap in time does not. Runs at the parameter's lower bound are exempt where
    ``stuck_at_floor_ok`` (a concentration below the detection limit reads 0
    for days). Defaults: 1 h for conductivity and turbidity; 2 h for
    temperature and dissolved oxygen, 3 h for pH, where 1 h would do for a real
    sonde but the simulator's noiseless daily sine is flat on the wire for up
    to 0.6 h (temperature), 0.7 h (oxygen) and 2 h (pH) at its turns; 12 h
    for the wet-chemistry analysers (permanganate, ammonia, phosphorus,
    nitrogen), which hold each result until their next cycle, up to 4 h.

spike
    A lone value far from its neighbours that comes back. With ``med`` the
    median of the up to ``spike_window`` usable values before it (within
    ``spike_window_s``, at least ``spike_min_window`` of them), and ``sigma``
    1.4826 times their median absolute deviation, floored at the parameter's
    noise (``noise_abs``, or ``noise_rel`` of the level), the value is a spike
    when all hold:

    - it is more than ``spike_k`` sigma from ``med``;
    - the readings just before and just after it are usable, each within
      ``spike_gap_s`` of it, and both nearer ``med`` than half the value's
      departure (the level it left is the level it comes back to);
    - the jumps to it and back are both faster than the parameter's plausible
      rate (``rate_abs``, or ``rate_rel`` of the level, per minute).

    A change that stays (a step, the rise of a pollution episode) is not a
    spike, nor is an excursion of two readings or more. The one check that
    needs a later reading: the newest reading is never a spike, and once its
    successor arrives ``judge_series`` may add ``spike`` to it. Nothing else
    in a judgement depends on later readings.

drift
    A slow departure that keeps going one way for days. The usable values of
    the ``drift_days + 1`` whole days before the reading (trailing 24-hour
    windows ending at its time, each with at least ``drift_day_readings``
    values and no gap longer than ``drift_day_gap_s``, its ends included)
    give one median per day; a full day holds a full diurnal cycle, so the
    medians do not follow it. The value drifts when each day's median moved
    the same way as the day before's, by at least ``drift_abs`` (or
    ``drift_rel`` of the older median) each time. With the default of 3 steps
    this needs 4 days of history: a pollution episode of hours moves one day's
    median and then the medians come back; a step that stays moves at most two
    consecutive medians and then they stop moving; neither is drift.

What the checks cannot tell:

- A river that really changes slowly (a warming spring, a week of rain
  clearing, a slowly growing leak) looks like drift; water temperature is
  therefore not checked for drift at all. Drift flags the movement, not the
  offset: a sensor that drifted and then stopped is trusted again, still
  wrong, until a calibration says so. Drift is silent in the first 4 days and
  after gaps that leave a day with too few values.
- Real short events (a boat stirring up the bed) are called spikes when they
  last one reading; sampling every few minutes cannot tell them from noise.
  A sensor fault that lasts two readings or more is no spike.
- A sensor stuck at a value that keeps passing the checks for less than
  ``stuck_s`` is trusted until then; a sensor stuck at zero for a parameter
  with ``stuck_at_floor_ok`` is never called stuck.
- Nothing here compares parameters or stations with each other (oxygen
  falling as ammonia rises is a pollution's signature, and is left to the
  reader of the verdicts).

``judge_latest`` needs history back to ``TrustSettings.history_s`` (4 days
with the defaults) to give the same answer as a judgement over everything. A
caller that stores judgements and wants spikes re-judges the reading before
the latest once the latest arrives (the last two of ``judge_series`` over the
same history).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from core import contract as c

DAY_S: Final = 86_400
MAD_TO_SIGMA: Final = 1.4826  # the MAD of normal noise times this is its standard deviation


class Verdict:
    """What a value is worth: one of these strings."""

    TRUSTED: Final = "trusted"
    SUSPECT: Final = "suspect"
    CALIBRATING: Final = "calibrating"
    MAINTENANCE: Final = "maintenance"
    FAULT: Final = "fault"


TRUSTED: Final = Verdict.TRUSTED
SUSPECT: Final = Verdict.SUSPECT
CALIBRATING: Final = Verdict.CALIBRATING
MAINTENANCE: Final = Verdict.MAINTENANCE
FAULT: Final = Verdict.FAULT
VERDICTS: Final = (TRUSTED, SUSPECT, CALIBRATING, MAINTENANCE, FAULT)

OUT_OF_RANGE: Final = "out_of_range"
STUCK: Final = "stuck"
SPIKE: Final = "spike"
DRIFT: Final = "drift"
REASONS: Final = (OUT_OF_RANGE, STUCK, SPIKE, DRIFT)  # the order reasons are given in

_VERDICT_OF_STATUS = {
    c.VALUE_CALIBRATING: CALIBRATING,
    c.VALUE_MAINTENANCE: MAINTENANCE,
    c.VALUE_FAULT: FAULT,
}
_OUT_OF_RANGE_STATUSES = (c.VALUE_OVER_RANGE, c.VALUE_UNDER_RANGE)


@dataclass(frozen=True, slots=True)
class Reading:
    """One parameter's value at one time: ``ts`` in seconds, ``status`` a ``VALUE_*`` code.

    Only a non-normal status may come without a number.
    """

    ts: int
    value: float | None
    status: int = c.VALUE_NORMAL

    def __post_init__(self) -> None:
        if self.status not in c.VALUE_STATUS_NAMES:
            raise ValueError(f"unknown value status {self.status!r}")
        if self.value is None:
            if self.status == c.VALUE_NORMAL:
                raise ValueError("a value with the normal status needs a number")
        elif not math.isfinite(self.value):
            raise ValueError(f"a value must be a finite number, not {self.value!r}")


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict (``VERDICTS``) and the reasons for it (``REASONS``, in that order)."""

    verdict: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParameterLimits:
    """One parameter's thresholds, in its own unit (``core.contract.WATER_PARAMETERS``)."""

    stuck_readings: int  # identical wire values in a row ...
    stuck_s: int  # ... spanning at least this many seconds: stuck
    stuck_at_floor_ok: bool  # a run at the range's lower bound is below detection, not stuck
    noise_abs: float  # the smallest noise (sigma) a spike is measured against, unit
    noise_rel: float  # ... or this share of the level, if larger
    rate_abs: float  # the fastest plausible change, unit per minute
    rate_rel: float  # ... or this share of the level per minute, if larger
    drift_abs: float | None  # the least daily move of the median that counts; None: no check
    drift_rel: float  # ... or this share of the older day's median, if larger

    def __post_init__(self) -> None:
        if self.stuck_readings < 2 or self.stuck_s < 0:
            raise ValueError("stuck needs at least 2 readings and a duration >= 0")
        amounts = (self.noise_abs, self.noise_rel, self.rate_abs, self.rate_rel, self.drift_rel)
        if min(amounts) < 0 or (self.drift_abs is not None and self.drift_abs < 0):
            raise ValueError("noise, rates and drift thresholds cannot be negative")
        if self.noise_abs == 0 and self.noise_rel == 0:
            raise ValueError("a spike needs a noise floor above zero")


_H = 3600
# Why these numbers: the module docstring. Noise floors sit about at a sonde's usual
# scatter; rates well above what a river does (a spill's front included), since a spike
# must also come back; drift steps above what weather moves a daily median by.
DEFAULT_LIMITS: Final[Mapping[int, ParameterLimits]] = {
    # water_temp, degC: thermistors do not drift; weather moves the daily median for days.
    1: ParameterLimits(6, 2 * _H, False, 0.02, 0.0, 0.05, 0.0, None, 0.0),
    # pH: a glass electrode drifts by hundredths a day.
    2: ParameterLimits(6, 3 * _H, False, 0.01, 0.0, 0.05, 0.0, 0.05, 0.0),
    # dissolved_oxygen, mg/L: anoxic water reads 0.00 for hours; fouling lowers the reading.
    3: ParameterLimits(6, 2 * _H, True, 0.05, 0.01, 0.1, 0.0, 0.3, 0.0),
    # conductivity, uS/cm: a probe out of water reads 0, which is stuck.
    4: ParameterLimits(6, 1 * _H, False, 1.0, 0.02, 1.0, 0.01, 10.0, 0.08),
    # turbidity, NTU: naturally jumpy (rain, boats); clear water reads 0.0.
    5: ParameterLimits(6, 1 * _H, True, 0.1, 0.02, 1.0, 0.05, 2.0, 0.15),
    # permanganate_index, ammonia_nitrogen, total_phosphorus, total_nitrogen, mg/L:
    # analysers hold a result for their cycle (up to 4 h); reagents age, so drift is checked.
    6: ParameterLimits(6, 12 * _H, True, 0.05, 0.02, 0.05, 0.02, 0.3, 0.1),
    7: ParameterLimits(6, 12 * _H, True, 0.005, 0.02, 0.01, 0.02, 0.05, 0.1),
    8: ParameterLimits(6, 12 * _H, True, 0.002, 0.02, 0.002, 0.02, 0.01, 0.1),
    9: ParameterLimits(6, 12 * _H, True, 0.05, 0.02, 0.05, 0.02, 0.2, 0.1),
}


def _default_limits() -> Mapping[int, ParameterLimits]:
    return DEFAULT_LIMITS


@dataclass(frozen=True)
class TrustSettings:
    """The thresholds: per parameter (``parameters``, by contract id) and shared."""

    spike_window: int = 24  # usable values before a reading its level is taken from
    spike_min_window: int = 5  # fewer: no spike judgement
    spike_window_s: int = 2 * _H  # ... and none older than this, seconds
    spike_gap_s: int = 1800  # neighbours further away than this, seconds: no spike judgement
    spike_k: float = 6.0  # robust sigmas from the level
    drift_days: int = 3  # daily steps of the median that must all go one way
    drift_day_readings: int = 12  # the fewest usable values a day's median is taken from
    drift_day_gap_s: int = 4 * _H  # ... leaving no longer gap in the day, seconds
    parameters: Mapping[int, ParameterLimits] = field(default_factory=_default_limits)

    def __post_init__(self) -> None:
        if self.spike_min_window < 3 or self.spike_window < self.spike_min_window:
            raise ValueError("a spike's window needs at least 3 values, and no more than its size")
        if self.spike_k <= 0 or self.spike_window_s <= 0 or self.spike_gap_s <= 0:
            raise ValueError("spike_k, spike_window_s and spike_gap_s must be positive")
        if self.drift_days < 1 or self.drift_day_readings < 1:
            raise ValueError("drift needs at least one daily step of at least one value")
        if not 0 < self.drift_day_gap_s <= DAY_S:
            raise ValueError("drift_day_gap_s must be within a day")
        unknown = set(self.parameters) - set(c.WATER_PARAMETERS)
        if unknown:
            raise ValueError(f"no water parameters with ids {sorted(unknown)}")

    def limits(self, parameter_id: int) -> ParameterLimits:
        """The thresholds of one parameter; ValueError for an unknown one."""
        found = self.parameters.get(parameter_id)
        if found is None:
            raise ValueError(f"no trust limits for water parameter {parameter_id!r}")
        return found

    def history_s(self, parameter_id: int) -> int:
        """How far back ``judge_latest`` looks, in seconds (stuck may want its readings more)."""
        limits = self.limits(parameter_id)
        drift_s = (self.drift_days + 1) * DAY_S if limits.drift_abs is not None else 0
        return max(limits.stuck_s, self.spike_window_s, drift_s)


DEFAULT_SETTINGS: Final = TrustSettings()


def judge_series(
    parameter_id: int, readings: Sequence[Reading], settings: TrustSettings = DEFAULT_SETTINGS
) -> list[Judgement]:
    """One judgement per reading, in order; ``readings`` of one parameter, sorted by ts."""
    series = _Series(parameter_id, readings, settings)
    return series.judge(np.arange(len(readings)))


def judge_latest(
    parameter_id: int,
    history: Sequence[Reading],
    latest: Reading,
    settings: TrustSettings = DEFAULT_SETTINGS,
) -> Judgement:
    """The judgement of ``latest`` given the readings before it (sorted by ts)."""
    readings = [*history, latest]
    series = _Series(parameter_id, readings, settings)
    return series.judge(np.array([len(readings) - 1]))[0]


_Indexes = npt.NDArray[np.intp]


def _checked(code: int) -> Judgement:
    reasons = tuple(r for bit, r in ((1, STUCK), (2, SPIKE), (4, DRIFT)) if code & bit)
    return Judgement(SUSPECT, reasons) if reasons else Judgement(TRUSTED)


# Every judgement there can be, by code: 0-7 a usable value's (stuck + 2 spike + 4 drift),
# then the sonde's own verdicts, then out of range. Judgements are immutable, so one of
# each is shared by all the readings it is given to.
_JUDGEMENTS: Final = (
    *(_checked(code) for code in range(8)),
    *(Judgement(verdict) for verdict in _VERDICT_OF_STATUS.values()),
    Judgement(SUSPECT, (OUT_OF_RANGE,)),
)
_CODE_OF_STATUS: Final = {status: 8 + k for k, status in enumerate(_VERDICT_OF_STATUS)}
_OUT_OF_RANGE_CODE: Final = len(_JUDGEMENTS) - 1


class _Series:
    """One parameter's readings as arrays, each check run over many readings at once.

    So that a long series costs about linear time: run lengths for stuck in one pass;
    the spike's window only where the cheap conditions leave a candidate; for drift, each
    distinct day window's median once, from one sorted window slid forward.
    """

    def __init__(
        self, parameter_id: int, readings: Sequence[Reading], settings: TrustSettings
    ) -> None:
        if parameter_id not in c.WATER_PARAMETERS:
            raise ValueError(f"unknown water parameter {parameter_id!r}")
        _, _, scale, low, high = c.WATER_PARAMETERS[parameter_id]
        self.limits = settings.limits(parameter_id)
        self.settings = settings
        n = len(readings)
        self.n = n
        self.ts = np.array([r.ts for r in readings], dtype=np.int64)
        if n > 1 and bool(np.any(self.ts[1:] < self.ts[:-1])):
            raise ValueError("readings must be sorted by ts")
        self.status = np.array([r.status for r in readings], dtype=np.int64)
        values = np.array([r.value for r in readings], dtype=np.float64)  # None: NaN
        self.values = values
        with np.errstate(invalid="ignore"):
            self.usable = (self.status == c.VALUE_NORMAL) & (values >= low) & (values <= high)
        # round() and rint both round half to even; the wire values are whole floats.
        self.wire = np.where(self.usable, np.rint(values * scale), 0.0)
        self.floor_wire = round(low * scale)
        index = np.arange(n)
        same = np.zeros(n, dtype=np.bool_)
        same[1:] = self.usable[1:] & self.usable[:-1] & (self.wire[1:] == self.wire[:-1])
        # first reading of the identical-value run ending here
        self.run_start = np.maximum.accumulate(np.where(same, 0, index)) if n else index
        self.position = np.cumsum(self.usable) - 1  # index among the usable values
        self.use_ts = self.ts[self.usable]
        self.use_values = values[self.usable]

    def judge(self, indexes: _Indexes) -> list[Judgement]:
        """The judgements of the readings at ``indexes``."""
        usable = self.usable[indexes]
        checked = indexes[usable]
        code = np.full(len(indexes), _OUT_OF_RANGE_CODE, dtype=np.intp)
        code[usable] = self._stuck(checked) + 2 * self._spike(checked) + 4 * self._drift(checked)
        status = self.status[indexes]
        for value_status, status_code in _CODE_OF_STATUS.items():
            code[status == value_status] = status_code
        return [_JUDGEMENTS[k] for k in code.tolist()]

    def _stuck(self, i: _Indexes) -> npt.NDArray[np.intp]:
        limits = self.limits
        first = self.run_start[i]
        stuck = (i - first + 1 >= limits.stuck_readings) & (
            self.ts[i] - self.ts[first] >= limits.stuck_s
        )
        if limits.stuck_at_floor_ok:
            stuck &= self.wire[i] != self.floor_wire
        return stuck.astype(np.intp)

    def _spike(self, indexes: _Indexes) -> npt.NDArray[np.intp]:
        settings, limits = self.settings, self.limits
        out = np.zeros(len(indexes), dtype=np.intp)
        inner = np.flatnonzero((indexes > 0) & (indexes < self.n - 1))
        i = indexes[inner]
        ts, values = self.ts, self.values
        into, out_of = ts[i] - ts[i - 1], ts[i + 1] - ts[i]
        x, prev, nxt = values[i], values[i - 1], values[i + 1]
        # The rate is at least rate_abs: a jump within rate_abs's reach is never a spike.
        with np.errstate(invalid="ignore"):
            candidate = (
                self.usable[i - 1]
                & self.usable[i + 1]
                & (into <= settings.spike_gap_s)
                & (out_of <= settings.spike_gap_s)
                & (np.abs(x - prev) > limits.rate_abs * into / 60)
                & (np.abs(nxt - x) > limits.rate_abs * out_of / 60)
            )
        found = inner[candidate]
        if not len(found):
            return out
        use_ts: list[int] = self.use_ts.tolist()
        use_values: list[float] = self.use_values.tolist()
        positions: list[int] = self.position[indexes[found]].tolist()
        for k, p in zip(found.tolist(), positions, strict=True):
            out[k] = self._spike_at(p, use_ts, use_values)
        return out

    def _spike_at(self, p: int, use_ts: list[int], use_values: list[float]) -> bool:
        """Whether the usable value at ``p`` is a spike, given that its neighbours are usable
        and near enough in time to be compared with."""
        settings, limits = self.settings, self.limits
        here_ts = use_ts[p]
        start = max(0, p - settings.spike_window)
        window = [
            v
            for t, v in zip(use_ts[start:p], use_values[start:p], strict=True)
            if here_ts - t <= settings.spike_window_s
        ]
        if len(window) < settings.spike_min_window:
            return False
        level = _median(window)
        mad = _median([abs(v - level) for v in window])
        sigma = max(MAD_TO_SIGMA * mad, limits.noise_abs, limits.noise_rel * abs(level))
        x = use_values[p]
        departure = abs(x - level)
        if departure <= settings.spike_k * sigma:
            return False
        prev, nxt = use_values[p - 1], use_values[p + 1]
        if abs(prev - level) >= departure / 2 or abs(nxt - level) >= departure / 2:
            return False
        rate = max(limits.rate_abs, limits.rate_rel * abs(level))  # per minute
        jump_in_ok = abs(x - prev) <= rate * (here_ts - use_ts[p - 1]) / 60
        jump_out_ok = abs(nxt - x) <= rate * (use_ts[p + 1] - here_ts) / 60
        return not (jump_in_ok or jump_out_ok)

    def _drift(self, indexes: _Indexes) -> npt.NDArray[np.intp]:
        settings, limits = self.settings, self.limits
        out = np.zeros(len(indexes), dtype=np.intp)
        if limits.drift_abs is None or not len(indexes):
            return out
        ts = self.use_ts
        last = len(ts) - 1
        p = self.position[indexes]
        now = ts[p]
        days = settings.drift_days + 1
        gap = settings.drift_day_gap_s
        ok = now - ts[0] >= days * DAY_S - gap
        # long_gaps[j]: how many gaps longer than ``gap`` lie between the first j + 1 values
        long_gaps = np.concatenate(([0], np.cumsum(np.diff(ts) > gap)))
        begins, ends = [], []  # newest day first
        for day in range(days):
            newest = now - day * DAY_S
            oldest = newest - DAY_S
            # never a value after this reading, even at the same second
            end = p + 1 if day == 0 else np.searchsorted(ts, newest, side="right")
            begin = np.searchsorted(ts, oldest, side="right")
            first, final = np.minimum(begin, last), np.maximum(end - 1, 0)
            ok &= end - begin >= settings.drift_day_readings
            ok &= ts[first] - oldest <= gap
            ok &= newest - ts[final] <= gap
            ok &= long_gaps[final] == long_gaps[first]
            begins.append(begin)
            ends.append(end)
        judged = np.flatnonzero(ok)
        if not len(judged):
            return out
        # A reading's older days are mostly an earlier reading's newest: one median each.
        width = last + 2
        keys = np.stack([b[judged] * width + e[judged] for b, e in zip(begins, ends, strict=True)])
        windows, which = np.unique(keys.ravel(), return_inverse=True)
        medians = _window_medians(self.use_values.tolist(), windows // width, windows % width)
        daily = medians[which].reshape(days, len(judged))
        newer, older = daily[:-1], daily[1:]
        step = newer - older
        least = np.maximum(limits.drift_abs, limits.drift_rel * np.abs(older))
        moved = (np.abs(step) >= least) & (step != 0)
        one_way = np.all(step > 0, axis=0) | np.all(step < 0, axis=0)
        out[judged] = np.all(moved, axis=0) & one_way
        return out


def _window_medians(
    values: list[float], begins: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The median of each ``values[begin:end]`` (none empty), from one sorted window moved
    from each to the next: cheap when both ends only move forward, as day windows do."""
    medians = np.empty(len(begins), dtype=np.float64)
    window: list[float] = []
    low = high = 0
    for k, (begin, end) in enumerate(zip(begins.tolist(), ends.tolist(), strict=True)):
        if begin < low or end < high or begin >= high or begin - low + end - high > end - begin:
            window = sorted(values[begin:end])
        else:
            for v in values[low:begin]:
                del window[bisect_left(window, v)]
            for v in values[high:end]:
                insort(window, v)
        low, high = begin, end
        half = len(window) // 2
        medians[k] = window[half] if len(window) % 2 else (window[half - 1] + window[half]) / 2
    return medians


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2
