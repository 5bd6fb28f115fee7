"""Helpers every service shares: the local time zone and a district's working calendar."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from incidents.domain import workdays
from incidents.errors import Invalid
from incidents.models import CalendarOverride

ADVANCE_PENALTY_POINTS = Decimal("2")


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def require_reason(reason: str) -> None:
    """Refuse (`Invalid`) a blank reason."""
    if not reason.strip():
        raise Invalid(
            _("A reason is required."),
            [{"field": "reason", "message": _("This field is required.")}],
        )


def district_calendar(district_id: int, years: set[int]) -> workdays.WorkCalendar:
    """The working calendar of a district: the public calendar and its overrides."""
    overrides = CalendarOverride.objects.filter(district_id=district_id, day__year__in=years)
    return workdays.china_calendar(
        years,
        extra_holidays=[o.day for o in overrides if not o.is_workday],
        extra_workdays=[o.day for o in overrides if o.is_workday],
    )
