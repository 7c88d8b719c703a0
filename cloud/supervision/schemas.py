"""Request and response bodies of supervision's routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cloud.supervision.measures import Measure
from cloud.web.fields import ID_PATTERN, PLAIN_TEXT, TEXT_WITH_LINES


class PersonIn(BaseModel):
    reference: str = Field(
        min_length=1, max_length=64, pattern=PLAIN_TEXT, description="the case reference"
    )
    name: str = Field(min_length=1, max_length=128, pattern=PLAIN_TEXT)
    measure: Measure | None = None
    legal_basis: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)
    term_start: date | None = None
    term_end: date | None = None


class BraceletWorn(BaseModel):
    device_id: str
    started_at: datetime
    ended_at: datetime | None


class PersonOut(BaseModel):
    id: int
    reference: str
    name: str
    measure: str | None
    legal_basis: str | None
    term_start: date | None
    term_end: date | None
    status: str
    prosecutor_id: int | None
    roll_calls_per_day: int
    bracelet: str | None = Field(description="the bracelet worn now")


class PersonDetailOut(PersonOut):
    bracelets: list[BraceletWorn] = Field(description="which bracelet was worn when")
    zone_ids: list[int]


class AssignBraceletIn(BaseModel):
    device_id: str = Field(pattern=ID_PATTERN)


class RenewalIn(BaseModel):
    new_end: date
    note: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)


class ZoneIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=PLAIN_TEXT)
    rule: Literal["inclusion", "exclusion"]
    role: Literal["home", "county", "other"] = "other"
    shape: Literal["circle", "polygon"]
    geometry: dict[str, Any] = Field(
        description='WGS-84: circle {"lat", "lon", "radius_m"}; polygon {"vertices": [[lat, lon], ...]}'
    )
    schedule: str = Field(
        default="",
        max_length=500,
        pattern=PLAIN_TEXT,
        description='weekly, local time, e.g. "Mon-Fri 22:00-06:00"',
    )
    dwell_s: int = Field(default=30, ge=0, le=3600)


class ZoneOut(BaseModel):
    id: int
    name: str
    rule: str
    role: str
    shape: str
    geometry: dict[str, Any]
    schedule: str
    dwell_s: int
    active: bool


class RollCallIn(BaseModel):
    window_s: int = Field(default=300, ge=10, le=900)


class RollCallOut(BaseModel):
    id: int
    device_id: str
    command_id: int | None
    origin: str
    status: str
    window_s: int
    issued_at: datetime | None
    due_at: datetime | None
    answered_at: datetime | None
    response_s: int | None


class LocateOut(BaseModel):
    id: int
    device_id: str
    command_id: int | None
    requested_at: datetime
    located_at: datetime | None
    fix: dict[str, Any] | None


class TripIn(BaseModel):
    destination: str = Field(min_length=1, max_length=200, pattern=PLAIN_TEXT)
    starts_at: datetime
    ends_at: datetime
    reason: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)


class DecisionIn(BaseModel):
    approve: bool
    note: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)


class TripOut(BaseModel):
    id: int
    person_id: int
    destination: str
    starts_at: datetime
    ends_at: datetime
    approval_level: str = Field(description="who must approve: local (≤ 7 days) or county")
    status: str
    decided_by: int | None
    decided_at: datetime | None
    returned_at: datetime | None
