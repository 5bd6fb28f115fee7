"""Early-warning readings: periods, values by kind, subjects, and the one reading parser."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.indicators import (
    SIX_SYSTEMS,
    VALUE_KINDS,
    Indicator,
    Period,
    ReadingError,
    Subject,
    ValueKind,
    month_of,
    period_parse,
    reading_parse,
    subject_parse,
    value_parse,
)
from incidents.domain.identifiers import CREDIT_ALPHABET, credit_code_check_char

TODAY = date(2026, 10, 15)
BODY = "91330503MA2B3C4D5"
CREDIT_CODE = BODY + credit_code_check_char(BODY)
WRONG_CHECK = BODY + next(c for c in CREDIT_ALPHABET if c != CREDIT_CODE[-1])


def day(y: int, m: int, d: int) -> Period:
    return Period(date(y, m, d), date(y, m, d))


def month(y: int, m: int) -> Period:
    return month_of(date(y, m, 1))


# --- periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "start", "end", "monthly", "label"),
    [
        ("2026-10", date(2026, 10, 1), date(2026, 10, 31), True, "2026-10"),
        ("2026-09", date(2026, 9, 1), date(2026, 9, 30), True, "2026-09"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), True, "2026-02"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), True, "2024-02"),  # leap year
        ("2000-01", date(2000, 1, 1), date(2000, 1, 31), True, "2000-01"),  # the earliest month
        (" 2026-10 ", date(2026, 10, 1), date(2026, 10, 31), True, "2026-10"),
        ("2026-10-15", date(2026, 10, 15), date(2026, 10, 15), False, "2026-10-15"),  # today
        ("2024-02-29", date(2024, 2, 29), date(2024, 2, 29), False, "2024-02-29"),
        ("2000-01-01", date(2000, 1, 1), date(2000, 1, 1), False, "2000-01-01"),
        ("\t2026-01-31\n", date(2026, 1, 31), date(2026, 1, 31), False, "2026-01-31"),
        (date(2026, 10, 15), date(2026, 10, 15), date(2026, 10, 15), False, "2026-10-15"),
        (date(2003, 7, 1), date(2003, 7, 1), date(2003, 7, 1), False, "2003-07-01"),
    ],
)
def test_a_month_or_a_day_that_has_begun_is_a_period(
    raw: Any, start: date, end: date, monthly: bool, label: str
) -> None:
    period = period_parse(raw, today=TODAY)

    assert (period.start, period.end) == (start, end)
    assert period.monthly is monthly
    assert period.label == label


def test_the_month_under_way_is_a_period_from_its_first_day() -> None:
    assert period_parse("2026-10", today=date(2026, 10, 1)) == month(2026, 10)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-13", "is not a real month or day"),
        ("2026-00", "is not a real month or day"),
        ("2026-02-30", "is not a real month or day"),
        ("2025-02-29", "is not a real month or day"),  # not a leap year
        ("2026-09-31", "is not a real month or day"),
        ("2026-10-00", "is not a real month or day"),
        ("0000-01", "is not a real month or day"),
        ("2026-1", "must be a month"),
        ("2026-10-5", "must be a month"),
        ("26-10", "must be a month"),
        ("2026/10", "must be a month"),
        ("2026年10月", "must be a month"),
        ("202610", "must be a month"),
        ("2026-10-15T08:00", "must be a month"),
        ("", "must be a month"),
        ("   ", "must be a month"),
        (None, "must be a month"),
        (202610, "must be a month"),
        (datetime(2026, 10, 1, tzinfo=UTC), "must be a month"),  # a time is not a period
        ("2026-11", "has not begun yet"),
        ("2026-10-16", "has not begun yet"),
        ("2027-01-01", "has not begun yet"),
        (date(2026, 10, 16), "has not begun yet"),
        ("1999-12", "is before 2000"),
        ("1999-12-31", "is before 2000"),
        (date(1999, 12, 31), "is before 2000"),
    ],
)
def test_a_period_that_is_malformed_unreal_future_or_too_old_is_refused(
    raw: Any, message: str
) -> None:
    with pytest.raises(ReadingError, match=message) as caught:
        period_parse(raw, today=TODAY)

    assert caught.value.field == "period"


@given(st.dates(min_value=date(2000, 1, 1), max_value=TODAY), st.booleans())
def test_any_valid_month_or_day_round_trips_through_its_label(
    when: date, whole_month: bool
) -> None:
    text = when.strftime("%Y-%m") if whole_month else when.isoformat()

    period = period_parse(text, today=TODAY)

    assert period.label == text
    assert period.monthly is whole_month
    assert period.start <= when <= period.end


@given(st.dates(min_value=date(2000, 1, 1), max_value=TODAY))
def test_a_date_object_is_the_same_period_as_its_iso_day(when: date) -> None:
    assert period_parse(when, today=TODAY) == period_parse(when.isoformat(), today=TODAY)


def test_month_of_covers_the_whole_month_whatever_day_it_is_given() -> None:
    assert month_of(date(2026, 2, 17)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert month_of(date(2026, 12, 31)) == Period(date(2026, 12, 1), date(2026, 12, 31))


# --- values -------------------------------------------------------------------------------


def test_every_indicator_has_a_value_kind_and_the_six_systems_are_flags() -> None:
    assert set(VALUE_KINDS) == set(Indicator)
    assert len(SIX_SYSTEMS) == 6
    assert {VALUE_KINDS[s] for s in SIX_SYSTEMS} == {ValueKind.FLAG}


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        (True, 1),
        (False, 0),
        ("true", 1),
        ("TRUE", 1),
        ("True", 1),
        ("false", 0),
        ("yes", 1),
        (" Yes ", 1),
        ("no", 0),
        ("y", 1),
        ("n", 0),
        ("1", 1),
        ("0", 0),
        ("是", 1),
        ("否", 0),
        ("有", 1),
        ("无", 0),
    ],
)
def test_a_flag_is_a_json_bool_or_a_csv_word(raw: Any, number: int) -> None:
    assert value_parse(Indicator.SYSTEM_REAL_NAME, raw) == (Decimal(number), "")


@pytest.mark.parametrize(
    "raw",
    [
        "maybe",
        "",
        "2",
        "yes please",
        "对",
        None,
        # A JSON number is not a flag: only JSON true/false, or the words in a string.
        1,
        0,
        1.0,
    ],
)
def test_a_flag_that_is_not_yes_or_no_is_refused(raw: Any) -> None:
    with pytest.raises(ReadingError, match="must be true or false") as caught:
        value_parse(Indicator.SYSTEM_NOTICE_BOARD, raw)

    assert caught.value.field == "value"


@pytest.mark.parametrize(
    ("raw", "letter"),
    [("A", "A"), ("B", "B"), ("M", "M"), ("C", "C"), ("D", "D"), ("d", "D"), (" m ", "M")],
)
def test_a_rating_is_one_of_the_five_letters_in_either_case(raw: str, letter: str) -> None:
    assert value_parse(Indicator.TAX_CREDIT_RATING, raw) == (None, letter)


@pytest.mark.parametrize("raw", ["E", "AA", "A+", "", "  ", None, 1, True, ["A"]])
def test_a_rating_outside_the_scale_is_refused(raw: Any) -> None:
    with pytest.raises(ReadingError, match="must be one of the ratings") as caught:
        value_parse(Indicator.TAX_CREDIT_RATING, raw)

    assert caught.value.field == "value"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (0, "0.00"),
        (12, "12.00"),
        (12.5, "12.50"),
        (0.1, "0.10"),
        (1234.56, "1234.56"),
        ("7", "7.00"),
        (" 7.5 ", "7.50"),
        ("0.01", "0.01"),
        ("1,234.56", "1234.56"),
        ("1,234,567", "1234567.00"),
        ("1e3", "1000.00"),
        ("3.10", "3.10"),
        ("3.100", "3.10"),  # trailing zeros are not decimal places
        ("9999999999999.99", "9999999999999.99"),  # just under the ceiling
        (9_999_999_999_999, "9999999999999.00"),
    ],
)
def test_a_quantity_is_stored_with_two_decimal_places(raw: Any, stored: str) -> None:
    number, text = value_parse(Indicator.ELECTRICITY_KWH, raw)

    assert str(number) == stored
    assert text == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (-1, "must not be negative"),
        (-0.01, "must not be negative"),
        ("-5", "must not be negative"),
        ("-1,000", "must not be negative"),
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (float("-inf"), "must be a finite number"),
        ("NaN", "must be a finite number"),
        ("nan", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        ("-inf", "must be a finite number"),
        ("sNaN", "must be a finite number"),
        (True, "must be a number"),
        (False, "must be a number"),
        (None, "must be a number"),
        ("", "must be a number"),
        ("   ", "must be a number"),
        (",", "has a comma that is not a thousands separator"),
        ("abc", "must be a number"),
        ("12 kWh", "must be a number"),
        ("0x10", "must be a number"),
        ("1" * 31, "must be a number"),  # longer than any plausible figure
        ([12], "must be a number"),
        (Decimal("12"), "must be a number"),  # only JSON numbers and strings arrive
        ("1.234", "has more than two decimal places"),
        (0.125, "has more than two decimal places"),
        (0.1 + 0.2, "has more than two decimal places"),  # 0.30000000000000004
        ("1e-3", "has more than two decimal places"),
        (10**13, "is too large"),
        ("10,000,000,000,000", "is too large"),
        (1e300, "is too large"),
        ("1e20", "is too large"),
    ],
)
def test_a_quantity_that_is_not_a_plain_non_negative_amount_is_refused(
    raw: Any, message: str
) -> None:
    with pytest.raises(ReadingError, match=message) as caught:
        value_parse(Indicator.WATER_M3, raw)

    assert caught.value.field == "value"


@pytest.mark.parametrize(
    "raw",
    [
        "1,5",  # a decimal comma, or a typo: not read as 15
        "12,34",
        "1,2,3",
        "1,2345",
        "1234,567",  # a group of four before the comma
        "1,234,56",
        "1,,234",
        ",123",
        "123,",
        "1,234.5,6",
        "1,000e3",
        "+1,000",
    ],
)
def test_a_comma_that_is_not_a_thousands_separator_is_refused(raw: str) -> None:
    with pytest.raises(
        ReadingError, match="has a comma that is not a thousands separator"
    ) as caught:
        value_parse(Indicator.ELECTRICITY_KWH, raw)

    assert caught.value.field == "value"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1,000", "1000.00"),
        ("12,345.6", "12345.60"),
        ("999,999.99", "999999.99"),
        (" 1,234,567.5 ", "1234567.50"),
    ],
)
def test_a_comma_as_a_thousands_separator_is_read_past(raw: str, stored: str) -> None:
    number, _text = value_parse(Indicator.ELECTRICITY_KWH, raw)

    assert str(number) == stored


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (0, "0"),
        (3, "3"),
        ("3", "3"),
        (3.0, "3"),
        ("3.00", "3"),
        ("1,000", "1000"),
        (10_000_000, "10000000"),  # the ceiling itself
    ],
)
def test_a_count_is_a_whole_number(raw: Any, stored: str) -> None:
    number, text = value_parse(Indicator.REGISTERED_WORKERS, raw)

    assert str(number) == stored
    assert text == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (2.5, "must be a whole number"),
        ("2.5", "must be a whole number"),
        ("0.01", "must be a whole number"),
        (-1, "must not be negative"),
        ("-3", "must not be negative"),
        (10_000_001, "is too large"),
        ("1e9", "is too large"),
        (True, "must be a number"),
        (float("nan"), "must be a finite number"),
        ("three", "must be a number"),
        ("1,5", "has a comma that is not a thousands separator"),
        ("1,000.5", "must be a whole number"),
    ],
)
def test_a_count_that_is_not_a_plain_whole_number_is_refused(raw: Any, message: str) -> None:
    with pytest.raises(ReadingError, match=message) as caught:
        value_parse(Indicator.PROPERTY_FEE_ARREARS_MONTHS, raw)

    assert caught.value.field == "value"


@pytest.mark.parametrize("indicator", list(Indicator))
def test_every_indicator_refuses_a_value_it_cannot_mean(indicator: Indicator) -> None:
    with pytest.raises(ReadingError) as caught:
        value_parse(indicator, "not a value")

    assert caught.value.field == "value"


# --- subjects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credit_code", "project", "subject"),
    [
        (CREDIT_CODE, "", Subject(credit_code=CREDIT_CODE)),
        (CREDIT_CODE, None, Subject(credit_code=CREDIT_CODE)),
        (CREDIT_CODE.lower(), "", Subject(credit_code=CREDIT_CODE)),
        (f"  {CREDIT_CODE}\n", "  ", Subject(credit_code=CREDIT_CODE)),
        ("", "P-2026.001", Subject(project="P-2026.001")),
        (None, " lianshi_01 ", Subject(project="lianshi_01")),
        ("", "a" * 40, Subject(project="a" * 40)),
        ("  ", "X", Subject(project="X")),
    ],
)
def test_a_subject_is_one_valid_credit_code_or_one_project(
    credit_code: Any, project: Any, subject: Subject
) -> None:
    assert subject_parse(credit_code, project) == subject


def test_a_subject_key_says_whether_it_is_an_enterprise_or_a_project() -> None:
    assert Subject(credit_code=CREDIT_CODE).key == ("enterprise", CREDIT_CODE)
    assert Subject(project="P1").key == ("project", "P1")


@pytest.mark.parametrize(
    ("credit_code", "project", "field"),
    [
        (CREDIT_CODE, "P1", "subject"),
        ("", "", "subject"),
        (None, None, "subject"),
        ("  ", "  ", "subject"),
        (WRONG_CHECK, "", "subject.credit_code"),
        (WRONG_CHECK.lower(), "", "subject.credit_code"),
        (CREDIT_CODE[:17], "", "subject.credit_code"),
        (CREDIT_CODE + "0", "", "subject.credit_code"),
        ("91330503MA2B3C4DIO", "", "subject.credit_code"),  # I and O are not in the alphabet
        (913305031234567890, None, "subject.credit_code"),
        ("", "-P1", "subject.project"),
        ("", "a" * 41, "subject.project"),
        ("", "练市新城", "subject.project"),
        ("", "P 1", "subject.project"),
        ("", "P1/2", "subject.project"),
        (None, 2026, "subject.project"),
    ],
)
def test_a_subject_that_is_both_neither_or_invalid_is_refused(
    credit_code: Any, project: Any, field: str
) -> None:
    with pytest.raises(ReadingError) as caught:
        subject_parse(credit_code, project)

    assert caught.value.field == field


# --- readings -----------------------------------------------------------------------------


def raw_reading(**overrides: Any) -> dict[str, Any]:
    """A valid raw reading of an enterprise's electricity; keywords replace its fields."""
    fields: dict[str, Any] = {
        "source": "state-grid.huzhou",
        "external_id": "r-0001",
        "credit_code": CREDIT_CODE,
        "project": "",
        "indicator": "electricity_kwh",
        "period": "2026-09",
        "value": "12,345.6",
        "today": TODAY,
    }
    fields.update(overrides)
    return fields


def test_a_valid_reading_is_parsed_into_its_stored_form() -> None:
    reported = datetime(2026, 10, 3, 9, 30, tzinfo=UTC)

    reading = reading_parse(**raw_reading(reported_at=reported))

    assert reading.source == "state-grid.huzhou"
    assert reading.external_id == "r-0001"
    assert reading.subject == Subject(credit_code=CREDIT_CODE)
    assert reading.indicator is Indicator.ELECTRICITY_KWH
    assert reading.period == month(2026, 9)
    assert (reading.number, reading.text) == (Decimal("12345.60"), "")
    assert reading.reported_at == reported


def test_a_reading_trims_its_source_id_and_indicator() -> None:
    reading = reading_parse(
        **raw_reading(source=" grid ", external_id="  r-1 ", indicator=" water_m3 ")
    )

    assert (reading.source, reading.external_id, reading.indicator) == (
        "grid",
        "r-1",
        Indicator.WATER_M3,
    )


@pytest.mark.parametrize(("raw_id", "stored"), [(42, "42"), (0, "0"), ("x" * 80, "x" * 80)])
def test_a_reading_id_may_be_a_json_integer_or_a_string(raw_id: Any, stored: str) -> None:
    assert reading_parse(**raw_reading(external_id=raw_id)).external_id == stored


def test_a_rating_reading_has_a_letter_and_no_number() -> None:
    reading = reading_parse(**raw_reading(indicator="tax_credit_rating", value="c"))

    assert (reading.number, reading.text) == (None, "C")


@pytest.mark.parametrize("system", SIX_SYSTEMS)
def test_the_six_systems_are_read_on_projects(system: Indicator) -> None:
    reading = reading_parse(
        **raw_reading(credit_code="", project="P-2026.001", indicator=system.value, value="否")
    )

    assert reading.subject == Subject(project="P-2026.001")
    assert (reading.indicator, reading.number) == (system, Decimal(0))


@pytest.mark.parametrize("system", SIX_SYSTEMS)
def test_the_six_systems_are_refused_for_an_enterprise(system: Indicator) -> None:
    with pytest.raises(ReadingError, match="construction projects") as caught:
        reading_parse(**raw_reading(indicator=system.value, value=True))

    assert caught.value.field == "indicator"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"source": ""}, "source"),
        ({"source": "State-Grid"}, "source"),  # upper case
        ({"source": "-grid"}, "source"),
        ({"source": "grid co"}, "source"),
        ({"source": "g" * 41}, "source"),
        ({"source": None}, "source"),
        ({"source": 7}, "source"),
        ({"external_id": ""}, "id"),
        ({"external_id": "   "}, "id"),
        ({"external_id": "x" * 81}, "id"),
        ({"external_id": None}, "id"),
        ({"external_id": True}, "id"),  # a bool is not an integer id
        ({"external_id": 4.2}, "id"),
        ({"credit_code": "", "project": ""}, "subject"),
        ({"project": "P1"}, "subject"),
        ({"credit_code": WRONG_CHECK}, "subject.credit_code"),
        ({"credit_code": "", "project": "no spaces"}, "subject.project"),
        ({"indicator": "steam_m3"}, "indicator"),
        ({"indicator": "ELECTRICITY_KWH"}, "indicator"),
        ({"indicator": ""}, "indicator"),
        ({"indicator": None}, "indicator"),
        ({"indicator": 3}, "indicator"),
        ({"value": "-1"}, "value"),
        ({"value": "lots"}, "value"),
        ({"indicator": "tax_credit_rating", "value": "E"}, "value"),
        ({"indicator": "registered_workers", "value": 2.5}, "value"),
        ({"period": "2026-13"}, "period"),
        ({"period": "2026-11"}, "period"),
        ({"period": "1999-12"}, "period"),
        ({"period": None}, "period"),
    ],
)
def test_a_reading_error_names_the_field_that_is_wrong(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ReadingError) as caught:
        reading_parse(**raw_reading(**overrides))

    assert caught.value.field == field
    assert caught.value.message == str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"source": "BAD", "external_id": "", "indicator": "x", "period": "x"}, "source"),
        ({"external_id": "", "credit_code": WRONG_CHECK, "period": "x"}, "id"),
        ({"credit_code": WRONG_CHECK, "indicator": "x", "value": "x"}, "subject.credit_code"),
        ({"indicator": "x", "value": "x", "period": "x"}, "indicator"),
        ({"indicator": "system_real_name", "value": "x", "period": "x"}, "indicator"),
        ({"value": "x", "period": "x"}, "value"),
    ],
)
def test_a_reading_error_names_the_first_thing_wrong(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ReadingError) as caught:
        reading_parse(**raw_reading(**overrides))

    assert caught.value.field == field


def test_two_readings_are_one_when_subject_indicator_period_and_value_agree() -> None:
    reading = reading_parse(**raw_reading(value="100"))
    key, indicator = reading.subject.key, reading.indicator.value

    assert reading.content == (key, indicator, month(2026, 9), Decimal("100.00"), "")
    assert reading.content != (key, indicator, month(2026, 9), Decimal("100.01"), "")
    assert reading.content != (key, indicator, day(2026, 9, 1), Decimal("100.00"), "")
    assert reading.content != (("enterprise", "X"), indicator, month(2026, 9), Decimal(100), "")
    assert reading.content != (key, "water_m3", month(2026, 9), Decimal("100.00"), "")
