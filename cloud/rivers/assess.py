"""A site's samples judged and classed: which values count, the class of each sample and
of each day, and whether the site is worse than its target. Pure: no I/O.

Each parameter's values go through ``trust.judge_series`` (status, range, stuck, spike,
drift); only the trusted ones count for ``core.waterclass``. A sample whose counted
values set no class (all suspect, calibrating, or no classing parameter) has no class
and decides nothing: it neither starts nor ends a run worse than the target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cloud.rivers import trust
from core import contract as c
from core import waterclass


@dataclass(frozen=True)
class Sample:
    """One sampling of a station: physical values and non-normal statuses by parameter id."""

    ts: int
    device_id: str
    values: Mapping[int, float | None]
    statuses: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessed:
    """A sample with each value's judgement, what counted, and its class."""

    sample: Sample
    judgements: Mapping[int, trust.Judgement]
    counted: Mapping[int, float]
    cls: int | None
    deciding: tuple[int, ...]

    @property
    def suspect(self) -> dict[int, tuple[str, ...]]:
        """Parameters whose value was not trusted, with the reasons (or the verdict)."""
        return {
            pid: j.reasons or (j.verdict,)
            for pid, j in self.judgements.items()
            if j.verdict != trust.TRUSTED
        }


def assess(
    samples: Sequence[Sample],
    waterbody: str,
    settings: trust.TrustSettings = trust.DEFAULT_SETTINGS,
) -> list[Assessed]:
    """Every sample (sorted by time, one station's or several's) judged and classed."""
    ordered = sorted(samples, key=lambda s: (s.device_id, s.ts))
    judged: list[dict[int, trust.Judgement]] = [{} for _ in ordered]
    by_series: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, sample in enumerate(ordered):
        for pid in set(sample.values) | set(sample.statuses):
            by_series[(sample.device_id, pid)].append(index)
    for (_device, pid), indexes in by_series.items():
        readings = [_reading(ordered[i], pid) for i in indexes]
        for i, judgement in zip(indexes, trust.judge_series(pid, readings, settings), strict=True):
            judged[i][pid] = judgement
    out = []
    for sample, judgements in zip(ordered, judged, strict=True):
        counted = {
            pid: value
            for pid, value in sample.values.items()
            if value is not None and judgements[pid].verdict == trust.TRUSTED
        }
        cls, deciding = waterclass.classify(counted, waterbody)
        out.append(Assessed(sample, judgements, counted, cls, tuple(deciding)))
    out.sort(key=lambda a: (a.sample.ts, a.sample.device_id))
    return out


def _reading(sample: Sample, pid: int) -> trust.Reading:
    status = sample.statuses.get(pid, c.VALUE_NORMAL)
    value = sample.values.get(pid)
    if value is None and status == c.VALUE_NORMAL:
        status = c.VALUE_FAULT  # a parameter named with neither a number nor a status
    return trust.Reading(sample.ts, value, status)


@dataclass(frozen=True)
class WorseRun:
    """Consecutive classed samples worse than the target, up to the newest classed one."""

    since_ts: int
    samples: tuple[Assessed, ...]

    @property
    def latest(self) -> Assessed:
        return self.samples[-1]


def worse_runs(assessed: Sequence[Assessed], target: int) -> list[tuple[WorseRun, int | None]]:
    """Every run of consecutive classed samples worse than ``target``, oldest first, each
    with the time of the classed sample that met the target after it (None: it lasts)."""
    runs: list[tuple[WorseRun, int | None]] = []
    current: list[Assessed] = []
    for item in assessed:
        if item.cls is None:
            continue
        if waterclass.worse_than_target(item.cls, target):
            current.append(item)
        elif current:
            runs.append((WorseRun(current[0].sample.ts, tuple(current)), item.sample.ts))
            current = []
    if current:
        runs.append((WorseRun(current[0].sample.ts, tuple(current)), None))
    return runs


def latest_classed(assessed: Sequence[Assessed]) -> Assessed | None:
    return next((a for a in reversed(assessed) if a.cls is not None), None)


@dataclass(frozen=True)
class DayClass:
    day: date
    cls: int | None
    deciding: tuple[int, ...]
    means: Mapping[int, float]
    counts: Mapping[int, int]
    suspect: int  # values not counted on that day (suspect, calibrating, ...)


def daily_classes(assessed: Iterable[Assessed], waterbody: str, zone: ZoneInfo) -> list[DayClass]:
    """The class of each local day from the daily means of the values that counted."""
    days: dict[date, list[Assessed]] = defaultdict(list)
    for item in assessed:
        days[datetime.fromtimestamp(item.sample.ts, zone).date()].append(item)
    out = []
    for day in sorted(days):
        items = days[day]
        cls, deciding, means, counts = waterclass.classify_period(
            ((a.counted, {}) for a in items), waterbody
        )
        suspect = sum(len(a.suspect) for a in items)
        out.append(DayClass(day, cls, tuple(deciding), means, counts, suspect))
    return out


def bounds_of(pid: int, waterbody: str, cls: int) -> object:
    """The bound of class ``cls`` (1..5) for a parameter, as an explanation shows it."""
    limits = waterclass.limits(pid, waterbody)
    if limits is None or not 1 <= cls <= 5:
        return None
    return limits[cls - 1]
