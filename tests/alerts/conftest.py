"""Fixtures of the alert tests: normal times (no sensitive period whatever the day), a
roster in force, and an incident whose first pages went out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from pytest_django import Settings

from alerts.backends import locmem
from alerts.demo import load_duty
from alerts.services import alert_settings, outbox_send
from incidents.models import District, Incident
from tests.live.helpers import incident_open

PUBLIC = "https://hub.example.gov.cn"


@pytest.fixture
def normal_time(settings: Settings, district: District) -> Iterator[None]:
    """No sensitive period whatever day the tests run; SMS kept in memory."""
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_PER_SECOND = 0
    locmem.reset()
    row = alert_settings(district.pk)
    row.builtin_periods = False
    row.save()
    yield
    locmem.reset()


@pytest.fixture
def on_duty(normal_time: None, district: District) -> None:
    """Demo officers on duty in every unit."""
    load_duty(district, today=timezone.localdate())


@pytest.fixture
def incident(on_duty: None) -> Incident:
    """A level III gathering in Lianshi: alerts to four departments and the town, sent."""
    opened = incident_open("command")
    assert outbox_send() == 5
    return opened
