"""Shapes of the early-warning API: indicator readings, warnings and public opinion."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import AwareDatetime, Field, StrictBool, StrictFloat, StrictInt

from alerts.domain.indicators import Indicator
from alerts.domain.risk import Level, Outcome, WarningAction, WarningState
from incidents.schemas import Strict

Source = Annotated[str, Field(min_length=1, max_length=40)]


class SubjectIn(Strict):
    credit_code: Annotated[str, Field(max_length=18)] | None = None
    project: Annotated[str, Field(max_length=40)] | None = None


class ReadingIn(Strict):
    source: Source
    id: Annotated[str, Field(min_length=1, max_length=80)] | StrictInt
    subject: SubjectIn
    indicator: Indicator
    period: Annotated[str, Field(max_length=10, description='"2026-10" or "2026-10-15"')]
    value: StrictBool | StrictInt | StrictFloat | Annotated[str, Field(max_length=30)]
    reported_at: AwareDatetime | None = Field(
        None, description="when the source took the reading (default: when it arrives)"
    )


class ReadingsIn(Strict):
    readings: Annotated[list[ReadingIn], Field(min_length=1)]


class ReadingsOut(Schema):
    accepted: int = Field(description="readings stored now")
    duplicates: int = Field(description="readings already held (same source and id)")
    subjects: int = Field(description="enterprises and projects they are about")
    registered: int = Field(description="enterprises the hub did not know yet")


class WarningListQuery(Strict):
    state: WarningState | None = None
    level: Level | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None
    overdue: bool | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=200)] = 50


class ReasonOut(Schema):
    rule: str
    name: str
    weight: int
    detail: dict[str, Any]
    readings: list[int]


class WarningOut(Schema):
    id: int
    code: str
    subject: dict[str, str] = Field(description='{"credit_code": …} or {"project": …}')
    subject_name: str
    level: Level
    score: int
    reasons: list[ReasonOut]
    state: WarningState
    unit: str | None
    raised_at: str
    due_at: str
    overdue: bool
    accepted_at: str | None
    closed_at: str | None
    outcome: str
    outcome_note: str
    case_number: str | None


class ReadingOut(Schema):
    id: int
    source: str
    external_id: str
    indicator: str
    period: str
    value: str
    reported_at: str


class WarningDetailOut(WarningOut):
    readings: list[ReadingOut] = Field(description="the readings the reasons cite")
    actions: list[WarningAction]


class WarningListOut(Schema):
    count: int
    page: int
    page_size: int
    results: list[WarningOut]


class WarningMoveIn(Strict):
    action: WarningAction
    note: Annotated[str, Field(max_length=2000)] = ""
    outcome: Outcome | None = None
    unit: Annotated[str, Field(max_length=40)] | None = None
    case_number: Annotated[str, Field(max_length=32)] | None = None


class OpinionSubjectIn(SubjectIn):
    incident: Annotated[int, Field(ge=1)] | None = None


class OpinionIn(Strict):
    source: Source
    id: Annotated[str, Field(max_length=80)] = ""
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    link: Annotated[str, Field(max_length=500)] = ""
    reach: Annotated[int, Field(ge=0, le=10**10)] = 0
    published_at: AwareDatetime
    subject: OpinionSubjectIn


class OpinionOut(Schema):
    id: int
    source: str
    external_id: str
    text: str
    link: str
    reach: int
    published_at: str
    subject: dict[str, str] | None
    incident: int | None
    created: bool
