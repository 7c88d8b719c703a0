"""`fieldwatch bench ingest`: the cloud's ingest measured on its own, every reading stored.

Speeds are never asserted; the run must store what it measured.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fieldwatch.cli import app

pytestmark = [pytest.mark.services]


def test_a_short_run_stores_every_reading_and_reports_a_rate() -> None:
    result = CliRunner().invoke(
        app,
        [
            *("bench", "ingest", "--records-per-message", "1,50"),
            *("--readings", "200", "--requests", "3", "--rounds", "2"),
        ],
    )

    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "a request:" in line]
    assert len(rows) == 2
    assert rows[0].startswith("20 devices x 10 messages x 1 readings = 200 a request")
    assert rows[1].startswith("20 devices x 1 messages x 50 readings = 1000 a request")
    assert all("us of CPU" in row for row in rows)
