"""Checklist steps moved over the incident room's socket (the real ASGI application, the
in-memory channel layer): the move reaches everyone in the room as an event frame; a bad or
refused move gets an error frame naming why, echoing the client's `ref`, changes nothing and
leaves the socket open.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from command_center.asgi import application
from incidents.models import Event, Incident
from playbooks.models import ChecklistStep
from tests.live.helpers import incident_open
from tests.playbooks.conftest import Transition

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://testserver"


def session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def frames(ws: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await ws.receive_json_from(timeout=5) for _ in range(count)]


async def silent(ws: WebsocketCommunicator) -> bool:
    return await ws.receive_nothing(timeout=0.3)


async def connect(path: str, user: str) -> WebsocketCommunicator:
    """A socket with the person's session and this site's Origin, resumed at `hello`'s head
    so live frames flow at once; the presence frame its own arrival caused is read."""
    headers = [
        (b"host", b"testserver"),
        (b"origin", SITE.encode()),
        (b"cookie", await sync_to_async(session_cookie)(user)),
    ]
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    await ws.send_json_to({"type": "resume", "after": hello["head"]})
    (presence,) = await frames(ws, 1)
    assert presence["type"] == "presence"
    return ws


def room(incident: Incident) -> str:
    return f"/ws/incidents/{incident.pk}/"


async def step_of(incident: Incident, key: str) -> ChecklistStep:
    return await sync_to_async(ChecklistStep.objects.get)(checklist__incident=incident, key=key)


async def state_of(step: ChecklistStep) -> tuple[str, int, int]:
    """The step's state and revision, and how many events there are."""

    def read() -> tuple[str, int, int]:
        row = ChecklistStep.objects.get(pk=step.pk)
        return row.state, row.revision, Event.objects.count()

    return await sync_to_async(read)()


async def still_open(ws: WebsocketCommunicator) -> None:
    await ws.send_json_to({"type": "ping", "ref": "alive"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong", "ref": "alive"}


async def test_a_move_reaches_everyone_in_the_room(active_incident: Incident) -> None:
    police = await step_of(active_incident, "police_order")
    watcher = await connect(room(active_incident), "command")
    mover = await connect(room(active_incident), "liaison_police")
    await frames(watcher, 1)  # presence: the liaison joined

    await mover.send_json_to(
        {
            "type": "step",
            "step_id": police.pk,
            "state": "in_progress",
            "note": "民警已到场",
            "expected_revision": 0,
            "ref": "m1",
        }
    )
    (seen,) = await frames(watcher, 1)
    (echo,) = await frames(mover, 1)
    assert seen == echo
    assert seen["type"] == "event"
    assert seen["kind"] == "checklist.step_moved"
    assert seen["actor"] == "liaison_police"
    assert (seen["before"], seen["after"]) == ("open", "in_progress")
    assert seen["data"]["step_id"] == police.pk
    assert seen["data"]["state"] == "in_progress"
    assert seen["data"]["note"] == "民警已到场"
    assert seen["data"]["progress"] == {"done": 0, "total": 7}
    assert seen["data"]["incident_id"] == active_incident.pk
    state, revision, _events = await state_of(police)
    assert (state, revision) == ("in_progress", 1)
    stored = await sync_to_async(Event.objects.get)(pk=seen["id"])
    assert stored.kind == "checklist.step_moved"
    assert await silent(watcher)
    await mover.disconnect()
    await watcher.disconnect()


@pytest.mark.parametrize("step_id", ["12", 1.5, None, True, [1]])
async def test_a_step_id_that_is_no_integer_is_a_bad_frame(
    active_incident: Incident, step_id: Any
) -> None:
    ws = await connect(room(active_incident), "command")
    police = await step_of(active_incident, "police_order")
    before = await state_of(police)
    await ws.send_json_to({"type": "step", "step_id": step_id, "state": "done", "ref": 9})
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "bad_frame"
    assert error["ref"] == 9
    assert await state_of(police) == before
    await still_open(ws)
    await ws.disconnect()


async def test_a_forbidden_move_says_so_and_echoes_the_ref(active_incident: Incident) -> None:
    police = await step_of(active_incident, "police_order")
    ws = await connect(room(active_incident), "liaison_lianshi")
    before = await state_of(police)
    await ws.send_json_to(
        {"type": "step", "step_id": police.pk, "state": "done", "ref": "move-police-1"}
    )
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "forbidden"
    assert error["ref"] == "move-police-1"
    assert await state_of(police) == before
    await still_open(ws)
    await ws.disconnect()


async def test_a_skip_without_a_reason_is_invalid_naming_the_note(
    active_incident: Incident,
) -> None:
    petition = await step_of(active_incident, "representatives")
    ws = await connect(room(active_incident), "liaison_petition")
    before = await state_of(petition)
    await ws.send_json_to(
        {"type": "step", "step_id": petition.pk, "state": "skipped", "note": " ", "ref": "s1"}
    )
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["code"] == "invalid"
    assert error["ref"] == "s1"
    assert [e["field"] for e in error["errors"]] == ["note"]
    assert await state_of(petition) == before
    await still_open(ws)
    await ws.disconnect()


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"state": "finished"}, "invalid", "state"),
        ({"state": 3}, "invalid", "state"),
        ({"state": "done", "number": -5}, "invalid", "number"),
        ({"state": "done", "number": "1.234"}, "invalid", "number"),
        ({"state": "done", "note": ["x"]}, "invalid", "note"),
        ({"state": "done", "expected_revision": 4}, "conflict", None),
        ({"state": "open"}, "conflict", None),
    ],
)
async def test_other_refused_moves_change_nothing(
    active_incident: Incident, frame: dict[str, Any], code: str, field: str | None
) -> None:
    stand_down = await step_of(active_incident, "stand_down")
    ws = await connect(room(active_incident), "liaison_lianshi")
    before = await state_of(stand_down)
    await ws.send_json_to({"type": "step", "step_id": stand_down.pk, **frame, "ref": "r"})
    error = await ws.receive_json_from(timeout=5)
    assert (error["type"], error["code"], error["ref"]) == ("error", code, "r")
    if field is not None:
        assert [e["field"] for e in error["errors"]] == [field]
    assert await state_of(stand_down) == before
    await still_open(ws)
    await ws.disconnect()


async def test_a_step_of_another_incident_is_not_found(
    active_incident: Incident, transition: Transition
) -> None:
    def open_another() -> ChecklistStep:
        other = incident_open("command", people=40)
        transition(other, "activate")
        return ChecklistStep.objects.get(checklist__incident=other, key="police_order")

    theirs = await sync_to_async(open_another)()
    ws = await connect(room(active_incident), "command")
    before = await state_of(theirs)
    await ws.send_json_to({"type": "step", "step_id": theirs.pk, "state": "done", "ref": 1})
    error = await ws.receive_json_from(timeout=5)
    assert (error["code"], error["ref"]) == ("not_found", 1)
    await ws.send_json_to({"type": "step", "step_id": 2**70, "state": "done", "ref": 2})
    error = await ws.receive_json_from(timeout=5)
    assert (error["code"], error["ref"]) == ("not_found", 2)
    assert await state_of(theirs) == before
    await still_open(ws)
    await ws.disconnect()
