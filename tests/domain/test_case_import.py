"""The rules of a historical case row, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.domain.case_import import (
    CaseRowError,
    FinalState,
    RowRules,
    case_row_parse,
    moment_parse,
    money_parse,
    number_sequence,
)
from incidents.domain.identifiers import credit_code_check_char

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = RowRules(
    case_prefix="NX",
    channels=frozenset({"window", "police_110"}),
    tz=SHANGHAI,
    now=datetime(2026, 1, 1, tzinfo=UTC),
)
CREDIT = "91330503MA0000001" + credit_code_check_char("91330503MA0000001")


def cells(**changed: str) -> dict[str, str]:
    base = {
        "registered_at": "2025-03-03 09:30",
        "channel": "window",
        "complainant_name": "工人",
        "complainant_phone": "13900000001",
        "employer_credit_code": CREDIT.lower(),
        "employer_name": "劳务公司",
        "town": "lianshi",
        "workers_count": "3",
        "amount_owed": "12000",
        "state": "Resolved",
        "finished_at": "2025-03-10",
    }
    return {**base, **changed}


def test_a_good_row_is_normalised() -> None:
    case = case_row_parse(cells(), RULES)
    assert case.registered_at == datetime(2025, 3, 3, 9, 30, tzinfo=SHANGHAI)
    assert case.finished_at == datetime(2025, 3, 10, tzinfo=SHANGHAI)
    assert case.employer_credit_code == CREDIT
    assert case.state is FinalState.RESOLVED
    assert case.amount_paid == case.amount_owed == Decimal("12000.00")
    assert (case.number, case.unit, case.closed_at, case.escalated) == ("", "", None, False)
    assert case.year == 2025


def test_a_closed_case_closes_when_it_finished_unless_told() -> None:
    assert case_row_parse(cells(state="closed"), RULES).closed_at == datetime(
        2025, 3, 10, tzinfo=SHANGHAI
    )
    told = case_row_parse(cells(state="closed", closed_at="2025-03-12T08:00:00Z"), RULES)
    assert told.closed_at == datetime(2025, 3, 12, 8, tzinfo=UTC)


def test_the_year_of_a_number_is_the_local_year_of_registration() -> None:
    # 31 Dec 2024 17:00 UTC is already 1 Jan 2025 in Shanghai.
    late = cells(registered_at="2024-12-31T17:00:00Z", number="nx-2025-000001")
    case = case_row_parse(late, RULES)
    assert (case.number, case.year) == ("NX-2025-000001", 2025)
    with pytest.raises(CaseRowError, match="year of registration"):
        case_row_parse({**late, "number": "NX-2024-000001"}, RULES)


@pytest.mark.parametrize(
    ("changed", "field", "message"),
    [
        ({"registered_at": ""}, "registered_at", "is required"),
        ({"registered_at": "1999-12-31"}, "registered_at", "is before 2000"),
        ({"registered_at": "2026-02-01"}, "registered_at", "is in the future"),
        ({"channel": "fax"}, "channel", "must be one of police_110, window"),
        ({"complainant_name": " "}, "complainant_name", "is required"),
        ({"complainant_name": "+1"}, "complainant_name", "looks like a spreadsheet formula"),
        ({"complainant_phone": "555"}, "complainant_phone", "is not a mainland"),
        ({"complainant_id_number": "33050319900101123X"}, "complainant_id_number", "not a valid"),
        ({"employer_credit_code": CREDIT[:-1] + "0"}, "employer_credit_code", "not a valid"),
        ({"employer_name": "-cmd"}, "employer_name", "looks like a spreadsheet formula"),
        ({"town": "练市"}, "town", "is not a valid code"),
        ({"project_code": "=1"}, "project_code", "is not a valid code"),
        ({"workers_count": "2.5"}, "workers_count", "must be a whole number"),
        ({"workers_count": "100001"}, "workers_count", "must be from 1 to 100,000"),
        ({"amount_owed": "1,5"}, "amount_owed", "not a thousands separator"),
        ({"amount_owed": "10.005"}, "amount_owed", "more than two decimal places"),
        ({"amount_owed": "1e12"}, "amount_owed", "is too large"),
        ({"amount_owed": "NaN"}, "amount_owed", "must be an amount in yuan"),
        ({"state": "accepted"}, "state", "open cases are registered through intake"),
        ({"finished_at": "2025-03-02"}, "finished_at", "is before registered_at"),
        ({"closed_at": "2025-03-11"}, "closed_at", "is only for closed cases"),
        ({"state": "closed", "closed_at": "2025-03-09"}, "closed_at", "is before finished_at"),
        ({"state": "rejected"}, "reason", "a rejected case needs the reason"),
        ({"state": "rejected", "reason": "x", "amount_paid": "1"}, "amount_paid", "not for"),
        ({"state": "rejected", "reason": "x", "escalated": "yes"}, "escalated", "not escalated"),
        ({"escalated": "maybe"}, "escalated", "must be yes or no"),
        ({"number": "NX-2025-12"}, "number", "must look like NX-2025-000123"),
        ({"summary": "x" * 2001}, "summary", "is longer than 2000 characters"),
    ],
)
def test_a_wrong_cell_is_named(changed: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(CaseRowError) as caught:
        case_row_parse(cells(**changed), RULES)
    assert caught.value.field == field
    assert message in caught.value.message


def test_the_key_is_stable_and_follows_the_content() -> None:
    one = case_row_parse(cells(), RULES)
    assert one.key == case_row_parse(cells(), RULES).key
    assert one.key == case_row_parse(cells(employer_credit_code=CREDIT), RULES).key
    assert one.key != case_row_parse(cells(amount_owed="12000.01"), RULES).key
    assert one.key != case_row_parse(cells(number="NX-2025-000001"), RULES).key


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_money_reads_back_what_was_written(amount: Decimal) -> None:
    assert money_parse("amount_owed", str(amount)) == amount
    assert money_parse("amount_owed", f"{amount:,}") == amount


@given(st.integers(min_value=1, max_value=999_999), st.integers(min_value=2000, max_value=2100))
def test_a_number_of_the_districts_form_gives_its_sequence(sequence: int, year: int) -> None:
    assert number_sequence(f"NX-{year}-{sequence:06d}", case_prefix="NX", year=year) == sequence


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
def test_a_naive_time_is_local_and_an_aware_one_kept(moment: datetime) -> None:
    naive = moment.replace(microsecond=0)
    assert moment_parse("t", naive.isoformat(), tz=SHANGHAI) == naive.replace(tzinfo=SHANGHAI)
    aware = naive.replace(tzinfo=UTC)
    assert moment_parse("t", aware.isoformat(), tz=SHANGHAI) == aware
