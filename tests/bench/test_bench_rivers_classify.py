"""The classify bench on a small city: every figure measured, through a real PostgreSQL
and InfluxDB, and every class equal to core's."""

from __future__ import annotations

import pytest

from fieldwatch_dev.bench.rivers_classify import ClassifyOptions, format_report, run_classify


@pytest.mark.services
def test_a_small_city_is_classed_the_same_by_every_path() -> None:
    lines: list[str] = []
    report = run_classify(ClassifyOptions(sites=600, rounds=1), lines.append)
    assert report.agree
    assert report.postgres_agree is True
    assert report.influx_rows == 600
    assert sum(report.classes.values()) == 600
    assert len(report.classes) >= 4  # the sites spread over the classes, not one
    text = format_report(report)
    for figure in ("core.waterclass", "numpy, from the samples", "PostgreSQL", "InfluxDB"):
        assert figure in text
    assert any(line.startswith("PostgreSQL round 1: 600 newest samples") for line in lines)
