"""The device table's filters and order, and a track's period, buckets and breaks,
without a browser (cloud.console.device_views)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud.console import device_views as views
from cloud.errors import InvalidRequestError
from cloud.fleet.presence import DeviceStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def line(device_id: str, **values: Any) -> views.DeviceLine:
    """A row of the table with nothing known but what a test gives."""
    blank = views.DeviceLine(
        device_id, "bracelet", DeviceStatus.online, None, None, 0, None, None, None
    )
    return replace(blank, **values)


def ids(lines: list[views.DeviceLine]) -> list[str]:
    return [item.id for item in lines]


# ---------------------------------------------------------------- the table


def test_rows_without_a_value_come_last_in_either_direction() -> None:
    lines = [line("br-a", battery_pct=40), line("br-b"), line("br-c", battery_pct=5)]
    up = views.sort_lines(lines, views.TableOrder(views.SortKey.battery, False))
    down = views.sort_lines(lines, views.TableOrder(views.SortKey.battery, True))
    assert ids(up) == ["br-c", "br-a", "br-b"]
    assert ids(down) == ["br-a", "br-c", "br-b"]


def test_ties_keep_the_id_order_and_status_sorts_by_its_meaning_not_its_word() -> None:
    lines = [
        line("br-c", status=DeviceStatus.unknown),
        line("br-b", status=DeviceStatus.online),
        line("br-a", status=DeviceStatus.gateway_unreachable),
        line("br-d", status=DeviceStatus.online),
    ]
    ordered = views.sort_lines(lines, views.TableOrder(views.SortKey.status, False))
    assert ids(ordered) == ["br-b", "br-d", "br-a", "br-c"]


def test_firmware_versions_sort_as_versions() -> None:
    lines = [line("br-a", firmware_version="1.10.0"), line("br-b", firmware_version="1.9.2")]
    ordered = views.sort_lines(lines, views.TableOrder(views.SortKey.firmware, False))
    assert ids(ordered) == ["br-b", "br-a"]


def test_a_config_is_pending_while_the_device_runs_another() -> None:
    assert line("br-a", config_version=2, issued_config_version=3).config_pending
    assert not line("br-a", config_version=3, issued_config_version=3).config_pending
    assert not line("br-a", config_version=None, issued_config_version=None).config_pending


def test_the_filters_read_from_the_form_and_refuse_what_is_not_a_choice() -> None:
    parsed = views.parse_filter("offline", "river-station", " RS-00 ", "30", "1")
    assert parsed == views.TableFilter(DeviceStatus.offline, "river-station", "rs-00", 30, True)
    assert views.parse_filter("", "", "", "", "") == views.TableFilter()
    assert not views.TableFilter().active
    for bad in (
        ("asleep", "", "", "", ""),
        ("", "toaster", "", "", ""),
        ("", "", "", "many", ""),
        ("", "", "", "500", ""),
        ("", "", "x" * 65, "", ""),
    ):
        with pytest.raises(InvalidRequestError):
            views.parse_filter(*bad)


def test_only_whitelisted_sort_keys_and_directions_are_taken() -> None:
    assert views.parse_order("", "") == views.TableOrder()
    assert views.parse_order("battery", "desc") == views.TableOrder(views.SortKey.battery, True)
    with pytest.raises(InvalidRequestError):
        views.parse_order("battery; DROP TABLE devices", "asc")
    with pytest.raises(InvalidRequestError):
        views.parse_order("id", "sideways")


def test_a_header_toggles_its_own_column_and_keeps_the_filters() -> None:
    by_battery = views.TableOrder(views.SortKey.battery, False)
    assert views.toggled(by_battery, views.SortKey.battery).descending
    assert views.toggled(by_battery, views.SortKey.id) == views.TableOrder(views.SortKey.id, False)
    assert views.aria_sort(by_battery, views.SortKey.battery) == "ascending"
    assert views.aria_sort(by_battery, views.SortKey.id) == "none"
    kept = views.TableFilter(status=DeviceStatus.online, missing_only=True)
    href = views.table_href("/console/devices", kept, views.toggled(by_battery, views.SortKey.id))
    assert href == "/console/devices?status=online&missing=1"
    assert views.table_href("/console/devices", views.TableFilter(), views.TableOrder()) == (
        "/console/devices"
    )


# ---------------------------------------------------------------- the period


def test_the_default_period_is_the_last_24_hours_to_the_next_whole_minute() -> None:
    now = datetime(2025, 3, 1, 8, 0, 30, tzinfo=UTC)
    period = views.parse_period("", "", "", now, SHANGHAI)
    assert period.end == datetime(2025, 3, 1, 8, 1, tzinfo=UTC)
    assert period.span == timedelta(hours=24)
    assert period.preset == "24h"
    assert period.local_input(period.end, SHANGHAI) == "2025-03-01T16:01"


def test_a_period_given_in_local_time_is_kept_in_utc() -> None:
    period = views.parse_period("2025-03-01T16:00", "2025-03-01T18:30", "", T0, SHANGHAI)
    assert period.start == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert period.end == datetime(2025, 3, 1, 10, 30, tzinfo=UTC)
    assert period.preset is None


@pytest.mark.parametrize(
    ("start", "end", "last"),
    [
        ("2025-03-01T18:00", "2025-03-01T16:00", ""),  # backwards
        ("yesterday", "2025-03-01T16:00", ""),
        ("2023-01-01T00:00", "2025-03-01T16:00", ""),  # over a year
        ("", "", "3w"),
    ],
)
def test_a_period_that_cannot_be_drawn_is_refused(start: str, end: str, last: str) -> None:
    with pytest.raises(views.PeriodError):
        views.parse_period(start, end, last, T0, SHANGHAI)


def test_buckets_keep_a_period_under_two_thousand_points() -> None:
    for span in (timedelta(hours=7), timedelta(days=1), timedelta(days=7), timedelta(days=366)):
        every_s = views.bucket_seconds(span)
        assert span.total_seconds() / every_s <= views.MAX_BUCKETS
        assert every_s in views.BUCKET_STEPS_S
    assert views.bucket_seconds(timedelta(days=7)) == 600  # 5 min would be 2,016
    assert views.bucket_label(600) == (10, "min")
    assert views.bucket_label(7200) == (2, "h")
    assert views.bucket_label(30) == (30, "s")
    assert views.shows_every_fix(views.RAW_FIXES)
    assert not views.shows_every_fix(views.RAW_FIXES + 1)
    # A day of fixes every 10 s (8,640) is drawn one per minute: 1,440 points.
    assert views.bucket_seconds(timedelta(days=1)) == 60


# ---------------------------------------------------------------- breaks in a track


def fix(minute: int, seq: int | None, boot: int | None = 1, late: bool = False) -> views.Fix:
    return views.Fix(T0 + timedelta(minutes=minute), 31.2, 121.4, 8, boot, seq, late)


def test_the_line_breaks_only_where_readings_are_missing() -> None:
    # Seq 3 is a health record between two fixes (no gap); 6..7 never arrived.
    fixes = [fix(0, 1), fix(1, 2), fix(2, 4), fix(3, 5), fix(4, 8), fix(5, 9)]
    track = views.raw_track(fixes, [views.GapSpan(1, 6, 7)])
    assert [[f.seq for f in segment] for segment in track.segments] == [[1, 2, 4, 5], [8, 9]]
    [cut] = track.breaks
    assert (cut.reason, cut.missing, cut.after.seq, cut.before.seq) == (
        views.BreakReason.missing,
        2,
        5,
        8,
    )


def test_a_gap_of_another_boot_or_outside_the_two_fixes_breaks_nothing() -> None:
    fixes = [fix(0, 10), fix(1, 11), fix(2, 12)]
    gaps = [views.GapSpan(2, 10, 12), views.GapSpan(1, 1, 9), views.GapSpan(1, 13, 20)]
    assert len(views.raw_track(fixes, gaps).segments) == 1


def test_a_late_fix_between_newer_ones_keeps_the_line_whole() -> None:
    # Seq 4 was taken before seq 2 and arrived last; it filled no gap that is still open.
    fixes = [fix(0, 1), fix(1, 4, late=True), fix(2, 2), fix(3, 3)]
    track = views.raw_track(fixes, [])
    assert len(track.segments) == 1
    assert [f.seq for f in track.late] == [4]


def test_a_restart_and_fixes_without_a_sequence_break_the_line() -> None:
    restarted = views.raw_track([fix(0, 7), fix(1, 1, boot=2)], [])
    assert [cut.reason for cut in restarted.breaks] == [views.BreakReason.restart]
    unnumbered = views.raw_track([fix(0, None), fix(1, None), fix(60, None)], [])
    assert [cut.reason for cut in unnumbered.breaks] == [views.BreakReason.silent]


def test_buckets_break_where_the_device_was_silent_for_three_of_them() -> None:
    buckets = [fix(0, None), fix(10, None), fix(20, None), fix(60, None), fix(70, None)]
    track = views.bucketed_track(buckets, 600)
    assert [len(segment) for segment in track.segments] == [3, 2]
    assert track.every_s == 600
    # Short buckets: a quarter of an hour of silence is still no gap.
    assert len(views.bucketed_track([fix(0, None), fix(14, None)], 60).segments) == 1


def test_rows_without_a_position_are_no_fix() -> None:
    rows: list[dict[str, Any]] = [
        {
            "time": T0,
            "lat": 31.2,
            "lon": 121.4,
            "accuracy_m": 8.0,
            "boot": 1,
            "seq": 3,
            "late": True,
        },
        {"time": T0, "lat": None, "lon": None},
    ]
    [only] = views.fixes_of(rows)
    assert (only.seq, only.accuracy_m, only.late) == (3, 8, True)
    assert views.raw_track([], []).segments == []


def test_late_fixes_are_marked_and_listed_up_to_their_caps_and_counted_in_full() -> None:
    count = views.LATE_DRAWN + 100
    track = views.raw_track([fix(n, n + 1, late=n % 2 == 0) for n in range(2 * count)], [])
    assert track.late_total == count
    assert [f.seq for f in track.late] == [2 * n + 1 for n in range(views.LATE_DRAWN)]
    assert track.late_unmarked == 100
    assert track.late_listed == track.late[: views.LATE_LISTED]
    assert track.late_unlisted == count - views.LATE_LISTED
    few = views.raw_track([fix(0, 1), fix(1, 2, late=True)], [])
    assert (len(few.late), few.late_total, few.late_unmarked, few.late_unlisted) == (1, 1, 0, 0)


def test_buckets_carry_the_late_fixes_read_apart_with_their_total() -> None:
    buckets = [fix(0, None), fix(1, None), fix(30, None), fix(31, None), fix(32, None)]
    late = [fix(n, n, late=True) for n in range(views.LATE_DRAWN)]
    track = views.bucketed_track(buckets, 60, late, 1234)
    assert (len(track.late), track.late_total, track.late_unmarked) == (views.LATE_DRAWN, 1234, 734)
    assert track.segment_ranges == [(0, 2), (2, 5)]  # indices into the fixes, end excluded
    assert views.bucketed_track(buckets, 60).late_total == 0
    assert views.raw_track([], []).segment_ranges == []
