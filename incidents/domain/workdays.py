"""The working-day clock on the Chinese calendar, with its make-up working days.

Pure: a `WorkCalendar` is built from sets of dates, and every function takes the moment it
works from as an argument. `china_calendar()` fills the sets from the `holidays` package
(public holidays and the weekend days that are worked instead); an administrator's
overrides are applied on top.

Deadlines are "end of day" in local time: the last second of the day, as an aware datetime.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are worked: weekdays, minus holidays, plus make-up working days."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """`day` itself if it is worked, otherwise the next worked day."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (`day` itself is not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        while count:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day


def china_calendar(
    years: Iterable[int],
    *,
    extra_holidays: Iterable[date] = (),
    extra_workdays: Iterable[date] = (),
) -> WorkCalendar:
    """The Chinese public calendar for `years`, with an administrator's overrides.

    An override wins over the package: a date in `extra_workdays` is worked even if the
    package calls it a holiday, and the other way round.
    """
    cn_holidays, cn_workdays = _public_calendar(tuple(sorted(set(years))))
    extra_holidays = frozenset(extra_holidays)
    extra_workdays = frozenset(extra_workdays)
    public = (cn_holidays | extra_holidays) - extra_workdays
    worked = (cn_workdays | extra_workdays) - extra_holidays
    return WorkCalendar(holidays=public, workdays=worked)


@lru_cache(maxsize=32)
def _public_calendar(years: tuple[int, ...]) -> tuple[frozenset[date], frozenset[date]]:
    """China's public holidays and make-up working days (computing them costs milliseconds,
    so each set of years is computed once per process)."""
    cn = holidays.country_holidays("CN", years=list(years))
    return frozenset(cn.keys()), frozenset(cn.weekend_workdays)


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


def dispatch_due(received_at: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """Dispatch is due the same day: the end of the registration day if it is worked,
    otherwise the end of the next working day (a 110 call on a Sunday waits for Monday)."""
    local_day = received_at.astimezone(tz).date()
    return end_of_day(calendar.next_workday(local_day), tz)


def commitment_due(accepted_at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The commitment letter promises handling within `days` calendar days."""
    local_day = accepted_at.astimezone(tz).date()
    return end_of_day(local_day + timedelta(days=days), tz)


def advance_due(
    confirmed_at: datetime, working_days: int, calendar: WorkCalendar, tz: ZoneInfo
) -> datetime:
    """Advance payment falls due at the end of the `working_days`-th working day after the
    joint meeting confirmed facts and amount."""
    local_day = confirmed_at.astimezone(tz).date()
    return end_of_day(calendar.add_workdays(local_day, working_days), tz)
