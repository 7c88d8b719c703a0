"""How many records each device stored since a moment: the overview's "readings today".

One statement per retention policy, every measurement of it, grouped by device; the
caller keeps the devices its reader may see. Identifiers come from the schema, the
moment is a bound parameter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from cloud.timeseries.influx import Series, quote_identifier
from cloud.timeseries.queries import Statement, to_ns
from cloud.timeseries.schema import DEVICE_TAG, MEASUREMENT_BY_KIND, POLICY_BY_MEASUREMENT


def records_since_statements(start: datetime) -> list[Statement]:
    """``count(seq)`` per device and measurement of every record with a time >= start."""
    by_policy: dict[str, list[str]] = {}
    for measurement in MEASUREMENT_BY_KIND.values():
        policy = POLICY_BY_MEASUREMENT[measurement].name
        by_policy.setdefault(policy, []).append(measurement)
    statements = []
    for policy, measurements in sorted(by_policy.items()):
        tables = ", ".join(
            f"{quote_identifier(policy)}.{quote_identifier(m)}" for m in sorted(measurements)
        )
        statements.append(
            Statement(
                f"SELECT count(seq) FROM {tables} WHERE time >= $start GROUP BY {DEVICE_TAG}",
                {"start": to_ns(start)},
            )
        )
    return statements


def records_by_device(series: Iterable[Series]) -> Counter[str]:
    """The counts of ``records_since_statements``' answers, summed per device."""
    counts: Counter[str] = Counter()
    for item in series:
        device = item.tags.get(DEVICE_TAG)
        if device is None:
            continue
        for row in item.rows():
            counts[device] += int(row.get("count") or 0)
    return counts
