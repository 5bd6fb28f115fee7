"""Fixtures shared by the incidents tests."""

from __future__ import annotations

import pytest

from incidents.models import District, Event
from tests.live.helpers import register_case


@pytest.fixture
def logged(district: District) -> list[Event]:
    """Three cases registered: the district's events, in id order (a chain to check)."""
    for _ in range(3):
        register_case()
    return list(Event.objects.filter(district=district).order_by("id"))
