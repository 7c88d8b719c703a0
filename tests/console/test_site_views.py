"""The site pages' pure helpers: value texts, the latest sample of a site, raw or bucketed
charts (flagged values never drawn as normal, nor averaged in), local chart times and the
period form. No browser, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cloud.console import i18n
from cloud.console.site_views import (
    BUCKET_STEPS,
    FLAG_LABELS,
    MAX_CHART_POINTS,
    PARAMETER_LABELS,
    PARAMETERS,
    PeriodError,
    bucket_start,
    chart_data,
    charts_from_buckets,
    charts_from_samples,
    every_s_for,
    flag_label,
    format_value,
    latest_of,
    local_ms,
    parse_local,
    period_of,
    samples_per_chart,
    with_breaks,
)
from cloud.timeseries.schema import WATER_PARAMETER_NAMES
from core import contract as c

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_every_parameter_and_flag_of_the_contract_has_words_in_both_languages() -> None:
    assert [p.name for p in PARAMETERS] == list(WATER_PARAMETER_NAMES)
    assert set(PARAMETER_LABELS) == set(WATER_PARAMETER_NAMES)
    not_normal = set(c.VALUE_STATUS_NAMES) - {c.VALUE_NORMAL}
    assert set(FLAG_LABELS) == not_normal
    chinese = i18n.translations("zh-CN").gettext
    assert chinese(PARAMETER_LABELS["dissolved_oxygen"]) == "溶解氧"
    assert chinese(PARAMETER_LABELS["permanganate_index"]) == "高锰酸盐指数"
    assert chinese(flag_label(c.VALUE_CALIBRATING)) != flag_label(c.VALUE_CALIBRATING)
    assert flag_label(99) == "unknown flag"


def test_a_value_is_written_to_the_resolution_it_is_sent_with_and_its_unit() -> None:
    assert format_value("water_temp", 18.5) == "18.50 °C"
    assert format_value("ph", 7.2) == "7.20"  # pH is its own scale
    assert format_value("conductivity", 420.0) == "420 µS/cm"
    assert format_value("ammonia_nitrogen", 0.05) == "0.050 mg/L"
    assert format_value("turbidity", None) == "\u2013"


def test_the_latest_sample_of_a_site_is_its_stations_newest_with_its_flags() -> None:
    older = {"device_id": "rs-1", "time": at(0), "ph": 7.0}
    newer = {
        "device_id": "rs-2",
        "time": at(5),
        "ph": 7.4,
        "turbidity_status": c.VALUE_MAINTENANCE,
        "water_temp": 12.0,
    }
    latest = latest_of([older, newer])
    assert latest is not None
    assert latest.station == "rs-2"
    assert latest.time == at(5)
    shown = {r.parameter.name: (r.value, r.flag_label) for r in latest.readings}
    assert shown == {
        "water_temp": (12.0, None),
        "ph": (7.4, None),
        "turbidity": (None, "maintenance"),
    }
    assert latest_of([]) is None


def test_few_samples_are_shown_raw_and_many_in_readable_buckets() -> None:
    week = timedelta(days=7)
    assert every_s_for(week, MAX_CHART_POINTS) is None
    every = every_s_for(week, 5000)
    assert every in BUCKET_STEPS
    assert week.total_seconds() / every <= MAX_CHART_POINTS
    two_lines = every_s_for(week, 5000, lines=2)
    assert two_lines is not None
    assert 2 * week.total_seconds() / two_lines <= MAX_CHART_POINTS
    assert every_s_for(timedelta(days=366), 10**6) == 43200
    assert every_s_for(timedelta(days=366), 10**6, lines=5) == BUCKET_STEPS[-1]  # a day at most
    counts = [{"count_ph": 600, "count_ph_status": 3}, {"count_ph": 500, "count_turbidity": 9}]
    assert samples_per_chart(counts) == 1100


def test_a_flagged_sample_leaves_its_line_and_is_listed_as_flagged() -> None:
    rows = [
        {"device_id": "rs-1", "time": at(0), "ph": 7.0},
        {"device_id": "rs-1", "time": at(10), "ph": 9.9, "ph_status": c.VALUE_CALIBRATING},
        {"device_id": "rs-1", "time": at(20), "ph": 7.1, "dissolved_oxygen_status": 3},
        {"device_id": "rs-2", "time": at(20), "ph": 6.8},
    ]
    charts = charts_from_samples(rows, ["ph", "dissolved_oxygen", "turbidity"])
    ph = charts["ph"]
    assert ph.lines == {"rs-1": [(at(0), 7.0), (at(20), 7.1)], "rs-2": [(at(20), 6.8)]}
    assert [(f.time, f.value, f.status) for f in ph.flagged] == [(at(10), 9.9, 1)]
    oxygen = charts["dissolved_oxygen"]
    assert oxygen.lines == {}
    assert [(f.value, f.status) for f in oxygen.flagged] == [(None, 3)]
    assert oxygen.has_data
    assert not charts["turbidity"].has_data


def test_bucket_means_leave_the_flagged_values_out() -> None:
    every = 1800
    start = bucket_start(at(7), every)
    assert start == at(0)
    buckets = [
        # 7.0 + 7.2 + 14.0 (flagged, over range) in the first bucket
        {"device_id": "rs-1", "time": at(0), "ph_sum": 28.2, "ph_count": 3},
        # only a flagged value in the second: no normal mean to draw
        {"device_id": "rs-1", "time": at(30), "ph_sum": 0.1, "ph_count": 1},
        {"device_id": "rs-1", "time": at(60), "ph_sum": 14.6, "ph_count": 2},
    ]
    flagged = [
        {"device_id": "rs-1", "time": at(12), "ph": 14.0, "ph_status": c.VALUE_OVER_RANGE},
        {"device_id": "rs-1", "time": at(40), "ph": 0.1, "ph_status": c.VALUE_UNDER_RANGE},
    ]
    charts = charts_from_buckets(buckets, flagged, ["ph"], every)
    [(first, mean), (third, other)] = charts["ph"].lines["rs-1"]
    assert (first, third) == (at(0), at(60))
    assert mean == pytest.approx(7.1)
    assert other == pytest.approx(7.3)
    assert [f.status for f in charts["ph"].flagged] == [c.VALUE_OVER_RANGE, c.VALUE_UNDER_RANGE]


def test_chart_times_read_as_the_consoles_wall_time() -> None:
    # 00:00 UTC is 08:00 in Shanghai: shifted, a UTC clock shows 08:00.
    shifted = datetime.fromtimestamp(local_ms(T0, SHANGHAI) / 1000, UTC)
    assert shifted.strftime("%H:%M") == i18n.local_time(T0, SHANGHAI, "en")[11:16] == "08:00"
    # Across a change of offset, each moment takes its own.
    berlin = ZoneInfo("Europe/Berlin")
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert datetime.fromtimestamp(local_ms(summer, berlin) / 1000, UTC).hour == 14


def test_a_line_breaks_where_a_station_was_silent() -> None:
    points = [(at(m), 1.0) for m in (0, 10, 20, 30, 300, 310)]
    drawn = with_breaks(points, SHANGHAI)
    assert [value for _ms, value in drawn] == [1.0, 1.0, 1.0, 1.0, None, 1.0, 1.0]


def test_chart_data_names_the_flags_in_the_readers_language() -> None:
    rows = [{"device_id": "rs-1", "time": at(0), "ph": 9.9, "ph_status": c.VALUE_FAULT}]
    chart = charts_from_samples(rows, ["ph"])["ph"]
    data = chart_data(chart, SHANGHAI, i18n.translations("zh-CN").gettext)
    assert data["label"] == "pH"
    assert data["lines"] == []
    [flagged] = data["flagged"]
    assert flagged["flag"] == "故障"
    assert flagged["value"] == 9.9
    assert flagged["time"] == local_ms(at(0), SHANGHAI)


def test_the_period_is_a_preset_or_the_forms_local_times() -> None:
    now = datetime(2026, 12, 3, 8, 30, 15, tzinfo=UTC)
    default = period_of(None, None, None, now, SHANGHAI)
    assert (default.preset, default.span, default.end) == ("7d", timedelta(days=7), now)
    day = period_of("2026-11-01T00:00", "2026-11-01T10:00", "24h", now, SHANGHAI)
    assert day.preset == "24h"
    assert day.span == timedelta(hours=24)
    chosen = period_of("2026-12-01T08:00", "2026-12-02T07:59", None, now, SHANGHAI)
    assert chosen.start == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert chosen.end == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # the "to" minute included
    assert (chosen.start_input, chosen.end_input) == ("2026-12-01T08:00", "2026-12-02T07:59")
    only_end = period_of(None, "2026-12-02T07:59", None, now, SHANGHAI)
    assert only_end.span == timedelta(days=7)
    with pytest.raises(PeriodError):
        parse_local("yesterday", SHANGHAI)
    with pytest.raises(PeriodError):
        parse_local("2026-12-01T08:00+08:00", SHANGHAI)
