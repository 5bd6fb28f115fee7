"""What the alert services share: the district's settings, sensitive periods, local days."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db import transaction

from alerts.domain.duty import Period, active_period, builtin_periods
from alerts.models import AlertSettings, SensitivePeriod
from incidents.models import Unit

# The four departments of the contingency plan that are paged for every incident and work
# co-located in sensitive periods (人社、住建、公安、信访).
FOUR_DEPARTMENTS = ("hrss", "housing", "police", "petition")


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(now: datetime) -> date:
    return now.astimezone(local_tz()).date()


def alert_settings(district_id: int) -> AlertSettings:
    """The district's alert settings, made with the plan's defaults on first use."""
    found = AlertSettings.objects.filter(district_id=district_id).first()
    if found is not None:
        return found
    with transaction.atomic():
        found, created = AlertSettings.objects.get_or_create(district_id=district_id)
        if created:
            units = Unit.objects.filter(district_id=district_id, active=True)
            found.paged_units.set(units.filter(code__in=FOUR_DEPARTMENTS))
            found.zero_report_units.set(
                units.filter(kind=Unit.Kind.TERRITORIAL) | units.filter(code__in=FOUR_DEPARTMENTS)
            )
    return found


@lru_cache(maxsize=64)
def lunar_new_year(year: int) -> date:
    """The first day of the Spring Festival (春节) in `year`, from the public calendar."""
    calendar = holidays.country_holidays("CN", years=year, language="en_US")
    return min(d for d, name in calendar.items() if name.startswith("Chinese New Year (Spring"))


def periods(district_id: int, day: date, *, builtin: bool) -> list[Period]:
    """The sensitive periods that could cover `day`: built-in ones and the district's own."""
    found = [
        Period(p.name, p.starts_on, p.ends_on)
        for p in SensitivePeriod.objects.filter(
            district_id=district_id, starts_on__lte=day, ends_on__gte=day
        )
    ]
    if builtin:
        for year in (day.year, day.year + 1):
            found.extend(builtin_periods(year, lunar_new_year(year)))
    return found


def sensitive_period(district_id: int, day: date) -> Period | None:
    """The sensitive period in force on `day` in the district, if any."""
    builtin = alert_settings(district_id).builtin_periods
    return active_period(day, periods(district_id, day, builtin=builtin))


def public_link(path: str) -> str:
    """An absolute link for an SMS, on the address the hub is reached at."""
    return f"{settings.PUBLIC_BASE_URL}{path}"
