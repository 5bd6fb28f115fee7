"""The checklist API: reading an incident's steps and moving one.

Every refusal is a JSON `{"detail", "errors"}` answer and changes nothing: the step keeps
its state and revision and no event is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Event, Incident
from playbooks.models import ChecklistStep
from tests.live.helpers import incident_open
from tests.playbooks.conftest import SITE_TEMPLATE, StepOf, Transition

URL = "/api/v1/incidents"
ClientFor = Callable[[str], Client]
STEP_KEYS = {"id", "title", "owner", "due_at", "state", "late", "moves"}
FROM_OPEN = ["in_progress", "done", "skipped"]


def checklist_url(incident_id: int) -> str:
    return f"{URL}/{incident_id}/checklist"


def step_url(incident_id: int, step_id: int) -> str:
    return f"{URL}/{incident_id}/checklist/{step_id}"


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


def fields_of(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def snapshot(step_id: int) -> dict[str, Any]:
    row = ChecklistStep.objects.get(pk=step_id)
    return {
        "state": row.state,
        "revision": row.revision,
        "remark": row.remark,
        "number": row.number,
        "changed_by": row.changed_by_id,
        "events": Event.objects.count(),
    }


# --- reading ---------------------------------------------------------------------------------


def test_the_checklist_lists_every_step_with_what_the_caller_may_do(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    body = ok(api_client("liaison_police").get(checklist_url(active_incident.pk)))
    assert set(body) >= {"incident_id", "progress", "late", "checklists", "steps"}
    assert body["incident_id"] == active_incident.pk
    assert body["progress"] == {"done": 0, "total": 7}
    assert body["late"] == 0

    (checklist,) = body["checklists"]
    assert checklist["template"] == SITE_TEMPLATE
    assert checklist["version"] == 1
    assert checklist["progress"] == {"done": 0, "total": 7}
    assert "steps" not in checklist

    steps = body["steps"]
    assert [s["key"] for s in steps] == [
        "town_on_site",
        "police_order",
        "hr_verify",
        "representatives",
        "first_report",
        "payment_plan",
        "stand_down",
        "review",
    ]
    for row in steps:
        assert set(row) >= STEP_KEYS
        assert row["checklist_id"] == checklist["id"]
        assert row["state"] == "open"
        assert row["late"] is False
        db = ChecklistStep.objects.get(pk=row["id"])
        assert row["title"] == db.title_zh
        assert row["due_at"] == timezone.localtime(db.due_at).isoformat()
    by_key = {s["key"]: s for s in steps}
    assert by_key["police_order"]["owner"] == "police"
    assert by_key["town_on_site"]["owner"] == "lianshi"
    assert by_key["first_report"]["owner"] == "command"
    assert by_key["hr_verify"]["evidence"] == "attachment"
    # The police liaison may move the police's step, and no other.
    assert {k: s["moves"] for k, s in by_key.items() if s["moves"]} == {"police_order": FROM_OPEN}


def test_moves_follow_the_callers_role_and_the_steps_state(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    command = ok(api_client("command").get(checklist_url(active_incident.pk)))
    assert {s["key"]: s["moves"] for s in command["steps"]} == {
        s["key"]: FROM_OPEN for s in command["steps"]
    }
    reviewer = ok(api_client("reviewer").get(checklist_url(active_incident.pk)))
    assert {tuple(s["moves"]) for s in reviewer["steps"]} == {()}

    police = step(active_incident, "police_order")
    url = step_url(active_incident.pk, police.pk)
    ok(post(api_client("liaison_police"), url, {"state": "done"}))
    after = ok(api_client("liaison_police").get(checklist_url(active_incident.pk)))
    row = next(s for s in after["steps"] if s["id"] == police.pk)
    assert row["state"] == "done"
    assert row["moves"] == []  # only command staff reopen it
    command_row = next(
        s
        for s in ok(api_client("command").get(checklist_url(active_incident.pk)))["steps"]
        if s["id"] == police.pk
    )
    assert command_row["moves"] == ["open"]
    assert after["progress"] == {"done": 1, "total": 7}


def test_a_step_past_its_due_time_shows_late(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    police = step(active_incident, "police_order")
    ChecklistStep.objects.filter(pk=police.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    body = ok(api_client("command").get(checklist_url(active_incident.pk)))
    assert body["late"] == 1
    assert body["checklists"][0]["late"] == 1
    assert [s["key"] for s in body["steps"] if s["late"]] == ["police_order"]


def test_an_incident_without_a_checklist_has_no_steps(
    playbooks: Any, on_duty: None, api_client: ClientFor
) -> None:
    incident = incident_open("command", people=40)  # reported, not activated
    body = ok(api_client("command").get(checklist_url(incident.pk)))
    assert body == {
        "incident_id": incident.pk,
        "progress": {"done": 0, "total": 0},
        "late": 0,
        "checklists": [],
        "steps": [],
    }


def test_an_incident_one_may_not_see_is_not_found(
    playbooks: Any, on_duty: None, api_client: ClientFor, transition: Transition
) -> None:
    elsewhere = incident_open("command", town="shuanglin", people=40)
    transition(elsewhere, "activate")
    assert_error(api_client("liaison_lianshi").get(checklist_url(elsewhere.pk)), 404)
    assert_error(api_client("clerk_lianshi").get(checklist_url(elsewhere.pk)), 404)
    assert_error(api_client("command").get(checklist_url(999999)), 404)
    assert ok(api_client("command").get(checklist_url(elsewhere.pk)))["steps"]


def test_reading_and_moving_need_a_login(active_incident: Incident, step: StepOf) -> None:
    assert_error(Client().get(checklist_url(active_incident.pk)), 401)
    police = step(active_incident, "police_order")
    before = snapshot(police.pk)
    assert_error(post(Client(), step_url(active_incident.pk, police.pk), {"state": "done"}), 401)
    assert snapshot(police.pk) == before


# --- moving ---------------------------------------------------------------------------------


def test_the_owner_moves_a_step_and_gets_its_row(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    police = step(active_incident, "police_order")
    client = api_client("liaison_police")
    events = Event.objects.filter(kind="checklist.step_moved").count()

    row = ok(
        post(
            client,
            step_url(active_incident.pk, police.pk),
            {"state": "in_progress", "note": "民警已出发", "expected_revision": 0},
        )
    )
    assert row["id"] == police.pk
    assert row["state"] == "in_progress"
    assert row["revision"] == 1
    assert row["remark"] == "民警已出发"
    assert row["changed_by"] == "liaison_police"
    assert row["owner"] == "police"
    assert row["moves"] == ["open", "done", "skipped"]
    assert Event.objects.filter(kind="checklist.step_moved").count() == events + 1

    stand_down = step(active_incident, "stand_down")
    row = ok(
        post(
            api_client("liaison_lianshi"),
            step_url(active_incident.pk, stand_down.pk),
            {"state": "done", "number": "38.50"},
        )
    )
    assert row["state"] == "done"
    assert row["number"] == "38.50"
    assert row["finished_at"] is not None


BAD_BODIES = [
    {"state": "finished"},
    {"state": "DONE"},
    {"state": None},
    {"note": "没有状态"},
    {"state": "done", "extra": 1},
    {"state": "done", "step_id": 1},
    {"state": "in_progress", "note": "x" * 2001},
    {"state": "done", "number": -1},
    {"state": "done", "number": "1.234"},
    {"state": "done", "number": 1.234},
    {"state": "done", "number": "abc"},
    {"state": "done", "number": "1000000000000"},
    {"state": "done", "expected_revision": "0"},
    {"state": "done", "expected_revision": -1},
    {"state": "done", "expected_revision": True},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_bad_body_is_refused_and_changes_nothing(
    active_incident: Incident, api_client: ClientFor, step: StepOf, body: dict[str, Any]
) -> None:
    stand_down = step(active_incident, "stand_down")
    before = snapshot(stand_down.pk)
    assert_error(
        post(api_client("liaison_lianshi"), step_url(active_incident.pk, stand_down.pk), body),
        422,
    )
    assert snapshot(stand_down.pk) == before


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        ("representatives", {"state": "skipped"}, "note"),
        ("representatives", {"state": "skipped", "note": "   "}, "note"),
        ("stand_down", {"state": "done"}, "number"),
        ("payment_plan", {"state": "done"}, "note"),
        ("hr_verify", {"state": "done"}, "attachment"),  # files are uploaded in the room
    ],
)
def test_a_move_without_what_it_needs_names_the_field(
    active_incident: Incident,
    api_client: ClientFor,
    step: StepOf,
    key: str,
    body: dict[str, Any],
    field: str,
) -> None:
    target = step(active_incident, key)
    before = snapshot(target.pk)
    answer = assert_error(
        post(api_client("command"), step_url(active_incident.pk, target.pk), body), 422
    )
    assert fields_of(answer) == {field}
    assert snapshot(target.pk) == before


@pytest.mark.parametrize("username", ["liaison_housing", "liaison_lianshi", "reviewer"])
def test_someone_else_may_not_move_the_step(
    active_incident: Incident, api_client: ClientFor, step: StepOf, username: str
) -> None:
    police = step(active_incident, "police_order")
    before = snapshot(police.pk)
    assert_error(
        post(api_client(username), step_url(active_incident.pk, police.pk), {"state": "done"}),
        403,
    )
    assert snapshot(police.pk) == before


def test_a_step_of_another_incident_is_not_found(
    active_incident: Incident, api_client: ClientFor, step: StepOf, transition: Transition
) -> None:
    other = incident_open("command", people=40)
    transition(other, "activate")
    theirs = step(other, "police_order")
    before = snapshot(theirs.pk)
    client = api_client("command")
    assert_error(post(client, step_url(active_incident.pk, theirs.pk), {"state": "done"}), 404)
    assert_error(post(client, step_url(active_incident.pk, 999999), {"state": "done"}), 404)
    assert snapshot(theirs.pk) == before


def test_a_stale_or_repeated_move_is_a_conflict(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    police = step(active_incident, "police_order")
    client = api_client("liaison_police")
    url = step_url(active_incident.pk, police.pk)
    ok(post(client, url, {"state": "in_progress", "expected_revision": 0}))
    before = snapshot(police.pk)
    assert_error(post(client, url, {"state": "done", "expected_revision": 0}), 409)
    assert_error(post(client, url, {"state": "in_progress"}), 409)
    assert snapshot(police.pk) == before


def test_an_illegal_move_is_invalid(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    police = step(active_incident, "police_order")
    url = step_url(active_incident.pk, police.pk)
    ok(post(api_client("liaison_police"), url, {"state": "done"}))
    before = snapshot(police.pk)
    answer = assert_error(post(api_client("command"), url, {"state": "in_progress"}), 422)
    assert fields_of(answer) == {"state"}
    assert snapshot(police.pk) == before


def test_the_body_must_be_json(
    active_incident: Incident, api_client: ClientFor, step: StepOf
) -> None:
    police = step(active_incident, "police_order")
    url = step_url(active_incident.pk, police.pk)
    client = api_client("liaison_police")
    before = snapshot(police.pk)
    assert_error(client.post(url, {"state": "done"}), 415)  # a form
    assert_error(client.post(url, "state=done", content_type="text/plain"), 415)
    assert_error(client.post(url, "{not json", content_type="application/json"), 400)
    assert_error(client.post(url, "[]", content_type="application/json"), 422)
    assert snapshot(police.pk) == before
