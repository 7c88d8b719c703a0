"""``fieldwatch bench console``: the web console at a district's scale, on this machine.

One run: the whole pipeline as a user runs it (``stack.Stack``: Mosquitto, InfluxDB,
``fieldwatch cloud serve``, ``fieldwatch edge run``) with 300 bracelets and a few river
stations at their sites registered, and an administrator who signs in.

1. **A day of every bracelet.** Every bracelet but two has a day of fixes (one every
   10 s: 8,640, a slow random walk) ending now, written straight to InfluxDB as the
   cloud's ingest writes them (``record_point``, ``InfluxStore.write``, 5,000 lines a
   request): 2.6 million fixes through the broker would take 10 to 20 minutes at the
   pipeline's sustained load. Their (boot, seq) runs are written to the cloud's
   database with them, so the cloud knows them as received.
2. **Reports.** Every bracelet reports a fix and a health record (the next of its boot's
   numbers after its day), every station a day of water samples (one every 15 min), and
   the two other bracelets their day of fixes: one as forwarded live (batches of 2
   minutes, none late), one caught up at once (batches of at most 5,000 sent now: every
   fix late). All through the cloud's ingest API with the bench gateway's token
   (``POST /api/v1/ingest``), each record received by the gateway when its device time
   says.
3. **Pages.** Each console page, as the administrator: warm-up requests, then N timed
   ones one after the other, from this process with httpx (keep-alive); p50 and p95 of
   the time to the last byte, and the bytes of the page. A page that answers 404 "Not
   Found" (its route is not there yet) is skipped with a note. The JSON track API is
   timed the same way with a bearer token.
4. **Publish -> marker.** K event streams (``/console/live``, like K open maps) are held
   open while the load generator offers background load (one fix per message) from the
   other bracelets; bracelet X publishes a fix with a new position every ~0.5 s over
   MQTT (QoS 1). For each fix and each stream: the time from the publish call until the
   stream delivers a ``devices`` event with X at that position, or at a later one (a map
   shows the newest position: a fix overtaken by the next one inside one gateway batch
   is never drawn, and needs not be). Once per gateway ``forward_batch_max_age_s``
   asked (the gateway is restarted with it).
5. **Memory.** The cloud process's resident size, sampled every 0.25 s for the run.

The figures are measured from the client on the same 2-core machine: the bench's own
threads (the streams' readers above all) share the CPU with what they measure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import random
import re
import socket
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

import cloud.models  # noqa: F401  (every table, so the mappers resolve their foreign keys)
from cloud.console import sessions
from cloud.console.overview import local_midnight
from cloud.db.engine import make_engine, make_sessions
from cloud.fleet.models import Device
from cloud.fleet.service import place_at_site
from cloud.identity.models import Role, User
from cloud.identity.service import add_user
from cloud.ingest.models import SequenceRange
from cloud.ingest.plan import AcceptedRecord
from cloud.ingest.service import count_by_day
from cloud.rivers.service import add_site
from cloud.settings import CloudSettings
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.points import RecordContext, StoredPoint, record_point
from core import contract as c
from core.codec import encode
from core.forwarding import ForwardBatch, ForwardedMessage, encode_batch
from core.messages import Health, LocationFix, Message, WaterSample
from core.topics import topic
from fieldwatch_dev.bench.endpoints import InfluxEndpoint
from fieldwatch_dev.bench.loadgen import LoadProcess, LoadSpec
from fieldwatch_dev.bench.stack import GATEWAY_ID, GatewayTuning, Stack
from fieldwatch_dev.bench.steps import rss_mib

ADMIN = "bench-admin"
ADMIN_PASSWORD = "a long bench console password"
MAX_BATCH_RECORDS = 5000
DAY_S = 86_400
STATION_EVERY_S = 900
LIVE_WINDOW_S = 120  # a live day is posted in batches of 2 min of fixes
# Bracelets spread over a district of about 10 km around People's Square (WGS-84).
DISTRICT_LAT, DISTRICT_LON, DISTRICT_SPAN = 31.2304, 121.4737, 0.09
SITE_RIVERS = ("Huangpu", "Suzhou Creek")
# A slow random walk: each fix a step of WALK_STEP_M (standard deviation, each axis) from
# the one before, about 0.4 m/s; over a day about 280 m of spread.
WALK_STEP_M = 3.0
LAT_E7_PER_M = 1e7 / 111_320
LON_E7_PER_M = LAT_E7_PER_M / math.cos(math.radians(DISTRICT_LAT))
REPORT_BOOT = 1
SETTLE_AFTER_LINES = 500_000  # after a bulk write this large, wait until InfluxDB is idle
# "Readings today" counts from midnight where the console's readers are.
CONSOLE_ZONE = ZoneInfo(str(CloudSettings.model_fields["console_timezone"].default))


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class ConsoleOptions:
    bracelets: int = 300
    stations: int = 6  # two per site
    requests: int = 50
    warmup: int = 5
    track_fixes: int = 8640
    track_every_s: int = 10
    streams: int = 10
    background_rate: float = 2000.0
    publish_every_s: float = 0.5
    latency_seconds: float = 60.0
    batch_ages: tuple[float, ...] = (0.25, 2.0)  # the gateway's default, and its old one
    settle_s: float = 10.0  # after the last publish: how long a stream may still deliver
    # The bracelets with a day written straight to InfluxDB: None every one but the two
    # whose day goes through the ingest API, 0 none; each with history_fixes fixes, one
    # every track_every_s, ending now.
    history_bracelets: int | None = None
    history_fixes: int = 8640

    @classmethod
    def quick(cls) -> ConsoleOptions:
        return cls(
            requests=5,
            warmup=1,
            streams=3,
            background_rate=1000.0,
            latency_seconds=8.0,
            batch_ages=(0.25,),
            settle_s=5.0,
            history_fixes=360,  # an hour
        )

    @property
    def fixes_per_phase(self) -> int:
        return max(1, round(self.latency_seconds / self.publish_every_s))


def bracelet_ids(count: int) -> list[str]:
    return [f"br-{n:06d}" for n in range(1, count + 1)]


def station_ids(count: int) -> list[str]:
    return [f"rs-{n:06d}" for n in range(1, count + 1)]


def site_of(station_index: int) -> str:
    """Stations two by two at sites: site-01, site-01, site-02, ..."""
    return f"site-{station_index // 2 + 1:02d}"


@dataclass(frozen=True)
class Roles:
    """Who does what among the bracelets: X moves on the maps; one has a day of track
    forwarded live, one the same day caught up at once (every fix late); the rest carry
    the background load."""

    moving: str
    tracked: str
    backfilled: str
    background: tuple[str, ...]

    @classmethod
    def of(cls, bracelets: Sequence[str]) -> Roles:
        if len(bracelets) < 4:
            raise ValueError("at least 4 bracelets: moving, tracked, backfilled, background")
        return cls(bracelets[0], bracelets[1], bracelets[2], tuple(bracelets[3:]))

    @property
    def tracks(self) -> tuple[str, str]:
        return (self.tracked, self.backfilled)

    def with_history(self, count: int | None) -> tuple[str, ...]:
        """The first ``count`` (None: all) of the bracelets whose day is not ingested."""
        others = (self.moving, *self.background)
        return others if count is None else others[: max(0, count)]


# ---------------------------------------------------------------- pure parts


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1): the smallest value with at least a
    share ``q`` of the values at or below it; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], not {q}")
    rank = math.ceil(round(q * len(ordered), 9))
    return ordered[max(1, rank) - 1]


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each event of a server-sent event stream; comments and
    ``retry:``/``id:`` lines skipped, several data lines joined with newlines."""
    name, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)


def phase_positions(phase: int, count: int) -> list[tuple[int, int]]:
    """Distinct (lat_e7, lon_e7) for the moving bracelet's fixes of one phase: a line
    north-east, about 15 m a step, never where another phase or the reports put it."""
    lat0 = round((DISTRICT_LAT + 0.2 + 0.05 * phase) * 1e7)
    lon0 = round((DISTRICT_LON + 0.2) * 1e7)
    return [(lat0 + 1_000 * i, lon0 + 1_300 * i) for i in range(count)]


@dataclass(frozen=True)
class StreamLatency:
    """One stream's view of one phase's fixes."""

    latencies_s: list[float]  # per fix shown (at its position or past it), publish -> event
    exact: int  # fixes whose own position the stream delivered
    overtaken: int  # fixes the stream showed only a later position of
    unseen: int  # fixes neither shown nor overtaken before the stream was closed


def marker_latencies(published: Sequence[float], shown: Mapping[int, float]) -> StreamLatency:
    """``published[i]``: when fix i was handed to MQTT; ``shown[j]``: when the stream
    first delivered position j (same clock). Fix i is on the map from the first moment
    any position j >= i was delivered."""
    latencies: list[float] = []
    exact = overtaken = unseen = 0
    covered: float | None = None
    for i in range(len(published) - 1, -1, -1):
        at = shown.get(i)
        if at is not None and (covered is None or at < covered):
            covered = at
        if covered is None:
            unseen += 1
            continue
        latencies.append(max(0.0, covered - published[i]))
        if at is not None:
            exact += 1
        else:
            overtaken += 1
    latencies.reverse()
    return StreamLatency(latencies, exact, overtaken, unseen)


@dataclass
class PageResult:
    name: str
    path: str
    status: int | None = None
    skipped: str | None = None  # why it was not measured
    times_s: list[float] = field(default_factory=list)
    bytes: int = 0
    detail: str = ""

    @property
    def p50_s(self) -> float | None:
        return percentile(self.times_s, 0.5)

    @property
    def p95_s(self) -> float | None:
        return percentile(self.times_s, 0.95)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "skipped": self.skipped,
            "requests": len(self.times_s),
            "p50_ms": _ms_value(self.p50_s),
            "p95_ms": _ms_value(self.p95_s),
            "max_ms": _ms_value(max(self.times_s, default=None)),
            "bytes": self.bytes,
            "detail": self.detail,
        }


@dataclass
class LatencyResult:
    batch_age_s: float
    streams: int
    published: int = 0
    background_asked_per_s: float = 0.0
    background_offered_per_s: float = 0.0
    background_all_acked: bool = True
    per_stream: list[StreamLatency] = field(default_factory=list)
    streams_opened: int = 0
    stored: StreamLatency | None = None  # publish -> the cloud's device row holds it
    cpu_share: dict[str, float] = field(default_factory=dict)  # of a core, over the phase
    load_average: float | None = None  # 1 min, at the phase's end

    @property
    def stored_p50_s(self) -> float | None:
        return None if self.stored is None else percentile(self.stored.latencies_s, 0.5)

    @property
    def stored_p99_s(self) -> float | None:
        return None if self.stored is None else percentile(self.stored.latencies_s, 0.99)

    @property
    def latencies_s(self) -> list[float]:
        return [v for s in self.per_stream for v in s.latencies_s]

    @property
    def p50_s(self) -> float | None:
        return percentile(self.latencies_s, 0.5)

    @property
    def p99_s(self) -> float | None:
        return percentile(self.latencies_s, 0.99)

    @property
    def exact(self) -> int:
        return sum(s.exact for s in self.per_stream)

    @property
    def overtaken(self) -> int:
        return sum(s.overtaken for s in self.per_stream)

    @property
    def unseen(self) -> int:
        """(fix, stream) pairs never shown, plus every fix of a stream that never opened."""
        missing_streams = self.streams - len(self.per_stream)
        return sum(s.unseen for s in self.per_stream) + missing_streams * self.published

    def to_json(self) -> dict[str, object]:
        return {
            "forward_batch_max_age_s": self.batch_age_s,
            "streams": self.streams,
            "streams_opened": self.streams_opened,
            "fixes_published": self.published,
            "background_asked_per_s": self.background_asked_per_s,
            "background_offered_per_s": self.background_offered_per_s,
            "background_all_acked": self.background_all_acked,
            "deliveries": len(self.latencies_s),
            "p50_ms": _ms_value(self.p50_s),
            "p99_ms": _ms_value(self.p99_s),
            "max_ms": _ms_value(max(self.latencies_s, default=None)),
            "shown_at_their_position": self.exact,
            "overtaken_by_a_later_fix": self.overtaken,
            "unseen": self.unseen,
            "stored_p50_ms": _ms_value(self.stored_p50_s),
            "stored_p99_ms": _ms_value(self.stored_p99_s),
            "cpu_share_of_a_core": {k: round(v, 2) for k, v in self.cpu_share.items()},
            "load_average_1min_at_end": self.load_average,
        }

    def cpu_line(self) -> str:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.cpu_share.items())
        load = "-" if self.load_average is None else f"{self.load_average:.1f}"
        return (
            f"forward_batch_max_age_s = {self.batch_age_s:g}: CPU over the phase, of a core: "
            f"{shares or '-'}; load average (1 min) at its end {load}"
        )


@dataclass
class ConsoleReport:
    options: ConsoleOptions
    pages: list[PageResult] = field(default_factory=list)
    latency: list[LatencyResult] = field(default_factory=list)
    track_stored: int = 0
    track_ingest_s: float = 0.0
    backfilled_stored: int = 0
    history_bracelets: int = 0
    history_lines: int = 0  # fixes written straight to InfluxDB
    history_requests: int = 0
    history_write_s: float = 0.0  # building the lines and writing them
    history_settle_s: float = 0.0  # then until InfluxDB was idle
    today_since: str = ""  # local midnight, ISO
    history_today: int = 0  # of the history's fixes, how many since local midnight
    records_today: int = 0  # every record stored before the pages, since local midnight
    readings_today_shown: int | None = None  # what the overview said
    cloud_max_rss_mib: float = 0.0
    cloud_rss_after_pages_mib: float = 0.0
    stack_up_s: float = 0.0
    elapsed_s: float = 0.0
    load_average: list[tuple[float, float, float]] = field(default_factory=list)  # start, end
    notes: list[str] = field(default_factory=list)

    @property
    def unseen(self) -> int:
        return sum(r.unseen for r in self.latency)

    def to_json(self) -> dict[str, object]:
        return {
            "options": {**asdict(self.options), "batch_ages": list(self.options.batch_ages)},
            "pages": [p.to_json() for p in self.pages],
            "track": {
                "fixes_stored": self.track_stored,
                "ingest_s": self.track_ingest_s,
                "caught_up_fixes_stored": self.backfilled_stored,
            },
            "history": {
                "bracelets": self.history_bracelets,
                "fixes_each": self.options.history_fixes if self.history_bracelets else 0,
                "lines_written": self.history_lines,
                "requests": self.history_requests,
                "write_s": round(self.history_write_s, 1),
                "influx_settle_s": round(self.history_settle_s, 1),
            },
            "today": {
                "since": self.today_since,
                "history_fixes": self.history_today,
                "records_stored": self.records_today,
                "readings_today_shown": self.readings_today_shown,
            },
            "publish_to_marker": [r.to_json() for r in self.latency],
            "cloud_max_rss_mib": self.cloud_max_rss_mib,
            "cloud_rss_after_pages_mib": self.cloud_rss_after_pages_mib,
            "stack_up_s": self.stack_up_s,
            "elapsed_s": self.elapsed_s,
            "load_average_start_end": self.load_average,
            "notes": self.notes,
        }


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def history_line(report: ConsoleReport) -> str:
    if not report.history_bracelets:
        return "history: none (no bracelet's day written straight to InfluxDB)"
    return (
        f"history: {report.history_lines:,} fixes ({report.history_bracelets} bracelets x "
        f"{report.options.history_fixes:,}) written straight to InfluxDB in "
        f"{report.history_write_s:.1f} s ({report.history_requests:,} requests, "
        f"{report.history_lines / max(report.history_write_s, 1e-9):,.0f} lines/s); InfluxDB "
        f"idle {report.history_settle_s:.0f} s later"
    )


def _ms_value(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f}"


def page_table(pages: Sequence[PageResult]) -> list[str]:
    lines = [
        "| page | path | requests | p50 ms | p95 ms | bytes | what it held |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for page in pages:
        if page.skipped is not None:
            lines.append(
                f"| {page.name} | `{page.path}` | - | - | - | - | skipped: {page.skipped} |"
            )
            continue
        lines.append(
            f"| {page.name} | `{page.path}` | {len(page.times_s)} | {_ms(page.p50_s)} | "
            f"{_ms(page.p95_s)} | {page.bytes:,} | {page.detail} |"
        )
    return lines


def latency_table(results: Sequence[LatencyResult]) -> list[str]:
    lines = [
        "| forward_batch_max_age_s | streams | background offered/s | fixes | p50 ms | p99 ms "
        "| shown at their position | overtaken | unseen | stored p50 / p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.batch_age_s:g} | {r.streams_opened}/{r.streams} | "
            f"{r.background_offered_per_s:,.0f} | {r.published} | {_ms(r.p50_s)} | "
            f"{_ms(r.p99_s)} | {r.exact:,} | {r.overtaken:,} | {r.unseen:,} | "
            f"{_ms(r.stored_p50_s)} / {_ms(r.stored_p99_s)} |"
        )
    return lines


def summary_lines(report: ConsoleReport) -> list[str]:
    o = report.options
    lines = [
        "",
        f"pages, as {ADMIN} (administrator): {o.warmup} warm-up + {o.requests} timed requests "
        "each, one at a time, time to the last byte",
        *page_table(report.pages),
        "",
        f"publish -> marker: {o.streams} event streams, a fix of the moving bracelet every "
        f"{o.publish_every_s:g} s for {o.latency_seconds:g} s, background "
        f"{o.background_rate:,.0f} readings/s asked (one per message); per (fix, stream): "
        "until the stream shows that position or a later one",
        *latency_table(report.latency),
        *(r.cpu_line() for r in report.latency),
        "",
        f"one-day track: {report.track_stored:,} fixes stored in {report.track_ingest_s:.1f} s "
        f"(cloud ingest API, batches of {LIVE_WINDOW_S} s); the same day caught up at once: "
        f"{report.backfilled_stored:,}",
        history_line(report),
        f"today (since {report.today_since or '-'}): {report.records_today:,} records stored "
        f"before the pages ({report.history_today:,} of them the history's); the overview "
        f"showed {_count(report.readings_today_shown)} readings today",
        f"memory: cloud max RSS {report.cloud_max_rss_mib:,.0f} MiB over the run "
        f"({report.cloud_rss_after_pages_mib:,.0f} MiB after the pages)",
        f"unseen fixes: {report.unseen}",
        f"stack up after {report.stack_up_s:.0f} s; whole run: {report.elapsed_s:.0f} s",
    ]
    if len(report.load_average) == 2:
        start, end = (", ".join(f"{v:.1f}" for v in la) for la in report.load_average)
        lines.append(f"load average (1, 5, 15 min): {start} at the start, {end} at the end")
    lines.extend(f"note: {note}" for note in report.notes)
    return lines


# ---------------------------------------------------------------- what a page held


_READINGS_TODAY = re.compile(r'data-testid="readings-today">\s*([\d,]+)\s*<')
_TRACK_POINTS = re.compile(r'data-testid="track-points">\s*([\d,]+)\s*<')
_TRACK_LATE = re.compile(r'data-testid="track-late">\s*([\d,]+)\s*<')
_TRACK_MODE = re.compile(r'data-testid="track-mode">([^<]*)<')
_LATE_LISTED = re.compile(r'<ul class="late-fixes"[^>]*>(.*?)</ul>', re.DOTALL)
_DEVICE_ROW = re.compile(r'<tr data-device="([^"]+)"')
_EVERY_FIX = ("every fix", "全部定位点")  # the console's words, English and zh-CN
_BUCKET = re.compile(r"(\d+)\s*(min|s|h|d|秒|分钟|小时|天)")
_UNITS = {"秒": "s", "分钟": "min", "小时": "h", "天": "d"}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def readings_today(body: bytes) -> int | None:
    """The overview's "readings today"; None if the page does not show it."""
    found = _READINGS_TODAY.search(body.decode("utf-8", errors="replace"))
    return None if found is None else _number(found.group(1))


def track_mode(text: str) -> str:
    """A device page's "Shown", in English: "every fix" or "one per 1 min"."""
    found = _TRACK_MODE.search(text)
    if found is None:
        return "mode not shown"
    mode = found.group(1).strip()
    if mode in _EVERY_FIX:
        return "every fix"
    bucket = _BUCKET.search(mode)
    if bucket is None:
        return mode
    return f"one per {bucket.group(1)} {_UNITS.get(bucket.group(2), bucket.group(2))}"


def describe_page(name: str, body: bytes, bracelets: Sequence[str]) -> str:
    """A few words on what the page held, read from its bytes (for the table)."""
    text = body.decode("utf-8", errors="replace")
    if name == "overview":
        readings = readings_today(body)
        return "readings today: -" if readings is None else f"readings today: {readings:,}"
    if name == "map":
        rows = set(_DEVICE_ROW.findall(text))
        return f"{sum(1 for b in bracelets if b in rows)} of {len(bracelets)} bracelets listed"
    if name == "devices":
        return f"{len(set(_DEVICE_ROW.findall(text)))} device rows"
    if name.startswith("device"):
        points = _TRACK_POINTS.search(text)
        if points is None:
            return "no track shown"
        drawn = f"{_number(points.group(1)):,} fixes drawn ({track_mode(text)})"
        late = _TRACK_LATE.search(text)
        if late is None:  # the page counts late fixes only when it draws every fix
            return drawn
        listed = _LATE_LISTED.search(text)
        items = 0 if listed is None else listed.group(1).count("<li")
        return f"{drawn}, {_number(late.group(1)):,} late ({items:,} listed)"
    if name.startswith("track API"):
        try:
            answer = json.loads(text)
        except ValueError:
            return "not JSON"
        return f"{len(answer.get('points', [])):,} points"
    return ""


# ---------------------------------------------------------------- reports, as a gateway forwards


def forwarded(device_id: str, message: Message) -> ForwardedMessage:
    ts = int(getattr(message, "ts", 0))
    return ForwardedMessage(device_id, "telemetry", ts * 1000 + 200, encode(message))


def district_position(rng: random.Random) -> tuple[int, int]:
    half = DISTRICT_SPAN / 2
    lat = DISTRICT_LAT + rng.uniform(-half, half)
    lon = DISTRICT_LON + rng.uniform(-half, half)
    return round(lat * 1e7), round(lon * 1e7)


def report_fixes(
    bracelets: Sequence[str],
    roles: Roles,
    now_s: int,
    first_seq: Mapping[str, int] | None = None,
) -> dict[str, LocationFix]:
    """The fix each bracelet but the two with an ingested day reports (boot 1), a minute
    or two old, somewhere in the district; numbered ``first_seq[bracelet]`` (0 without),
    the next number after the bracelet's day written before it."""
    rng = random.Random(7)
    seqs = first_seq or {}
    fixes: dict[str, LocationFix] = {}
    for n, bracelet in enumerate(bracelets):
        if bracelet in roles.tracks:
            continue
        lat_e7, lon_e7 = district_position(rng)
        seq = seqs.get(bracelet, 0)
        ts = now_s - 60 - n % 50
        fixes[bracelet] = LocationFix(REPORT_BOOT, seq, ts, lat_e7, lon_e7, 8, c.FIX_GNSS)
    return fixes


def first_reports(
    bracelets: Sequence[str],
    stations: Sequence[str],
    roles: Roles,
    now_s: int,
    first_seq: Mapping[str, int] | None = None,
) -> list[ForwardedMessage]:
    """A fix and a health record of every bracelet but the two with a day of track (see
    ``report_fixes``; the health record numbered after the fix), and a day of water
    samples of every station (boot 1 each)."""
    items: list[ForwardedMessage] = []
    fixes = report_fixes(bracelets, roles, now_s, first_seq)
    for n, bracelet in enumerate(bracelets):
        report = fixes.get(bracelet)
        if report is None:
            continue
        items.append(forwarded(bracelet, report))
        health = Health(report.boot, report.seq + 1, report.ts, 20 + n % 80, False)
        items.append(forwarded(bracelet, health))
    for n, station in enumerate(stations):
        first = now_s - DAY_S + STATION_EVERY_S
        for seq, ts in enumerate(range(first, now_s + 1, STATION_EVERY_S)):
            values = {
                c.WATER_PARAMETER_IDS["water_temp"]: 1200 + (seq * 7 + n * 50) % 300,
                c.WATER_PARAMETER_IDS["ph"]: 700 + (seq * 3 + n * 11) % 80,
                c.WATER_PARAMETER_IDS["dissolved_oxygen"]: 600 + (seq * 5) % 200,
                c.WATER_PARAMETER_IDS["ammonia_nitrogen"]: 300 + (seq * 13 + n) % 900,
            }
            items.append(forwarded(station, WaterSample(1, seq, ts, values)))
    return items


def day_of_fixes(
    device_id: str, day_start_s: int, count: int, every_s: int
) -> list[ForwardedMessage]:
    """A bracelet walking the district for a day: one fix every ``every_s`` from the start."""
    items = []
    for seq in range(count):
        angle = 2 * math.pi * seq / max(1, count)
        lat = DISTRICT_LAT + 0.02 * math.sin(angle) + 0.0005 * math.sin(seq / 7)
        lon = DISTRICT_LON + 0.03 * math.cos(angle) + 0.0005 * math.cos(seq / 11)
        fix = LocationFix(
            1, seq, day_start_s + seq * every_s, round(lat * 1e7), round(lon * 1e7), 6, c.FIX_GNSS
        )
        items.append(forwarded(device_id, fix))
    return items


def walk_to(
    lat_e7: int, lon_e7: int, count: int, rng: random.Random, step_m: float = WALK_STEP_M
) -> tuple[array[int], array[int]]:
    """``count`` positions of a slow random walk that ends next to (lat_e7, lon_e7), in
    time order: walked back from there, a step of ``step_m`` (standard deviation, each
    axis) at a time."""
    lats, lons = array("i", bytes(4 * count)), array("i", bytes(4 * count))
    lat, lon = float(lat_e7), float(lon_e7)
    lat_sd, lon_sd = step_m * LAT_E7_PER_M, step_m * LON_E7_PER_M
    for i in range(count - 1, -1, -1):
        lat -= rng.gauss(0.0, lat_sd)
        lon -= rng.gauss(0.0, lon_sd)
        lats[i], lons[i] = round(lat), round(lon)
    return lats, lons


def history_points(
    reports: Mapping[str, LocationFix], count: int, every_s: int, seed: int = 11
) -> Iterator[StoredPoint]:
    """A day (``count`` fixes, one every ``every_s``) of each bracelet before its report:
    the report's boot numbered 0 to count - 1 (the report must be number ``count``), the
    last ``every_s`` before the report, on a slow walk that ends where the report is;
    forwarded live (received 0.2 s after, none late). The points as the cloud's ingest
    writes them, step by step across the bracelets (every bracelet's fix i before any's
    i + 1), as a fleet's fixes come."""
    rng = random.Random(seed)
    walks = {
        device_id: walk_to(report.lat_e7, report.lon_e7, count, rng)
        for device_id, report in reports.items()
    }
    for device_id, report in reports.items():
        if report.seq != count:
            raise ValueError(f"{device_id}'s report is number {report.seq}, not {count}")
    for seq in range(count):
        back_s = (count - seq) * every_s
        for device_id, report in reports.items():
            lats, lons = walks[device_id]
            ts = report.ts - back_s
            fix = LocationFix(
                report.boot, seq, ts, lats[seq], lons[seq], 4 + (seq + ts) % 9, c.FIX_GNSS
            )
            context = RecordContext(device_id, GATEWAY_ID, ts * 1000 + 200, late=False)
            yield record_point(fix, context)


def history_today(
    reports: Mapping[str, LocationFix], count: int, every_s: int, since_s: int
) -> int:
    """How many of ``history_points``' fixes have a device time at or after ``since_s``."""
    total = 0
    for report in reports.values():
        first = report.ts - count * every_s
        if since_s <= first:
            total += count
        elif since_s < report.ts:
            total += (report.ts - since_s) // every_s  # the fixes at report.ts - k * every_s
    return total


# A batch to post and the gateway's time it was sent at (Unix ms).
Sent = tuple[Sequence[ForwardedMessage], int]


def sent_at_once(items: Sequence[ForwardedMessage], now_ms: int) -> list[Sent]:
    """Batches of at most MAX_BATCH_RECORDS, all sent now: a catch-up after an outage,
    so every record older than ``late_after_s`` is late."""
    return [
        (items[start : start + MAX_BATCH_RECORDS], now_ms)
        for start in range(0, len(items), MAX_BATCH_RECORDS)
    ]


def sent_live(items: Sequence[ForwardedMessage], window_s: int = LIVE_WINDOW_S) -> list[Sent]:
    """The items (in the gateway's order) in batches of ``window_s`` of receiving, each
    sent half a second after its last record came: as a gateway forwarding all along
    does, so no record waits longer than ``late_after_s`` (300 s by default)."""
    batches: list[Sent] = []
    part: list[ForwardedMessage] = []
    window_end = 0
    for item in items:
        if part and (item.received_at_ms >= window_end or len(part) >= MAX_BATCH_RECORDS):
            batches.append((part, part[-1].received_at_ms + 500))
            part = []
        if not part:
            window_end = item.received_at_ms + window_s * 1000
        part.append(item)
    if part:
        batches.append((part, part[-1].received_at_ms + 500))
    return batches


# ---------------------------------------------------------------- I/O


class IngestError(RuntimeError):
    """The cloud did not accept a report."""


def post_batches(url: str, token: str, batches: Iterable[Sent]) -> int:
    """POST the batches to the cloud's ingest API as the bench gateway; the records
    accepted (every one must be)."""
    accepted = 0
    with httpx.Client(base_url=url, timeout=120.0) as client:
        for number, (part, sent_at_ms) in enumerate(batches):
            batch_id = f"{GATEWAY_ID}:console-bench-{time.time_ns()}-{number}"
            body = encode_batch(ForwardBatch(GATEWAY_ID, batch_id, sent_at_ms, tuple(part)))
            answer = client.post(
                "/api/v1/ingest",
                content=body,
                headers={
                    "Content-Type": "application/cbor",
                    "Content-Encoding": "gzip",
                    "Authorization": f"Bearer {token}",
                },
            )
            if answer.status_code != 200:
                raise IngestError(f"ingest answered {answer.status_code}: {answer.text[:300]}")
            result = answer.json()
            if result.get("rejected"):
                raise IngestError(f"ingest rejected records: {result['rejected'][:3]}")
            accepted += int(result.get("accepted", 0))
    return accepted


@dataclass(frozen=True)
class BulkWrite:
    lines: int
    requests: int
    seconds: float


def bulk_write(
    endpoint: InfluxEndpoint,
    points: Iterable[StoredPoint],
    lines_per_request: int = MAX_BATCH_RECORDS,
    writers: int = 2,
) -> BulkWrite:
    """Write the points to InfluxDB with ``InfluxStore.write``, ``lines_per_request`` a
    request, from ``writers`` threads while this one builds the next requests."""
    started = time.monotonic()
    parts: queue.Queue[list[StoredPoint] | None] = queue.Queue(maxsize=2 * writers)
    failures: list[BaseException] = []

    def write() -> None:
        store = InfluxStore(
            endpoint.url,
            endpoint.database,
            username=endpoint.username,
            password=endpoint.password,
            timeout_s=120.0,
        )
        try:
            while (part := parts.get()) is not None:
                if not failures:
                    store.write(part)
        except BaseException as exc:  # handed to the caller
            failures.append(exc)
            while parts.get() is not None:  # let the producer finish
                pass
        finally:
            store.close()

    threads = [threading.Thread(target=write, name=f"influx-writer-{n}") for n in range(writers)]
    for thread in threads:
        thread.start()
    lines = requests = 0
    part: list[StoredPoint] = []
    try:
        for point in points:
            part.append(point)
            if len(part) == lines_per_request:
                parts.put(part)
                lines, requests, part = lines + len(part), requests + 1, []
                if failures:
                    break
        if part and not failures:
            parts.put(part)
            lines, requests = lines + len(part), requests + 1
    finally:
        for _ in threads:
            parts.put(None)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return BulkWrite(lines, requests, time.monotonic() - started)


def seed_sequence_ranges(
    database_url: str,
    runs: Mapping[str, tuple[int, int]],
    reports: Mapping[str, LocationFix] | None = None,
    every_s: int = 10,
) -> None:
    """Each device's run of sequence numbers (boot, count: numbers 0 to count - 1) as
    the cloud's ingest records it: what the cloud knows as received; with ``reports``,
    also the records per local day that ingest keeps (``history_points``' times)."""
    engine = make_engine(database_url)
    try:
        with make_sessions(engine).begin() as session:
            session.add_all(
                SequenceRange(device_id=device_id, boot=boot, first_seq=0, last_seq=count - 1)
                for device_id, (boot, count) in runs.items()
                if count > 0
            )
            if reports:
                session.flush()
                for device_id, report in reports.items():
                    count = runs[device_id][1]
                    fixes = [
                        AcceptedRecord(
                            device_id, _history_fix(report, seq, count, every_s), late=False
                        )
                        for seq in range(count)
                    ]
                    count_by_day(session, fixes, CONSOLE_ZONE)
    finally:
        engine.dispose()


def _history_fix(report: LocationFix, seq: int, count: int, every_s: int) -> LocationFix:
    """Fix ``seq`` of a day before ``report`` as ``history_points`` times it (no position)."""
    return LocationFix(report.boot, seq, report.ts - (count - seq) * every_s, 0, 0, 8, c.FIX_GNSS)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path("/proc", str(pid), "stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(
    pid: int, share: float = 0.1, quiet_s: float = 5.0, longest_s: float = 180.0
) -> float:
    """Wait until a process used under ``share`` of a core over ``quiet_s`` (InfluxDB
    done with the snapshots and compactions of a bulk write), at most ``longest_s``; the
    seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < longest_s:
        before = cpu_seconds(pid)
        time.sleep(quiet_s)
        if cpu_seconds(pid) - before < share * quiet_s:
            break
    return time.monotonic() - started


def populate(database_url: str, stations: Sequence[str]) -> str:
    """The administrator, the sites with their stations; the administrator's session
    cookie (as signing in would set it)."""
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as session:
            add_user(session, ADMIN, ADMIN_PASSWORD, Role.administrator, now)
            sites = sorted({site_of(n) for n in range(len(stations))})
            for n, site_id in enumerate(sites):
                add_site(
                    session,
                    site_id,
                    f"Bench site {n + 1}",
                    SITE_RIVERS[n % len(SITE_RIVERS)],
                    DISTRICT_LAT + 0.01 * n,
                    DISTRICT_LON - 0.01 * n,
                )
            session.flush()
            for n, station in enumerate(stations):
                place_at_site(session, station, site_of(n))
            admin = session.scalars(select(User).where(User.username == ADMIN)).one()
            return sessions.open_session(session, admin, now, 6 * 3600)
    finally:
        engine.dispose()


class RssSampler:
    """The largest resident size of one process, sampled every ``every_s`` in a thread."""

    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        self.pid = pid
        self.max_mib = 0.0
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._every_s)

    def sample(self) -> float:
        now = rss_mib(self.pid)
        self.max_mib = max(self.max_mib, now)
        return now

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()


@dataclass(frozen=True)
class PagePlan:
    name: str
    path: str
    bearer: bool = False  # the JSON API: a bearer token instead of the session cookie


def page_plans(roles: Roles, first_site: str, day_start: datetime) -> list[PagePlan]:
    day_end = day_start + timedelta(seconds=DAY_S)
    period = f"start={_iso(day_start)}&end={_iso(day_end)}"
    api = f"start={_iso(day_start)}&end={_iso(day_end)}"
    return [
        PagePlan("overview", "/console"),
        PagePlan("map", "/console/map"),
        PagePlan("devices", "/console/devices"),
        PagePlan("device, one-day track", f"/console/devices/{roles.tracked}?{period}"),
        PagePlan(
            "device, one-day track caught up (every fix late)",
            f"/console/devices/{roles.backfilled}?{period}",
        ),
        PagePlan("sites", "/console/sites"),
        PagePlan("site", f"/console/sites/{first_site}"),
        PagePlan("track API, every fix", f"/api/v1/devices/{roles.tracked}/track?{api}", True),
        PagePlan(
            "track API, every_s=60", f"/api/v1/devices/{roles.tracked}/track?{api}&every_s=60", True
        ),
    ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%%2B00:00")


def _route_missing(answer: httpx.Response) -> bool:
    if answer.status_code != 404:
        return False
    try:
        return bool(answer.json().get("detail") == "Not Found")
    except ValueError:
        return "Not Found" in answer.text


def measure_page(
    client: httpx.Client,
    plan: PagePlan,
    options: ConsoleOptions,
    bracelets: Sequence[str],
    headers: Mapping[str, str],
) -> PageResult:
    result = PageResult(plan.name, plan.path.split("?")[0])
    for number in range(options.warmup + options.requests):
        started = time.perf_counter()
        answer = client.get(plan.path, headers=headers)
        elapsed = time.perf_counter() - started
        result.status = answer.status_code
        if answer.status_code != 200:
            if _route_missing(answer):
                result.skipped = "404, its route is not there yet"
            else:
                result.skipped = f"answered {answer.status_code}: {answer.text[:120]!r}"
            return result
        if number >= options.warmup:
            result.times_s.append(elapsed)
        result.bytes = len(answer.content)
        if number == 0:
            result.detail = describe_page(plan.name, answer.content, bracelets)
    return result


def api_token(url: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/auth/token",
        json={"username": ADMIN, "password": ADMIN_PASSWORD},
        timeout=30.0,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class StreamReader:
    """One open map: ``/console/live`` read in a thread; when each of the moving
    bracelet's positions was first delivered."""

    def __init__(
        self, url: str, cookie: str, moving: str, positions: Mapping[tuple[int, int], int]
    ) -> None:
        self._url = url
        self._cookie = cookie
        self._moving = moving
        self._positions = positions
        self.shown: dict[int, float] = {}
        self.events = 0
        self.problem: str | None = None
        self.opened = threading.Event()
        self._closing = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="console-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30.0, read=60.0)) as client,
                client.stream(
                    "GET",
                    f"{self._url}/console/live",
                    cookies={sessions.COOKIE: self._cookie},
                    headers={"Accept": "text/event-stream"},
                ) as response,
            ):
                self._response = response
                if response.status_code != 200:
                    self.problem = f"/console/live answered {response.status_code}"
                    return
                for name, data in parse_sse(response.iter_lines()):
                    at = time.monotonic()
                    if name != "devices":
                        continue
                    self.events += 1
                    self._note(json.loads(data), at)
                    self.opened.set()
                    if self._closing.is_set():
                        return
        except (httpx.HTTPError, OSError, RuntimeError, ValueError) as exc:
            if not self._closing.is_set():
                self.problem = f"{type(exc).__name__}: {exc}"
        finally:
            self.opened.set()

    def _note(self, rows: Any, at: float) -> None:
        if not isinstance(rows, list):
            return
        for row in rows:
            if not isinstance(row, dict) or row.get("id") != self._moving:
                continue
            lat, lon = row.get("lat"), row.get("lon")
            if lat is None or lon is None:
                continue
            index = self._positions.get((round(lat * 1e7), round(lon * 1e7)))
            if index is not None and index not in self.shown:
                self.shown[index] = at

    def covered(self, index: int) -> bool:
        return any(i >= index for i in self.shown)

    def close(self) -> None:
        self._closing.set()
        response = self._response
        if response is not None:
            # Closing the response from here would wait for the reader's lock; shutting
            # the socket down ends the read the reader is blocked in at once.
            stream = response.extensions.get("network_stream")
            sock = None if stream is None else stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(20)


class StatePoller:
    """When the cloud's row of the moving bracelet first held each of its fixes (its
    newest (boot, seq)), read from the cloud's SQLite file every ``every_s``: the
    publish -> stored part of publish -> marker, without asking the cloud itself."""

    def __init__(self, database_url: str, device_id: str, boot: int, every_s: float = 0.05):
        self._engine = make_engine(database_url)
        self._device_id = device_id
        self._boot = boot
        self._every_s = every_s
        self.stored: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        query = select(Device.last_boot, Device.last_seq).where(Device.id == self._device_id)
        try:
            while not self._stop.wait(self._every_s):
                with self._engine.connect() as connection:
                    row = connection.execute(query).one_or_none()
                at = time.monotonic()
                if row is not None and row[0] == self._boot and row[1] is not None:
                    self.stored.setdefault(int(row[1]), at)
        finally:
            self._engine.dispose()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def publish_moving(
    stack: Stack, device_id: str, boot: int, positions: Sequence[tuple[int, int]], every_s: float
) -> list[float]:
    """Publish a fix at each position, QoS 1, one every ``every_s``; when each publish
    call was made (time.monotonic)."""
    endpoint = stack.broker_endpoint
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.connect(endpoint.host, endpoint.port, keepalive=60)
    client.loop_start()
    published: list[float] = []
    infos = []
    try:
        next_at = time.monotonic()
        for seq, (lat_e7, lon_e7) in enumerate(positions):
            fix = LocationFix(boot, seq, int(time.time()), lat_e7, lon_e7, 5, c.FIX_GNSS)
            payload = encode(fix)
            published.append(time.monotonic())
            infos.append(client.publish(topic(device_id, "telemetry"), payload, qos=1))
            next_at += every_s
            time.sleep(max(0.0, next_at - time.monotonic()))
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return published


def set_batch_age(stack: Stack, age_s: float, say: Callable[[str], None]) -> None:
    gateway = stack.gateway
    assert gateway is not None
    if gateway.settings.get("forward_batch_max_age_s") == age_s:
        return
    gateway.settings["forward_batch_max_age_s"] = age_s
    say(f"restarting the gateway with forward_batch_max_age_s = {age_s:g}")
    gateway.restart()


def latency_phase(
    stack: Stack,
    database_url: str,
    cookie: str,
    roles: Roles,
    options: ConsoleOptions,
    age_s: float,
    phase: int,
    say: Callable[[str], None],
) -> LatencyResult:
    assert stack.cloud is not None
    set_batch_age(stack, age_s, say)
    result = LatencyResult(age_s, options.streams)
    positions = phase_positions(phase, options.fixes_per_phase)
    index = {p: i for i, p in enumerate(positions)}
    boot = 10 + phase  # after the reports' boot 1: the newest state by (boot, seq)
    readers = [
        StreamReader(stack.cloud.url, cookie, roles.moving, index) for _ in range(options.streams)
    ]
    began = time.monotonic()
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 30.0
    for reader in readers:
        reader.opened.wait(max(0.1, deadline - time.monotonic()))
    opened = [r for r in readers if r.events > 0 and r.problem is None]
    result.streams_opened = len(opened)
    for reader in readers:
        if reader.problem is not None:
            say(f"  a stream did not open: {reader.problem}")
    say(f"  {len(opened)} streams open after {time.monotonic() - began:.1f} s")
    broker = stack.broker_endpoint
    spec = LoadSpec(
        broker.host,
        broker.port,
        roles.background,
        boot,
        options.background_rate,
        1,
        options.latency_seconds + 3.0,
        username=broker.username,
        password=broker.password,
    )
    result.background_asked_per_s = options.background_rate
    load = LoadProcess(spec)
    poller = StatePoller(database_url, roles.moving, boot)
    processes = {
        "cloud": stack.cloud.pid,
        "InfluxDB": None if stack.influx is None else stack.influx.pid,
        "gateway": None if stack.gateway is None else stack.gateway.pid,
    }
    cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items() if pid is not None}
    cpu_from = time.monotonic()
    try:
        poller.start()
        load.start()
        load.wait_started()
        say(f"  background load publishing after {time.monotonic() - began:.1f} s")
        time.sleep(1.0)  # the load is flowing before the first fix
        published = publish_moving(stack, roles.moving, boot, positions, options.publish_every_s)
        result.published = len(published)
        last = len(published) - 1
        settle = time.monotonic() + options.settle_s
        while time.monotonic() < settle and not all(r.covered(last) for r in opened):
            time.sleep(0.05)
        offered = load.result(options.settle_s + 60.0)
        result.background_offered_per_s = offered.offered_per_s
        result.background_all_acked = offered.all_acked
        wall = time.monotonic() - cpu_from
        for name, before in cpu_before.items():
            pid = processes[name]
            assert pid is not None
            with contextlib.suppress(OSError):
                result.cpu_share[name] = (cpu_seconds(pid) - before) / wall
        result.load_average = os.getloadavg()[0]
    finally:
        load.kill()
        poller.stop()
        closing = time.monotonic()
        for reader in readers:
            reader.close()
        say(f"  streams closed in {time.monotonic() - closing:.1f} s")
    for reader in opened:
        result.per_stream.append(marker_latencies(published, dict(reader.shown)))
    result.stored = marker_latencies(published, dict(poller.stored))
    return result


def run_console(
    options: ConsoleOptions, folder: Path, say: Callable[[str], None] = print
) -> ConsoleReport:
    """Reports, pages, publish -> marker per batch age; see the module docstring."""
    started = time.monotonic()
    report = ConsoleReport(options)
    report.load_average.append(os.getloadavg())
    bracelets = bracelet_ids(options.bracelets)
    stations = station_ids(options.stations)
    roles = Roles.of(bracelets)
    devices = {
        **{b: "bracelet" for b in bracelets},
        **{s: "river-station" for s in stations},
    }
    say(
        f"{len(bracelets)} bracelets, {len(stations)} river stations at "
        f"{len({site_of(n) for n in range(len(stations))})} sites; gateway "
        f"forward_batch_max_age_s = {options.batch_ages[0]:g} to begin with"
    )
    tuning = GatewayTuning(forward_batch_max_age_s=options.batch_ages[0])
    with Stack(folder / "stack", devices, gateway=tuning) as stack:
        assert stack.cloud is not None
        assert stack.cloud.pid is not None
        report.stack_up_s = time.monotonic() - started
        say(f"stack up after {report.stack_up_s:.1f} s")
        sampler = RssSampler(stack.cloud.pid)
        sampler.start()
        try:
            _measure(stack, options, report, bracelets, stations, roles, sampler, say)
        finally:
            sampler.stop()
            report.cloud_max_rss_mib = sampler.max_mib
    report.elapsed_s = time.monotonic() - started
    report.load_average.append(os.getloadavg())
    return report


def write_history(
    stack: Stack,
    database_url: str,
    options: ConsoleOptions,
    report: ConsoleReport,
    bracelets: Sequence[str],
    roles: Roles,
    now_s: int,
    midnight_s: int,
    say: Callable[[str], None],
) -> dict[str, int]:
    """Each bracelet's day (``options.history_*``) straight to InfluxDB, its run of
    sequence numbers in the cloud's database; the number each one's report must take."""
    count = options.history_fixes
    with_history = roles.with_history(options.history_bracelets) if count > 0 else ()
    first_seq = {b: count for b in with_history}
    if not with_history:
        return first_seq
    reports = report_fixes(bracelets, roles, now_s, first_seq)
    anchors = {b: reports[b] for b in with_history}
    seed_sequence_ranges(
        database_url,
        {b: (REPORT_BOOT, count) for b in with_history},
        anchors,
        options.track_every_s,
    )
    say(
        f"history: a day of {len(with_history)} bracelets ({count:,} fixes each, one "
        f"every {options.track_every_s} s) straight to InfluxDB ..."
    )
    written = bulk_write(
        stack.influx_endpoint, history_points(anchors, count, options.track_every_s)
    )
    report.history_bracelets = len(with_history)
    report.history_lines, report.history_requests = written.lines, written.requests
    report.history_write_s = written.seconds
    report.history_today = history_today(anchors, count, options.track_every_s, midnight_s)
    influx_pid = None if stack.influx is None else stack.influx.pid
    if influx_pid is not None and written.lines >= SETTLE_AFTER_LINES:
        report.history_settle_s = wait_until_idle(influx_pid)
    say(history_line(report))
    return first_seq


def _measure(
    stack: Stack,
    options: ConsoleOptions,
    report: ConsoleReport,
    bracelets: Sequence[str],
    stations: Sequence[str],
    roles: Roles,
    sampler: RssSampler,
    say: Callable[[str], None],
) -> None:
    assert stack.cloud is not None
    url = stack.cloud.url
    database_url = f"sqlite:///{(stack.folder / 'cloud' / 'cloud.sqlite3').absolute()}"
    cookie = populate(database_url, stations)
    now_s = int(time.time())
    midnight_s = int(local_midnight(datetime.fromtimestamp(now_s, UTC), CONSOLE_ZONE).timestamp())
    report.today_since = datetime.fromtimestamp(midnight_s, CONSOLE_ZONE).isoformat()
    first_seq = write_history(
        stack, database_url, options, report, bracelets, roles, now_s, midnight_s, say
    )
    reports = first_reports(bracelets, stations, roles, now_s, first_seq)
    reports.sort(key=lambda item: item.received_at_ms)
    stored = post_batches(url, stack.token, sent_live(reports))
    say(f"reports stored: {stored:,} records (a fix and a health record a bracelet, water)")
    today_ms = midnight_s * 1000
    ingested_today = sum(1 for item in reports if item.received_at_ms >= today_ms)
    day_start_s = (now_s // 60) * 60 - DAY_S
    fixes, every_s = options.track_fixes, options.track_every_s
    ingest_started = time.monotonic()
    live_day = day_of_fixes(roles.tracked, day_start_s, fixes, every_s)
    live = sent_live(live_day)
    report.track_stored = post_batches(url, stack.token, live)
    report.track_ingest_s = time.monotonic() - ingest_started
    say(
        f"one-day track of {roles.tracked}: {report.track_stored:,} fixes stored in "
        f"{report.track_ingest_s:.1f} s ({len(live)} batches of {LIVE_WINDOW_S} s, as forwarded live)"
    )
    late = day_of_fixes(roles.backfilled, day_start_s, fixes, every_s)
    caught_up = sent_at_once(late, int(time.time() * 1000))
    report.backfilled_stored = post_batches(url, stack.token, caught_up)
    say(
        f"the same day of {roles.backfilled}, caught up: {report.backfilled_stored:,} fixes in "
        f"{len(caught_up)} batches sent now"
    )
    ingested_today += 2 * sum(1 for item in live_day if item.received_at_ms >= today_ms)
    report.records_today = report.history_today + ingested_today
    plans = page_plans(roles, site_of(0), datetime.fromtimestamp(day_start_s, UTC))
    token = api_token(url)
    with httpx.Client(
        base_url=url, cookies={sessions.COOKIE: cookie}, timeout=120.0, follow_redirects=False
    ) as client:
        for plan in plans:
            headers = {"Authorization": f"Bearer {token}"} if plan.bearer else {}
            page = measure_page(client, plan, options, bracelets, headers)
            report.pages.append(page)
            if plan.name == "overview" and page.skipped is None:
                report.readings_today_shown = readings_today(client.get(plan.path).content)
            if page.skipped is not None:
                say(f"  {page.name} ({page.path}): skipped, {page.skipped}")
            else:
                say(
                    f"  {page.name}: p50 {_ms(page.p50_s)} ms, p95 {_ms(page.p95_s)} ms, "
                    f"{page.bytes:,} bytes; {page.detail}"
                )
    report.cloud_rss_after_pages_mib = sampler.sample()
    for phase, age in enumerate(options.batch_ages, start=1):
        say(
            f"publish -> marker, forward_batch_max_age_s = {age:g}: {options.streams} streams, "
            f"background {options.background_rate:,.0f}/s, {options.fixes_per_phase} fixes"
        )
        result = latency_phase(stack, database_url, cookie, roles, options, age, phase, say)
        report.latency.append(result)
        say(
            f"  p50 {_ms(result.p50_s)} ms, p99 {_ms(result.p99_s)} ms, unseen {result.unseen} "
            f"(stored in the cloud: p50 {_ms(result.stored_p50_s)} ms, "
            f"p99 {_ms(result.stored_p99_s)} ms), "
            f"background offered {result.background_offered_per_s:,.0f}/s"
        )
    if (
        report.readings_today_shown is not None
        and report.readings_today_shown != report.records_today
    ):
        report.notes.append(
            f"the overview showed {report.readings_today_shown:,} readings today, the bench "
            f"stored {report.records_today:,} records since {report.today_since}"
        )
    if any(p.skipped for p in report.pages):
        report.notes.append(
            "pages skipped: " + ", ".join(p.name for p in report.pages if p.skipped)
        )


def quick_or_full(quick: bool, **overrides: Any) -> ConsoleOptions:
    """The options of a run: the quick or full defaults, with what was given."""
    base = ConsoleOptions.quick() if quick else ConsoleOptions()
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)
