"""How fast the latest samples of a city's sites are classed: ``fieldwatch bench rivers
--part classify``.

A city of ``sites`` monitoring sites (48,000 by default), one station each, each with its
newest sample: values about the scenario's four rivers (from class II to inferior V),
one site in ten a lake, one value in fifty calibrating. Timed, each the median of
``rounds``:

1. **core**: ``core.waterclass.classify`` sample by sample (what a board or a small
   script runs);
2. **numpy**: ``cloud.rivers.classes`` from the samples as the API has them (building
   the matrix included) and from the matrix alone;
3. **PostgreSQL** (unless ``--no-services``): a private PostgreSQL holding the 48,000
   stations and their newest samples as the ingest keeps them (``station_latest``), read
   whole and classed with numpy: the whole answer to "the class of every site now", the
   way ``/api/v1/sites/latest`` reads them;
4. **InfluxDB** (unless ``--no-services``): for comparison, a private InfluxDB 1.6
   holding one point per station (48,000 series), the last point of every series read
   with ``latest_water_statement`` (what the API read before ``station_latest``).

Every row is checked: numpy's class and deciding parameters equal core's.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from cloud.db.engine import make_engine, make_sessions
from cloud.db.migrate import upgrade
from cloud.fleet.models import Device
from cloud.fleet.service import add_gateway
from cloud.rivers import classes
from cloud.rivers import service as rivers
from cloud.rivers.models import StationLatest
from cloud.rivers.queries import sample_of
from cloud.timeseries.influx import InfluxStore
from cloud.timeseries.points import RecordContext, record_point
from cloud.timeseries.queries import latest_water_statement, rows_of
from core import contract as c
from core import waterclass
from core.messages import WaterSample
from fieldwatch_dev.local import InfluxServer, PostgresServer
from fieldwatch_dev.simulator.scenario import load_scenario

TS = 1_780_000_000  # 2026-05-28: the samples' time (device time, s)
WRITE_BATCH = 5_000


@dataclass(frozen=True)
class ClassifyOptions:
    sites: int = 48_000
    rounds: int = 5
    seed: int = 1
    influx: bool = True


@dataclass
class ClassifyReport:
    sites: int
    rounds: int
    core_s: list[float] = field(default_factory=list)
    numpy_s: list[float] = field(default_factory=list)
    numpy_matrix_s: list[float] = field(default_factory=list)
    influx_query_s: list[float] = field(default_factory=list)
    influx_total_s: list[float] = field(default_factory=list)
    influx_rows: int = 0
    postgres_read_s: list[float] = field(default_factory=list)
    postgres_total_s: list[float] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)
    agree: bool = False
    postgres_agree: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in (
            "core_s",
            "numpy_s",
            "numpy_matrix_s",
            "influx_query_s",
            "influx_total_s",
            "postgres_read_s",
            "postgres_total_s",
        ):
            out[name.replace("_s", "_median_s")] = _median(getattr(self, name))
        return out


def make_samples(options: ClassifyOptions) -> tuple[list[WaterSample], list[bool]]:
    """One sample per site, about the scenario's rivers; and which sites are lakes."""
    rng = random.Random(options.seed)
    rivers = load_scenario(None).rivers
    samples, lakes = [], []
    for number in range(options.sites):
        river = rivers[number % len(rivers)]
        spread = rng.uniform(0.6, 1.8)  # some sites cleaner, some dirtier than usual
        physical = {
            "water_temp": river.water_temp + rng.uniform(-3, 3),
            "ph": river.ph + rng.uniform(-0.8, 0.8),
            "dissolved_oxygen": max(0.5, river.dissolved_oxygen / spread + rng.uniform(-1, 1)),
            "conductivity": river.conductivity * rng.uniform(0.8, 1.2),
            "turbidity": river.turbidity * rng.uniform(0.5, 1.5),
            "permanganate_index": river.permanganate_index * spread,
            "ammonia_nitrogen": river.ammonia_nitrogen * spread,
            "total_phosphorus": river.total_phosphorus * spread,
            "total_nitrogen": river.total_nitrogen * spread,
        }
        values = {
            c.WATER_PARAMETER_IDS[name]: round(
                v * c.WATER_PARAMETERS[c.WATER_PARAMETER_IDS[name]][2]
            )
            for name, v in physical.items()
        }
        statuses = {3: c.VALUE_CALIBRATING} if number % 50 == 0 else None
        samples.append(WaterSample(1, number, TS, values, statuses))
        lakes.append(number % 10 == 3)
    return samples, lakes


def _physical(sample: WaterSample) -> tuple[dict[int, float | None], dict[int, int] | None]:
    values: dict[int, float | None] = {
        pid: wire / c.WATER_PARAMETERS[pid][2] for pid, wire in sample.values.items()
    }
    return values, dict(sample.statuses) if sample.statuses else None


def run_classify(
    options: ClassifyOptions, progress: Callable[[str], None] = lambda _line: None
) -> ClassifyReport:
    samples, lake_list = make_samples(options)
    physical = [_physical(s) for s in samples]
    lakes = np.array(lake_list)
    waterbodies = [waterclass.LAKE if lake else waterclass.RIVER for lake in lake_list]
    report = ClassifyReport(options.sites, options.rounds)
    core_out: list[tuple[int | None, list[int]]] = []
    for round_ in range(options.rounds):
        began = time.perf_counter()
        core_out = [
            waterclass.classify(v, wb, st)
            for (v, st), wb in zip(physical, waterbodies, strict=True)
        ]
        report.core_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        matrix = classes.matrix(physical)
        got, deciding = classes.classify_many(matrix, lakes)
        report.numpy_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        classes.classify_many(matrix, lakes)
        report.numpy_matrix_s.append(time.perf_counter() - began)
        progress(
            f"round {round_ + 1}: core {report.core_s[-1]:.3f} s, numpy {report.numpy_s[-1]:.3f} s "
            f"(matrix alone {report.numpy_matrix_s[-1] * 1000:.1f} ms)"
        )
    report.agree = all(
        (int(got[i]) or None) == cls
        and [classes.COLUMNS[j] for j in np.flatnonzero(deciding[i])] == named
        for i, (cls, named) in enumerate(core_out)
    )
    counts = np.bincount(got, minlength=7)
    report.classes = {
        (waterclass.CLASS_NAMES[k] if k else "none"): int(counts[k]) for k in range(7) if counts[k]
    }
    if options.influx:
        _with_postgres(options, samples, lakes, got, report, progress)
        _with_influx(options, samples, lakes, report, progress)
    return report


def _with_postgres(
    options: ClassifyOptions,
    samples: list[WaterSample],
    lakes: np.ndarray[Any, Any],
    expected: np.ndarray[Any, Any],
    report: ClassifyReport,
    progress: Callable[[str], None],
) -> None:
    """The ingest's own table of each station's newest sample, on a private PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="fieldwatch-bench-classify-pg-") as folder:
        server = PostgresServer(Path(folder))
        server.start()
        engine = make_engine(server.dsn)
        try:
            upgrade(engine)
            now = datetime.now(UTC)
            progress(f"writing {len(samples):,} stations and their newest samples into PostgreSQL")
            with make_sessions(engine).begin() as session:
                add_gateway(session, "gw-bench", now)
                session.execute(
                    insert(Device),
                    [
                        {
                            "id": f"rs-{n:06d}",
                            "kind": "river-station",
                            "gateway_id": "gw-bench",
                            "created_at": now,
                        }
                        for n in range(len(samples))
                    ],
                )
                for start in range(0, len(samples), WRITE_BATCH):
                    chunk = {
                        f"rs-{n:06d}": [samples[n]]
                        for n in range(start, min(len(samples), start + WRITE_BATCH))
                    }
                    rivers.note_samples(session, chunk, now)
                    session.flush()
            lake_of = {f"rs-{n:06d}": bool(lakes[n]) for n in range(len(samples))}
            ids = {name: pid for pid, (name, *_rest) in c.WATER_PARAMETERS.items()}
            columns = [
                getattr(StationLatest, c.WATER_PARAMETERS[pid][0]) for pid in classes.COLUMNS
            ]
            for round_ in range(options.rounds):
                began = time.perf_counter()
                with make_sessions(engine)() as session:
                    rows = session.execute(
                        select(StationLatest.device_id, StationLatest.statuses_json, *columns)
                    ).all()
                read = time.perf_counter()
                matrix = np.array([r[2:] for r in rows], dtype=np.float64)  # None: NaN
                for i, row in enumerate(rows):
                    if row[1] != "{}":  # a value not normal counts for nothing
                        for name in json.loads(row[1]):
                            matrix[i, classes.COLUMNS.index(ids[name])] = np.nan
                found, _ = classes.classify_many(matrix, np.array([lake_of[r[0]] for r in rows]))
                done = time.perf_counter()
                by_device = {r[0]: int(k) for r, k in zip(rows, found, strict=True)}
                report.postgres_agree = all(
                    by_device[f"rs-{n:06d}"] == int(expected[n]) for n in range(len(samples))
                )
                report.postgres_read_s.append(read - began)
                report.postgres_total_s.append(done - began)
                progress(
                    f"PostgreSQL round {round_ + 1}: {len(rows):,} newest samples read in "
                    f"{read - began:.2f} s, classed in all {done - began:.2f} s"
                )
        finally:
            engine.dispose()
            server.stop()


def _with_influx(
    options: ClassifyOptions,
    samples: list[WaterSample],
    lakes: np.ndarray[Any, Any],
    report: ClassifyReport,
    progress: Callable[[str], None],
) -> None:
    with tempfile.TemporaryDirectory(prefix="fieldwatch-bench-classify-") as folder:
        server = InfluxServer(Path(folder) / "influxdb")
        server.start()
        try:
            store = InfluxStore(server.url, "bench_classify", timeout_s=600.0)
            store.ensure_schema()
            progress(f"writing {len(samples):,} stations' latest samples into InfluxDB")
            points = [
                record_point(s, RecordContext(f"rs-{n:06d}", "gw-bench", TS * 1000, False))
                for n, s in enumerate(samples)
            ]
            for start in range(0, len(points), WRITE_BATCH):
                store.write(points[start : start + WRITE_BATCH])
            lake_of = {f"rs-{n:06d}": bool(lakes[n]) for n in range(len(samples))}
            statement = latest_water_statement()
            for round_ in range(options.rounds):
                began = time.perf_counter()
                series = store.query(statement.text, statement.params)
                queried = time.perf_counter()
                rows = rows_of(series)
                latest = [sample_of(row) for row in rows]
                matrix = classes.matrix([(s.values, s.statuses) for s in latest])
                classes.classify_many(matrix, np.array([lake_of[s.device_id] for s in latest]))
                done = time.perf_counter()
                report.influx_query_s.append(queried - began)
                report.influx_total_s.append(done - began)
                report.influx_rows = len(rows)
                progress(
                    f"InfluxDB round {round_ + 1}: {len(rows):,} latest samples read in "
                    f"{queried - began:.2f} s, classed in all {done - began:.2f} s"
                )
            store.close()
        finally:
            server.stop()


def format_report(report: ClassifyReport) -> str:
    lines = [
        f"classing the latest sample of {report.sites:,} sites, median of {report.rounds} rounds:",
        f"  core.waterclass, sample by sample   {_median(report.core_s):.3f} s",
        f"  numpy, from the samples             {_median(report.numpy_s):.3f} s",
        f"  numpy, the matrix alone             {_median(report.numpy_matrix_s) * 1000:.1f} ms",
    ]
    if report.postgres_total_s:
        lines += [
            f"  PostgreSQL (station_latest, what the API reads): read "
            f"{_median(report.postgres_read_s):.2f} s; read and classed "
            f"{_median(report.postgres_total_s):.2f} s",
        ]
    if report.influx_total_s:
        lines += [
            f"  InfluxDB: read {report.influx_rows:,} latest samples "
            f"{_median(report.influx_query_s):.2f} s; read and classed "
            f"{_median(report.influx_total_s):.2f} s",
        ]
    lines.append(f"  classes: {report.classes}")
    lines.append(f"  numpy agrees with core on every site: {'yes' if report.agree else 'NO'}")
    if report.postgres_agree is not None:
        lines.append(
            "  classes from PostgreSQL's rows equal them: "
            + ("yes" if report.postgres_agree else "NO")
        )
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
