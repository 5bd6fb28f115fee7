"""The working-day clock on the Chinese calendar of 2026, with its make-up working days.

The 2026 schedule of the State Council: Spring Festival 15-23 February off, Saturday 14 and
Saturday 28 February worked; National Day 1-7 October off, Sunday 20 September and
Saturday 10 October worked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.domain.workdays import (
    WorkCalendar,
    advance_due,
    china_calendar,
    commitment_due,
    dispatch_due,
    end_of_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = china_calendar([2025, 2026, 2027])


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def eod(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, tzinfo=SHANGHAI)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(n) for n in range((end - start).days + 1)]


# --- which days are worked ----------------------------------------------------------------------


@pytest.mark.parametrize("day", days(d(2, 15), d(2, 23)), ids=str)
def test_spring_festival_2026_is_off(day: date) -> None:
    assert not CALENDAR.is_workday(day)


@pytest.mark.parametrize("day", days(d(10, 1), d(10, 7)), ids=str)
def test_national_day_2026_is_off(day: date) -> None:
    assert not CALENDAR.is_workday(day)


@pytest.mark.parametrize(
    "day",
    [d(2, 14), d(2, 28), d(9, 20), d(10, 10)],
    ids=str,
)
def test_make_up_weekend_days_are_worked(day: date) -> None:
    assert day.weekday() >= 5
    assert CALENDAR.is_workday(day)


@pytest.mark.parametrize(
    ("day", "worked"),
    [
        (d(2, 12), True),  # Thursday before the festival
        (d(2, 13), True),  # Friday
        (d(2, 24), True),  # Tuesday after the festival
        (d(2, 27), True),  # Friday
        (d(3, 1), False),  # an ordinary Sunday
        (d(3, 7), False),  # an ordinary Saturday
        (d(3, 9), True),  # an ordinary Monday
        (d(9, 19), False),  # Saturday before the make-up Sunday
        (d(9, 30), True),  # Wednesday before National Day
        (d(10, 8), True),  # Thursday after
        (d(10, 11), False),  # Sunday after the make-up Saturday
    ],
    ids=str,
)
def test_ordinary_days_around_the_holidays(day: date, worked: bool) -> None:
    assert CALENDAR.is_workday(day) is worked


def test_empty_calendar_works_monday_to_friday() -> None:
    plain = WorkCalendar()
    week = days(d(3, 9), d(3, 15))
    assert [plain.is_workday(day) for day in week] == [True] * 5 + [False] * 2


def test_next_workday_is_the_day_itself_when_worked() -> None:
    assert CALENDAR.next_workday(d(2, 14)) == d(2, 14)
    assert CALENDAR.next_workday(d(3, 9)) == d(3, 9)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (d(2, 15), d(2, 24)),
        (d(2, 21), d(2, 24)),
        (d(10, 1), d(10, 8)),
        (d(10, 4), d(10, 8)),
        (d(9, 19), d(9, 20)),
        (d(3, 7), d(3, 9)),
    ],
    ids=str,
)
def test_next_workday_skips_holidays_and_weekends(day: date, expected: date) -> None:
    assert CALENDAR.next_workday(day) == expected


# --- counting working days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Fri 13 (1), Sat 14 worked (2), 15-23 off, Tue 24 (3), Wed 25 (4), Thu 26 (5).
        (d(2, 12), 5, d(2, 26)),
        # Tue 24, Wed 25, Thu 26, Fri 27, Sat 28 worked.
        (d(2, 23), 5, d(2, 28)),
        (d(2, 13), 1, d(2, 14)),
        (d(2, 14), 1, d(2, 24)),
        # Wed 30 Sept (1), 1-7 Oct off, Thu 8 (2), Fri 9 (3), Sat 10 worked (4), Mon 12 (5).
        (d(9, 29), 5, d(10, 12)),
        # Sun 20 Sept worked (1), Mon 21 .. Thu 24 (2-5).
        (d(9, 18), 5, d(9, 24)),
        (d(3, 9), 0, d(3, 9)),
        (d(3, 8), 0, d(3, 8)),
    ],
    ids=str,
)
def test_add_workdays_across_the_holidays(start: date, count: int, expected: date) -> None:
    assert CALENDAR.add_workdays(start, count) == expected


def test_add_workdays_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_workdays(d(3, 9), -1)


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 10, 31)),
    count=st.integers(min_value=1, max_value=40),
)
def test_add_workdays_lands_on_a_workday_after_exactly_count_workdays(
    start: date, count: int
) -> None:
    result = CALENDAR.add_workdays(start, count)
    assert result > start
    assert CALENDAR.is_workday(result)
    between = days(start + timedelta(1), result)
    assert sum(CALENDAR.is_workday(day) for day in between) == count


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 10, 31)),
    first=st.integers(min_value=0, max_value=20),
    second=st.integers(min_value=0, max_value=20),
)
def test_add_workdays_composes(start: date, first: int, second: int) -> None:
    assert CALENDAR.add_workdays(CALENDAR.add_workdays(start, first), second) == (
        CALENDAR.add_workdays(start, first + second)
    )


# --- deadlines --------------------------------------------------------------------------------


def test_end_of_day_is_the_last_second_in_local_time() -> None:
    assert end_of_day(d(3, 9), SHANGHAI) == eod(2026, 3, 9)
    assert end_of_day(d(3, 9), SHANGHAI).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("received_at", "due"),
    [
        # a working Monday morning: the same day
        (local(2026, 3, 9, 9), eod(2026, 3, 9)),
        # 23:30 on a working day is still the same day
        (local(2026, 3, 9, 23, 30), eod(2026, 3, 9)),
        # a Sunday 110 call waits for Monday
        (local(2026, 3, 8, 15), eod(2026, 3, 9)),
        # the make-up Saturday is worked
        (local(2026, 2, 14, 11), eod(2026, 2, 14)),
        # the first Sunday of Spring Festival waits until Tuesday 24 February
        (local(2026, 2, 15, 11), eod(2026, 2, 24)),
        # National Day waits for Thursday 8 October
        (local(2026, 10, 2, 8), eod(2026, 10, 8)),
        # 17:00 UTC on Friday is 01:00 Saturday in Shanghai: Monday
        (datetime(2026, 3, 6, 17, 0, tzinfo=UTC), eod(2026, 3, 9)),
        # 16:30 UTC on Thursday is 00:30 Friday in Shanghai: Friday, not Thursday
        (datetime(2026, 3, 5, 16, 30, tzinfo=UTC), eod(2026, 3, 6)),
        # 15:30 UTC on Thursday is 23:30 Thursday in Shanghai
        (datetime(2026, 3, 5, 15, 30, tzinfo=UTC), eod(2026, 3, 5)),
    ],
    ids=lambda v: v.isoformat(),
)
def test_dispatch_is_due_at_the_end_of_the_registration_workday(
    received_at: datetime, due: datetime
) -> None:
    result = dispatch_due(received_at, CALENDAR, SHANGHAI)
    assert result == due
    assert result.tzinfo == SHANGHAI
    assert result.timetz().replace(tzinfo=None).isoformat() == "23:59:59"


@pytest.mark.parametrize(
    ("accepted_at", "due"),
    [
        (local(2026, 3, 9, 10), eod(2026, 3, 16)),
        # calendar days, even through Spring Festival
        (local(2026, 2, 12, 10), eod(2026, 2, 19)),
        # across the month end
        (local(2026, 2, 25, 23, 30), eod(2026, 3, 4)),
        # 20:00 UTC on 1 March is 04:00 on 2 March in Shanghai
        (datetime(2026, 3, 1, 20, 0, tzinfo=UTC), eod(2026, 3, 9)),
    ],
    ids=lambda v: v.isoformat(),
)
def test_commitment_is_due_seven_calendar_days_after_acceptance(
    accepted_at: datetime, due: datetime
) -> None:
    assert commitment_due(accepted_at, 7, SHANGHAI) == due


def test_commitment_days_are_configurable() -> None:
    assert commitment_due(local(2026, 3, 9), 3, SHANGHAI) == eod(2026, 3, 12)
    assert commitment_due(local(2026, 3, 9), 0, SHANGHAI) == eod(2026, 3, 9)


@pytest.mark.parametrize(
    ("confirmed_at", "due"),
    [
        # Wed 30 Sept, (1-7 Oct off), Thu 8, Fri 9, Sat 10 (worked), Mon 12
        (local(2026, 9, 29, 15), eod(2026, 10, 12)),
        # Mon 28 Sept .. Wed 30 Sept, Thu 8, Fri 9 October
        (local(2026, 9, 25, 9), eod(2026, 10, 9)),
        # confirmed during the holiday: Thu 8, Fri 9, Sat 10 (worked), Mon 12, Tue 13
        (local(2026, 10, 3, 10), eod(2026, 10, 13)),
        # an ordinary week
        (local(2026, 3, 9, 10), eod(2026, 3, 16)),
        # 17:00 UTC on 29 Sept is 01:00 on 30 Sept in Shanghai: one working day later
        (datetime(2026, 9, 29, 17, 0, tzinfo=UTC), eod(2026, 10, 13)),
    ],
    ids=lambda v: v.isoformat(),
)
def test_advance_falls_due_five_working_days_after_facts_are_confirmed(
    confirmed_at: datetime, due: datetime
) -> None:
    assert advance_due(confirmed_at, 5, CALENDAR, SHANGHAI) == due


# --- an administrator's overrides ---------------------------------------------------------------


def test_extra_holiday_makes_a_weekday_off() -> None:
    calendar = china_calendar([2026], extra_holidays=[d(3, 10)])
    assert not calendar.is_workday(d(3, 10))
    assert calendar.add_workdays(d(3, 9), 1) == d(3, 11)


def test_extra_workday_makes_a_sunday_worked() -> None:
    calendar = china_calendar([2026], extra_workdays=[d(3, 8)])
    assert calendar.is_workday(d(3, 8))
    assert dispatch_due(local(2026, 3, 8, 15), calendar, SHANGHAI) == eod(2026, 3, 8)


def test_extra_workday_wins_over_a_public_holiday() -> None:
    calendar = china_calendar([2026], extra_workdays=[d(10, 5)])
    assert calendar.is_workday(d(10, 5))
    assert not calendar.is_workday(d(10, 6))
    assert dispatch_due(local(2026, 10, 2), calendar, SHANGHAI) == eod(2026, 10, 5)


def test_extra_holiday_wins_over_a_make_up_workday() -> None:
    calendar = china_calendar([2026], extra_holidays=[d(2, 14)])
    assert not calendar.is_workday(d(2, 14))
    assert calendar.add_workdays(d(2, 13), 1) == d(2, 24)


def test_overrides_change_the_advance_deadline() -> None:
    # Declaring Friday 9 October off pushes the 5th working day from Mon 12 to Tue 13.
    calendar = china_calendar([2026], extra_holidays=[d(10, 9)])
    assert advance_due(local(2026, 9, 29), 5, calendar, SHANGHAI) == eod(2026, 10, 13)


def test_overrides_leave_other_days_alone() -> None:
    calendar = china_calendar([2026], extra_holidays=[d(3, 10)], extra_workdays=[d(3, 8)])
    plain = china_calendar([2026])
    for day in days(d(1, 1), d(12, 31)):
        if day not in {d(3, 10), d(3, 8)}:
            assert calendar.is_workday(day) == plain.is_workday(day), day
