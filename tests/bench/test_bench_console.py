"""`fieldwatch bench console`: its pure parts (percentiles, the event stream's framing,
when a fix counts as shown on a map, the bracelets' days written straight to InfluxDB,
the summary), and a short run end to end that must produce every figure, see every fix
and show as "readings today" every record it stored since midnight. Speeds are never
asserted."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.messages import Health, LocationFix, WaterSample
from core.receiver import decode
from edge.settings import EdgeSettings
from fieldwatch.cli import app
from fieldwatch_dev.bench.console import (
    ConsoleOptions,
    ConsoleReport,
    LatencyResult,
    PageResult,
    Roles,
    bracelet_ids,
    day_of_fixes,
    describe_page,
    first_reports,
    history_points,
    history_today,
    marker_latencies,
    parse_sse,
    percentile,
    phase_positions,
    quick_or_full,
    readings_today,
    report_fixes,
    sent_at_once,
    sent_live,
    station_ids,
    summary_lines,
)

NOW = 1_796_300_000


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(reversed(values), 0.5) == 50  # order does not matter
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([1.0, 2.0], 0.5) == 1.0
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="q must be"):
        percentile(values, 0)


def test_the_event_stream_is_framed_into_events() -> None:
    lines = [
        ": ping",
        "",
        "event: devices",
        'data: [{"id": "br-000001", "lat": 31.2}]',
        "retry: 3000",
        "",
        "data: a",
        "data: b",
        "",
        "event: signed-out",
        "data: {}",
        "",
    ]
    events = list(parse_sse(lines))
    assert events == [
        ("devices", '[{"id": "br-000001", "lat": 31.2}]'),
        ("message", "a\nb"),
        ("signed-out", "{}"),
    ]


def test_a_fix_is_on_the_map_once_it_or_a_later_one_is_shown() -> None:
    published = [0.0, 1.0, 2.0, 3.0, 4.0]
    # Fix 0 was overtaken by fix 1 in one gateway batch; 3 never came, 2 and 4 did.
    view = marker_latencies(published, {1: 1.5, 2: 2.25, 4: 4.5})
    assert view.latencies_s == [1.5, 0.5, 0.25, 1.5, 0.5]
    assert (view.exact, view.overtaken, view.unseen) == (3, 2, 0)
    # The last fix never delivered: it is unseen, the earlier ones are not.
    tail = marker_latencies(published, {1: 1.5})
    assert (tail.exact, tail.overtaken, tail.unseen) == (1, 1, 3)
    assert marker_latencies(published, {}).unseen == 5


def test_positions_are_distinct_within_and_across_phases() -> None:
    first, second = phase_positions(1, 120), phase_positions(2, 120)
    assert len(set(first)) == 120
    assert not set(first) & set(second)


def test_the_reports_are_contract_records_of_every_device() -> None:
    bracelets, stations = bracelet_ids(5), station_ids(2)
    roles = Roles.of(bracelets)
    assert roles.background == (bracelets[3], bracelets[4])
    items = first_reports(bracelets, stations, roles, NOW)
    reporting = {item.device_id for item in items}
    assert reporting == (set(bracelets) - set(roles.tracks)) | set(stations)
    water = [decode(i.payload) for i in items if i.device_id == stations[0]]
    assert len(water) == 96
    assert all(isinstance(m, WaterSample) for m in water)
    day = day_of_fixes(roles.tracked, NOW - 86_400, 8640, 10)
    fixes = [decode(item.payload) for item in day]
    assert all(isinstance(f, LocationFix) for f in fixes)
    assert [f.seq for f in fixes] == list(range(8640))
    assert fixes[-1].ts - fixes[0].ts == 86_390
    assert all(i.received_at_ms == f.ts * 1000 + 200 for i, f in zip(day, fixes, strict=True))


_LINE = re.compile(
    r"^location,device_id=(\S+) .*lat_e7=(\d+)i,late=false,.*lon_e7=(\d+)i,"
    r"received_at_ms=(\d+)i,seq=(\d+)i,.* (\d+)$"
)


def test_a_day_written_straight_is_numbered_before_the_report_and_walks_to_it() -> None:
    bracelets = bracelet_ids(6)
    roles = Roles.of(bracelets)
    with_history = roles.with_history(None)
    assert with_history == (bracelets[0], *bracelets[3:])  # not the two ingested days
    assert roles.with_history(2) == with_history[:2]
    assert roles.with_history(0) == ()
    count = 360
    first_seq = {b: count for b in with_history}
    reports = report_fixes(bracelets, roles, NOW, first_seq)
    items = first_reports(bracelets, station_ids(1), roles, NOW, first_seq)
    # Each report goes on from its day: the fix numbered count, the health record next.
    for bracelet in with_history:
        fix, health = (decode(i.payload) for i in items if i.device_id == bracelet)
        assert isinstance(fix, LocationFix)
        assert isinstance(health, Health)
        assert (fix.boot, fix.seq, health.seq) == (1, count, count + 1)
        assert fix == reports[bracelet]
    # Without a history the reports are numbered from 0, at the same places.
    plain = report_fixes(bracelets, roles, NOW)
    assert {b: (f.seq, f.lat_e7) for b, f in plain.items()} == {
        b: (0, f.lat_e7) for b, f in reports.items()
    }

    lines = [point.line for point in history_points(reports, count, 10)]
    assert len(lines) == count * len(with_history)
    parsed = [_LINE.match(line) for line in lines]
    assert all(parsed), lines[0]
    by_device: dict[str, list[tuple[int, int, int, int, int]]] = {}
    seqs = []
    for m in parsed:
        assert m is not None
        device, lat, lon, received, seq, time_ns = m.groups()
        by_device.setdefault(device, []).append(
            (int(seq), int(lat), int(lon), int(received), int(time_ns))
        )
        seqs.append(int(seq))
    # Step by step across the bracelets, as a fleet's fixes come: every i before any i + 1.
    assert seqs == sorted(seqs)
    for bracelet, fixes in by_device.items():
        report = reports[bracelet]
        assert [f[0] for f in fixes] == list(range(count))
        assert fixes[-1][4] // 10**9 == report.ts - 10
        assert fixes[0][4] // 10**9 == report.ts - count * 10
        assert all(f[3] == (f[4] // 10**9) * 1000 + 200 for f in fixes)  # received 0.2 s after
        # A slow walk: steps of a few metres, ending a step from the report's place.
        path = [*((f[1], f[2]) for f in fixes), (report.lat_e7, report.lon_e7)]
        steps = [math.dist(a, b) / 90 for a, b in itertools.pairwise(path)]
        assert max(steps) < 30
        assert 1 < sum(steps) / len(steps) < 10

    since = reports[with_history[0]].ts - 1000  # the last 100 fixes of each (10 s apart)
    assert history_today({with_history[0]: reports[with_history[0]]}, count, 10, since) == 100
    assert history_today(reports, count, 10, 0) == count * len(reports)


def test_a_live_day_is_sent_as_it_was_received_and_a_caught_up_one_at_once() -> None:
    day = day_of_fixes("br-000002", NOW - 86_400, 8640, 10)
    live = sent_live(day, window_s=120)
    assert [item for part, _sent in live for item in part] == day
    assert len(live) == 720  # 12 fixes of 10 s in each 2 minutes
    for part, sent_at_ms in live:
        assert sent_at_ms == part[-1].received_at_ms + 500
        assert sent_at_ms - part[0].received_at_ms < 300_000  # never late (late_after_s)
    caught_up = sent_at_once(day, NOW * 1000)
    assert [len(part) for part, _sent in caught_up] == [5000, 3640]
    assert {sent for _part, sent in caught_up} == {NOW * 1000}


def test_what_a_page_held_is_read_from_its_bytes() -> None:
    bracelets = bracelet_ids(3)
    table = '<tr data-device="br-000001"><tr data-device="br-000003"><tr data-device="rs-000001">'
    assert describe_page("map", table.encode(), bracelets) == "2 of 3 bracelets listed"
    overview = '<p class="big-number" data-testid="readings-today">1,234,567</p>'
    assert readings_today(overview.encode()) == 1_234_567
    assert describe_page("overview", overview.encode(), bracelets) == "readings today: 1,234,567"
    assert readings_today(b"<p>no count</p>") is None
    assert describe_page("devices", table.encode(), bracelets) == "3 device rows"
    every = (
        '<td data-testid="track-mode">全部定位点</td><td data-testid="track-points">8,640</td>'
        '<td data-testid="track-late">12</td>'
        '<ul class="late-fixes" data-testid="late-fixes"><li>a</li><li>b</li></ul>'
    )
    assert describe_page("device, one-day track", every.encode(), bracelets) == (
        "8,640 fixes drawn (every fix), 12 late (2 listed)"
    )
    mode = '<td data-testid="track-mode">每 1 分钟 一个定位点</td>'
    buckets = (
        f'{mode}<td data-testid="track-points">1440</td><td data-testid="track-late">8,617</td>'
    )
    assert describe_page("device", buckets.encode(), bracelets) == (
        "1,440 fixes drawn (one per 1 min), 8,617 late (0 listed)"
    )
    uncounted = (
        f'{mode.replace("每 1 分钟", "one fix per 5 min")}<td data-testid="track-points">9</td>'
    )
    assert describe_page("device", uncounted.encode(), bracelets) == "9 fixes drawn (one per 5 min)"
    api = json.dumps({"points": [{}, {}]}).encode()
    assert describe_page("track API, every fix", api, bracelets) == "2 points"


def test_the_summary_names_every_figure_and_a_skipped_page() -> None:
    report = ConsoleReport(ConsoleOptions())
    report.pages = [
        PageResult("map", "/console/map", 200, None, [0.010, 0.020, 0.030], 1234, "3 listed"),
        PageResult("sites", "/console/sites", 404, "404, its route is not there yet"),
    ]
    latency = LatencyResult(2.0, 2, published=3, background_offered_per_s=1999.0)
    latency.streams_opened = 2
    latency.per_stream = [marker_latencies([0.0, 1.0, 2.0], {0: 0.5, 2: 2.5})] * 2
    report.latency = [latency]
    report.cloud_max_rss_mib = 150.0
    text = "\n".join(summary_lines(report))
    assert "| map | `/console/map` | 3 | 20 | 30 | 1,234 | 3 listed |" in text
    assert "skipped: 404, its route is not there yet" in text
    assert "| 2 | 2/2 | 1,999 | 3 | 500 | 1,500 | 4 | 2 | 0 |" in text
    assert "cloud max RSS 150 MiB" in text
    assert report.to_json()["publish_to_marker"] == [latency.to_json()]


def test_quick_options_take_what_is_given() -> None:
    options = quick_or_full(True, streams=2, requests=None, batch_ages=(2.0, 0.25))
    assert options.streams == 2
    assert options.requests == ConsoleOptions.quick().requests
    assert options.batch_ages == (2.0, 0.25)
    assert options.history_bracelets is None  # every bracelet: an hour each
    assert options.history_fixes == 360
    full = quick_or_full(False)
    assert full.requests == 50
    # The gateway's own default first, then its old one.
    assert full.batch_ages == (EdgeSettings.model_fields["forward_batch_max_age_s"].default, 2.0)
    assert (full.history_bracelets, full.history_fixes) == (None, 8640)
    assert quick_or_full(False, history_bracelets=0).history_bracelets == 0


@pytest.mark.slow
@pytest.mark.services
def test_a_short_run_gives_every_figure_and_sees_every_fix(tmp_path: Path) -> None:
    json_file = tmp_path / "console.json"
    result = CliRunner().invoke(
        app,
        [
            *("bench", "console", "--quick", "--bracelets", "30", "--requests", "2"),
            *("--latency-seconds", "4", "--streams", "2", "--json", str(json_file)),
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads(json_file.read_text())
    pages = {page["name"]: page for page in report["pages"]}
    caught_up = "device, one-day track caught up (every fix late)"
    for name in ("overview", "map", "devices", "device, one-day track", caught_up, "sites"):
        page = pages[name]
        if page["skipped"] is not None:  # a page whose route is not there yet
            assert page["status"] == 404
            continue
        assert page["requests"] == 2
        assert page["p50_ms"] is not None
        assert page["p95_ms"] is not None
        assert page["bytes"] > 0
    assert pages["map"]["skipped"] is not None or pages["map"]["detail"] == (
        "30 of 30 bracelets listed"
    )
    assert report["track"]["fixes_stored"] == 8640
    # Every other bracelet's hour (--quick) written straight, and counted in "today".
    assert report["history"]["bracelets"] == 28
    assert report["history"]["lines_written"] == 28 * 360
    today = report["today"]
    assert today["readings_today_shown"] == today["records_stored"]
    assert today["records_stored"] >= today["history_fixes"]
    assert pages["overview"]["detail"] == f"readings today: {today['records_stored']:,}"
    assert report["track"]["caught_up_fixes_stored"] == 8640
    [phase] = report["publish_to_marker"]
    assert phase["streams_opened"] == 2
    assert phase["fixes_published"] == 8
    assert phase["p50_ms"] is not None
    assert phase["p99_ms"] is not None
    assert phase["unseen"] == 0
    assert phase["deliveries"] == 2 * 8
    assert report["cloud_max_rss_mib"] > 0
    assert "unseen fixes: 0" in result.output
