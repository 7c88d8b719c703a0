"""The only writer of rivers, their chiefs, sites and site grants; in the caller's session."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely  # type: ignore[import-untyped]  # shapely 2 ships no type information
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.identity.models import Role, User
from cloud.identity.service import get_user
from cloud.rivers.models import (
    CHIEF_LEVELS,
    RULE_KINDS,
    WATERBODIES,
    River,
    RiverChief,
    RiverSite,
    SiteAssignment,
    StationLatest,
    WaterRule,
)
from cloud.web.fields import check_id
from core import contract as c

# River codes as registers write them: letters, digits and - _ . (e.g. FX-0412, 310120-001).
RIVER_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
GEOMETRY_TYPES = ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
CLASS_NUMERALS = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


@dataclass(frozen=True)
class RiverInput:
    """A river as an import or a request gives it, checked by ``check_river``."""

    code: str
    name: str
    geometry: Mapping[str, Any] | None = None
    chiefs: Mapping[str, Sequence[str]] | None = None  # level -> usernames


@dataclass(frozen=True)
class CheckedRiver:
    code: str
    name: str
    geometry_json: str | None
    bounds: tuple[float, float, float, float] | None  # min_lon, min_lat, max_lon, max_lat
    chiefs: tuple[tuple[str, str], ...]  # (level, username)


def check_river(spec: RiverInput) -> CheckedRiver:
    """The river if its code, name, geometry (WGS-84 GeoJSON) and chiefs are well formed."""
    code = spec.code.strip()
    if not RIVER_CODE.match(code):
        raise InvalidRequestError(
            f"river code {spec.code!r}: letters, digits and - _ . only, 1 to 64 characters"
        )
    name = spec.name.strip()
    if not name or len(name) > 128 or any(ord(ch) < 32 for ch in name):
        raise InvalidRequestError(f"river {code}: a name of 1 to 128 printable characters")
    geometry_json, bounds = None, None
    if spec.geometry is not None:
        geometry_json, bounds = _geometry(code, spec.geometry)
    chiefs: list[tuple[str, str]] = []
    for level, usernames in (spec.chiefs or {}).items():
        if level not in CHIEF_LEVELS:
            raise InvalidRequestError(
                f"river {code}: chief level {level!r} is not one of {', '.join(CHIEF_LEVELS)}"
            )
        names = [usernames] if isinstance(usernames, str) else list(usernames)
        chiefs.extend((level, str(username)) for username in names)
    return CheckedRiver(code, name, geometry_json, bounds, tuple(chiefs))


def _geometry(code: str, raw: Mapping[str, Any]) -> tuple[str, tuple[float, float, float, float]]:
    kind = raw.get("type")
    if kind not in GEOMETRY_TYPES:
        raise InvalidRequestError(
            f"river {code}: geometry type {kind!r} is not one of {', '.join(GEOMETRY_TYPES)}"
        )
    try:
        shape = shapely.geometry.shape(raw)
    except (shapely.errors.GEOSException, ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidRequestError(f"river {code}: geometry is not valid GeoJSON ({exc})") from exc
    if shape.is_empty:
        raise InvalidRequestError(f"river {code}: the geometry is empty")
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidRequestError(
            f"river {code}: coordinates out of WGS-84 range (GeoJSON is longitude, latitude)"
        )
    return json.dumps(shapely.geometry.mapping(shape), separators=(",", ":")), (
        min_lon,
        min_lat,
        max_lon,
        max_lat,
    )


def put_river(session: Session, checked: CheckedRiver, now: datetime) -> tuple[River, bool]:
    """Create the river, or update the one with its code; returns it and whether it is new."""
    river = session.scalar(select(River).where(River.code == checked.code))
    new = river is None
    if river is None:
        river = River(code=checked.code, created_at=now)
        session.add(river)
    fill_river(river, checked, now)
    session.flush()
    return river, new


def fill_river(river: River, checked: CheckedRiver, now: datetime) -> None:
    river.name = checked.name
    if checked.geometry_json is not None and checked.bounds is not None:
        river.geometry_json = checked.geometry_json
        river.min_lon, river.min_lat, river.max_lon, river.max_lat = checked.bounds
    river.updated_at = now


def get_river(session: Session, code: str) -> River:
    river = session.scalar(select(River).where(River.code == code))
    if river is None:
        raise NotFoundError(f"no river {code}")
    return river


def appoint_chief(
    session: Session, river: River, user: User, level: str, now: datetime
) -> RiverChief:
    """Make a river chief the river's chief at ``level`` (kept if already so)."""
    if level not in CHIEF_LEVELS:
        raise InvalidRequestError(f"chief level {level!r} is not one of {', '.join(CHIEF_LEVELS)}")
    if user.role != Role.river_chief:
        raise InvalidRequestError(f"{user.username} is a {user.role}, not a river chief")
    found = session.scalar(
        select(RiverChief).where(
            RiverChief.river_id == river.id,
            RiverChief.user_id == user.id,
            RiverChief.level == level,
        )
    )
    if found is not None:
        return found
    chief = RiverChief(river_id=river.id, user_id=user.id, level=level, since=now)
    session.add(chief)
    session.flush()
    return chief


def dismiss_chief(session: Session, river: River, user: User, level: str) -> None:
    found = session.scalar(
        select(RiverChief).where(
            RiverChief.river_id == river.id,
            RiverChief.user_id == user.id,
            RiverChief.level == level,
        )
    )
    if found is None:
        raise NotFoundError(f"{user.username} is not the {level} chief of river {river.code}")
    session.delete(found)


def chiefs_of(session: Session, river_id: int) -> list[tuple[str, str, datetime]]:
    """(level, username, since) of a river's chiefs, district first."""
    rows = session.execute(
        select(RiverChief.level, User.username, RiverChief.since)
        .join(User, User.id == RiverChief.user_id)
        .where(RiverChief.river_id == river_id)
    ).all()
    order = {level: i for i, level in enumerate(CHIEF_LEVELS)}
    return sorted(((lv, u, s) for lv, u, s in rows), key=lambda r: (order[r[0]], r[1]))


def target_class(value: str | int | None) -> int | None:
    """A target class from 1..5 or I..V (None or empty: none)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        number = value
    elif value.strip().upper() in CLASS_NUMERALS:
        number = CLASS_NUMERALS[value.strip().upper()]
    elif value.strip().isdigit():
        number = int(value.strip())
    else:
        raise InvalidRequestError(f"target class {value!r}: one of I, II, III, IV, V (or 1..5)")
    if not 1 <= number <= 5:
        raise InvalidRequestError(f"target class {value!r}: one of I, II, III, IV, V (or 1..5)")
    return number


def add_site(
    session: Session,
    site_id: str,
    name: str,
    river: str,
    lat: float | None = None,
    lon: float | None = None,
    *,
    river_code: str | None = None,
    waterbody: str = "river",
    target: int | None = None,
) -> RiverSite:
    """A new site; its place (WGS-84 degrees) may be given now or never. With
    ``river_code`` the site is on that river (and takes its name)."""
    check_id(site_id, "site")
    if session.get(RiverSite, site_id) is not None:
        raise ConflictError(f"site {site_id} exists")
    site = RiverSite(id=site_id)
    _place(session, site, name, river, lat, lon, river_code, waterbody, target)
    session.add(site)
    session.flush()
    return site


def update_site(
    session: Session,
    site: RiverSite,
    name: str,
    river: str,
    lat: float | None,
    lon: float | None,
    *,
    river_code: str | None = None,
    waterbody: str = "river",
    target: int | None = None,
) -> RiverSite:
    _place(session, site, name, river, lat, lon, river_code, waterbody, target)
    session.flush()
    return site


def _place(
    session: Session,
    site: RiverSite,
    name: str,
    river: str,
    lat: float | None,
    lon: float | None,
    river_code: str | None,
    waterbody: str,
    target: int | None,
) -> None:
    if (lat is None) != (lon is None):
        raise InvalidRequestError("a site's lat and lon go together: give both or neither")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidRequestError(f"({lat}, {lon}) is not a WGS-84 position")
    if waterbody not in WATERBODIES:
        raise InvalidRequestError(
            f"site {site.id}: water body {waterbody!r} is not one of {', '.join(WATERBODIES)}"
        )
    if target is not None and not 1 <= target <= 5:
        raise InvalidRequestError(f"site {site.id}: target class {target} is not 1..5")
    on = get_river(session, river_code) if river_code else None
    site.name = name
    site.river = on.name if on is not None and not river else river
    site.river_id = on.id if on is not None else None
    site.waterbody = waterbody
    site.target_class = target
    site.lat, site.lon = lat, lon


def get_site(session: Session, site_id: str) -> RiverSite:
    site = session.get(RiverSite, site_id)
    if site is None:
        raise NotFoundError(f"no site {site_id}")
    return site


def assign_site(session: Session, username: str, site_id: str) -> None:
    """Give a river chief a site to watch."""
    user = get_user(session, username)
    if user.role != Role.river_chief:
        raise InvalidRequestError(f"{username} is a {user.role}, not a river chief")
    get_site(session, site_id)
    if session.get(SiteAssignment, (user.id, site_id)) is None:
        session.add(SiteAssignment(user_id=user.id, site_id=site_id))


# --- alert rules ------------------------------------------------------------------------

SEVERITIES = ("critical", "major", "minor", "warning")
MAX_RULE_DURATION_S = 7 * 86400
MAX_RULE_DAYS = 31


@dataclass(frozen=True)
class RuleInput:
    """A water alert rule as a person sets it (checked by ``check_rule``)."""

    kind: str  # above | below | class_worse | silent
    parameter: str | None = None
    threshold: float | None = None
    duration_s: int | None = None
    days: int | None = None
    class_limit: int | None = None
    severity: str = "major"
    note: str | None = None


def check_rule(spec: RuleInput) -> RuleInput:
    """The rule if it is whole and sensible for its kind, else InvalidRequestError."""
    if spec.kind not in RULE_KINDS:
        raise InvalidRequestError(f"rule kind {spec.kind!r} is not one of {', '.join(RULE_KINDS)}")
    if spec.severity not in SEVERITIES:
        raise InvalidRequestError(
            f"severity {spec.severity!r} is not one of {', '.join(SEVERITIES)}"
        )
    if spec.kind in ("above", "below"):
        if spec.parameter not in c.WATER_PARAMETER_IDS:
            raise InvalidRequestError(
                f"a rule {spec.kind} a value needs a parameter, one of "
                + ", ".join(sorted(c.WATER_PARAMETER_IDS))
            )
        _name, unit, _scale, low, high = c.WATER_PARAMETERS[c.WATER_PARAMETER_IDS[spec.parameter]]
        if (
            spec.threshold is None
            or not math.isfinite(spec.threshold)
            or not low <= spec.threshold <= high
        ):
            raise InvalidRequestError(
                f"the threshold of {spec.parameter} must be a number from {low} to {high} {unit}"
            )
        if spec.duration_s is None or not 0 <= spec.duration_s <= MAX_RULE_DURATION_S:
            raise InvalidRequestError(
                f"duration_s: how long the values must hold, 0 to {MAX_RULE_DURATION_S} s"
            )
        return RuleInput(
            spec.kind,
            spec.parameter,
            spec.threshold,
            spec.duration_s,
            None,
            None,
            spec.severity,
            spec.note,
        )
    if spec.kind == "class_worse":
        if spec.class_limit is None or not 1 <= spec.class_limit <= 5:
            raise InvalidRequestError(
                "class_limit: the class (1..5, I..V) the water must not be worse than"
            )
        if spec.days is None or not 1 <= spec.days <= MAX_RULE_DAYS:
            raise InvalidRequestError(f"days: how many days in a row, 1 to {MAX_RULE_DAYS}")
        return RuleInput(
            spec.kind, None, None, None, spec.days, spec.class_limit, spec.severity, spec.note
        )
    if spec.duration_s is None or not 600 <= spec.duration_s <= MAX_RULE_DURATION_S:
        raise InvalidRequestError(
            f"duration_s: how long a site may stay silent, 600 to {MAX_RULE_DURATION_S} s"
        )
    return RuleInput(spec.kind, None, None, spec.duration_s, None, None, spec.severity, spec.note)


def add_rule(
    session: Session,
    spec: RuleInput,
    *,
    site: RiverSite | None = None,
    river: River | None = None,
    by_user: int | None,
    now: datetime,
) -> WaterRule:
    """A new rule on a site or on every site of a river."""
    if (site is None) == (river is None):
        raise InvalidRequestError("a rule is on a site or on a river")
    checked = check_rule(spec)
    rule = WaterRule(
        site_id=site.id if site is not None else None,
        river_id=river.id if river is not None else None,
        created_by=by_user,
        created_at=now,
        active=True,
    )
    _rule_fill(rule, checked, by_user, now)
    session.add(rule)
    session.flush()
    return rule


def update_rule(
    session: Session, rule: WaterRule, spec: RuleInput, by_user: int | None, now: datetime
) -> WaterRule:
    _rule_fill(rule, check_rule(spec), by_user, now)
    session.flush()
    return rule


def set_rule_active(rule: WaterRule, active: bool, by_user: int | None, now: datetime) -> None:
    rule.active = active
    rule.updated_by, rule.updated_at = by_user, now


def _rule_fill(rule: WaterRule, spec: RuleInput, by_user: int | None, now: datetime) -> None:
    rule.kind = spec.kind
    rule.parameter = spec.parameter
    rule.threshold = spec.threshold
    rule.duration_s = spec.duration_s
    rule.days = spec.days
    rule.class_limit = spec.class_limit
    rule.severity = spec.severity
    rule.note = spec.note
    rule.updated_by, rule.updated_at = by_user, now


def rules_of_site(session: Session, site: RiverSite, active_only: bool = True) -> list[WaterRule]:
    """The rules on the site and on its river, oldest first."""
    where = WaterRule.site_id == site.id
    if site.river_id is not None:
        where = or_(where, WaterRule.river_id == site.river_id)
    query = select(WaterRule).where(where).order_by(WaterRule.id)
    if active_only:
        query = query.where(WaterRule.active.is_(True))
    return list(session.scalars(query))


# --- each station's newest sample -------------------------------------------------------


def note_samples(
    session: Session, samples_by_device: Mapping[str, Sequence[Any]], now: datetime
) -> None:
    """Keep each station's newest water sample (by device time, then (boot, seq)) from
    the samples stored now: one row per station, read and written once per batch."""
    newest = {
        device_id: max(samples, key=lambda s: (s.ts, s.boot, s.seq))
        for device_id, samples in samples_by_device.items()
        if samples
    }
    if not newest:
        return
    rows = {
        r.device_id: r
        for r in session.scalars(
            select(StationLatest).where(StationLatest.device_id.in_(sorted(newest)))
        )
    }
    for device_id, sample in newest.items():
        row = rows.get(device_id)
        if row is not None and (row.ts, row.boot, row.seq) >= (sample.ts, sample.boot, sample.seq):
            continue  # a late sample: older than the one kept
        if row is None:
            row = StationLatest(device_id=device_id)
            session.add(row)
        row.ts, row.boot, row.seq = sample.ts, sample.boot, sample.seq
        for pid, (name, _unit, scale, _low, _high) in c.WATER_PARAMETERS.items():
            wire = sample.values.get(pid)
            setattr(row, name, wire / scale if wire is not None else None)
        row.statuses_json = json.dumps(
            {
                c.WATER_PARAMETERS[pid][0]: status
                for pid, status in (sample.statuses or {}).items()
                if pid in c.WATER_PARAMETERS
            }
        )
        row.stored_at = now
