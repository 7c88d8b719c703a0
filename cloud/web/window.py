"""The time window of a series query, checked before InfluxDB sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query
from pydantic import AwareDatetime

from cloud.errors import InvalidRequestError
from core import contract as c

EARLIEST = datetime.fromtimestamp(c.TS_MIN, UTC)
LATEST = datetime.fromtimestamp(c.TS_MAX, UTC)
MAX_SPAN = timedelta(days=366)
MAX_BUCKETS = 100_000


class WindowError(InvalidRequestError):
    """A time window that is empty, too long or outside device time (422)."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime
    every_s: int | None


def check_window(start: datetime, end: datetime, every_s: int | None) -> TimeWindow:
    """A window within device time (2020..2100), at most a year, at most 100,000 buckets."""
    try:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00 is before datetime.min in UTC
        start = end = EARLIEST
    if not EARLIEST <= start < end <= LATEST:
        raise WindowError("need start < end, both within 2020-01-01..2100-01-01 UTC")
    if end - start > MAX_SPAN:
        raise WindowError(f"a window spans at most {MAX_SPAN.days} days")
    if every_s is not None and (end - start).total_seconds() / every_s > MAX_BUCKETS:
        raise WindowError(f"at most {MAX_BUCKETS} buckets: raise every_s")
    return TimeWindow(start, end, every_s)


def time_window(
    start: Annotated[AwareDatetime, Query(description="inclusive, RFC 3339 with zone")],
    end: Annotated[AwareDatetime, Query(description="exclusive, RFC 3339 with zone")],
    every_s: Annotated[
        int | None,
        Query(ge=1, le=86400, description="downsample: one value per bucket of this many s"),
    ] = None,
) -> TimeWindow:
    return check_window(start, end, every_s)


WindowDep = Annotated[TimeWindow, Depends(time_window)]
