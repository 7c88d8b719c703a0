"""The river pages' pure helpers: class names in both languages, a parameter's class bounds,
the class timeline's days, and untrusted values kept off the chart lines, raw and in
buckets. No browser, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.console import i18n
from cloud.console.class_views import (
    CLASS_LABELS,
    MAX_CLASS_DAYS,
    MAX_JUDGED_SAMPLES,
    Untrusted,
    bounds_for,
    by_bucket,
    class_window,
    judged_days,
    timeline,
    untrusted_values,
)
from cloud.console.site_views import charts_from_buckets, charts_from_samples
from cloud.rivers import assess
from core import contract as c
from core import waterclass

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
DO = c.WATER_PARAMETER_IDS["dissolved_oxygen"]


def test_the_classes_are_cores_and_read_as_the_standard_writes_them_in_chinese() -> None:
    assert CLASS_LABELS == waterclass.CLASS_NAMES
    chinese = i18n.translations("zh-CN").gettext
    assert [chinese(label) for label in CLASS_LABELS.values()] == [
        "Ⅰ类",
        "Ⅱ类",
        "Ⅲ类",
        "Ⅳ类",
        "Ⅴ类",
        "劣Ⅴ类",
    ]


def test_bounds_are_five_lines_for_a_limit_two_for_ph_and_none_without_a_class() -> None:
    river = bounds_for("total_phosphorus", "river")
    lake = bounds_for("total_phosphorus", "lake")
    assert [(b.value, b.label) for b in river.lines] == [
        (0.02, "I"),
        (0.1, "II"),
        (0.2, "III"),
        (0.3, "IV"),
        (0.4, "V"),
    ]
    assert [b.value for b in lake.lines] == [0.01, 0.025, 0.05, 0.1, 0.2]
    assert bounds_for("dissolved_oxygen", "river").kind == waterclass.MIN
    assert [b.value for b in bounds_for("ph", "river").lines] == [6.0, 9.0]
    assert bounds_for("water_temp", "river").lines == ()
    assert bounds_for("total_nitrogen", "river").lines == ()  # a river's TN sets no class
    assert len(bounds_for("total_nitrogen", "lake").lines) == 5


def test_a_timeline_covers_the_local_days_of_the_period_and_at_most_92() -> None:
    end = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    week = class_window(end - timedelta(days=7), end, SHANGHAI)
    assert (week.first, week.last, week.days) == (date(2026, 11, 28), date(2026, 12, 5), 8)
    assert week.start == end - timedelta(days=7)
    year = class_window(end - timedelta(days=365), end, SHANGHAI)
    assert year.days == MAX_CLASS_DAYS
    assert year.start == datetime(2026, 9, 4, 16, 0, tzinfo=UTC)  # local midnight
    # 288 samples a day: 3,000 judged make 10 days.
    assert judged_days(288 * 30, timedelta(days=30)) == MAX_JUDGED_SAMPLES // 288
    assert judged_days(0, timedelta(days=30)) == MAX_CLASS_DAYS
    day = assess.DayClass(date(2026, 12, 4), 4, (c.WATER_PARAMETER_IDS["ammonia_nitrogen"],),
                          {}, {}, 2)  # fmt: skip
    cells = timeline([day], week)
    assert len(cells) == 8
    [sampled] = [cell for cell in cells if cell.sampled]
    assert (sampled.day, sampled.cls, sampled.deciding) == (day.day, 4, ("ammonia_nitrogen",))
    assert sampled.worse_than(2)
    assert not sampled.worse_than(4)
    assert not sampled.worse_than(None)


def _stuck_oxygen() -> list[assess.Assessed]:
    """Oxygen every 20 min, stuck at 7.00 from the 4th sample on, for 3 hours."""
    samples = [
        assess.Sample(
            int((T0 + timedelta(minutes=20 * i)).timestamp()),
            "rs-1",
            {DO: 7.0 if i >= 3 else 8.0 + i * 0.05},
        )
        for i in range(13)
    ]
    return assess.assess(samples, "river")


def test_untrusted_values_leave_the_lines_raw_and_in_buckets() -> None:
    found = untrusted_values(_stuck_oxygen())
    stuck = found["dissolved_oxygen"]
    assert stuck
    assert {item.reasons for item in stuck} == {("stuck",)}
    rows = [
        {"time": T0 + timedelta(minutes=20 * i), "device_id": "rs-1",
         "dissolved_oxygen": 7.0 if i >= 3 else 8.0 + i * 0.05}
        for i in range(13)
    ]  # fmt: skip
    raw = charts_from_samples(rows, ["dissolved_oxygen"], found)["dissolved_oxygen"]
    assert len(raw.untrusted) == len(stuck)
    assert len(raw.lines["rs-1"]) == 13 - len(stuck)
    # One bucket of a day: the untrusted values out of its mean, one mark for them.
    buckets = [
        {"time": T0, "device_id": "rs-1", "dissolved_oxygen_sum": sum(r["dissolved_oxygen"]
         for r in rows), "dissolved_oxygen_count": 13}
    ]  # fmt: skip
    chart = charts_from_buckets(buckets, [], ["dissolved_oxygen"], 86400, found)["dissolved_oxygen"]
    trusted = [r["dissolved_oxygen"] for r in rows][: 13 - len(stuck)]
    [(_time, mean)] = chart.lines["rs-1"]
    assert abs(mean - sum(trusted) / len(trusted)) < 1e-9
    [mark] = chart.untrusted
    assert (mark.count, mark.value, mark.reasons) == (len(stuck), 7.0, ("stuck",))


def test_a_bucket_mark_names_every_reason_once() -> None:
    values = [
        Untrusted(T0, "rs-1", 1.0, ("spike",)),
        Untrusted(T0 + timedelta(minutes=5), "rs-1", 3.0, ("out_of_range", "spike")),
        Untrusted(T0 + timedelta(hours=2), "rs-1", 5.0, ("stuck",)),
    ]
    first, second = by_bucket(values, 3600)
    assert (first.count, first.value, first.reasons) == (2, 2.0, ("out_of_range", "spike"))
    assert (second.time, second.count) == (T0 + timedelta(hours=2), 1)
