"""What the river pages show of GB 3838-2002 classes and of the trust judgements: the
classes' names and colours, a parameter's class bounds, the values the checks did not
trust, and a site's class day by day. Pure: no database, no InfluxDB.

The classes are ``core.waterclass``'s and the judgements ``cloud.rivers.assess``'s (its
``trust`` verdicts and reasons); nothing here decides a class or a verdict, it only says
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.console.i18n import N_
from cloud.rivers import assess, trust
from core import contract as c
from core import waterclass

Translate = Callable[[str], str]

# The classes as people read them (English: core's names; Chinese: Ⅰ类 ... 劣Ⅴ类).
CLASS_LABELS = {
    waterclass.CLASS_I: N_("I"),
    waterclass.CLASS_II: N_("II"),
    waterclass.CLASS_III: N_("III"),
    waterclass.CLASS_IV: N_("IV"),
    waterclass.CLASS_V: N_("V"),
    waterclass.INFERIOR_V: N_("inferior V"),
}
NOT_JUDGED = N_("not judged yet")
ALL_CLASSES = N_("I to V")  # pH: one band for every class
WATERBODY_LABELS = {waterclass.RIVER: N_("river"), waterclass.LAKE: N_("lake or reservoir")}
BOUND_KIND_LABELS = {
    waterclass.MAX: N_("at most"),
    waterclass.MIN: N_("at least"),
    waterclass.RANGE: N_("within"),
}
# A verdict other than trusted, or the check that failed (cloud.rivers.trust).
REASON_LABELS = {
    trust.OUT_OF_RANGE: N_("out of range"),
    trust.STUCK: N_("stuck"),
    trust.SPIKE: N_("spike"),
    trust.DRIFT: N_("drift"),
    trust.SUSPECT: N_("suspect"),
    trust.CALIBRATING: N_("calibrating"),
    trust.MAINTENANCE: N_("maintenance"),
    trust.FAULT: N_("fault"),
}
# A class timeline shows at most this many local days (the rivers API's limit too).
MAX_CLASS_DAYS = 92
# Samples judged for one page at most: judging and classing cost about 40 µs a sample of
# five parameters (cloud.rivers.assess, trust included; docs/benchmarks.md "Trust
# judgements"), so a month of 5-minute samples in about 0.35 s; a busy station's longer
# period is judged over its last days.
MAX_JUDGED_SAMPLES = 9000


def class_label(cls: int | None) -> str:
    """The msgid of a class (1..6), or "not judged yet"."""
    return CLASS_LABELS.get(cls, NOT_JUDGED) if cls is not None else NOT_JUDGED


def class_key(cls: int | None) -> str:
    """What styles and data attributes name a class by: ``1``..``6``, or ``none``."""
    return str(cls) if cls in CLASS_LABELS else "none"


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


def reasons_text(reasons: Iterable[str], translate: Translate) -> str:
    return ", ".join(translate(reason_label(reason)) for reason in reasons)


def parameter_id(name: str) -> int:
    return c.WATER_PARAMETER_IDS[name]


# --- a parameter's class bounds ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    """A line on a chart: a class bound and what it is labelled."""

    value: float
    label: str  # msgid of the class ("III"), or "I to V" for pH's band


@dataclass(frozen=True, slots=True)
class Bounds:
    """The class bounds of one parameter for a water body (empty: it sets no class)."""

    kind: str | None  # waterclass.MAX, MIN or RANGE
    lines: tuple[Bound, ...]


def bounds_for(name: str, waterbody: str) -> Bounds:
    """The GB 3838-2002 bounds of classes I..V of a parameter, as lines to draw: five
    (one per class) for a limit, two (6 and 9) for pH's band, none without a class."""
    pid = parameter_id(name)
    found = waterclass.limits(pid, waterbody)
    kind = waterclass.limit_kind(pid)
    if found is None or kind is None:
        return Bounds(None, ())
    if kind == waterclass.RANGE:
        low, high = found[0]
        return Bounds(kind, (Bound(float(low), ALL_CLASSES), Bound(float(high), ALL_CLASSES)))
    lines = tuple(Bound(float(bound), CLASS_LABELS[cls]) for cls, bound in enumerate(found, 1))
    return Bounds(kind, lines)


# --- values the checks did not trust -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Untrusted:
    """A value with a normal status that a check did not trust (stuck, spike, drift, out
    of range); in buckets, those of one station's bucket (``count`` of them, their mean)."""

    time: datetime
    station: str
    value: float
    reasons: tuple[str, ...]
    count: int = 1


def untrusted_values(assessed: Iterable[assess.Assessed]) -> dict[str, list[Untrusted]]:
    """By parameter name, the values sent with a normal status that the judgement did not
    trust. Values with a status flag are the flags' to show (``site_views``): the sonde
    said so, and the verdict only repeats it."""
    found: dict[str, list[Untrusted]] = {}
    for item in assessed:
        sample = item.sample
        for pid, judgement in item.judgements.items():
            value = sample.values.get(pid)
            if judgement.verdict == trust.TRUSTED or value is None or pid in sample.statuses:
                continue
            found.setdefault(c.WATER_PARAMETERS[pid][0], []).append(
                Untrusted(
                    datetime.fromtimestamp(sample.ts, UTC),
                    sample.device_id,
                    value,
                    judgement.reasons or (judgement.verdict,),
                )
            )
    return found


def by_bucket(values: Sequence[Untrusted], every_s: int) -> list[Untrusted]:
    """The untrusted values of each station's bucket as one mark: their mean, how many,
    and every reason among them (in the order ``trust`` gives reasons)."""
    groups: dict[tuple[str, int], list[Untrusted]] = {}
    for value in values:
        start = int(value.time.timestamp()) // every_s * every_s
        groups.setdefault((value.station, start), []).append(value)
    order = {reason: i for i, reason in enumerate((*trust.REASONS, *trust.VERDICTS))}
    marks = []
    for (station, start), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        reasons = sorted(
            {r for item in items for r in item.reasons}, key=lambda r: order.get(r, 99)
        )
        mean = sum(item.value for item in items) / len(items)
        marks.append(
            Untrusted(datetime.fromtimestamp(start, UTC), station, mean, tuple(reasons), len(items))
        )
    return marks


# --- a site's class day by day --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayCell:
    """One local day of the timeline: its class (None: nothing counted that day)."""

    day: date
    cls: int | None
    deciding: tuple[str, ...]  # parameter names
    not_counted: int  # values left out that day (not trusted)
    sampled: bool  # any sample that day

    def worse_than(self, target: int | None) -> bool:
        return (
            target is not None
            and self.cls is not None
            and waterclass.worse_than_target(self.cls, target)
        )


@dataclass(frozen=True, slots=True)
class ClassWindow:
    """The local days a class timeline covers, and the UTC moment it starts at."""

    start: datetime
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def class_window(
    start: datetime, end: datetime, zone: ZoneInfo, max_days: int = MAX_CLASS_DAYS
) -> ClassWindow:
    """The last ``max_days`` local days of [start, end) (all of them if fewer)."""
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    first = max(start.astimezone(zone).date(), last - timedelta(days=max(1, max_days) - 1))
    midnight = datetime.combine(first, time(), zone).astimezone(UTC)
    return ClassWindow(max(start, midnight), first, last)


def judged_days(rows: int, span: timedelta) -> int:
    """How many of the last days can be judged within ``MAX_JUDGED_SAMPLES``, at the
    period's rate of ``rows`` samples (all stations) over ``span``."""
    days = max(span.total_seconds() / 86400, 1e-9)
    per_day = rows / days
    if per_day <= 0:
        return MAX_CLASS_DAYS
    return max(1, min(MAX_CLASS_DAYS, int(MAX_JUDGED_SAMPLES // per_day)))


def timeline(days: Iterable[assess.DayClass], window: ClassWindow) -> list[DayCell]:
    """A cell for every local day of the window: the day's class from
    ``assess.daily_classes``, or an empty cell for a day without samples."""
    known: Mapping[date, assess.DayClass] = {day.day: day for day in days}
    cells = []
    for offset in range(window.days):
        day = window.first + timedelta(days=offset)
        found = known.get(day)
        if found is None:
            cells.append(DayCell(day, None, (), 0, False))
            continue
        deciding = tuple(c.WATER_PARAMETERS[pid][0] for pid in found.deciding)
        cells.append(DayCell(day, found.cls, deciding, found.suspect, True))
    return cells
