"""Shapes of the alerting API (validated by pydantic through django-ninja)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from incidents.schemas import Strict


class AlertListQuery(Strict):
    state: Literal["open", "acknowledged", "exhausted", "cancelled"] | None = None
    # At most a database integer: a larger one made the query overflow (a 500).
    incident: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class SmsOut(Schema):
    id: int
    reference: str
    officer: str | None
    to: str  # masked
    template: str
    stage: int
    status: str
    provider: str
    provider_id: str
    attempts: int
    error_code: str
    created_at: str | None
    sent_at: str | None
    status_at: str | None
    expires_at: str | None


class AlertOut(Schema):
    id: int
    reason: str
    unit: str | None  # None: the joint command itself
    incident_id: int | None
    case_number: str | None
    level: str
    sensitive: bool
    stage: int
    ladder: list[list[str]]
    state: str
    raised_at: str | None
    escalate_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    acknowledged_via: str
    messages: list[SmsOut]


class AlertListOut(Schema):
    count: int
    results: list[AlertOut]


class RosterQuery(Strict):
    day: date | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None


class DutyOut(Schema):
    unit: str
    primary: str | None
    backup: str | None
    leader: str | None


class RosterOut(Schema):
    day: str
    sensitive_period: str | None
    units: list[DutyOut]


class ZeroReportIn(Strict):
    nothing_to_report: bool = True
    note: Annotated[str, Field(max_length=2000)] = ""


class ZeroReportOut(Schema):
    unit: str
    day: str
    nothing_to_report: bool
    note: str
    filed_by: str
    filed_at: str | None


class DailyReportsOut(Schema):
    day: str
    sensitive_period: str | None
    due_hour: int
    filed: list[ZeroReportOut]
    missing: list[str]
