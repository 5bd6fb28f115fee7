"""Fixtures of the alert tests: an incident whose first pages went out (normal times and a
roster in force come from the shared `normal_time` and `on_duty`)."""

from __future__ import annotations

import pytest

from alerts.services import outbox_send
from incidents.models import Incident
from tests.live.helpers import incident_open


@pytest.fixture
def incident(on_duty: None) -> Incident:
    """A level III gathering in Lianshi: alerts to four departments and the town, sent."""
    opened = incident_open("command")
    assert outbox_send() == 5
    return opened
