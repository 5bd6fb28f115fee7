"""The live sockets through the real ASGI application (in-memory channel layer).

Who may connect (session with this site's Origin, or a one-time ticket), what each person's
dashboard and rooms carry, resume with no gap and no duplicate, recovery from a frame the
layer lost, bad frames, chat, acknowledgement, presence, and closing on logout or a role
change.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import user_logged_out
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from command_center.asgi import application
from incidents import services
from incidents.domain.lifecycle import Action
from incidents.live import CLOSE_FORBIDDEN, CLOSE_REVOKED, CLOSE_UNAUTHENTICATED
from incidents.models import Event, EventRelay, Incident
from incidents.policy import actor_for
from tests.live.helpers import incident_open, register_case

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://testserver"


def session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(
    path: str,
    *,
    user: str | None = None,
    ticket: str | None = None,
    origin: str | None = SITE,
    resume: bool = True,
) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """Open a socket; returns it and its first frame (hello, or the refusal's error).

    With `resume`, it says it has seen everything up to `hello`'s head, so that live frames
    flow at once (the server holds them briefly for a reconnecting client's `resume`)."""
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    if ticket is not None:
        path = f"{path}?ticket={ticket}"
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    first = await ws.receive_json_from(timeout=5)
    if resume and first.get("type") == "hello":
        await ws.send_json_to({"type": "resume", "after": first["head"]})
    return ws, first


async def closed_with(ws: WebsocketCommunicator) -> int:
    message = await ws.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return int(message.get("code", 1000))


async def frames(ws: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await ws.receive_json_from(timeout=5) for _ in range(count)]


async def silent(ws: WebsocketCommunicator) -> bool:
    return await ws.receive_nothing(timeout=0.3)


def in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run a service as the consumers do: in a worker thread with its own connection."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return database_sync_to_async(call)


# --- who may connect ---------------------------------------------------------------------


async def test_anonymous_socket_is_refused(district: Any) -> None:
    ws, first = await connect("/ws/dashboard/")
    assert first["type"] == "error"
    assert first["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_UNAUTHENTICATED


async def test_session_needs_this_sites_origin(district: Any) -> None:
    ws, first = await connect("/ws/dashboard/", user="command", origin=None)
    assert first["type"] == "error"
    assert await closed_with(ws) == CLOSE_FORBIDDEN

    ws, first = await connect("/ws/dashboard/", user="command", origin="http://evil.example")
    assert first["type"] == "error"
    assert await closed_with(ws) == CLOSE_FORBIDDEN

    ws, first = await connect("/ws/dashboard/", user="command")
    assert first["type"] == "hello"
    assert first["stream"] == f"district.{district.pk}"
    assert first["user"] == "command"
    await ws.disconnect()


async def test_ticket_opens_one_socket_once(district: Any) -> None:
    user = await sync_to_async(User.objects.get)(username="command")
    ticket, _expires = await in_thread(services.ws_ticket_issue)(user_id=user.pk)

    ws, first = await connect("/ws/dashboard/", ticket=ticket, origin=None)
    assert first["type"] == "hello"
    await ws.disconnect()

    ws, first = await connect("/ws/dashboard/", ticket=ticket, origin=None)
    assert first["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_UNAUTHENTICATED

    ws, first = await connect("/ws/dashboard/", ticket="not-a-ticket", origin=None)
    assert await closed_with(ws) == CLOSE_UNAUTHENTICATED


async def test_ticket_with_a_foreign_origin_is_refused(district: Any) -> None:
    user = await sync_to_async(User.objects.get)(username="command")
    ticket, _expires = await in_thread(services.ws_ticket_issue)(user_id=user.pk)
    ws, first = await connect("/ws/dashboard/", ticket=ticket, origin="http://evil.example")
    assert first["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_FORBIDDEN


async def test_ws_ticket_endpoint_issues_for_a_token_holder(district: Any) -> None:
    client = await sync_to_async(Client)()
    await sync_to_async(client.force_login)(
        await sync_to_async(User.objects.get)(username="gateway_110")
    )
    response = await sync_to_async(client.post)(
        "/api/v1/ws-ticket", content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["dashboard"].startswith("/ws/dashboard/?ticket=")
    # The 110 gateway has no dashboard: the ticket authenticates, the stream refuses.
    ws, first = await connect("/ws/dashboard/", ticket=body["ticket"], origin=None)
    assert first["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_FORBIDDEN


@pytest.mark.parametrize(
    ("username", "stream_of"),
    [
        ("command", "district"),
        ("reviewer", "district"),
        ("inspector", "district"),
        ("liaison_housing", "unit"),
        ("clerk_lianshi", None),
        ("gateway_110", None),
    ],
)
async def test_each_role_gets_its_dashboard_stream(
    district: Any, username: str, stream_of: str | None
) -> None:
    ws, first = await connect("/ws/dashboard/", user=username)
    if stream_of is None:
        assert first["code"] == "forbidden"
        assert await closed_with(ws) == CLOSE_FORBIDDEN
        return
    assert first["type"] == "hello"
    assert first["stream"].startswith(f"{stream_of}.")
    await ws.disconnect()


async def test_room_refuses_who_may_not_see_the_incident(district: Any) -> None:
    incident = await in_thread(incident_open)("command", town="shuanglin")
    ws, first = await connect(f"/ws/incidents/{incident.pk}/", user="liaison_lianshi")
    assert first["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_FORBIDDEN
    ws, first = await connect("/ws/incidents/999999/", user="command")
    assert await closed_with(ws) == CLOSE_FORBIDDEN
    # The town's liaison and the police (a responder) see it.
    for username in ("liaison_police", "command", "reviewer"):
        ws, first = await connect(f"/ws/incidents/{incident.pk}/", user=username)
        assert first["type"] == "hello", username
        await ws.disconnect()


# --- the stream ----------------------------------------------------------------------------


async def test_dashboard_gets_a_case_registered_after_connecting(district: Any) -> None:
    ws, hello = await connect("/ws/dashboard/", user="command")
    case = await in_thread(register_case)()
    registered, dispatched = await frames(ws, 2)
    assert [registered["kind"], dispatched["kind"]] == ["case.registered", "case.dispatched"]
    assert registered["data"]["case_number"] == case.number
    assert hello["head"] < registered["id"] < dispatched["id"]
    assert await silent(ws)
    await ws.disconnect()


async def test_unit_dashboard_carries_only_its_units_cases(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="liaison_housing")
    await in_thread(register_case)(project_type="transport")  # the transport bureau's
    assert await silent(ws)
    case = await in_thread(register_case)(project_type="real_estate")  # housing's
    # Registered before it had a unit, the case reaches the unit when dispatched to it.
    (dispatched,) = await frames(ws, 1)
    assert dispatched["kind"] == "case.dispatched"
    assert dispatched["data"]["case_number"] == case.number
    assert await silent(ws)
    await ws.disconnect()


async def test_resume_replays_what_was_missed_in_order_without_duplicates(district: Any) -> None:
    ws, _hello = await connect("/ws/dashboard/", user="command")
    for _ in range(3):
        await in_thread(register_case)()
    live = await frames(ws, 6)
    await ws.disconnect()
    seen = live[1]["id"]

    # Offline: three more cases.
    for _ in range(3):
        await in_thread(register_case)()

    ws, _ = await connect("/ws/dashboard/", user="command", resume=False)
    await ws.send_json_to({"type": "resume", "after": seen})
    replayed = await frames(ws, 10)
    ids = [f["id"] for f in replayed]
    expected = await sync_to_async(
        lambda: list(
            Event.objects.filter(district=district, id__gt=seen)
            .order_by("id")
            .values_list("id", flat=True)
        )
    )()
    assert ids == expected
    assert ids == sorted(set(ids))
    # Then live, with nothing sent twice.
    await in_thread(register_case)()
    more = await frames(ws, 2)
    assert more[0]["id"] > ids[-1]
    assert await silent(ws)
    await ws.disconnect()


async def test_live_frames_never_overtake_the_replay_of_a_resume(district: Any) -> None:
    """A page rendered at id A reconnects: events made before and just after `hello` all
    arrive, once, in order, whichever the server learns of first."""
    before = await in_thread(register_case)()  # made after the page was rendered
    rendered_at = await sync_to_async(
        lambda: Event.objects.filter(case=before).order_by("id").first().pk - 1
    )()
    ws, hello = await connect("/ws/dashboard/", user="command", resume=False)
    just_after = await in_thread(register_case)()  # live, before the client's resume
    await ws.send_json_to({"type": "resume", "after": rendered_at})
    got = await frames(ws, 4)
    assert [f["data"]["case_number"] for f in got] == [before.number] * 2 + [just_after.number] * 2
    ids = [f["id"] for f in got]
    assert ids == sorted(set(ids))
    assert hello["head"] < ids[2]
    assert await silent(ws)
    await ws.disconnect()


async def test_a_client_that_never_resumes_still_gets_live_frames(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command", resume=False)
    case = await in_thread(register_case)()
    got = await frames(ws, 2)  # after the grace period
    assert {f["data"]["case_number"] for f in got} == {case.number}
    await ws.disconnect()


async def test_a_frame_lost_by_the_layer_is_replayed_from_the_log(district: Any) -> None:
    ws, _hello = await connect("/ws/dashboard/", user="command")
    await ws.send_json_to({"type": "ping"})  # answered once the resume is done
    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    # A first case's frames never reach the layer (as if Redis dropped them) ...
    with mock.patch("incidents.events.events_relay", return_value=0):
        lost = await in_thread(register_case)()
    last_lost = await sync_to_async(lambda: Event.objects.order_by("-id").first().pk)()
    await sync_to_async(
        lambda: EventRelay.objects.update_or_create(
            district=district, defaults={"published_id": last_lost}
        )
    )()
    assert await silent(ws)
    # ... the next frame names a predecessor the client has not seen: the consumer replays.
    after = await in_thread(register_case)()
    got = await frames(ws, 4)
    assert [f["data"]["case_number"] for f in got] == [lost.number] * 2 + [after.number] * 2
    assert [f["id"] for f in got] == sorted(f["id"] for f in got)
    assert await silent(ws)
    await ws.disconnect()


async def test_a_frame_relayed_twice_is_sent_once(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    await in_thread(register_case)()
    first = await frames(ws, 2)
    # A relay that failed after sending rewinds its cursor and sends again.
    await sync_to_async(
        lambda: EventRelay.objects.filter(district=district).update(published_id=0)
    )()
    relayed = await in_thread(
        lambda: __import__("incidents.events").events.events_relay(district.pk)
    )()
    assert relayed >= 2
    assert await silent(ws)
    assert first[0]["id"] < first[1]["id"]
    await ws.disconnect()


# --- bad frames ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "dance"}',
        '{"type": "resume", "after": -1}',
        '{"type": "resume", "after": "12"}',
        '{"type": "resume", "after": true}',
        '{"type": "chat", "text": "x"}',  # the dashboard has no chat
        json.dumps({"type": "ping", "pad": "x" * 20000}),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_lives_on(district: Any, text: str) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    await ws.send_to(text_data=text)
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error", error
    assert error["code"] == "bad_frame", error
    await ws.send_json_to({"type": "ping", "ref": 7})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong", "ref": 7}
    await ws.disconnect()


async def test_binary_frames_are_refused(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    await ws.send_to(bytes_data=b"\x00\x01")
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "bad_frame"
    await ws.disconnect()


async def test_a_flood_is_told_to_slow_down(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    for _ in range(30):
        await ws.send_json_to({"type": "ping"})
    answers = await frames(ws, 30)
    assert any(a.get("code") == "slow_down" for a in answers)
    await ws.disconnect()


# --- rooms -------------------------------------------------------------------------------------


async def test_chat_reaches_everyone_in_the_room_and_is_stored(district: Any) -> None:
    incident = await in_thread(incident_open)("command", town="lianshi")
    path = f"/ws/incidents/{incident.pk}/"
    a, _ = await connect(path, user="command")
    await frames(a, 1)  # presence: command
    b, _ = await connect(path, user="liaison_police")
    presence_a, presence_b = (await frames(a, 1))[0], (await frames(b, 1))[0]
    assert presence_a == presence_b
    assert {m["user"] for m in presence_a["members"]} == {"command", "liaison_police"}

    await b.send_json_to({"type": "chat", "text": "  警力已到现场  "})
    (got_a,), (got_b,) = await frames(a, 1), await frames(b, 1)
    assert got_a == got_b
    assert got_a["kind"] == "incident.chat"
    assert got_a["data"]["text"] == "警力已到现场"
    assert got_a["actor"] == "liaison_police"
    assert await sync_to_async(
        Event.objects.filter(pk=got_a["id"], incident_id=incident.pk).exists
    )()

    await b.disconnect()
    (left,) = await frames(a, 1)
    assert [m["user"] for m in left["members"]] == ["command"]
    await a.disconnect()


async def test_acknowledgement_is_an_event_naming_the_unit(district: Any) -> None:
    incident = await in_thread(incident_open)("command", town="lianshi")
    ws, _ = await connect(f"/ws/incidents/{incident.pk}/", user="liaison_hrss")
    await frames(ws, 1)  # presence
    await ws.send_json_to({"type": "ack", "note": "核查工资名册"})
    (ack,) = await frames(ws, 1)
    assert ack["kind"] == "incident.acknowledged"
    assert ack["data"]["note"] == "核查工资名册"
    hrss = await sync_to_async(
        lambda: User.objects.get(username="liaison_hrss").membership.unit_id
    )()
    assert ack["data"]["acting_unit_id"] == hrss
    await ws.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "chat", "text": ""}, "invalid"),
        ({"type": "chat", "text": 12}, "invalid"),
        ({"type": "chat", "text": "x" * 2001}, "invalid"),
        ({"type": "ack", "note": ["x"]}, "invalid"),
    ],
)
async def test_bad_room_actions_change_nothing(
    district: Any, frame: dict[str, Any], code: str
) -> None:
    incident = await in_thread(incident_open)("command", town="lianshi")
    ws, _ = await connect(f"/ws/incidents/{incident.pk}/", user="command")
    await frames(ws, 1)
    before = await sync_to_async(Event.objects.count)()
    await ws.send_json_to({**frame, "ref": "r1"})
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["ref"] == "r1"
    assert await sync_to_async(Event.objects.count)() == before
    await ws.disconnect()


async def test_reviewer_reads_the_room_but_may_not_speak(district: Any) -> None:
    incident = await in_thread(incident_open)("command", town="lianshi")
    ws, _ = await connect(f"/ws/incidents/{incident.pk}/", user="reviewer")
    await frames(ws, 1)
    await ws.send_json_to({"type": "chat", "text": "hello"})
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "forbidden"
    assert not await sync_to_async(Event.objects.filter(kind="incident.chat").exists)()
    await ws.disconnect()


async def test_room_carries_status_changes_and_linked_case_updates(district: Any) -> None:
    case = await in_thread(register_case)(workers=40)
    incident = await in_thread(incident_open)("command", town="lianshi", cases=[case.number])
    ws, _hello = await connect(f"/ws/incidents/{incident.pk}/", user="command", resume=False)
    await frames(ws, 1)
    await ws.send_json_to({"type": "resume", "after": 0})
    # The report, then the SMS alerts it raised for each unit taking part.
    opened = await sync_to_async(
        Event.objects.filter(entries__stream=f"incident.{incident.pk}").count
    )()
    reported, *alerts = await frames(ws, opened)
    assert reported["kind"] == "incident.reported"
    assert reported["data"]["case_numbers"] == [case.number]
    assert alerts
    assert all(a["kind"].startswith("alert.") for a in alerts)

    command = await sync_to_async(lambda: actor_for(User.objects.get(username="command")))()
    await in_thread(services.incident_transition)(
        actor=command, incident_id=incident.pk, change=services.IncidentChange(action="activate")
    )
    await in_thread(services.case_transition)(
        actor=command,
        case_number=case.number,
        change=services.TransitionInput(action=Action.ACCEPT),
    )
    activated, accepted = await frames(ws, 2)
    assert activated["kind"] == "incident.activate"
    assert activated["after"] == "active"
    assert accepted["kind"] == "case.accept"
    assert accepted["data"]["case_number"] == case.number
    await ws.disconnect()


# --- access that changes while the socket is open ---------------------------------------


async def test_logout_closes_the_persons_sockets(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    user = await sync_to_async(User.objects.get)(username="command")
    await in_thread(user_logged_out.send)(sender=User, request=None, user=user)
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "revoked"
    assert await closed_with(ws) == CLOSE_REVOKED


async def test_a_role_change_closes_the_socket(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="reviewer", resume=False)

    def demote() -> None:
        User.objects.get(username="reviewer").groups.set([Group.objects.get(name="clerk")])

    await in_thread(demote)()
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "revoked"
    assert await closed_with(ws) == CLOSE_REVOKED


async def test_every_action_is_authorized_again(district: Any) -> None:
    incident = await in_thread(incident_open)("command", town="lianshi")
    ws, _ = await connect(f"/ws/incidents/{incident.pk}/", user="liaison_police")
    await frames(ws, 1)

    def leave_incident() -> None:
        police = User.objects.get(username="liaison_police").membership.unit_id
        Incident.objects.get(pk=incident.pk).units.remove(police)

    # No signal for this change: the next action finds it.
    await in_thread(leave_incident)()
    await ws.send_json_to({"type": "chat", "text": "still here?"})
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_FORBIDDEN
    assert not await sync_to_async(Event.objects.filter(kind="incident.chat").exists)()


async def test_an_ended_session_is_noticed_on_the_next_action(district: Any) -> None:
    ws, _ = await connect("/ws/dashboard/", user="command")
    from django.contrib.sessions.models import Session

    with mock.patch("incidents.signals.sockets_revoke"):
        await sync_to_async(Session.objects.all().delete)()
    await ws.send_json_to({"type": "resume", "after": 0})
    error = await ws.receive_json_from(timeout=5)
    assert error["code"] == "forbidden"
    assert await closed_with(ws) == CLOSE_UNAUTHENTICATED


async def test_sockets_do_not_block_each_other(district: Any) -> None:
    sockets = [(await connect("/ws/dashboard/", user="command"))[0] for _ in range(5)]
    await sockets[0].send_to(text_data="garbage")
    await in_thread(register_case)()
    for ws in sockets[1:]:
        got = await frames(ws, 2)
        assert got[0]["kind"] == "case.registered"
    await asyncio.gather(*(ws.disconnect() for ws in sockets))
