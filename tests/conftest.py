"""Shared fixtures: the demo district's reference data and its people as personas.

Personas (as in healthchecks' Alice, Bob and Charlie): `command` sees everything,
`liaison_housing` acts for the housing bureau, `liaison_lianshi` for Lianshi town, and so on.
`api_client(username)` returns a Django test client logged in as that person.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from alerts.backends import locmem
from alerts.demo import load_duty
from alerts.services import alert_settings
from incidents import demo
from incidents.models import District
from incidents.policy import Actor, actor_for

# The hub's public address in tests: SMS links and webhook signatures use it.
PUBLIC = "https://hub.example.gov.cn"


@pytest.fixture
def district(db: None) -> District:
    return demo.load_reference()


@pytest.fixture
def normal_time(settings: Any, district: District) -> Iterator[None]:
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
    """Demo officers on duty in every unit (and command's own officer)."""
    load_duty(district, today=timezone.localdate())


@pytest.fixture
def actor(district: District) -> Callable[[str], Actor]:
    def make(username: str) -> Actor:
        return actor_for(User.objects.get(username=username))

    return make


@pytest.fixture
def api_client(district: District) -> Callable[[str], Client]:
    def make(username: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    return make


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def redis_or_skip(url: str) -> None:
    """Skip the test when no Redis answers at `url`; under CI=true, fail instead."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        message = f"Redis is not reachable at {url} ({exc}); set REDIS_URL or start Redis"
        if in_ci():
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """The demo people's passwords are hashed per test; PBKDF2 would cost seconds each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def sms_in_memory(settings: Any) -> Any:
    """SMS go to the in-memory backend (`alerts.backends.locmem.outbox`), at no set pace."""
    from alerts.backends import locmem

    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_PER_SECOND = 0
    locmem.reset()
    yield locmem
    locmem.reset()
