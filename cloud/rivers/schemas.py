"""Response bodies of the river sites' routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


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
