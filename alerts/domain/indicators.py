"""Early-warning indicators: what a reading may say, and one parser for every way it arrives.

A reading is about one subject (an enterprise by its unified social credit code, or a
construction project by its code), one indicator and one period: a month ("2026-10") or a
day ("2026-10-15"). The API and the CSV import both hand their raw values to
`reading_parse`, so a reading means the same whichever way it came.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from incidents.domain.identifiers import is_valid_credit_code


class Indicator(StrEnum):
    WATER_M3 = "water_m3"
    ELECTRICITY_KWH = "electricity_kwh"
    GAS_M3 = "gas_m3"
    PROPERTY_FEE_ARREARS_MONTHS = "property_fee_arrears_months"
    TAX_CREDIT_RATING = "tax_credit_rating"
    WAGE_ACCOUNT_INFLOW = "wage_account_inflow"
    WAGE_ACCOUNT_PAYROLL = "wage_account_payroll"
    REGISTERED_WORKERS = "registered_workers"
    FUND_DISBURSED = "fund_disbursed"
    # The six systems of a construction project (六项制度), each a yes/no check.
    SYSTEM_REAL_NAME = "system_real_name"
    SYSTEM_WAGE_ACCOUNT = "system_wage_account"
    SYSTEM_MONTHLY_PAY = "system_monthly_pay"
    SYSTEM_CONTRACTOR_PAYS = "system_contractor_pays"
    SYSTEM_GUARANTEE_DEPOSIT = "system_guarantee_deposit"
    SYSTEM_NOTICE_BOARD = "system_notice_board"


class ValueKind(StrEnum):
    QUANTITY = "quantity"  # a non-negative amount: m³, kWh, yuan
    COUNT = "count"  # a non-negative whole number
    RATING = "rating"  # a tax credit rating letter
    FLAG = "flag"  # yes or no


SIX_SYSTEMS = (
    Indicator.SYSTEM_REAL_NAME,
    Indicator.SYSTEM_WAGE_ACCOUNT,
    Indicator.SYSTEM_MONTHLY_PAY,
    Indicator.SYSTEM_CONTRACTOR_PAYS,
    Indicator.SYSTEM_GUARANTEE_DEPOSIT,
    Indicator.SYSTEM_NOTICE_BOARD,
)
VALUE_KINDS: dict[Indicator, ValueKind] = {
    Indicator.WATER_M3: ValueKind.QUANTITY,
    Indicator.ELECTRICITY_KWH: ValueKind.QUANTITY,
    Indicator.GAS_M3: ValueKind.QUANTITY,
    Indicator.PROPERTY_FEE_ARREARS_MONTHS: ValueKind.COUNT,
    Indicator.TAX_CREDIT_RATING: ValueKind.RATING,
    Indicator.WAGE_ACCOUNT_INFLOW: ValueKind.QUANTITY,
    Indicator.WAGE_ACCOUNT_PAYROLL: ValueKind.QUANTITY,
    Indicator.REGISTERED_WORKERS: ValueKind.COUNT,
    Indicator.FUND_DISBURSED: ValueKind.QUANTITY,
    **dict.fromkeys(SIX_SYSTEMS, ValueKind.FLAG),
}
# The tax authority's credit levels, best first (纳税信用等级 A, B, M, C, D).
RATINGS = ("A", "B", "M", "C", "D")
MAX_QUANTITY = Decimal("1e13")
MAX_COUNT = 10_000_000
EARLIEST_PERIOD = date(2000, 1, 1)
_TRUE = {"true", "yes", "y", "1", "是", "有"}
_FALSE = {"false", "no", "n", "0", "否", "无"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_PROJECT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,39}$")


class ReadingError(ValueError):
    """A reading that cannot be accepted; `field` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, order=True)
class Period:
    """The days a reading covers: a whole month, or one day."""

    start: date
    end: date

    @property
    def monthly(self) -> bool:
        return self.start != self.end

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m") if self.monthly else self.start.isoformat()


def month_of(day: date) -> Period:
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(day.replace(day=1), day.replace(day=last))


def period_parse(raw: Any, *, today: date) -> Period:
    """ "2026-10" (a month) or "2026-10-15" (a day); no period that has not begun yet."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        period = Period(raw, raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            if m := _MONTH.match(text):
                period = month_of(date(int(m[1]), int(m[2]), 1))
            elif m := _DAY.match(text):
                day = date(int(m[1]), int(m[2]), int(m[3]))
                period = Period(day, day)
            else:
                raise ReadingError("period", "must be a month (2026-10) or a day (2026-10-15)")
        except ValueError as exc:
            if isinstance(exc, ReadingError):
                raise
            raise ReadingError("period", "is not a real month or day") from exc
    else:
        raise ReadingError("period", "must be a month (2026-10) or a day (2026-10-15)")
    if period.start < EARLIEST_PERIOD:
        raise ReadingError("period", "is before 2000")
    if period.start > today:
        raise ReadingError("period", "has not begun yet")
    return period


def value_parse(indicator: Indicator, raw: Any) -> tuple[Decimal | None, str]:
    """The stored form of a value: a number, or a rating letter (with no number)."""
    kind = VALUE_KINDS[indicator]
    if kind is ValueKind.FLAG:
        if isinstance(raw, bool):
            return Decimal(int(raw)), ""
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return Decimal(int(raw.strip().lower() in _TRUE)), ""
        raise ReadingError("value", "must be true or false")
    if kind is ValueKind.RATING:
        if isinstance(raw, str) and raw.strip().upper() in RATINGS:
            return None, raw.strip().upper()
        raise ReadingError("value", "must be one of the ratings A, B, M, C, D")
    number = _number(raw)
    if number < 0:
        raise ReadingError("value", "must not be negative")
    if kind is ValueKind.COUNT:
        if number != number.to_integral_value():
            raise ReadingError("value", "must be a whole number")
        if number > MAX_COUNT:
            raise ReadingError("value", "is too large")
        return number.quantize(Decimal(1)), ""
    if number >= MAX_QUANTITY:
        raise ReadingError("value", "is too large")
    if number != number.quantize(Decimal("0.01")):
        raise ReadingError("value", "has more than two decimal places")
    return number.quantize(Decimal("0.01")), ""


def _number(raw: Any) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise ReadingError("value", "must be a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ReadingError("value", "must be a finite number")
    if isinstance(raw, int | float):
        return Decimal(str(raw))
    if isinstance(raw, str):
        text = raw.strip()
        if not text or len(text) > 30:
            raise ReadingError("value", "must be a number")
        if "," in text:
            # Only as a thousands separator ("12,345.6"): "1,5" may be a decimal comma.
            if not _THOUSANDS.match(text):
                raise ReadingError("value", "has a comma that is not a thousands separator")
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ReadingError("value", "must be a number") from exc
        if not number.is_finite():
            raise ReadingError("value", "must be a finite number")
        return number
    raise ReadingError("value", "must be a number")


@dataclass(frozen=True)
class Subject:
    """Whom a reading is about: an enterprise (`credit_code`) or a project (`project`)."""

    credit_code: str = ""
    project: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return ("project", self.project) if self.project else ("enterprise", self.credit_code)


def subject_parse(credit_code: Any, project: Any) -> Subject:
    """Exactly one of a valid credit code or a project code."""
    code = credit_code.strip().upper() if isinstance(credit_code, str) else credit_code
    proj = project.strip() if isinstance(project, str) else project
    if bool(code) == bool(proj):
        raise ReadingError("subject", "give either credit_code or project, not both or neither")
    if code:
        if not isinstance(code, str) or not is_valid_credit_code(code):
            raise ReadingError("subject.credit_code", "is not a valid unified social credit code")
        return Subject(credit_code=code)
    if not isinstance(proj, str) or not _PROJECT_CODE.match(proj):
        raise ReadingError("subject.project", "is not a valid project code")
    return Subject(project=proj)


@dataclass(frozen=True)
class ParsedReading:
    source: str
    external_id: str
    subject: Subject
    indicator: Indicator
    period: Period
    number: Decimal | None
    text: str
    reported_at: datetime | None = None

    @property
    def content(self) -> tuple[Any, ...]:
        """What two readings with the same source and id must agree on to be one reading."""
        return (self.subject.key, self.indicator.value, self.period, self.number, self.text)


def reading_parse(
    *,
    source: Any,
    external_id: Any,
    credit_code: Any,
    project: Any,
    indicator: Any,
    period: Any,
    value: Any,
    today: date,
    reported_at: datetime | None = None,
) -> ParsedReading:
    """Check one raw reading; `ReadingError` names the first thing wrong with it."""
    if not isinstance(source, str) or not SOURCE_RE.match(source.strip()):
        raise ReadingError("source", "must be 1 to 40 lower-case letters, digits, '.', '_' or '-'")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 80:
        raise ReadingError("id", "must be 1 to 80 characters")
    subject = subject_parse(credit_code, project)
    try:
        ind = Indicator(indicator.strip() if isinstance(indicator, str) else indicator)
    except ValueError as exc:
        raise ReadingError("indicator", "is not a known indicator") from exc
    if ind in SIX_SYSTEMS and not subject.project:
        raise ReadingError("indicator", "the six systems are checked on construction projects")
    number, text = value_parse(ind, value)
    return ParsedReading(
        source=source.strip(),
        external_id=external_id.strip(),
        subject=subject,
        indicator=ind,
        period=period_parse(period, today=today),
        number=number,
        text=text,
        reported_at=reported_at,
    )
