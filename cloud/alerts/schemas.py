"""Request and response bodies of the alerts' routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cloud.web.fields import TEXT_WITH_LINES


class AlertOut(BaseModel):
    id: int
    cause: str
    severity: str
    status: str = Field(description="open, acknowledged or resolved")
    summary: str
    person_id: int | None
    device_id: str | None
    gateway_id: str | None
    zone_id: int | None
    site_id: str | None = Field(description="a river site's alert: the site")
    case_id: int | None = Field(default=None, description="a case's deadline: the case")
    happened_at: datetime = Field(description="when it happened (device time)")
    raised_at: datetime = Field(description="when the system knew")
    updated_at: datetime
    last_evidence_at: datetime
    occurrences: int
    cause_ended_at: datetime | None = Field(description="the cause no longer holds since")
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_note: str | None
    escalation_level: int
    escalated_at: datetime | None


class AlertStepOut(BaseModel):
    step: str
    at: datetime
    by_user: int | None
    note: str | None
    details: dict[str, Any] | None


class AlertDetailOut(AlertOut):
    explanation: dict[str, Any] = Field(
        description="why: the rule (zone, schedule, dwell), the fixes with their accuracy "
        "and verdict, the decision in words"
    )
    steps: list[AlertStepOut]


class AcknowledgeIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000, pattern=TEXT_WITH_LINES)


class ResolveIn(BaseModel):
    note: str = Field(
        min_length=1, max_length=2000, pattern=TEXT_WITH_LINES, description="what was done"
    )
