"""API input schemas: the edge where outside data is validated before any service runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from incidents.domain.identifiers import (
    is_valid_credit_code,
    is_valid_id_number,
    is_valid_phone,
    normalize_phone,
)
from incidents.domain.lifecycle import Action, CaseState
from incidents.domain.routing import ProjectType
from incidents.models import Case
from incidents.services import (
    IncidentChange,
    IncidentInput,
    Intake,
    ProjectInput,
    TransitionInput,
    local_tz,
)

Channel = Case.Channel
Money = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Text = Annotated[str, Field(max_length=5000)]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ComplainantIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Annotated[str, Field(min_length=5, max_length=20)]
    id_number: Annotated[str, Field(max_length=18)] | None = None

    @field_validator("phone")
    @classmethod
    def check_phone(cls, value: str) -> str:
        value = normalize_phone(value)
        if not is_valid_phone(value):
            raise ValueError("not a mainland mobile (11 digits) or landline number")
        return value

    @field_validator("id_number")
    @classmethod
    def check_id(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.upper()
        if not is_valid_id_number(value):
            raise ValueError("not a valid 18-character resident ID number (checksum or date)")
        return value


class EmployerIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    credit_code: Annotated[str, Field(min_length=18, max_length=18)]

    @field_validator("credit_code")
    @classmethod
    def check_code(cls, value: str) -> str:
        value = value.upper()
        if not is_valid_credit_code(value):
            raise ValueError("not a valid unified social credit code (checksum)")
        return value


class ProjectIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: ProjectType
    builder: Code | None = None


class LocationIn(Strict):
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class IntakeIn(Strict):
    channel: Channel
    window: Annotated[Code | None, Field(validate_default=True)] = None
    received_at: datetime | None = None
    complainant: ComplainantIn
    workers_count: Annotated[StrictInt, Field(ge=1, le=100_000)]
    amount_owed: Money
    employer: EmployerIn
    project: ProjectIn | None = None
    town: Code
    location: LocationIn | None = None
    description: Text = ""

    @field_validator("received_at")
    @classmethod
    def check_received(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if timezone.is_naive(value):
            value = value.replace(tzinfo=local_tz())
        if value > timezone.now() + timedelta(minutes=5):
            raise ValueError("must not be in the future")
        return value

    @field_validator("window")
    @classmethod
    def window_for_window_channel(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("channel") == Channel.WINDOW and not value:
            raise ValueError("window is required when the channel is 'window'")
        return value

    def to_intake(self) -> Intake:
        return Intake(
            channel=self.channel.value,
            window=self.window,
            received_at=self.received_at,
            complainant_name=self.complainant.name,
            complainant_phone=self.complainant.phone,
            complainant_id_number=self.complainant.id_number or "",
            workers_count=self.workers_count,
            amount_owed=self.amount_owed,
            employer_name=self.employer.name,
            employer_credit_code=self.employer.credit_code,
            project=(
                ProjectInput(self.project.name, self.project.type, self.project.builder)
                if self.project
                else None
            ),
            town=self.town,
            lat=self.location.lat if self.location else None,
            lng=self.location.lng if self.location else None,
            description=self.description,
        )


class TransitionIn(Strict):
    action: Action
    reason: Annotated[str, Field(max_length=2000)] = ""
    unit: Code | None = None
    assisting_units: Annotated[list[Code], Field(max_length=10)] = []
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    override: StrictBool = False
    into: Annotated[str, Field(max_length=32)] | None = None
    expected_revision: StrictInt | None = None

    def to_input(self) -> TransitionInput:
        return TransitionInput(
            action=self.action,
            reason=self.reason,
            unit=self.unit,
            assisting_units=tuple(self.assisting_units),
            amount=self.amount,
            override=self.override,
            into=self.into,
        )


class BulkTransitionIn(TransitionIn):
    case_numbers: Annotated[
        list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=200)
    ]


class CaseListQuery(Strict):
    state: CaseState | None = None
    unit: Code | None = None
    town: Code | None = None
    channel: Channel | None = None
    overdue: bool | None = None
    received_from: date | None = None
    received_to: date | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=200)] = 50


class BlacklistIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    credit_code: Annotated[str, Field(min_length=18, max_length=18)] | None = None
    person_name: Annotated[str, Field(max_length=100)] = ""
    person_id_number: Annotated[str, Field(max_length=18)] = ""
    case_numbers: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=100)] = []

    @field_validator("person_id_number")
    @classmethod
    def check_id(cls, value: str) -> str:
        if value and not is_valid_id_number(value.upper()):
            raise ValueError("not a valid 18-character resident ID number")
        return value.upper()


class ReasonIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


# --- answers (documented in the OpenAPI schema; times are ISO 8601 strings, money decimal) ---


class DeadlineOut(Schema):
    due_at: str
    status: str = Field(description="running, met, overdue or cancelled")
    stopped_at: str | None
    was_overdue: bool


class EmployerOut(Schema):
    name: str
    credit_code: str


class BlacklistRefOut(Schema):
    id: int
    status: str
    reason: str
    listed_at: str | None


class EmployerStandingOut(EmployerOut):
    blacklisted: bool
    blacklist: list[BlacklistRefOut]
    open_cases: list[str] = Field(description="other open cases against this employer")


class ProjectOut(Schema):
    name: str
    type: ProjectType


class CaseSummaryOut(Schema):
    case_number: str
    state: CaseState
    channel: Channel
    received_at: str
    town: str
    employer: EmployerOut
    project: ProjectOut | None
    workers_count: int
    amount_owed: str
    amount_paid: str
    responsible_unit: str | None
    assisting_units: list[str]
    deadlines: dict[str, DeadlineOut] = Field(description="by clock: dispatch, commitment, advance")
    overdue: bool
    revision: int


class IntakeOut(CaseSummaryOut):
    employer: EmployerStandingOut
    merged: bool
    dispatch_slip: str | None
    reports_count: int


class CaseListOut(Schema):
    count: int
    page: int
    page_size: int
    results: list[CaseSummaryOut]


class TriageOut(Schema):
    count: int
    results: list[CaseSummaryOut]


class ComplainantOut(Schema):
    name: str
    phone: str = Field(description="masked (138****5678) for roles that do not need it")
    id_number: str | None


class ReportOut(Schema):
    id: int
    channel: Channel
    window: str | None
    received_at: str
    complainant: ComplainantOut
    workers_count: int
    amount_owed: str
    description: str


class EventOut(Schema):
    type: str
    id: int
    kind: str
    at: str
    actor: str | None
    reason: str
    before: str | None
    after: str | None
    data: dict[str, Any]


class SlipOut(Schema):
    number: str
    unit: str
    issued_at: str


class FundMovementOut(Schema):
    kind: str
    amount: str
    unit: str | None
    at: str
    balance_after: str


class LocationOut(Schema):
    lat: float
    lng: float


class CaseDetailOut(CaseSummaryOut):
    employer: EmployerStandingOut
    description: str
    location: LocationOut | None
    routing_note: str
    confirmed_amount: str | None
    commitment_letter: str | None
    accepted_at: str | None
    dispatched_at: str | None
    closed_at: str | None
    dispatch_slips: list[SlipOut]
    reports: list[ReportOut]
    events: list[EventOut]
    fund_movements: list[FundMovementOut]
    actions: list[Action] = Field(description="actions your role may take in this state")


class BulkRefusalOut(Schema):
    case_number: str
    detail: str


class BulkOut(Schema):
    done: list[str]
    refused: list[BulkRefusalOut]


class UnitOut(Schema):
    code: str
    kind: str
    name_zh: str
    name_en: str


class UnitListOut(Schema):
    results: list[UnitOut]


class FundUnitOut(Schema):
    unit: str
    advanced: str
    recovered: str
    outstanding: str


class FundOut(Schema):
    balance: str | None
    units: list[FundUnitOut]


class PersonOut(Schema):
    name: str
    id_number: str | None


class BlacklistOut(Schema):
    id: int
    status: str
    enterprise: EmployerOut | None
    person: PersonOut | None
    reason: str
    cases: list[str]
    listed_by: str
    listed_at: str | None
    appeal_reason: str | None
    removed_by: str | None
    removed_at: str | None


class BlacklistListOut(Schema):
    results: list[BlacklistOut]


# --- mass incidents -------------------------------------------------------------------

IncidentKind = Literal["site_gathering", "gate_gathering", "road_blocking", "extreme_act"]
IncidentActionName = Literal[
    "activate", "contain", "close", "set_level", "update", "link_cases", "take_command"
]
CaseNumber = Annotated[str, Field(min_length=1, max_length=32)]
People = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]


class IncidentIn(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    town: Code
    location: LocationIn
    people_count: People
    kind: IncidentKind
    case_numbers: Annotated[list[CaseNumber], Field(max_length=50)] = []
    description: Text = ""

    def to_input(self) -> IncidentInput:
        return IncidentInput(
            title=self.title,
            town=self.town,
            lat=self.location.lat,
            lng=self.location.lng,
            people_count=self.people_count,
            kind=self.kind,
            description=self.description,
            case_numbers=list(self.case_numbers),
        )


class IncidentTransitionIn(Strict):
    action: IncidentActionName
    reason: Annotated[str, Field(max_length=2000)] = ""
    level: Literal["I", "II", "III", "IV"] | None = None
    people_count: People | None = None
    description: Text | None = None
    case_numbers: Annotated[list[CaseNumber], Field(max_length=50)] = []
    expected_revision: StrictInt | None = None

    def to_input(self) -> IncidentChange:
        return IncidentChange(
            action=self.action,
            reason=self.reason,
            level=self.level,
            people_count=self.people_count,
            description=self.description,
            case_numbers=list(self.case_numbers),
        )


class IncidentListQuery(Strict):
    status: Literal["reported", "active", "contained", "closed", "open"] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class EventsQuery(Strict):
    after: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=500)] = 200


class NamedOut(Schema):
    code: str
    name: str


class IncidentSummaryOut(Schema):
    id: int
    code: str
    title: str
    kind: str
    status: str
    level: str
    people_count: int
    town: NamedOut
    location: LocationOut
    commander: str | None
    reported_at: str
    elapsed_seconds: int


class LinkedCaseOut(Schema):
    case_number: str
    state: str
    workers_count: int | None
    amount_owed: str | None
    responsible_unit: str | None
    visible: bool


class IncidentOut(IncidentSummaryOut):
    description: str
    level_set_by_hand: bool
    source: str
    reported_by: str
    activated_at: str | None
    contained_at: str | None
    closed_at: str | None
    revision: int
    units: list[NamedOut]
    cases: list[LinkedCaseOut]
    allowed_actions: list[str]
    head: int


class IncidentListOut(Schema):
    count: int
    results: list[IncidentSummaryOut]


class EventListOut(Schema):
    events: list[EventOut]
    last_id: int
    more: bool


class WsTicketOut(Schema):
    ticket: str
    expires_at: str
    dashboard: str
    incident_room: str
