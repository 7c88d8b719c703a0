"""Weekly schedules: windows past midnight and past Sunday, the text form, bad text refused."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import schedule
from core.schedule import SECONDS_PER_WEEK, Window, second_of_week

CURFEW = [Window(127, 1320, 360)]  # every day 22:00-06:00
HOUR = 3600


def sow(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return second_of_week(day, hour, minute, second)


MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def test_a_nightly_curfew() -> None:
    assert schedule.active(CURFEW, sow(TUE, 2))
    assert schedule.opened_ago_s(CURFEW, sow(TUE, 2)) == 4 * HOUR  # opened Monday 22:00
    assert schedule.active(CURFEW, sow(SUN, 23))
    assert schedule.opened_ago_s(CURFEW, sow(SUN, 23)) == HOUR
    assert schedule.opened_ago_s(CURFEW, sow(MON, 3)) == 5 * HOUR  # Sunday 22:00: wraps the week
    assert schedule.opened_ago_s(CURFEW, sow(MON, 22)) == 0
    assert schedule.opened_ago_s(CURFEW, sow(TUE, 5, 59, 59)) == 8 * HOUR - 1
    assert not schedule.active(CURFEW, sow(TUE, 6))  # the end is not part of it
    assert schedule.opened_ago_s(CURFEW, sow(TUE, 6)) is None
    assert not schedule.active(CURFEW, sow(WED, 12))


def test_a_window_past_midnight_belongs_to_its_start_day() -> None:
    friday_night = [Window(1 << FRI, 1380, 120)]  # Fri 23:00 - Sat 02:00
    assert schedule.active(friday_night, sow(SAT, 1))
    assert schedule.opened_ago_s(friday_night, sow(SAT, 1, 30)) == 2 * HOUR + 1800
    assert not schedule.active(friday_night, sow(FRI, 1))  # Thursday night is not in it
    assert not schedule.active(friday_night, sow(SAT, 23, 30))


def test_sunday_night_runs_into_monday() -> None:
    sunday_night = [Window(1 << SUN, 1200, 480)]  # Sun 20:00 - Mon 08:00
    assert schedule.active(sunday_night, sow(SUN, 21))
    assert schedule.active(sunday_night, sow(MON, 7, 59, 59))
    assert schedule.opened_ago_s(sunday_night, sow(MON, 0)) == 4 * HOUR
    assert not schedule.active(sunday_night, sow(MON, 8))
    assert not schedule.active(sunday_night, sow(SUN, 7))


def test_windows_within_a_day_and_the_whole_day() -> None:
    office = [Window(0b0011111, 540, 1080)]  # Mon-Fri 09:00-18:00
    assert schedule.active(office, sow(WED, 9))
    assert not schedule.active(office, sow(SAT, 10))
    whole = [Window(1 << WED, 0, 1440)]
    assert schedule.active(whole, sow(WED, 0))
    assert schedule.active(whole, sow(WED, 23, 59, 59))
    assert not schedule.active(whole, sow(THU, 0))
    assert schedule.opened_ago_s(whole, sow(WED, 23, 59, 59)) == 86399


def test_an_empty_schedule_is_always_on_and_has_no_opening() -> None:
    assert schedule.active([], sow(THU, 4))
    assert schedule.opened_ago_s([], sow(THU, 4)) is None


def test_overlapping_windows_count_from_the_first_opened() -> None:
    windows = [Window(1 << MON, 1200, 1380), Window(1 << MON, 1320, 120)]  # 20-23, 22-02
    assert schedule.opened_ago_s(windows, sow(MON, 22, 30)) == 2 * HOUR + 1800
    assert schedule.opened_ago_s(windows, sow(TUE, 1)) == 3 * HOUR


@pytest.mark.parametrize(
    ("days", "start", "end"),
    [
        (0, 0, 60),
        (128, 0, 60),
        (1, -1, 60),
        (1, 1440, 60),
        (1, 0, 1441),
        (1, 600, 600),
        (True, 0, 60),
    ],
)
def test_bad_windows_are_refused(days: int, start: int, end: int) -> None:
    assert issubclass(schedule.ScheduleError, ValueError)
    with pytest.raises(schedule.ScheduleError):
        Window(days, start, end)


def test_seconds_of_the_week() -> None:
    assert second_of_week(0, 0, 0, 0) == 0
    assert second_of_week(6, 23, 59, 59) == SECONDS_PER_WEEK - 1
    with pytest.raises(ValueError, match=r"weekday is 7, outside 0\.\.6"):
        second_of_week(7, 0, 0, 0)
    with pytest.raises(ValueError, match="hour is 24"):
        second_of_week(0, 24, 0, 0)
    with pytest.raises(ValueError, match="second of the week is 604800"):
        schedule.active(CURFEW, SECONDS_PER_WEEK)


@given(st.integers(0, 2**32), st.sampled_from([-600, -300, 0, 330, 480, 545, 840]))
def test_the_bracelets_offset_matches_the_calendar(ts: int, offset_min: int) -> None:
    local = dt.datetime.fromtimestamp(ts, dt.timezone(dt.timedelta(minutes=offset_min)))
    expected = second_of_week(local.weekday(), local.hour, local.minute, local.second)
    assert schedule.local_second_of_week(ts, offset_min) == expected


def test_the_cloud_uses_zoneinfo_to_the_same_second() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    ts = 1795968000  # 2026-11-30 00:00 in Shanghai, a Monday
    local = dt.datetime.fromtimestamp(ts, shanghai)
    cloud = second_of_week(local.weekday(), local.hour, local.minute, local.second)
    assert cloud == schedule.local_second_of_week(ts, 480) == 0


# --- the text form --------------------------------------------------------------------


def test_parse_the_example() -> None:
    windows = schedule.parse_windows("Mon-Fri 22:00-06:00; Sat,Sun 23:00-07:00")
    assert windows == [Window(0b0011111, 1320, 360), Window(0b1100000, 1380, 420)]


@pytest.mark.parametrize(
    ("text", "windows", "canonical"),
    [
        ("every day 22:00-06:00", [Window(127, 1320, 360)], "every day 22:00-06:00"),
        ("daily 22:00-06:00", [Window(127, 1320, 360)], "every day 22:00-06:00"),
        ("Mon-Sun 9:00-17:30", [Window(127, 540, 1050)], "every day 09:00-17:30"),
        ("  mon ,WED  08:00-24:00 ", [Window(0b101, 480, 1440)], "Mon,Wed 08:00-24:00"),
        ("Fri-Mon 20:00-23:00", [Window(0b1110001, 1200, 1380)], "Mon,Fri-Sun 20:00-23:00"),
        ("Sat 00:00-00:30", [Window(1 << SAT, 0, 30)], "Sat 00:00-00:30"),
        ("Tue,Wed,Thu 23:00-00:00", [Window(0b1110, 1380, 0)], "Tue-Thu 23:00-00:00"),
        ("", [], ""),
    ],
)
def test_parse_and_format(text: str, windows: list[Window], canonical: str) -> None:
    assert schedule.parse_windows(text) == windows
    assert schedule.format_windows(windows) == canonical
    assert schedule.parse_windows(canonical) == windows


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Mon-Fri", "needs days and a time span"),
        ("Moon 22:00-06:00", "unknown day 'Moon'"),
        ("Mon-Fri 22:00", "not HH:MM-HH:MM"),
        ("Mon 25:00-06:00", "not a time of day"),
        ("Mon 22:60-23:00", "not a time of day"),
        ("Mon 24:00-06:00", "not a time of day"),
        ("Mon 24:30-06:00", "not a time of day"),
        ("Mon 2200-0600", "not HH:MM"),
        ("Mon 22:00-22:00", "same minute"),
        ("Mon 22:00-06:00;; Tue 10:00-11:00", "empty window"),
        ("Mon,,Tue 10:00-11:00", "empty day"),
        ("Mon 1a:00-11:00", "not HH:MM"),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        schedule.parse_windows(text)


@st.composite
def windows_lists(draw: st.DrawFn) -> list[Window]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(0, 1440).filter(lambda e, s=start: e != s))
        out.append(Window(draw(st.integers(1, 127)), start, end))
    return out


@given(windows_lists())
def test_format_then_parse_is_the_same_windows(windows: list[Window]) -> None:
    assert schedule.parse_windows(schedule.format_windows(windows)) == windows


@given(windows_lists(), st.integers(0, SECONDS_PER_WEEK - 1))
def test_opened_ago_is_consistent_with_active(windows: list[Window], at: int) -> None:
    ago = schedule.opened_ago_s(windows, at)
    if not windows:
        assert schedule.active(windows, at)
        assert ago is None
        return
    assert schedule.active(windows, at) == (ago is not None)
    if ago is not None:
        assert 0 <= ago < 86400
        # A second earlier the same window was open too, unless it opened right now.
        if ago > 0:
            assert schedule.opened_ago_s(windows, (at - 1) % SECONDS_PER_WEEK) is not None
