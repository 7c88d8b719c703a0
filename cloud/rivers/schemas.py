"""Response bodies of the river sites' routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cloud.web.fields import PLAIN_TEXT, TEXT_WITH_LINES


class SiteOut(BaseModel):
    id: str
    name: str
    river: str
    river_code: str | None = Field(description="the river it is on, when it is one imported")
    waterbody: str = Field(description="river, or lake (lakes and reservoirs)")
    target_class: str | None = Field(description="its water-function zone's class, I..V")
    lat: float | None = Field(description="WGS-84 degrees; null until the site's place is known")
    lon: float | None
    device_ids: list[str]
    water_class: str | None = Field(
        description="GB 3838-2002 class of the newest classed sample (I..V, inferior V), "
        "counting trusted values only; null until judged"
    )
    deciding: list[str] = Field(description="the parameter or parameters that set the class")
    suspect: dict[str, list[str]] = Field(
        description="parameters of that sample left out, with why (stuck, spike, drift, "
        "out_of_range, calibrating, maintenance, fault)"
    )
    sample_time: datetime | None
    assessed_at: datetime | None


class ChiefOut(BaseModel):
    level: str = Field(description="district, town or village")
    username: str
    since: datetime


class RiverOut(BaseModel):
    code: str
    name: str
    chiefs: list[ChiefOut]
    site_ids: list[str]
    worst_class: str | None = Field(description="the worst class among its sites now")
    bbox: list[float] | None = Field(description="[min_lon, min_lat, max_lon, max_lat]")


class RiverDetailOut(RiverOut):
    geometry: dict[str, Any] | None = Field(description="GeoJSON, WGS-84")


class DayClassOut(BaseModel):
    day: date
    water_class: str | None
    deciding: list[str]
    means: dict[str, float] = Field(description="daily means of the values that counted")
    counted: dict[str, int]
    not_counted: int = Field(description="values left out that day (suspect, calibrating...)")


class SiteClassesOut(BaseModel):
    site_id: str
    waterbody: str
    target_class: str | None
    days: list[DayClassOut]


class WaterPoint(BaseModel):
    time: datetime
    values: dict[str, float | None] = Field(description="physical values by parameter name")


class WaterSeriesOut(BaseModel):
    site_id: str
    every_s: int | None
    aggregate: str | None
    points: list[WaterPoint]


class SiteLatestOut(BaseModel):
    site_id: str
    name: str
    device_id: str | None
    time: datetime | None
    values: dict[str, float | None]
    statuses: dict[str, int] = Field(description="non-normal value statuses (contract.md)")


class RuleIn(BaseModel):
    """An alert rule on a site or a river (see docs/rivers.md#alert-rules)."""

    kind: Literal["above", "below", "class_worse", "silent"]
    parameter: str | None = Field(
        default=None, description="above, below: a water parameter, e.g. ammonia_nitrogen"
    )
    threshold: float | None = Field(default=None, description="above, below: in its unit")
    duration_s: int | None = Field(
        default=None, description="above, below: how long it holds; silent: how long silent"
    )
    days: int | None = Field(default=None, description="class_worse: days in a row")
    class_limit: int | None = Field(
        default=None, ge=1, le=5, description="class_worse: the class (1..5) not to be worse than"
    )
    severity: Literal["critical", "major", "minor", "warning"] = "major"
    note: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)


class RuleOut(RuleIn):
    id: int
    site_id: str | None
    river_code: str | None
    active: bool
    created_by: str | None
    created_at: datetime
    updated_by: str | None
    updated_at: datetime


# --- patrol reports and problems --------------------------------------------------------


class PhotoOut(BaseModel):
    sha256: str = Field(description="SHA-256 of its bytes, lowercase hex: the blob's name")
    content_type: str = Field(description="its kind as its bytes tell: image/jpeg, png, webp, heic")
    size: int = Field(description="bytes")
    url: str = Field(description="where to read it (GET, the same bearer token)")


class ReportNoteOut(BaseModel):
    text: str
    by: str = Field(description="who added it")
    at: datetime


class ReportOut(BaseModel):
    """A patrol report as filed; corrections and additions are its notes, oldest first."""

    id: int
    river_code: str
    site_id: str | None
    text: str
    lat: float | None = Field(description="where the patrol was, WGS-84 degrees; null: not given")
    lon: float | None
    patrolled_at: datetime = Field(description="when the patrol was")
    filed_by: str
    filed_at: datetime = Field(description="when it was filed")
    photos: list[PhotoOut]
    notes: list[ReportNoteOut]


class ReportNoteIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=10_000,
        pattern=TEXT_WITH_LINES,
        description="a correction or an addition; the report itself stays as filed",
    )


class ProblemStepOut(BaseModel):
    step: str = Field(description="reported, assigned, fixed, verified or reopened")
    by: str
    at: datetime
    note: str | None = Field(description="what the step says: the fix, the reason to reopen")
    assignee: str | None = Field(description="assigned: to whom")
    photos: list[PhotoOut]


class ProblemOut(BaseModel):
    id: int
    river_code: str
    site_id: str | None
    report_id: int | None = Field(description="the patrol report it was found in, if any")
    description: str
    lat: float | None = Field(description="WGS-84 degrees; null: not given")
    lon: float | None
    status: Literal["reported", "assigned", "fixed", "verified", "reopened"]
    assignee: str | None = Field(description="the river chief it is assigned to")
    reported_by: str
    reported_at: datetime
    updated_at: datetime


class ProblemDetailOut(ProblemOut):
    steps: list[ProblemStepOut] = Field(description="every step, oldest first")


class AssignIn(BaseModel):
    assignee: str = Field(
        min_length=1, max_length=64, pattern=PLAIN_TEXT, description="a chief of the river"
    )
    note: str | None = Field(default=None, max_length=10_000, pattern=TEXT_WITH_LINES)


class VerifyIn(BaseModel):
    note: str | None = Field(default=None, max_length=10_000, pattern=TEXT_WITH_LINES)


class ReopenIn(BaseModel):
    reason: str = Field(
        min_length=1, max_length=10_000, pattern=TEXT_WITH_LINES, description="why it is not fixed"
    )
