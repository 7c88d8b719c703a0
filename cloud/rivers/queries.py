"""What the rivers' readers share: the stations placed at the sites a person may see."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.fleet.models import Device
from cloud.rivers.models import RiverSite


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
