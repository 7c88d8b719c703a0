"""Request and response bodies of the cases' routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cloud.rivers.service import RIVER_CODE
from cloud.web.fields import PLAIN_TEXT, TEXT_WITH_LINES


class CaseIn(BaseModel):
    number: str = Field(
        min_length=3, max_length=64, pattern=PLAIN_TEXT, description="as the office numbers it"
    )
    variant: Literal["administrative", "civil"]
    title: str = Field(min_length=1, max_length=200, pattern=PLAIN_TEXT)
    rivers: list[Annotated[str, Field(pattern=RIVER_CODE.pattern)]] = Field(
        min_length=1, max_length=50, description="river codes"
    )
    clue_on: date = Field(description="the day the clue came")
    summary: str | None = Field(default=None, max_length=5000, pattern=TEXT_WITH_LINES)
    agency: str | None = Field(
        default=None, max_length=200, pattern=PLAIN_TEXT, description="administrative: the agency"
    )
    urgent: bool = Field(
        default=False, description="a suggestion's reply within 15 days, not 2 months"
    )


class StepIn(BaseModel):
    step: Literal[
        "opened", "suggestion", "replied", "announced", "followed_up", "suit", "judged", "closed"
    ]
    on: date = Field(description="the day it happened (the document's date)")
    note: str | None = Field(default=None, max_length=5000, pattern=TEXT_WITH_LINES)


class StepOut(BaseModel):
    step: str
    on: date
    due: date | None = Field(description="the deadline this step started, if any")
    note: str | None
    by: str | None
    recorded_at: datetime


class CaseOut(BaseModel):
    number: str
    kind: str
    variant: str
    title: str
    agency: str | None
    urgent: bool
    step: str = Field(description="where the workflow stands")
    next_steps: list[str]
    rivers: list[str]
    due: date | None = Field(description="the deadline the case waits on now, if any")
    created_at: datetime


class CaseDetailOut(CaseOut):
    summary: str | None
    steps: list[StepOut]


class RiverCaseStats(BaseModel):
    river: str
    name: str
    worst_class: str | None
    cases: int
    open_cases: int
    suggestions: int
    replies: int
    replies_on_time: int
    overdue_now: int = Field(description="suggestions past their deadline with no reply")


class CaseStatisticsOut(BaseModel):
    rivers: list[RiverCaseStats]
    total: RiverCaseStats = Field(description="the district: every river shown")
    rivers_by_class: dict[str, int] = Field(description="rivers by their worst site's class now")
