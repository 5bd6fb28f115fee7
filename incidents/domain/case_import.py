"""Historical cases from a CSV file: what a row may say, checked without a database.

A row is one finished case from before the hub (a spreadsheet, an older system): when and
how it was received, who complained about which employer, where, for how many workers and
how much, and how it ended. Only finished cases are imported (`resolved`, `closed`,
`rejected`): an open case needs the hub's live handling (its dispatch slip, the same-day and
7-day clocks, SMS to the unit), so it is registered through intake instead, where it also
merges with any new complaint about the same employer.

`case_row_parse` turns the raw cells into a `ParsedCase` or raises `CaseRowError` naming the
column that is wrong. The service checks what needs the database (codes, numbers already
held) and writes the case with the events the live lifecycle writes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property

from incidents.domain.identifiers import (
    is_valid_credit_code,
    is_valid_id_number,
    is_valid_phone,
    normalize_phone,
)

REQUIRED = (
    "registered_at",
    "channel",
    "complainant_name",
    "complainant_phone",
    "employer_credit_code",
    "employer_name",
    "town",
    "workers_count",
    "amount_owed",
    "state",
    "finished_at",
)
OPTIONAL = (
    "number",
    "complainant_id_number",
    "project_code",
    "unit",
    "amount_paid",
    "closed_at",
    "escalated",
    "reason",
    "summary",
)
MAX_CELL = 2000  # the summary is the longest cell
MAX_WORKERS = 100_000
MAX_AMOUNT = Decimal("1e12")
EARLIEST = date(2000, 1, 1)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"", "false", "no", "n", "0", "否"}
# Free text a spreadsheet would run as a formula is refused, not stored (the characters the
# exports neutralise; that module is Django's side, so the tuple is repeated here).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class FinalState(StrEnum):
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class CaseRowError(ValueError):
    """A row that cannot be imported; `field` names the column that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RowRules:
    """What a row is checked against: the district's numbering, the channels, the clock."""

    case_prefix: str
    channels: frozenset[str]
    tz: tzinfo
    now: datetime


@dataclass(frozen=True)
class ParsedCase:
    number: str  # "" when the hub gives it one
    registered_at: datetime
    channel: str
    complainant_name: str
    complainant_phone: str
    complainant_id_number: str
    employer_credit_code: str
    employer_name: str
    project_code: str
    town: str
    unit: str  # "" when the routing table decides
    workers_count: int
    amount_owed: Decimal
    amount_paid: Decimal
    state: FinalState
    finished_at: datetime
    closed_at: datetime | None
    escalated: bool
    reason: str
    summary: str
    year: int  # the year the case number counts in: that of registration, local time

    @cached_property
    def key(self) -> str:
        """A stable fingerprint of what the row says: the same row gives the same key on
        every run, so a file imported twice adds nothing the second time."""
        parts = [
            self.number,
            self.registered_at.isoformat(),
            self.channel,
            self.complainant_name,
            self.complainant_phone,
            self.complainant_id_number,
            self.employer_credit_code,
            self.employer_name,
            self.project_code,
            self.town,
            self.unit,
            str(self.workers_count),
            str(self.amount_owed),
            str(self.amount_paid),
            self.state.value,
            self.finished_at.isoformat(),
            self.closed_at.isoformat() if self.closed_at else "",
            str(self.escalated),
            self.reason,
            self.summary,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def number_sequence(number: str, *, case_prefix: str, year: int) -> int:
    """The sequence of a case number of the district's form `PREFIX-YEAR-000123`."""
    match = re.fullmatch(rf"{re.escape(case_prefix)}-(\d{{4}})-(\d{{6}})", number)
    if match is None:
        raise CaseRowError("number", f"must look like {case_prefix}-{year}-000123")
    if int(match[1]) != year:
        raise CaseRowError("number", f"must count in the year of registration ({year})")
    sequence = int(match[2])
    if sequence == 0:
        raise CaseRowError("number", "must not end in 000000")
    return sequence


def moment_parse(field: str, raw: str, *, tz: tzinfo) -> datetime:
    """An ISO 8601 day or time; without a zone it is the district's local time, and a day
    alone is its first moment."""
    text = raw.strip()
    if not text:
        raise CaseRowError(field, "is required")
    try:
        if _DAY.match(text):
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=tz)
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CaseRowError(field, "is not a date or time (2024-03-05 or 2024-03-05T09:30)") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def text_parse(field: str, raw: str, *, max_length: int, required: bool = True) -> str:
    """Free text: stripped, within its length, never a formula."""
    text = raw.strip()
    if not text:
        if required:
            raise CaseRowError(field, "is required")
        return ""
    if len(text) > max_length:
        raise CaseRowError(field, f"is longer than {max_length} characters")
    if text.startswith(_FORMULA_START):
        raise CaseRowError(field, "looks like a spreadsheet formula")
    return text


def code_parse(field: str, raw: str, *, required: bool) -> str:
    text = raw.strip()
    if not text:
        if required:
            raise CaseRowError(field, "is required")
        return ""
    if not _CODE.match(text):
        raise CaseRowError(field, "is not a valid code")
    return text


def count_parse(field: str, raw: str) -> int:
    text = raw.strip()
    if not text.isdigit():
        raise CaseRowError(field, "must be a whole number")
    value = int(text)
    if not 1 <= value <= MAX_WORKERS:
        raise CaseRowError(field, f"must be from 1 to {MAX_WORKERS:,}")
    return value


def money_parse(field: str, raw: str) -> Decimal:
    """Yuan: at most two decimal places, not negative; "12,345.60" is read as 12345.60."""
    text = raw.strip()
    if "," in text:
        if not _THOUSANDS.match(text):
            raise CaseRowError(field, "has a comma that is not a thousands separator")
        text = text.replace(",", "")
    if not text or len(text) > 30:
        raise CaseRowError(field, "must be an amount in yuan")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise CaseRowError(field, "must be an amount in yuan") from exc
    if not value.is_finite() or value < 0:
        raise CaseRowError(field, "must be an amount in yuan, not negative")
    if value >= MAX_AMOUNT:
        raise CaseRowError(field, "is too large")
    if value != value.quantize(Decimal("0.01")):
        raise CaseRowError(field, "has more than two decimal places")
    return value.quantize(Decimal("0.01"))


def flag_parse(field: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CaseRowError(field, "must be yes or no")


def case_row_parse(cells: Mapping[str, str], rules: RowRules) -> ParsedCase:
    """Check one row; `CaseRowError` names the first thing wrong with it."""

    def cell(name: str) -> str:
        return cells.get(name) or ""

    registered_at = moment_parse("registered_at", cell("registered_at"), tz=rules.tz)
    if registered_at.astimezone(rules.tz).date() < EARLIEST:
        raise CaseRowError("registered_at", "is before 2000")
    if registered_at > rules.now:
        raise CaseRowError("registered_at", "is in the future")
    # The number counts in the local year of registration.
    local_registered = registered_at.astimezone(rules.tz)

    number = cell("number").strip().upper()
    if number:
        number_sequence(number, case_prefix=rules.case_prefix, year=local_registered.year)

    channel = cell("channel").strip().lower()
    if channel not in rules.channels:
        raise CaseRowError("channel", "must be one of " + ", ".join(sorted(rules.channels)))

    complainant_name = text_parse("complainant_name", cell("complainant_name"), max_length=100)
    phone = normalize_phone(cell("complainant_phone"))
    if not is_valid_phone(phone):
        raise CaseRowError("complainant_phone", "is not a mainland mobile or landline number")
    id_number = cell("complainant_id_number").strip().upper()
    if id_number and not is_valid_id_number(id_number):
        raise CaseRowError("complainant_id_number", "is not a valid resident identity number")

    credit_code = cell("employer_credit_code").strip().upper()
    if not is_valid_credit_code(credit_code):
        raise CaseRowError("employer_credit_code", "is not a valid unified social credit code")
    employer_name = text_parse("employer_name", cell("employer_name"), max_length=200)
    project_code = code_parse("project_code", cell("project_code"), required=False)
    town = code_parse("town", cell("town"), required=True)
    unit = code_parse("unit", cell("unit"), required=False)

    workers_count = count_parse("workers_count", cell("workers_count"))
    amount_owed = money_parse("amount_owed", cell("amount_owed"))

    try:
        state = FinalState(cell("state").strip().lower())
    except ValueError as exc:
        raise CaseRowError(
            "state",
            "must be resolved, closed or rejected (open cases are registered through intake)",
        ) from exc
    finished_at = moment_parse("finished_at", cell("finished_at"), tz=rules.tz)
    if finished_at < registered_at:
        raise CaseRowError("finished_at", "is before registered_at")
    if finished_at > rules.now:
        raise CaseRowError("finished_at", "is in the future")
    closed_at = None
    if cell("closed_at").strip():
        if state != FinalState.CLOSED:
            raise CaseRowError("closed_at", "is only for closed cases")
        closed_at = moment_parse("closed_at", cell("closed_at"), tz=rules.tz)
        if closed_at < finished_at:
            raise CaseRowError("closed_at", "is before finished_at")
        if closed_at > rules.now:
            raise CaseRowError("closed_at", "is in the future")
    elif state == FinalState.CLOSED:
        closed_at = finished_at

    amount_paid = Decimal("0.00")
    if cell("amount_paid").strip():
        if state == FinalState.REJECTED:
            raise CaseRowError("amount_paid", "is not for rejected cases")
        amount_paid = money_parse("amount_paid", cell("amount_paid"))
    elif state != FinalState.REJECTED:
        amount_paid = amount_owed  # a resolved case paid what was owed unless it says
    escalated = flag_parse("escalated", cell("escalated"))
    if escalated and state == FinalState.REJECTED:
        raise CaseRowError("escalated", "a rejected case was not escalated")
    reason = text_parse("reason", cell("reason"), max_length=500, required=False)
    if state == FinalState.REJECTED and not reason:
        raise CaseRowError("reason", "a rejected case needs the reason")
    summary = text_parse("summary", cell("summary"), max_length=MAX_CELL, required=False)
    return ParsedCase(
        number=number,
        registered_at=registered_at,
        channel=channel,
        complainant_name=complainant_name,
        complainant_phone=phone,
        complainant_id_number=id_number,
        employer_credit_code=credit_code,
        employer_name=employer_name,
        project_code=project_code,
        town=town,
        unit=unit,
        workers_count=workers_count,
        amount_owed=amount_owed,
        amount_paid=amount_paid,
        state=state,
        finished_at=finished_at,
        closed_at=closed_at,
        escalated=escalated,
        reason=reason,
        summary=summary,
        year=local_registered.year,
    )
