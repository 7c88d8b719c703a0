"""What the device table and the device page compute from their rows. Pure.

The table: its filters and sort order read from the address (whitelisted, so nothing a
reader types reaches SQL as an identifier), and the order itself. The status is
``cloud.fleet.presence``'s, computed per row after the one query, so the table is
sorted here, where the status and the stored columns are plain values alike.

The track: the period a reader asks for (in the console's zone, kept in UTC), whether
to show every fix or one per bucket, where the line must break because readings are
missing, so that a hole in the record is never drawn as a straight line across it, and
which late fixes are marked and listed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from cloud.console.i18n import N_
from cloud.errors import InvalidRequestError
from cloud.fleet.presence import DeviceStatus
from cloud.web.window import check_window
from core import devices

KIND_LABELS = {devices.BRACELET: N_("Bracelet"), devices.RIVER_STATION: N_("River station")}


# ---------------------------------------------------------------- the device table


class SortKey(StrEnum):
    """The columns the table sorts by: the only values ``sort`` may take."""

    id = "id"
    kind = "kind"
    status = "status"
    battery = "battery"
    last_seen = "last_seen"
    missing = "missing"
    firmware = "firmware"
    config = "config"


@dataclass(frozen=True, slots=True)
class DeviceLine:
    """One row of the table, as shown."""

    id: str
    kind: str
    status: DeviceStatus
    battery_pct: int | None
    last_seen_at: datetime | None
    missing: int
    firmware_version: str | None
    config_version: int | None  # the one it runs
    issued_config_version: int | None  # the last one sent

    @property
    def config_pending(self) -> bool:
        """A config was issued that the device does not (yet) say it runs."""
        return (
            self.issued_config_version is not None
            and self.issued_config_version != self.config_version
        )


@dataclass(frozen=True, slots=True)
class TableFilter:
    status: DeviceStatus | None = None
    kind: str | None = None
    text: str = ""  # part of the device id
    battery_below: int | None = None  # percent; devices of unknown battery never match
    missing_only: bool = False

    def matches_status(self, status: DeviceStatus) -> bool:
        return self.status is None or self.status is status

    @property
    def active(self) -> bool:
        return self != TableFilter()


@dataclass(frozen=True, slots=True)
class TableOrder:
    key: SortKey = SortKey.id
    descending: bool = False


MAX_SEARCH = 64
T = TypeVar("T")


def parse_filter(
    status: str, kind: str, text: str, battery_below: str, missing: str
) -> TableFilter:
    """The table's filters from the form's strings (an empty one: no filter)."""
    return TableFilter(
        status=_choice(status, {s.value: s for s in DeviceStatus}, "status"),
        kind=_choice(kind, {k: k for k in devices.DEVICE_KINDS}, "kind"),
        text=_search(text),
        battery_below=_percent(battery_below),
        missing_only=missing not in ("", "0"),
    )


def parse_order(sort: str, direction: str) -> TableOrder:
    key = _choice(sort, {k.value: k for k in SortKey}, "sort") or SortKey.id
    if direction not in ("", "asc", "desc"):
        raise InvalidRequestError(f"dir must be asc or desc, not {direction!r}")
    return TableOrder(key, direction == "desc")


def _choice(value: str, choices: Mapping[str, T], what: str) -> T | None:
    if value == "":
        return None
    if value not in choices:
        raise InvalidRequestError(f"{what} must be one of {', '.join(choices)}")
    return choices[value]


def _search(text: str) -> str:
    text = text.strip().lower()
    if len(text) > MAX_SEARCH or any(ord(ch) < 0x20 for ch in text):
        raise InvalidRequestError(f"the search is at most {MAX_SEARCH} plain characters")
    return text


def _percent(value: str) -> int | None:
    if value.strip() == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequestError("battery below must be a whole percentage") from None
    if not 0 <= number <= 101:
        raise InvalidRequestError("battery below must be between 0 and 101")
    return number


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Version-like order: digits compare as numbers, so 1.10 comes after 1.9."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", text)
        if part
    )


_STATUS_RANK = {status: rank for rank, status in enumerate(DeviceStatus)}
_SORT_VALUES: dict[SortKey, Callable[[DeviceLine], Any]] = {
    SortKey.id: lambda line: line.id,
    SortKey.kind: lambda line: line.kind,
    SortKey.status: lambda line: _STATUS_RANK[line.status],
    SortKey.battery: lambda line: line.battery_pct,
    SortKey.last_seen: lambda line: line.last_seen_at,
    SortKey.missing: lambda line: line.missing,
    SortKey.firmware: lambda line: (
        None if line.firmware_version is None else _natural(line.firmware_version)
    ),
    SortKey.config: lambda line: line.config_version,
}


def sort_lines(lines: Iterable[DeviceLine], order: TableOrder) -> list[DeviceLine]:
    """Sorted by the order's column, ties by id; rows without a value last either way."""
    value = _SORT_VALUES[order.key]
    by_id = sorted(lines, key=lambda line: line.id)
    known = [line for line in by_id if value(line) is not None]
    unknown = [line for line in by_id if value(line) is None]
    return sorted(known, key=value, reverse=order.descending) + unknown


def table_params(table_filter: TableFilter, order: TableOrder) -> dict[str, str]:
    """The address's query of a table view: only what differs from the default."""
    params: dict[str, str] = {}
    if table_filter.status is not None:
        params["status"] = table_filter.status.value
    if table_filter.kind is not None:
        params["kind"] = table_filter.kind
    if table_filter.text:
        params["q"] = table_filter.text
    if table_filter.battery_below is not None:
        params["battery_below"] = str(table_filter.battery_below)
    if table_filter.missing_only:
        params["missing"] = "1"
    if order != TableOrder():
        params["sort"] = order.key.value
        params["dir"] = "desc" if order.descending else "asc"
    return params


def table_href(path: str, table_filter: TableFilter, order: TableOrder) -> str:
    params = table_params(table_filter, order)
    return f"{path}?{urlencode(params)}" if params else path


def toggled(order: TableOrder, key: SortKey) -> TableOrder:
    """What a click on a column's header asks for: that column, or its other direction."""
    if order.key is key:
        return TableOrder(key, not order.descending)
    return TableOrder(key, False)


def aria_sort(order: TableOrder, key: SortKey) -> str:
    if order.key is not key:
        return "none"
    return "descending" if order.descending else "ascending"


# ---------------------------------------------------------------- the period of a track

PRESETS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
PRESET_LABELS = {"1h": N_("Last hour"), "24h": N_("Last 24 hours"), "7d": N_("Last 7 days")}
DEFAULT_PRESET = "24h"
INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


@dataclass(frozen=True, slots=True)
class Period:
    """A track's period in UTC, [start, end); ``preset`` when it is "the last ..."."""

    start: datetime
    end: datetime
    preset: str | None = None

    def local_input(self, moment: datetime, zone: ZoneInfo) -> str:
        return moment.astimezone(zone).strftime(INPUT_FORMAT)

    @property
    def span(self) -> timedelta:
        return self.end - self.start


class PeriodError(InvalidRequestError):
    """A period the form gave that cannot be read or is outside what may be asked."""


def parse_period(start: str, end: str, last: str, now: datetime, zone: ZoneInfo) -> Period:
    """The period asked for: a preset (``last``), or from/to as the console's local time.

    With neither, the default preset. A preset ends at the next whole minute, so the
    form's minute-precise inputs show exactly the period drawn and the newest fix is in.
    """
    if last or not (start or end):
        delta = PRESETS.get(last or DEFAULT_PRESET)
        if delta is None:
            raise PeriodError(f"last must be one of {', '.join(PRESETS)}")
        stop = _next_minute(now)
        return Period(stop - delta, stop, last or DEFAULT_PRESET)
    begin, stop = _local(start, zone), _local(end, zone)
    try:
        window = check_window(begin, stop, None)
    except InvalidRequestError as exc:
        raise PeriodError(str(exc)) from exc
    return Period(window.start, window.end)


def _next_minute(moment: datetime) -> datetime:
    floor = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _local(value: str, zone: ZoneInfo) -> datetime:
    """A datetime-local value in the console's zone, as an aware datetime."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


# ---------------------------------------------------------------- every fix, or buckets

RAW_FIXES = 2000  # a period holding at most this many fixes shows every one
MAX_BUCKETS = 2000
LATE_DRAWN = 500  # late fixes marked on the map at most (the first of them)
LATE_LISTED = 200  # late fixes listed below it at most
# Bucket lengths a reader can name ("one fix per 5 min"), shortest first.
BUCKET_STEPS_S = (
    10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip


def shows_every_fix(fix_count: int) -> bool:
    """Every fix is shown when the period holds few enough to draw one by one."""
    return fix_count <= RAW_FIXES


def bucket_seconds(span: timedelta, max_buckets: int = MAX_BUCKETS) -> int:
    """The shortest named bucket that cuts ``span`` into at most ``max_buckets``."""
    seconds = span.total_seconds()
    for step in BUCKET_STEPS_S:
        if seconds / step <= max_buckets:
            return step
    return BUCKET_STEPS_S[-1]


def bucket_label(every_s: int) -> tuple[int, str]:
    """A bucket as a number and a unit the catalogs translate ("5", "min")."""
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if every_s % seconds == 0:
            return every_s // seconds, unit
    return every_s, "s"


# ---------------------------------------------------------------- a track and its breaks

# Buckets further apart than this (and three buckets) are a gap: the device was silent.
SILENT_AFTER_S = 15 * 60


class BreakReason(StrEnum):
    missing = "missing"  # readings between the two fixes never arrived (a sequence gap)
    restart = "restart"  # the device restarted between them (a new boot)
    silent = "silent"  # nothing for a long time (buckets, or fixes without a seq)


@dataclass(frozen=True, slots=True)
class Fix:
    time: datetime
    lat: float
    lon: float
    accuracy_m: int | None = None
    boot: int | None = None
    seq: int | None = None
    late: bool = False


@dataclass(frozen=True, slots=True)
class Break:
    """Where the line stops: after one fix, before the next."""

    after: Fix
    before: Fix
    reason: BreakReason
    missing: int = 0  # readings missing between them, for ``missing``


@dataclass(frozen=True, slots=True)
class GapSpan:
    """Sequence numbers missing in one boot, inclusive (a ``SequenceGap`` row)."""

    boot: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Track:
    every_s: int | None  # None: every fix
    fixes: list[Fix]
    segments: list[list[Fix]]
    breaks: list[Break] = field(default_factory=list)
    late: list[Fix] = field(default_factory=list)  # marked: the first LATE_DRAWN, oldest first
    late_total: int = 0  # every late fix of the period

    @property
    def late_listed(self) -> list[Fix]:
        return self.late[:LATE_LISTED]

    @property
    def late_unlisted(self) -> int:
        return self.late_total - len(self.late_listed)

    @property
    def late_unmarked(self) -> int:
        return self.late_total - len(self.late)

    @property
    def segment_ranges(self) -> list[tuple[int, int]]:
        """Each piece of line as [first, end) indices into ``fixes``."""
        ranges: list[tuple[int, int]] = []
        start = 0
        for segment in self.segments:
            ranges.append((start, start + len(segment)))
            start += len(segment)
        return ranges


def fixes_of(rows: Iterable[Mapping[str, Any]]) -> list[Fix]:
    """Fixes from ``track_statement`` rows (``rows_of``); rows without a position skipped."""
    return [
        Fix(
            time=row["time"],
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            accuracy_m=_int_or_none(row.get("accuracy_m")),
            boot=_int_or_none(row.get("boot")),
            seq=_int_or_none(row.get("seq")),
            late=row.get("late") is True,
        )
        for row in rows
        if row.get("lat") is not None and row.get("lon") is not None
    ]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class MissingCounter:
    """How many sequence numbers strictly between two of one boot are missing."""

    def __init__(self, gaps: Iterable[GapSpan]) -> None:
        by_boot: dict[int, list[GapSpan]] = {}
        for gap in sorted(gaps, key=lambda g: (g.boot, g.first_seq)):
            by_boot.setdefault(gap.boot, []).append(gap)
        self._gaps = by_boot
        self._firsts = {boot: [g.first_seq for g in spans] for boot, spans in by_boot.items()}

    def between(self, boot: int, seq_a: int, seq_b: int) -> int:
        low, high = min(seq_a, seq_b) + 1, max(seq_a, seq_b) - 1
        spans = self._gaps.get(boot, [])
        index = bisect_right(self._firsts.get(boot, []), high) - 1
        count = 0
        # Gaps never overlap: those meeting [low, high] end at ``index``, contiguous.
        while index >= 0 and spans[index].last_seq >= low:
            span = spans[index]
            count += max(0, min(span.last_seq, high) - max(span.first_seq, low) + 1)
            index -= 1
        return count


def raw_track(fixes: Sequence[Fix], gaps: Iterable[GapSpan]) -> Track:
    """Every fix, the line broken where readings between two fixes are missing.

    Fixes share their device's sequence with its other records (health, events), so a
    seq that is not the next one is no gap by itself: only numbers the completeness
    record lacks are. A late fix that filled a hole has closed that gap, and the line
    runs through it.
    """
    missing = MissingCounter(gaps)
    late = [fix for fix in fixes if fix.late]
    track = _segmented(None, fixes, lambda a, b: _raw_break(a, b, missing))
    return replace(track, late=late[:LATE_DRAWN], late_total=len(late))


def _raw_break(a: Fix, b: Fix, missing: MissingCounter) -> Break | None:
    if a.boot is None or b.boot is None or a.seq is None or b.seq is None:
        return _silent_break(a, b, SILENT_AFTER_S)
    if a.boot != b.boot:
        return Break(a, b, BreakReason.restart)
    count = missing.between(a.boot, a.seq, b.seq)
    return Break(a, b, BreakReason.missing, count) if count else None


def bucketed_track(
    fixes: Sequence[Fix], every_s: int, late: Sequence[Fix] = (), late_total: int = 0
) -> Track:
    """One fix per bucket (empty buckets are absent), broken where the device was silent
    for three buckets and at least ``SILENT_AFTER_S``; ``late`` are the period's late
    fixes (the first of them, queried apart: a bucket keeps no flag) of ``late_total``."""
    silence = max(3 * every_s, SILENT_AFTER_S)
    track = _segmented(every_s, fixes, lambda a, b: _silent_break(a, b, silence))
    marked = list(late[:LATE_DRAWN])
    return replace(track, late=marked, late_total=max(late_total, len(marked)))


def _silent_break(a: Fix, b: Fix, silence_s: int) -> Break | None:
    apart = (b.time - a.time).total_seconds()
    return Break(a, b, BreakReason.silent) if apart > silence_s else None


def _segmented(
    every_s: int | None, fixes: Sequence[Fix], breaks_between: Callable[[Fix, Fix], Break | None]
) -> Track:
    segments: list[list[Fix]] = []
    breaks: list[Break] = []
    for fix in fixes:
        found = breaks_between(segments[-1][-1], fix) if segments else None
        if found is not None:
            breaks.append(found)
        if not segments or found is not None:
            segments.append([fix])
        else:
            segments[-1].append(fix)
    return Track(every_s, list(fixes), segments, breaks)
