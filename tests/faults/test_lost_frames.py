"""Frames the channel layer lost, with no later frame to show the gap, still reach a socket.

The fault: the relay publishes a district's backlog the moment Redis is back, but a server
process whose pub/sub subscription comes back a moment later never gets it, and pub/sub
keeps nothing. A socket notices a lost frame when the next one names a predecessor it was
not sent; when no next frame comes (a quiet night), only the socket's periodic catch-up
(`WS_CATCH_UP_SECONDS`) finds the gap, by comparing its stream's head in the log with what
it was sent.

Here the relay is kept from publishing two events (as if published to nobody), its cursor
moved past them as a successful relay leaves it, and nothing else happens: the open socket
gets both events from the log, in order, once. `test_redis_down` shows the same with a real
Redis cut under a real server.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from command_center.asgi import application
from incidents.models import Event, EventRelay
from tests.live.helpers import register_case

pytestmark = pytest.mark.django_db(transaction=True)

CATCH_UP_SECONDS = 1


def session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_events_the_layer_lost_reach_an_idle_socket_by_its_catch_up(
    district: Any, settings: Any
) -> None:
    settings.WS_CATCH_UP_SECONDS = CATCH_UP_SECONDS
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", await sync_to_async(session_cookie)("command")),
    ]
    ws = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    await ws.send_json_to({"type": "resume", "after": hello["head"]})
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"

    with mock.patch("incidents.events.events_relay", return_value=0):
        lost = await database_sync_to_async(register_case)()
    ids = await sync_to_async(
        lambda: list(
            Event.objects.filter(data__case_number=lost.number)
            .order_by("id")
            .values_list("id", flat=True)
        )
    )()
    await sync_to_async(
        lambda: EventRelay.objects.update_or_create(
            district=district, defaults={"published_id": ids[-1]}
        )
    )()
    assert len(ids) >= 2
    got = [await ws.receive_json_from(timeout=CATCH_UP_SECONDS * 5) for _ in ids]
    assert [f["id"] for f in got] == ids
    assert {f["data"]["case_number"] for f in got} == {lost.number}
    # Once each: the next rounds of the catch-up send nothing more.
    await asyncio.sleep(CATCH_UP_SECONDS * 2.5)
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()
