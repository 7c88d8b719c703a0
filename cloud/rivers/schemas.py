"""Response bodies of the river sites' routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SiteOut(BaseModel):
    id: str
    name: str
    river: str
    lat: float | None = Field(description="WGS-84 degrees; null until the site's place is known")
    lon: float | None
    device_ids: list[str]


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
