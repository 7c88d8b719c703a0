"""Rivers from GeoJSON and sites from CSV, checked whole before anything is written.

A file is read and every entry checked first; each problem is reported with where it is
(the feature's index and code, the CSV's line). With problems nothing is written unless
the caller asks to skip them (``skip_invalid``): then the good entries go in and the bad
ones are listed, so nothing is lost without a word. Entries are matched by their key
(a river's code, a site's id): an import run twice changes nothing the second time.

Rivers, one GeoJSON Feature each, in a FeatureCollection::

    {"type": "Feature",
     "properties": {"code": "FX-0412", "name": "浦南运河",
                    "chiefs": {"district": "chief-li", "town": ["chief-wu"]}},
     "geometry": {"type": "LineString", "coordinates": [[121.47, 30.91], ...]}}

Sites, a CSV with a header: ``id,name,river_code,waterbody,target_class,lat,lon``
(``waterbody`` river or lake, ``target_class`` I..V or 1..5; the last four may be empty).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import InvalidRequestError
from cloud.identity.models import Role, User
from cloud.rivers import service
from cloud.rivers.models import WATERBODIES, River, RiverChief, RiverSite
from cloud.web.fields import check_id

SITE_COLUMNS = ("id", "name", "river_code", "waterbody", "target_class", "lat", "lon")
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportReport:
    """What an import did, and what it refused with where and why."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    chiefs_appointed: int = 0
    problems: list[str] = field(default_factory=list)
    written: bool = False

    def summary(self, what: str) -> str:
        verb = "imported" if self.written else "not imported"
        return (
            f"{self.read} {what} read, {verb}: {self.created} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.chiefs_appointed} chiefs appointed; "
            f"{len(self.problems)} refused"
        )


# --- rivers -------------------------------------------------------------------------


def read_rivers(stream: IO[bytes] | IO[str]) -> tuple[list[service.CheckedRiver], list[str]]:
    """The rivers of a GeoJSON FeatureCollection (or one Feature), checked; and problems."""
    try:
        document = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [], [f"not JSON: {exc}"]
    if isinstance(document, dict) and document.get("type") == "Feature":
        features: Any = [document]
    elif isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
    else:
        return [], ["not a GeoJSON FeatureCollection or Feature"]
    if not isinstance(features, list):
        return [], ["the FeatureCollection has no list of features"]
    rivers: list[service.CheckedRiver] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        where = f"feature {index}"
        try:
            checked = _river_of(feature)
        except InvalidRequestError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if checked.code in seen:
            problems.append(
                f"{where}: river {checked.code} is given twice (first in feature "
                f"{seen[checked.code]})"
            )
            continue
        seen[checked.code] = index
        rivers.append(checked)
    return rivers, problems


def _river_of(feature: Any) -> service.CheckedRiver:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidRequestError("not a GeoJSON Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidRequestError("properties is not an object")
    code, name = properties.get("code"), properties.get("name")
    if not isinstance(code, str) or not isinstance(name, str):
        raise InvalidRequestError("properties need a code and a name (text)")
    chiefs = properties.get("chiefs")
    if chiefs is not None and not (
        isinstance(chiefs, dict)
        and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(u, str) for u in v))
            for v in chiefs.values()
        )
    ):
        raise InvalidRequestError(
            f"river {code}: chiefs is an object of level -> username (or a list of them)"
        )
    geometry = feature.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise InvalidRequestError(f"river {code}: geometry is not an object")
    return service.check_river(service.RiverInput(code, name, geometry, chiefs))


def import_rivers(
    session: Session,
    rivers: Sequence[service.CheckedRiver],
    problems: list[str],
    now: datetime,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Write checked rivers (new or updated by code) and appoint their chiefs."""
    report = ImportReport(read=len(rivers) + len(problems), problems=list(problems))
    chiefs = _chief_users(session, rivers, report)
    if report.problems and not skip_invalid:
        return report
    existing = {r.code: r for r in _rivers_by_code(session, [r.code for r in rivers])}
    for done, checked in enumerate(rivers, start=1):
        river = existing.get(checked.code)
        if river is None:
            river = River(code=checked.code, created_at=now)
            service.fill_river(river, checked, now)
            session.add(river)
            existing[checked.code] = river
            report.created += 1
        elif _same(river, checked):
            report.unchanged += 1
        else:
            service.fill_river(river, checked, now)
            report.updated += 1
        if progress is not None and (done % 500 == 0 or done == len(rivers)):
            progress(done, len(rivers))
    session.flush()
    held = _held_chairs(session, [existing[r.code].id for r in rivers if r.chiefs])
    for checked in rivers:
        river = existing[checked.code]
        for level, username in checked.chiefs:
            user = chiefs.get(username)
            if user is None or (river.id, user.id, level) in held:
                continue
            session.add(RiverChief(river_id=river.id, user_id=user.id, level=level, since=now))
            held.add((river.id, user.id, level))
            report.chiefs_appointed += 1
    session.flush()
    report.written = True
    return report


def _same(river: River, checked: service.CheckedRiver) -> bool:
    return river.name == checked.name and (
        checked.geometry_json is None or river.geometry_json == checked.geometry_json
    )


def _chief_users(
    session: Session, rivers: Sequence[service.CheckedRiver], report: ImportReport
) -> dict[str, User]:
    wanted = sorted({username for r in rivers for _level, username in r.chiefs})
    users = {u.username: u for u in _in_chunks(session, User, User.username, wanted)}
    for river in rivers:
        for level, username in river.chiefs:
            user = users.get(username)
            if user is None:
                report.problems.append(f"river {river.code}: no user {username} ({level} chief)")
            elif user.role != Role.river_chief:
                report.problems.append(
                    f"river {river.code}: {username} is a {user.role}, not a river chief"
                )
    return {name: u for name, u in users.items() if u.role == Role.river_chief}


def _rivers_by_code(session: Session, codes: Sequence[str]) -> list[River]:
    return _in_chunks(session, River, River.code, codes)


def _held_chairs(session: Session, river_ids: Sequence[int]) -> set[tuple[int, int, str]]:
    held: set[tuple[int, int, str]] = set()
    for chunk in _chunks(sorted(set(river_ids))):
        rows = session.execute(
            select(RiverChief.river_id, RiverChief.user_id, RiverChief.level).where(
                RiverChief.river_id.in_(chunk)
            )
        )
        held.update((r, u, lv) for r, u, lv in rows)
    return held


# --- sites --------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRow:
    id: str
    name: str
    river_code: str | None
    waterbody: str
    target_class: int | None
    lat: float | None
    lon: float | None


def read_sites(stream: IO[str]) -> tuple[list[SiteRow], list[str]]:
    """The sites of a CSV with the header ``SITE_COLUMNS``, checked; and problems."""
    reader = csv.DictReader(stream)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("id", "name") if c not in header]
    unknown = [h for h in header if h not in SITE_COLUMNS]
    if missing or unknown:
        return [], [
            "line 1: the header needs id and name and may have "
            + ", ".join(SITE_COLUMNS[2:])
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        ]
    rows: list[SiteRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        values = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            row = _site_of(values)
        except InvalidRequestError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if row.id in seen:
            problems.append(
                f"line {line}: site {row.id} is given twice (first on line {seen[row.id]})"
            )
            continue
        seen[row.id] = line
        rows.append(row)
    return rows, problems


def _site_of(values: dict[str, str]) -> SiteRow:
    site_id = check_id(values.get("id", ""), "site")
    name = values.get("name", "")
    if not name:
        raise InvalidRequestError(f"site {site_id}: a name is needed")
    waterbody = values.get("waterbody") or "river"
    if waterbody not in WATERBODIES:
        raise InvalidRequestError(
            f"site {site_id}: water body {waterbody!r} is not one of {', '.join(WATERBODIES)}"
        )
    lat_text, lon_text = values.get("lat", ""), values.get("lon", "")
    if bool(lat_text) != bool(lon_text):
        raise InvalidRequestError(f"site {site_id}: lat and lon go together")
    lat = lon = None
    if lat_text:
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError as exc:
            raise InvalidRequestError(f"site {site_id}: lat and lon are numbers") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidRequestError(f"site {site_id}: ({lat}, {lon}) is not a WGS-84 position")
    return SiteRow(
        site_id,
        name,
        values.get("river_code") or None,
        waterbody,
        service.target_class(values.get("target_class")),
        lat,
        lon,
    )


def import_sites(
    session: Session,
    rows: Sequence[SiteRow],
    problems: list[str],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Write checked sites (new or updated by id), each on its river when it names one."""
    report = ImportReport(read=len(rows) + len(problems), problems=list(problems))
    codes = sorted({r.river_code for r in rows if r.river_code})
    rivers = {r.code: r for r in _rivers_by_code(session, codes)}
    good: list[SiteRow] = []
    for row in rows:
        if row.river_code and row.river_code not in rivers:
            report.problems.append(f"site {row.id}: no river {row.river_code}")
        else:
            good.append(row)
    if report.problems and not skip_invalid:
        return report
    existing = {s.id: s for s in _in_chunks(session, RiverSite, RiverSite.id, [r.id for r in good])}
    for done, row in enumerate(good, start=1):
        river = rivers.get(row.river_code) if row.river_code else None
        wanted = {
            "name": row.name,
            "river": river.name if river is not None else "",
            "river_id": river.id if river is not None else None,
            "waterbody": row.waterbody,
            "target_class": row.target_class,
            "lat": row.lat,
            "lon": row.lon,
        }
        site = existing.get(row.id)
        if site is None:
            session.add(RiverSite(id=row.id, **wanted))
            report.created += 1
        elif all(getattr(site, k) == v for k, v in wanted.items()):
            report.unchanged += 1
        else:
            for key, value in wanted.items():
                setattr(site, key, value)
            report.updated += 1
        if progress is not None and (done % 500 == 0 or done == len(good)):
            progress(done, len(good))
    session.flush()
    report.written = True
    return report


# --- shared -------------------------------------------------------------------------


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _in_chunks(session: Session, model: Any, column: Any, keys: Sequence[Any]) -> list[Any]:
    """Rows whose ``column`` is one of ``keys``, a few hundred keys a query."""
    found: list[Any] = []
    for chunk in _chunks(list(keys)):
        found.extend(session.scalars(select(model).where(column.in_(chunk))))
    return found


__all__ = [
    "SITE_COLUMNS",
    "ImportReport",
    "SiteRow",
    "import_rivers",
    "import_sites",
    "read_rivers",
    "read_sites",
]
