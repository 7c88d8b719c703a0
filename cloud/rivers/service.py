"""The only writer of rivers, their chiefs, sites and site grants; in the caller's session."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import shapely  # type: ignore[import-untyped]  # shapely 2 ships no type information
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.blobs import BlobStore
from cloud.blobs.kinds import HEAD_BYTES, PHOTO_KIND_NAMES, kind_of
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.identity.models import Role, User
from cloud.identity.service import get_user
from cloud.rivers.models import (
    CHIEF_LEVELS,
    RULE_KINDS,
    WATERBODIES,
    PatrolPhoto,
    PatrolReport,
    PatrolReportNote,
    ProblemStep,
    River,
    RiverChief,
    RiverProblem,
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


# --- patrol reports, problems and their photos ------------------------------------------

MAX_PHOTOS = 10
MAX_TEXT = 10_000
# Patrols are told after they happen; a clock a little ahead is tolerated, the future is not.
CLOCK_SKEW = timedelta(minutes=10)
EARLIEST_PATROL = datetime(2020, 1, 1, tzinfo=UTC)


class PhotoTypeError(InvalidRequestError):
    """A photo whose bytes are not of a kind photos may be (JPEG, PNG, WebP, HEIC)."""


class PhotoTooLargeError(InvalidRequestError):
    """A photo over ``photo_max_bytes``."""


@dataclass(frozen=True)
class PhotoUpload:
    """A photo as a request brings it: a seekable stream (spooled to disk past 1 MiB),
    its size when known, the name the client gave it (for messages only)."""

    name: str
    stream: BinaryIO
    size: int | None = None


@dataclass(frozen=True)
class Photo:
    """A photo kept in the blob store: its hash, its kind as its bytes tell, its size."""

    sha256: str
    content_type: str
    size: int


@dataclass(frozen=True)
class PhotosIn:
    """The photos a request brings, the store they go to and how large one may be. They
    are kept (``keep``) only once everything else the request says has been checked."""

    uploads: Sequence[PhotoUpload] = ()
    store: BlobStore | None = None
    max_bytes: int = 0

    def keep(self) -> list[Photo]:
        if not self.uploads:
            return []
        if self.store is None:
            raise InvalidRequestError("photos were given where none are kept")
        return store_photos(self.store, self.uploads, self.max_bytes)


NO_PHOTOS = PhotosIn()


def store_photos(store: BlobStore, uploads: Sequence[PhotoUpload], max_bytes: int) -> list[Photo]:
    """Check every photo (at most ``MAX_PHOTOS``, each of a photo kind by its first bytes
    and at most ``max_bytes``) and only then put them all in the store: a refused photo
    leaves nothing of the request behind."""
    if len(uploads) > MAX_PHOTOS:
        raise InvalidRequestError(f"at most {MAX_PHOTOS} photos, not {len(uploads)}")
    kinds: list[str] = []
    for number, upload in enumerate(uploads, 1):
        what = f"photo {number} ({upload.name[:80]!r})"
        head = upload.stream.read(HEAD_BYTES)
        size = upload.size
        if size is None:
            size = upload.stream.seek(0, 2)
        upload.stream.seek(0)
        if not head:
            raise PhotoTypeError(f"{what} is empty")
        kind = kind_of(head)
        if kind is None:
            raise PhotoTypeError(
                f"{what} is not {PHOTO_KIND_NAMES}: its bytes begin {head[:8].hex(' ')}"
            )
        if size > max_bytes:
            raise PhotoTooLargeError(
                f"{what} is {size} bytes: a photo may be at most {max_bytes} bytes"
            )
        kinds.append(kind)
    photos = []
    for upload, kind in zip(uploads, kinds, strict=True):
        blob = store.put(upload.stream, max_bytes=max_bytes)
        photos.append(Photo(blob.sha256, kind, blob.size))
    return photos


def check_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """A WGS-84 position (degrees), or none; lat and lon go together."""
    if (lat is None) != (lon is None):
        raise InvalidRequestError("lat and lon go together: give both or neither")
    if lat is None or lon is None:
        return None, None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidRequestError(f"({lat}, {lon}) is not a WGS-84 position (lat, lon in degrees)")
    return lat, lon


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidRequestError(f"{what}: 1 to {MAX_TEXT} characters")
    if any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in text):
        raise InvalidRequestError(f"{what}: no control characters")
    return text


def _site_on(session: Session, river: River, site_id: str | None) -> str | None:
    if site_id is None:
        return None
    site = session.get(RiverSite, site_id)
    if site is None or site.river_id != river.id:
        raise InvalidRequestError(f"site {site_id} is not on river {river.code}")
    return site.id


def _add_photos(
    session: Session,
    photos: Sequence[Photo],
    *,
    report_id: int | None = None,
    step_id: int | None = None,
) -> None:
    for position, photo in enumerate(photos, 1):
        session.add(
            PatrolPhoto(
                sha256=photo.sha256,
                content_type=photo.content_type,
                size=photo.size,
                report_id=report_id,
                step_id=step_id,
                position=position,
            )
        )


def file_report(
    session: Session,
    river: River,
    *,
    text: str,
    patrolled_at: datetime | None,
    lat: float | None,
    lon: float | None,
    site_id: str | None,
    photos: PhotosIn = NO_PHOTOS,
    by_user: int,
    now: datetime,
) -> PatrolReport:
    """A patrol report on a river, as filed (it is never changed: notes come beside it)."""
    at = patrolled_at.astimezone(UTC) if patrolled_at is not None else now
    if not EARLIEST_PATROL <= at <= now + CLOCK_SKEW:
        raise InvalidRequestError(
            "patrolled_at: when the patrol was, from 2020-01-01 up to now, not in the future"
        )
    lat, lon = check_position(lat, lon)
    report = PatrolReport(
        river_id=river.id,
        site_id=_site_on(session, river, site_id),
        text=_text(text, "the report's text"),
        lat=lat,
        lon=lon,
        patrolled_at=at,
        filed_by=by_user,
        filed_at=now,
    )
    kept = photos.keep()
    session.add(report)
    session.flush()
    _add_photos(session, kept, report_id=report.id)
    session.flush()
    return report


def note_report(
    session: Session, report: PatrolReport, text: str, by_user: int, now: datetime
) -> PatrolReportNote:
    """A note added to a report (a correction or an addition): the report stays as filed."""
    note = PatrolReportNote(
        report_id=report.id, text=_text(text, "the note"), by_user=by_user, at=now
    )
    session.add(note)
    session.flush()
    return note


def report_problem(
    session: Session,
    river: River,
    *,
    description: str,
    lat: float | None,
    lon: float | None,
    site_id: str | None,
    report: PatrolReport | None,
    photos: PhotosIn = NO_PHOTOS,
    by_user: int,
    now: datetime,
) -> RiverProblem:
    """A problem reported on a river, from a report of that river or directly."""
    if report is not None and report.river_id != river.id:
        raise InvalidRequestError(f"report {report.id} is not on river {river.code}")
    lat, lon = check_position(lat, lon)
    problem = RiverProblem(
        river_id=river.id,
        site_id=_site_on(session, river, site_id),
        report_id=report.id if report is not None else None,
        description=_text(description, "the problem's description"),
        lat=lat,
        lon=lon,
        status="reported",
        reported_by=by_user,
        reported_at=now,
        updated_at=now,
    )
    kept = photos.keep()
    session.add(problem)
    session.flush()
    _step(session, problem, "reported", by_user, now, None, photos=kept)
    return problem


# The statuses each step may follow.
_STEP_FROM = {
    "assigned": ("reported", "assigned", "reopened"),
    "fixed": ("assigned", "reopened"),
    "verified": ("fixed",),
    "reopened": ("fixed",),
}


def require_status_for(problem: RiverProblem, step: str) -> None:
    """ConflictError unless the problem's status lets ``step`` come next."""
    allowed = _STEP_FROM[step]
    if problem.status not in allowed:
        choices = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
        raise ConflictError(
            f"problem {problem.id} is {problem.status}, not {choices}: it cannot be {step}"
        )


def _step(
    session: Session,
    problem: RiverProblem,
    step: str,
    by_user: int,
    now: datetime,
    note: str | None,
    *,
    assignee_id: int | None = None,
    photos: Sequence[Photo] = (),
) -> ProblemStep:
    row = ProblemStep(
        problem_id=problem.id,
        step=step,
        by_user=by_user,
        at=now,
        note=note,
        assignee_id=assignee_id,
    )
    session.add(row)
    session.flush()
    _add_photos(session, photos, step_id=row.id)
    problem.status = step
    problem.updated_at = now
    session.flush()
    return row


def _advance(
    session: Session,
    problem: RiverProblem,
    step: str,
    by_user: int,
    now: datetime,
    note: str | None,
    **extra: Any,
) -> ProblemStep:
    require_status_for(problem, step)
    return _step(session, problem, step, by_user, now, note, **extra)


def assignee_on(session: Session, river: River, username: str) -> User:
    """The user a problem of this river may be given to: a chief of the river."""
    user = session.scalar(select(User).where(User.username == username))
    chairs = user is not None and (
        session.scalar(
            select(RiverChief.id)
            .where(RiverChief.river_id == river.id, RiverChief.user_id == user.id)
            .limit(1)
        )
        is not None
    )
    if user is None or not chairs or not user.active:
        raise InvalidRequestError(f"{username} is not a chief of river {river.code}")
    return user


def assign_problem(
    session: Session,
    problem: RiverProblem,
    assignee: User,
    note: str | None,
    by_user: int,
    now: datetime,
) -> ProblemStep:
    """Give the problem to a chief of its river (again, to another, while it is open)."""
    text = _text(note, "the note") if note else None
    row = _advance(session, problem, "assigned", by_user, now, text, assignee_id=assignee.id)
    problem.assignee_id = assignee.id
    return row


def fix_problem(
    session: Session,
    problem: RiverProblem,
    note: str,
    photos: PhotosIn,
    by_user: int,
    now: datetime,
) -> ProblemStep:
    """The assignee says it is fixed: what was done, and photos of it."""
    require_status_for(problem, "fixed")
    text = _text(note, "the note")
    return _step(session, problem, "fixed", by_user, now, text, photos=photos.keep())


def verify_problem(
    session: Session, problem: RiverProblem, note: str | None, by_user: int, now: datetime
) -> ProblemStep:
    """Seen fixed: the problem is closed."""
    text = _text(note, "the note") if note else None
    return _advance(session, problem, "verified", by_user, now, text)


def reopen_problem(
    session: Session, problem: RiverProblem, reason: str, by_user: int, now: datetime
) -> ProblemStep:
    """Not fixed after all: back to its assignee, with why."""
    return _advance(session, problem, "reopened", by_user, now, _text(reason, "the reason"))
