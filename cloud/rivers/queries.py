"""What the rivers' readers share: the stations placed at the sites a person may see, and
their stored samples read back as ``assess.Sample``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.fleet.models import Device
from cloud.rivers import assess
from cloud.rivers.models import RiverSite
from cloud.timeseries.queries import Statement, water_samples_statement
from cloud.timeseries.schema import WATER_PARAMETER_NAMES
from core import contract as c

# Runs an InfluxQL statement; gives rows as ``cloud.timeseries.queries.rows_of`` does.
Query = Callable[[Statement], list[dict[str, Any]]]

_STATUS_SUFFIX = "_status"
_IDS = {name: c.WATER_PARAMETER_IDS[name] for name in WATER_PARAMETER_NAMES}


def stations_by_site(session: Session, visible: ColumnElement[bool]) -> defaultdict[str, list[str]]:
    """The stations of every site ``visible`` (a policy condition) admits, in one query."""
    stations: defaultdict[str, list[str]] = defaultdict(list)
    query = (
        select(Device.site_id, Device.id)
        .join(RiverSite, RiverSite.id == Device.site_id)
        .where(visible)
        .order_by(Device.id)
    )
    for site_id, device_id in session.execute(query):
        if site_id is not None:
            stations[site_id].append(device_id)
    return stations


def sample_of(row: Mapping[str, Any]) -> assess.Sample:
    """A stored water point (physical values, ``<name>_status`` fields) as a sample."""
    values: dict[int, float | None] = {}
    statuses: dict[int, int] = {}
    for name, pid in _IDS.items():
        value = row.get(name)
        status = row.get(name + _STATUS_SUFFIX)
        if value is not None:
            values[pid] = float(value)
        if status is not None and int(status) != c.VALUE_NORMAL:
            statuses[pid] = int(status)
            values.setdefault(pid, None)
    moment = row["time"]
    return assess.Sample(int(moment.timestamp()), str(row["device_id"]), values, statuses)


def load_samples(
    query: Query, device_ids: Sequence[str], start: datetime, end: datetime
) -> list[assess.Sample]:
    """Every stored sample of these stations in [start, end), oldest first."""
    return [sample_of(row) for row in query(water_samples_statement(device_ids, start, end))]
