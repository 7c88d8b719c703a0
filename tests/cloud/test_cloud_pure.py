"""The cloud's pure parts: completeness, lateness, point identity, access rules, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloud_support import T0, fix, water
from hypothesis import given
from hypothesis import strategies as st

from cloud.fleet.presence import DeviceStatus, device_status
from cloud.ingest.completeness import Arrival, Gap, SeqRange, gaps_of, is_late, merge_ranges
from cloud.timeseries.points import RecordContext, record_point
from cloud.timeseries.schema import NS_PER_S, point_time_ns
from cloud.web.window import WindowError, check_window


def test_ranges_merge_and_gaps_are_the_holes_below_the_highest() -> None:
    runs = merge_ranges([], [0, 1, 2, 5, 6, 9])
    assert runs == [SeqRange(0, 2), SeqRange(5, 6), SeqRange(9, 9)]
    assert gaps_of(3, runs) == [Gap(3, 3, 4), Gap(3, 7, 8)]
    runs = merge_ranges(runs, [3, 4, 8])
    assert runs == [SeqRange(0, 6), SeqRange(8, 9)]
    assert gaps_of(3, runs) == [Gap(3, 7, 7)]


def test_a_boot_whose_first_records_are_missing_has_a_gap_from_zero() -> None:
    assert gaps_of(2, merge_ranges([], [4, 5])) == [Gap(2, 0, 3)]


@given(st.sets(st.integers(min_value=0, max_value=300), min_size=1), st.randoms())
def test_gaps_and_received_numbers_cover_zero_to_highest_exactly(
    seqs: set[int], rng: object
) -> None:
    order = sorted(seqs)
    runs: list[SeqRange] = []
    for start in range(0, len(order), 7):  # arrive in several batches
        runs = merge_ranges(runs, order[start : start + 7])
    missing = {n for gap in gaps_of(1, runs) for n in range(gap.first, gap.last + 1)}
    assert missing.isdisjoint(seqs)
    assert missing | seqs == set(range(max(seqs) + 1))


def _arrival(ts: int, received_s: int, in_device_batch: bool = False) -> Arrival:
    return Arrival(ts, received_s * 1000, received_s * 1000 + 100, in_device_batch)


def test_lateness() -> None:
    live = _arrival(T0, T0 + 2)
    assert not is_late((1, 5), live, (1, 4), late_after_s=300)
    assert is_late((1, 3), live, (1, 4), late_after_s=300)  # fills a gap
    assert is_late((1, 9), live, (2, 0), late_after_s=300)  # an older boot
    assert is_late((1, 5), _arrival(T0, T0 + 301), None, late_after_s=300)  # waited
    assert is_late((1, 5), _arrival(T0, T0, in_device_batch=True), None, late_after_s=300)
    assert not is_late((1, 5), _arrival(T0, T0 + 299), None, late_after_s=300)


def test_point_identity_is_unique_per_record_and_stable_on_retry() -> None:
    times = {point_time_ns(T0, boot, seq) for boot in (1, 2, 999) for seq in range(1000)}
    assert len(times) == 3 * 1000
    assert all(t // NS_PER_S == T0 for t in times)  # the second stays the device's
    context = RecordContext("br-000001", "gw-one", T0 * 1000, late=False)
    first = record_point(fix(1, 7, T0), context)
    assert first == record_point(fix(1, 7, T0), context)
    assert first.line.startswith("location,device_id=br-000001 ")  # the only tag
    late = record_point(fix(1, 7, T0), RecordContext("br-000001", "gw-one", T0 * 1000, True))
    assert late.line.split(" ")[2] == first.line.split(" ")[2]  # late is a field
    assert "boot=1i" in first.line
    assert "seq=7i" in first.line


def test_water_values_are_always_floats() -> None:
    # In line protocol an integer ends in "i"; a bare number is a float.
    sample = water(1, 0, T0, ammonia_mg_l=1.0, ph=7.0)
    point = record_point(sample, RecordContext("rs-000001", "gw", 0, False))
    fields = dict(pair.split("=") for pair in point.line.split(" ")[1].split(","))
    assert fields["ammonia_nitrogen"] == "1"
    assert fields["ph"] == "7"


def test_a_silent_gateway_makes_its_devices_unreachable_not_offline() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    recent, old = now - timedelta(seconds=30), now - timedelta(seconds=91)
    assert device_status("online", recent, now, 90) is DeviceStatus.online
    assert device_status("offline", recent, now, 90) is DeviceStatus.offline
    assert device_status(None, recent, now, 90) is DeviceStatus.unknown
    assert device_status("online", old, now, 90) is DeviceStatus.gateway_unreachable
    assert device_status("offline", None, now, 90) is DeviceStatus.gateway_unreachable


def test_time_windows_are_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert check_window(start, start + timedelta(hours=1), 60).every_s == 60
    for bad in (
        (start, start, None),
        (start, start + timedelta(days=400), None),
        (datetime(1999, 1, 1, tzinfo=UTC), start, None),
        (start, start + timedelta(days=300), 1),
        (datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))), start, None),
    ):
        with pytest.raises(WindowError):
            check_window(*bad)
