"""Weekly schedules in local time: when a zone or a curfew applies.

A schedule is a list of windows; each window names days of the week and a time
of day span. A window whose end is not after its start runs past midnight into
the next day and belongs to its start day: "Sun 22:00-06:00" runs from Sunday
22:00 to Monday 06:00 (it wraps round the week). An empty schedule is always
active.

Time is given as the local second of the week (Monday 00:00:00 is 0). The
bracelet knows a fixed UTC offset (local_second_of_week); the cloud converts
with zoneinfo and passes the local second of the week itself.

The text form, one window after another separated by ";"::

    Mon-Fri 22:00-06:00; Sat,Sun 23:00-07:00
    every day 22:00-06:00

Runs on MicroPython: no typing at run time, no dataclasses.
"""

from core.errors import CoreError

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

SECONDS_PER_DAY = 86400
SECONDS_PER_WEEK = 604800
MINUTES_PER_DAY = 1440
ALL_DAYS = 127
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EVERY_DAY = "every day"
# 1970-01-01 00:00 UTC was a Thursday: 3 days after a Monday 00:00.
_EPOCH_SECOND_OF_WEEK = 3 * SECONDS_PER_DAY


class ScheduleError(CoreError):
    """A window or a schedule's text that cannot be used (a ValueError)."""


def _check_int(value: "Any", name: str, low: int, high: int) -> int:
    # type() rather than isinstance: bool is no int subclass on MicroPython.
    if type(value) is not int:
        raise ScheduleError("%s must be an integer, got %r" % (name, value))
    if value < low or value > high:
        raise ScheduleError("%s is %d, outside %d..%d" % (name, value, low, high))
    return value


class Window:
    """Days of the week (bit 0 Monday ... bit 6 Sunday) and a span of the day in minutes.

    ``start_min`` 0..1439, ``end_min`` 0..1440; ``end_min <= start_min`` runs
    past midnight into the next day. A window of no length (start == end) is
    refused.
    """

    def __init__(self, days: int, start_min: int, end_min: int) -> None:
        self.days = _check_int(days, "days", 1, ALL_DAYS)
        self.start_min = _check_int(start_min, "start_min", 0, MINUTES_PER_DAY - 1)
        self.end_min = _check_int(end_min, "end_min", 0, MINUTES_PER_DAY)
        if start_min == end_min:
            raise ScheduleError("a window must not start and end at the same minute")

    @property
    def length_s(self) -> int:
        """How long each day's window lasts, in seconds."""
        minutes = self.end_min - self.start_min
        if minutes <= 0:
            minutes += MINUTES_PER_DAY
        return minutes * 60

    def opened_ago_s(self, sow: int) -> "int | None":
        """Seconds since this window opened, if it is open at ``sow``; else None."""
        length = self.length_s
        best = None
        for day in range(7):
            if self.days & (1 << day):
                ago = (sow - day * SECONDS_PER_DAY - self.start_min * 60) % SECONDS_PER_WEEK
                if ago < length and (best is None or ago > best):
                    best = ago
        return best

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Window)
            and self.days == other.days
            and self.start_min == other.start_min
            and self.end_min == other.end_min
        )

    def __hash__(self) -> int:
        return hash((self.days, self.start_min, self.end_min))

    def __repr__(self) -> str:
        return "Window(%d, %d, %d)" % (self.days, self.start_min, self.end_min)


def second_of_week(weekday: int, hour: int, minute: int, second: int) -> int:
    """The second of the week of a local time; weekday 0 is Monday."""
    _check_int(weekday, "weekday", 0, 6)
    _check_int(hour, "hour", 0, 23)
    _check_int(minute, "minute", 0, 59)
    _check_int(second, "second", 0, 59)
    return weekday * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second


def local_second_of_week(ts: int, utc_offset_min: int) -> int:
    """The local second of the week of Unix time ``ts`` at a fixed UTC offset (minutes)."""
    _check_int(utc_offset_min, "utc_offset_min", -MINUTES_PER_DAY + 1, MINUTES_PER_DAY - 1)
    if type(ts) is not int:
        raise ScheduleError("ts must be an integer number of seconds, got %r" % (ts,))
    return (ts + utc_offset_min * 60 + _EPOCH_SECOND_OF_WEEK) % SECONDS_PER_WEEK


def _check_sow(sow: "Any") -> None:
    _check_int(sow, "second of the week", 0, SECONDS_PER_WEEK - 1)


def active(windows: "list[Window]", sow: int) -> bool:
    """Whether the schedule applies at local second of the week ``sow``; empty: always."""
    _check_sow(sow)
    if not windows:
        return True
    for window in windows:
        if window.opened_ago_s(sow) is not None:
            return True
    return False


def opened_ago_s(windows: "list[Window]", sow: int) -> "int | None":
    """Seconds since the open window opened; None when none is open or ``windows`` is empty.

    When windows overlap, the one that opened first counts.
    """
    _check_sow(sow)
    best = None
    for window in windows:
        ago = window.opened_ago_s(sow)
        if ago is not None and (best is None or ago > best):
            best = ago
    return best


# --- the text form ----------------------------------------------------------


def _day_index(name: str, text: str) -> int:
    for index in range(7):
        if DAY_NAMES[index].lower() == name.lower():
            return index
    raise ScheduleError(
        "unknown day %r in %r: use Mon, Tue, Wed, Thu, Fri, Sat, Sun" % (name, text)
    )


def _parse_days(part: str, text: str) -> int:
    if part.lower() in (EVERY_DAY, "daily"):
        return ALL_DAYS
    mask = 0
    for item in part.split(","):
        item = item.strip()
        if not item:
            raise ScheduleError("an empty day in %r" % text)
        if "-" in item:
            first, last = item.split("-", 1)
            day = _day_index(first.strip(), text)
            end = _day_index(last.strip(), text)
            mask |= 1 << day
            while day != end:  # a range may wrap: Fri-Mon
                day = (day + 1) % 7
                mask |= 1 << day
        else:
            mask |= 1 << _day_index(item, text)
    return mask


def _parse_time(part: str, text: str, is_end: bool) -> int:
    pieces = part.split(":")
    if len(pieces) != 2 or len(pieces[1]) != 2 or not 1 <= len(pieces[0]) <= 2:
        raise ScheduleError("time %r in %r is not HH:MM" % (part, text))
    for piece in pieces:
        for char in piece:
            if char not in "0123456789":
                raise ScheduleError("time %r in %r is not HH:MM" % (part, text))
    hour = int(pieces[0])
    minute = int(pieces[1])
    if minute > 59 or hour > 24 or (hour == 24 and (minute != 0 or not is_end)):
        raise ScheduleError(
            "time %r in %r is not a time of day (00:00..23:59, 24:00 as an end)" % (part, text)
        )
    return hour * 60 + minute


def _parse_window(text: str) -> Window:
    cut = text.rfind(" ")
    if cut < 0:
        raise ScheduleError(
            "window %r needs days and a time span, e.g. 'Mon-Fri 22:00-06:00'" % text
        )
    days_part = text[:cut].strip()
    span = text[cut + 1 :]
    times = span.split("-")
    if len(times) != 2:
        raise ScheduleError("time span %r in %r is not HH:MM-HH:MM" % (span, text))
    start = _parse_time(times[0], text, False)
    end = _parse_time(times[1], text, True)
    if start == end:
        raise ScheduleError("window %r starts and ends at the same minute" % text)
    return Window(_parse_days(days_part, text), start, end)


def parse_windows(text: str) -> "list[Window]":
    """Windows from their text form ("Mon-Fri 22:00-06:00; Sat,Sun 23:00-07:00").

    Day names are Mon..Sun (any case), in lists (Sat,Sun) and ranges (Mon-Fri,
    Fri-Mon wraps), or "every day"; times are HH:MM, 24:00 as an end. Empty
    text is the empty (always active) schedule. ScheduleError says what is wrong.
    """
    if not isinstance(text, str):
        raise ScheduleError("a schedule's text must be a string, got %r" % (text,))
    windows = []
    for part in text.split(";"):
        part = " ".join(part.split())
        if part:
            windows.append(_parse_window(part))
        elif text.strip():
            raise ScheduleError("an empty window in %r (two ';' in a row?)" % text)
    return windows


def _format_days(days: int) -> str:
    if days == ALL_DAYS:
        return EVERY_DAY
    parts = []
    day = 0
    while day < 7:
        if days & (1 << day):
            last = day
            while last + 1 < 7 and days & (1 << (last + 1)):
                last += 1
            if last - day >= 2:
                parts.append(DAY_NAMES[day] + "-" + DAY_NAMES[last])
            else:
                for index in range(day, last + 1):
                    parts.append(DAY_NAMES[index])
            day = last + 1
        else:
            day += 1
    return ",".join(parts)


def _format_time(minutes: int) -> str:
    return "%02d:%02d" % (minutes // 60, minutes % 60)


def format_windows(windows: "list[Window]") -> str:
    """The text form parse_windows reads back to the same windows."""
    return "; ".join(
        "%s %s-%s" % (_format_days(w.days), _format_time(w.start_min), _format_time(w.end_min))
        for w in windows
    )
