"""Zones as the rules use them: loaded per batch for the persons in it, with their
shapes cached per process (keyed by the zone's last change)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.supervision import rules
from cloud.supervision.geometry import ZoneShape, zone_shape
from cloud.supervision.models import Zone, ZoneAssignment
from core import geofence
from core import schedule as weekly


def core_zone(shape: str, geometry: dict[str, Any]) -> geofence.Zone:
    """The core geometry of a stored zone (WGS-84 degrees)."""
    if shape == "circle":
        return geofence.circle(
            float(geometry["lat"]), float(geometry["lon"]), float(geometry["radius_m"])
        )
    return geofence.polygon([(float(lat), float(lon)) for lat, lon in geometry["vertices"]])


@lru_cache(maxsize=4096)
def _shape(zone_id: int, version: str, shape: str, geometry_json: str) -> ZoneShape:
    return zone_shape(core_zone(shape, json.loads(geometry_json)))


@lru_cache(maxsize=4096)
def _windows(text: str) -> tuple[weekly.Window, ...]:
    return tuple(weekly.parse_windows(text)) if text.strip() else ()


@dataclass(frozen=True)
class LoadedZone:
    """A zone of a person's, ready to check fixes against."""

    zone_id: int
    name: str
    rule: str
    role: str
    dwell_s: int
    schedule_text: str
    windows: tuple[weekly.Window, ...]
    shape: ZoneShape

    def distance(self, fix: rules.Fix) -> rules.EdgeDistance:
        zone = self.shape.zone
        return lambda: geofence.signed_distance_m(zone, fix.lat, fix.lon)

    def rule_for(
        self, suspended: Sequence[tuple[int, int, int]], trip_grace_s: int = 0
    ) -> rules.ZoneRule:
        return rules.ZoneRule(
            self.zone_id,
            self.name,
            self.rule,
            self.role,
            self.dwell_s,
            self.windows,
            self.schedule_text,
            tuple(suspended),
            trip_grace_s,
        )


def load(zone: Zone) -> LoadedZone:
    return LoadedZone(
        zone.id,
        zone.name,
        zone.rule,
        zone.role,
        zone.dwell_s,
        zone.schedule,
        _windows(zone.schedule),
        _shape(zone.id, zone.updated_at.isoformat(), zone.shape, zone.geometry_json),
    )


def zones_of_persons(session: Session, persons: Iterable[int]) -> dict[int, list[LoadedZone]]:
    """Each person's active zones, in zone id order, in one query."""
    wanted = sorted(set(persons))
    out: dict[int, list[LoadedZone]] = defaultdict(list)
    if not wanted:
        return out
    rows = session.execute(
        select(ZoneAssignment.person_id, Zone)
        .join(Zone, Zone.id == ZoneAssignment.zone_id)
        .where(ZoneAssignment.person_id.in_(wanted), Zone.active.is_(True))
        .order_by(ZoneAssignment.person_id, Zone.id)
    )
    for person_id, zone in rows:
        out[person_id].append(load(zone))
    return out
