"""Events reach the Redis channel layer after commit (production mode).

Needs the Redis server named by REDIS_URL (default redis://127.0.0.1:6379/0). Without one
the test is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings

from incidents.models import Case
from incidents.policy import actor_for
from incidents.services import Intake, ProjectInput, case_register
from tests.conftest import redis_or_skip
from tests.factories import credit_code

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_layer() -> Any:
    redis_or_skip(REDIS_URL)
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:12]}"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        yield get_channel_layer()


def _register(code: str) -> Case:
    """Register a complaint (run in a worker thread, which closes its connection after)."""
    try:
        return _register_in_thread(code)
    finally:
        connection.close()


def _register_in_thread(code: str) -> Case:
    actor = actor_for(User.objects.get(username="clerk_lianshi"))
    return case_register(
        actor=actor,
        intake=Intake(
            channel="window",
            window="lianshi",
            complainant_name="王建国",
            complainant_phone="13812345678",
            workers_count=3,
            amount_owed=Decimal("9000.00"),
            employer_name="湖州宏达建筑劳务有限公司",
            employer_credit_code=code,
            town="lianshi",
            project=ProjectInput("练市新城", "real_estate"),  # type: ignore[arg-type]
        ),
    ).case


async def _receive(layer: Any, channel: str, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(layer.receive(channel), timeout=10) for _ in range(count)]


async def test_registered_case_is_published_to_its_district_group(
    district: Any, redis_layer: Any
) -> None:
    assert type(redis_layer).__module__.startswith("channels_redis")
    channel = await redis_layer.new_channel()
    await redis_layer.group_add(f"district.{district.pk}", channel)
    try:
        # Registering runs in a worker thread; its on-commit publish reaches this loop.
        case = await sync_to_async(_register)(credit_code())

        messages = await _receive(redis_layer, channel, 2)
    finally:
        await redis_layer.group_discard(f"district.{district.pk}", channel)
        await redis_layer.flush()

    assert [m["type"] for m in messages] == ["hub.event", "hub.event"]
    frames = [m["event"] for m in messages]
    assert [f["kind"] for f in frames] == ["case.registered", "case.dispatched"]
    assert {f["data"]["case_number"] for f in frames} == {case.number}
    assert all(f["type"] == "event" for f in frames)
    assert frames[0]["id"] < frames[1]["id"]
    assert frames[0]["at"].endswith("+08:00")
    assert frames[1]["actor"] == "clerk_lianshi"
