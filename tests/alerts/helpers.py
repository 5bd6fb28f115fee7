"""Shared set-up for the alert tests: a roster in force, times in the hub's zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from alerts.demo import load_duty
from alerts.models import Alert, SmsMessage
from alerts.services import alert_settings
from incidents.models import District


def local(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """Today (or `days` from today) at hour:minute in the hub's time zone, aware."""
    tz = ZoneInfo(settings.TIME_ZONE)
    day = timezone.localdate() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def put_on_duty(district: District, *, builtin_periods: bool = False) -> None:
    """Demo officers on duty in every unit; built-in sensitive periods off unless asked, so
    a test does not depend on the day it runs."""
    load_duty(district, today=timezone.localdate())
    row = alert_settings(district.pk)
    row.builtin_periods = builtin_periods
    row.save()


def alerts_of(incident_id: int) -> dict[str, Alert]:
    """The incident's alerts by unit code."""
    return {
        a.unit.code: a for a in Alert.objects.filter(incident_id=incident_id).select_related("unit")
    }


def messages_of(alert: Alert) -> list[SmsMessage]:
    return list(SmsMessage.objects.filter(alert=alert).select_related("officer").order_by("pk"))


def use_fake_twilio(settings: Any, fake: Any, *, number: str) -> None:
    """Point the Twilio backend at a loopback fake provider (`tests.fakes.twilio_server`)."""
    settings.SMS_BACKEND = "twilio"
    settings.SMS_RATE_PER_SECOND = 0  # no spacing between sends: the fake has no limit
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_FROM = number
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_BASE_URL = fake.base_url
    settings.TWILIO_TIMEOUT_SECONDS = 5.0
