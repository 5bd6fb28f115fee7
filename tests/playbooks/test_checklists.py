"""Running checklists through the services: which playbooks start and when, the SMS their
steps send, who may move a step and how, the evidence a step needs, and the events each
start and move writes.

Every refusal changes nothing: the step keeps its state and revision, and no event is
written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from alerts.models import DutyShift, Officer, SmsMessage
from incidents.domain.streams import district_stream, incident_stream, unit_stream
from incidents.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from incidents.models import District, Event, Incident, Membership, Unit
from playbooks.models import Checklist, ChecklistStep, PlaybookTemplate, PlaybookVersion
from playbooks.services import StepMove, checklist_add, step_move
from tests.live.helpers import incident_open
from tests.playbooks.conftest import (
    GRAVE_TEMPLATE,
    SITE_TEMPLATE,
    Move,
    StepOf,
    Transition,
    as_actor,
)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def started(incident: Incident) -> list[str]:
    """The templates running for the incident, in the order they started."""
    return list(
        Checklist.objects.filter(incident=incident)
        .order_by("started_at", "pk")
        .values_list("template__key", flat=True)
    )


def snapshot(target: ChecklistStep) -> dict[str, Any]:
    row = ChecklistStep.objects.get(pk=target.pk)
    return {
        "state": row.state,
        "revision": row.revision,
        "remark": row.remark,
        "number": row.number,
        "attachment": row.attachment.name,
        "finished_at": row.finished_at,
        "events": Event.objects.count(),
    }


def refused(
    error: type[ServiceError], call: Callable[[], Any], target: ChecklistStep
) -> ServiceError:
    """`call` raises `error` and leaves the step and the log as they were."""
    before = snapshot(target)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(target) == before
    return caught.value


def fields_of(error: ServiceError) -> set[str]:
    return {e["field"] for e in error.errors}


def primary(unit: Unit) -> Officer:
    return DutyShift.objects.get(unit=unit, day=timezone.localdate(), rung="primary").officer


def liaison_of(unit_code: str) -> str:
    """A new liaison of a unit that has none among the demo people; returns the username."""
    username = f"liaison_{unit_code}"
    user = User.objects.create_user(username)
    user.groups.set([Group.objects.get(name="liaison")])
    unit = Unit.objects.get(code=unit_code)
    Membership.objects.create(user=user, district=unit.district, unit=unit)
    return username


# --- starting ----------------------------------------------------------------------------


def test_activation_starts_the_matching_playbook_with_its_steps_copied(
    active_incident: Incident,
) -> None:
    (checklist,) = Checklist.objects.filter(incident=active_incident)
    template = PlaybookTemplate.objects.get(key=SITE_TEMPLATE)
    version = PlaybookVersion.objects.get(template=template, version=template.version)
    assert checklist.template == template
    assert checklist.version == version
    assert checklist.name == template.name
    assert checklist.started_at == active_incident.activated_at
    assert checklist.started_by == User.objects.get(username="command")
    assert checklist.period == ""

    units = {u.code: u for u in Unit.objects.all()}
    expected_owner = {"town": units["lianshi"], "command": None}
    steps = list(checklist.steps.order_by("position"))
    assert [s.key for s in steps] == [raw["key"] for raw in version.definition["steps"]]
    for step, raw in zip(steps, version.definition["steps"], strict=True):
        assert (step.title_zh, step.title_en) == (raw["title_zh"], raw["title_en"])
        assert step.owner == raw["owner"]
        assert step.owner_unit == expected_owner.get(raw["owner"], units.get(raw["owner"]))
        assert step.due_at == active_incident.activated_at + timedelta(minutes=raw["due_minutes"])
        assert (step.required, step.sms, step.evidence) == (
            raw["required"],
            raw["sms"],
            raw["evidence"],
        )
        assert (step.state, step.revision, step.late_at) == ("open", 0, None)
    by_key = {s.key: s for s in steps}
    assert by_key["town_on_site"].owner_unit == units["lianshi"]
    assert by_key["police_order"].owner_unit == units["police"]
    assert by_key["first_report"].owner_unit is None
    assert by_key["hr_verify"].evidence == "attachment"


def test_reporting_an_incident_starts_no_playbook(playbooks: District, on_duty: None) -> None:
    incident = incident_open("command", people=40)
    assert incident.status == "reported"
    assert started(incident) == []
    assert not Event.objects.filter(kind="checklist.started").exists()


@pytest.mark.parametrize(
    ("kind", "people", "level", "expected"),
    [
        ("site_gathering", 10, "IV", [SITE_TEMPLATE]),
        ("gate_gathering", 40, "III", [SITE_TEMPLATE]),
        ("site_gathering", 150, "II", [GRAVE_TEMPLATE]),
        ("road_blocking", 10, "III", []),  # a kind the level IV–III playbook does not name
    ],
)
def test_activation_starts_only_the_playbooks_of_the_kind_and_level(
    playbooks: District,
    on_duty: None,
    transition: Transition,
    kind: str,
    people: int,
    level: str,
    expected: list[str],
) -> None:
    incident = incident_open("command", kind=kind, people=people)
    assert incident.level == level
    transition(incident, "activate")
    assert started(incident) == expected
    assert Event.objects.filter(incident=incident, kind="checklist.started").count() == len(
        expected
    )


def test_activating_again_after_containment_does_not_start_it_twice(
    active_incident: Incident, transition: Transition
) -> None:
    transition(active_incident, "contain")
    transition(active_incident, "activate")
    assert started(active_incident) == [SITE_TEMPLATE]
    assert Event.objects.filter(kind="checklist.started").count() == 1
    assert ChecklistStep.objects.filter(checklist__incident=active_incident).count() == 8


def test_a_graver_level_while_active_starts_the_graver_playbook_too(
    active_incident: Incident, transition: Transition, step: StepOf
) -> None:
    event = transition(active_incident, "set_level", level="II", reason="冲击项目部")
    assert started(active_incident) == [SITE_TEMPLATE, GRAVE_TEMPLATE]
    grave = Checklist.objects.get(incident=active_incident, template__key=GRAVE_TEMPLATE)
    assert grave.started_at == event.at
    town = step(active_incident, "town_on_site", template=GRAVE_TEMPLATE)
    assert town.owner_unit == Unit.objects.get(code="lianshi")
    assert town.due_at == event.at + timedelta(minutes=15)
    assert step(active_incident, "first_report", template=GRAVE_TEMPLATE).owner_unit is None
    assert step(active_incident, "online_opinion", template=GRAVE_TEMPLATE).owner_unit == (
        Unit.objects.get(code="cac")
    )

    # Back to III and up to II again: each playbook runs once per incident.
    transition(active_incident, "set_level", level="III", reason="情绪平稳")
    transition(active_incident, "set_level", level="II", reason="再次升级")
    assert started(active_incident) == [SITE_TEMPLATE, GRAVE_TEMPLATE]


def test_a_graver_level_while_contained_waits_for_the_next_activation(
    active_incident: Incident, transition: Transition
) -> None:
    transition(active_incident, "contain")
    transition(active_incident, "set_level", level="II", reason="再次聚集")
    assert started(active_incident) == [SITE_TEMPLATE]
    transition(active_incident, "activate")
    assert started(active_incident) == [SITE_TEMPLATE, GRAVE_TEMPLATE]


def test_an_inactive_playbook_does_not_start(
    playbooks: District, on_duty: None, transition: Transition
) -> None:
    PlaybookTemplate.objects.filter(key=SITE_TEMPLATE).update(active=False)
    incident = incident_open("command", people=40)
    transition(incident, "activate")
    assert started(incident) == []
    assert not Checklist.objects.exists()


def test_command_adds_another_playbook_once(active_incident: Incident) -> None:
    command = as_actor("command")
    added = checklist_add(
        actor=command, incident_id=active_incident.pk, template_key=GRAVE_TEMPLATE
    )
    assert added.incident == active_incident
    assert added.started_by == User.objects.get(username="command")
    assert added.steps.count() == 12
    assert started(active_incident) == [SITE_TEMPLATE, GRAVE_TEMPLATE]
    assert Event.objects.filter(kind="checklist.started").count() == 2

    with pytest.raises(Conflict):
        checklist_add(actor=command, incident_id=active_incident.pk, template_key=GRAVE_TEMPLATE)
    with pytest.raises(Conflict):
        checklist_add(actor=command, incident_id=active_incident.pk, template_key=SITE_TEMPLATE)
    assert Checklist.objects.filter(incident=active_incident).count() == 2
    assert Event.objects.filter(kind="checklist.started").count() == 2


@pytest.mark.parametrize(
    ("username", "template_key", "error", "field"),
    [
        ("liaison_lianshi", GRAVE_TEMPLATE, Forbidden, None),
        ("liaison_police", GRAVE_TEMPLATE, Forbidden, None),
        ("reviewer", GRAVE_TEMPLATE, Forbidden, None),
        ("command", "no_such_playbook", Invalid, "template"),
        # A sensitive period's playbook is not one an incident may run.
        ("command", "holiday_colocation", Invalid, "template"),
    ],
)
def test_adding_a_playbook_is_refused(
    active_incident: Incident,
    username: str,
    template_key: str,
    error: type[ServiceError],
    field: str | None,
) -> None:
    events = Event.objects.count()
    with pytest.raises(error) as caught:
        checklist_add(
            actor=as_actor(username), incident_id=active_incident.pk, template_key=template_key
        )
    if field is not None:
        assert fields_of(caught.value) == {field}
    assert started(active_incident) == [SITE_TEMPLATE]
    assert Event.objects.count() == events


def test_a_playbook_added_by_hand_names_who_added_it(active_incident: Incident) -> None:
    checklist_add(
        actor=as_actor("command"), incident_id=active_incident.pk, template_key=GRAVE_TEMPLATE
    )
    event = Event.objects.get(kind="checklist.started", data__template=GRAVE_TEMPLATE)
    assert event.data["started_by_id"] == User.objects.get(username="command").pk
    assert event.actor == User.objects.get(username="command")


def test_an_inactive_or_closed_or_unknown_target_is_refused(
    active_incident: Incident, transition: Transition
) -> None:
    command = as_actor("command")
    PlaybookTemplate.objects.filter(key=GRAVE_TEMPLATE).update(active=False)
    with pytest.raises(Invalid) as caught:
        checklist_add(actor=command, incident_id=active_incident.pk, template_key=GRAVE_TEMPLATE)
    assert fields_of(caught.value) == {"template"}
    with pytest.raises(NotFound):
        checklist_add(actor=command, incident_id=999999, template_key=SITE_TEMPLATE)

    PlaybookTemplate.objects.filter(key=GRAVE_TEMPLATE).update(active=True)
    transition(active_incident, "close", reason="工资已现场发放")
    with pytest.raises(Invalid):
        checklist_add(actor=command, incident_id=active_incident.pk, template_key=GRAVE_TEMPLATE)
    assert started(active_incident) == [SITE_TEMPLATE]


def test_command_adds_a_playbook_over_the_api(
    active_incident: Incident, api_client: Callable[[str], Client]
) -> None:
    url = f"/api/v1/incidents/{active_incident.pk}/checklists"
    body = json.dumps({"template": GRAVE_TEMPLATE})

    response = api_client("command").post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["incident_id"] == active_incident.pk
    assert [c["template"] for c in answer["checklists"]] == [SITE_TEMPLATE, GRAVE_TEMPLATE]
    assert len(answer["steps"]) == 8 + 12
    assert answer["progress"] == {"done": 0, "total": 7 + 12}

    again = api_client("command").post(url, body, content_type="application/json")
    assert again.status_code == 409, again.content
    liaison = api_client("liaison_lianshi").post(url, body, content_type="application/json")
    assert liaison.status_code == 403, liaison.content
    unknown = api_client("command").post(
        url, json.dumps({"template": "no_such_playbook"}), content_type="application/json"
    )
    assert unknown.status_code == 422, unknown.content
    assert {e["field"] for e in unknown.json()["errors"]} == {"template"}
    assert started(active_incident) == [SITE_TEMPLATE, GRAVE_TEMPLATE]


# --- the SMS a step sends when it opens ------------------------------------------------------


def test_steps_that_ask_for_it_text_their_units_primary_officer(
    active_incident: Incident,
) -> None:
    steps = ChecklistStep.objects.filter(checklist__incident=active_incident).select_related(
        "owner_unit"
    )
    texted = [s for s in steps if s.sms]
    assert {s.key for s in texted} == {"town_on_site", "police_order", "hr_verify"}

    opened = SmsMessage.objects.filter(template="step_opened").select_related("officer__unit")
    assert opened.count() == len(texted)
    for step in texted:
        officer = primary(step.owner_unit)
        (message,) = opened.filter(key=f"step:{step.pk}:opened:officer:{officer.pk}")
        assert message.officer == officer
        assert message.officer.unit == step.owner_unit
        assert message.to == officer.phone
        assert message.incident == active_incident
        assert message.reason == "step_opened"
        assert message.status == "queued"
        assert active_incident.code in message.body
        assert step.title_zh[:20] in message.body
        assert timezone.localtime(step.due_at).strftime("%H:%M") in message.body
    # Steps without `sms` (the petition bureau's, command's own) text nobody.
    quiet_units = {s.owner_unit_id for s in steps if not s.sms} - {s.owner_unit_id for s in texted}
    assert not opened.filter(officer__unit_id__in=quiet_units - {None}).exists()
    assert not opened.filter(officer__unit__isnull=True).exists()
    started_event = Event.objects.get(kind="checklist.started")
    assert started_event.data["sms"] == len(texted)


def test_with_nobody_on_duty_a_step_opens_without_an_sms(
    playbooks: District, normal_time: None, transition: Transition
) -> None:
    incident = incident_open("command", people=40)
    transition(incident, "activate")
    assert started(incident) == [SITE_TEMPLATE]
    assert not SmsMessage.objects.filter(template="step_opened").exists()
    assert Event.objects.get(kind="checklist.started").data["sms"] == 0


def test_the_owner_of_a_step_may_open_the_incident_and_move_its_step(
    active_incident: Incident, transition: Transition, step: StepOf, move: Move
) -> None:
    username = liaison_of("cac")
    transition(active_incident, "set_level", level="II", reason="网上舆情发酵")
    opinion = step(active_incident, "online_opinion", template=GRAVE_TEMPLATE)
    assert SmsMessage.objects.filter(
        template="step_opened", officer=primary(opinion.owner_unit)
    ).exists()

    moved = move(username, opinion, "done")
    assert moved.state == "done"


# --- moving steps: who -----------------------------------------------------------------------


def test_the_owning_units_liaison_works_a_step_through(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    moved = move("liaison_police", police, "in_progress", note="派出所民警已出发")
    assert (moved.state, moved.revision, moved.remark) == ("in_progress", 1, "派出所民警已出发")
    assert moved.changed_by == User.objects.get(username="liaison_police")
    assert moved.finished_at is None

    moved = move("liaison_police", police, "done", expected_revision=1)
    police.refresh_from_db()
    assert (police.state, police.revision) == ("done", 2)
    assert police.finished_at is not None
    assert police.changed_at == police.finished_at


@pytest.mark.parametrize("username", ["liaison_housing", "liaison_lianshi", "liaison_hrss"])
def test_another_units_liaison_may_not_move_a_step(
    active_incident: Incident, step: StepOf, move: Move, username: str
) -> None:
    police = step(active_incident, "police_order")
    refused(Forbidden, lambda: move(username, police, "in_progress"), police)
    refused(Forbidden, lambda: move(username, police, "done"), police)


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("reviewer", Forbidden),  # reads every incident, moves nothing
        ("inspector", Forbidden),
        ("clerk_lianshi", NotFound),  # the town's clerk does not even see the incident
    ],
)
def test_who_only_reads_may_not_move_a_step(
    active_incident: Incident,
    step: StepOf,
    move: Move,
    username: str,
    error: type[ServiceError],
) -> None:
    town = step(active_incident, "town_on_site")
    refused(error, lambda: move(username, town, "in_progress"), town)


def test_only_command_moves_the_joint_commands_own_steps(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    report = step(active_incident, "first_report")
    for username in ("liaison_lianshi", "liaison_police"):
        refused(Forbidden, lambda u=username: move(u, report, "done"), report)
    moved = move("command", report, "done")
    assert moved.state == "done"
    # Command staff may move a unit's step too.
    police = move("command", step(active_incident, "police_order"), "in_progress")
    assert police.changed_by == User.objects.get(username="command")


def test_only_command_reopens_a_finished_step(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    move("liaison_police", police, "done")
    refused(Forbidden, lambda: move("liaison_police", police, "open"), police)

    petition = step(active_incident, "representatives")
    move("liaison_petition", petition, "skipped", note="工人代表未到")
    refused(Forbidden, lambda: move("liaison_petition", petition, "open"), petition)

    reopened = move("command", police, "open")
    assert (reopened.state, reopened.finished_at, reopened.revision) == ("open", None, 2)
    reopened = move("command", petition, "open")
    assert reopened.state == "open"
    # Reopened, the step is the unit's to finish again.
    assert move("liaison_police", police, "done").state == "done"


def test_an_unknown_step_or_one_of_another_incident_is_not_found(
    active_incident: Incident, transition: Transition, step: StepOf, move: Move
) -> None:
    other = incident_open("command", people=40)
    transition(other, "activate")
    police = step(active_incident, "police_order")
    command = as_actor("command")
    refused(
        NotFound,
        lambda: step_move(
            actor=command,
            step_id=police.pk,
            move=StepMove(state="done"),
            incident_id=other.pk,
        ),
        police,
    )
    refused(
        NotFound,
        lambda: step_move(actor=command, step_id=999999, move=StepMove(state="done")),
        police,
    )


# --- moving steps: how ---------------------------------------------------------------------


def test_skipping_needs_a_reason_which_the_event_keeps(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    petition = step(active_incident, "representatives")
    for note in ("", "   "):
        error = refused(
            Invalid, lambda n=note: move("liaison_petition", petition, "skipped", note=n), petition
        )
        assert fields_of(error) == {"note"}

    moved = move("liaison_petition", petition, "skipped", note="  工人代表拒绝接访  ")
    assert (moved.state, moved.remark) == ("skipped", "工人代表拒绝接访")
    event = Event.objects.filter(kind="checklist.step_moved").latest("id")
    assert event.reason == "工人代表拒绝接访"
    assert (event.before, event.after) == ("open", "skipped")
    assert event.data["note"] == "工人代表拒绝接访"


def test_moving_to_the_same_state_is_a_conflict(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    refused(Conflict, lambda: move("liaison_police", police, "open"), police)
    move("liaison_police", police, "in_progress")
    refused(Conflict, lambda: move("liaison_police", police, "in_progress"), police)


def test_a_finished_step_only_goes_back_to_open(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    move("liaison_police", police, "done")
    for state in ("in_progress", "skipped"):
        error = refused(Invalid, lambda s=state: move("command", police, s, note="x"), police)
        assert fields_of(error) == {"state"}


@pytest.mark.parametrize("state", ["finished", "DONE", "", "closed"])
def test_an_unknown_state_is_invalid(
    active_incident: Incident, step: StepOf, move: Move, state: str
) -> None:
    police = step(active_incident, "police_order")
    error = refused(Invalid, lambda: move("liaison_police", police, state), police)
    assert fields_of(error) == {"state"}


def test_a_stale_revision_is_a_conflict(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    police = step(active_incident, "police_order")
    move("liaison_police", police, "in_progress", expected_revision=0)
    refused(
        Conflict,
        lambda: move("liaison_police", police, "done", expected_revision=0),
        police,
    )
    assert move("liaison_police", police, "done", expected_revision=1).revision == 2


@pytest.mark.parametrize(
    ("note", "number"),
    [
        ("x" * 2001, None),
        (12, None),
        ("", -1),
        ("", "1.234"),
        ("", "abc"),
        ("", "NaN"),
        ("", True),
        ("", "1000000000000"),
    ],
)
def test_a_bad_note_or_number_is_invalid(
    active_incident: Incident, step: StepOf, move: Move, note: Any, number: Any
) -> None:
    town = step(active_incident, "stand_down")
    error = refused(
        Invalid, lambda: move("liaison_lianshi", town, "done", note=note, number=number), town
    )
    assert fields_of(error) == ({"note"} if number is None else {"number"})


# --- evidence ------------------------------------------------------------------------------


def test_a_number_step_needs_its_figure(
    active_incident: Incident, step: StepOf, move: Move
) -> None:
    stand_down = step(active_incident, "stand_down")
    error = refused(Invalid, lambda: move("liaison_lianshi", stand_down, "done"), stand_down)
    assert fields_of(error) == {"number"}

    moved = move("liaison_lianshi", stand_down, "done", number="38.5")
    stand_down.refresh_from_db()
    assert stand_down.state == "done"
    assert stand_down.number == Decimal("38.50")
    assert isinstance(stand_down.number, Decimal)
    assert moved.number == Decimal("38.5")
    assert Event.objects.filter(kind="checklist.step_moved").latest("id").data["number"] == "38.50"


def test_a_note_step_needs_a_note(active_incident: Incident, step: StepOf, move: Move) -> None:
    plan = step(active_incident, "payment_plan")
    error = refused(Invalid, lambda: move("liaison_hrss", plan, "done"), plan)
    assert fields_of(error) == {"note"}
    moved = move("liaison_hrss", plan, "done", note="约定12月5日前付清")
    assert (moved.state, moved.remark) == ("done", "约定12月5日前付清")


@pytest.fixture
def media(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_an_attachment_step_needs_its_file(
    active_incident: Incident, step: StepOf, move: Move, media: Path
) -> None:
    verify = step(active_incident, "hr_verify")
    error = refused(Invalid, lambda: move("liaison_hrss", verify, "done"), verify)
    assert fields_of(error) == {"attachment"}

    upload = SimpleUploadedFile("工资名册.pdf", PDF, content_type="application/pdf")
    moved = move("liaison_hrss", verify, "done", attachment=upload)
    verify.refresh_from_db()
    assert verify.state == "done"
    assert verify.attachment_name == "工资名册.pdf"
    assert verify.attachment.name.startswith("checklists/")
    (stored,) = stored_files(media)
    assert stored.read_bytes() == PDF
    assert moved.attachment_name == "工资名册.pdf"
    event = Event.objects.filter(kind="checklist.step_moved").latest("id")
    assert event.data["attachment"] == "工资名册.pdf"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("工资名册.pdf", EXE),  # a program renamed
        ("工资名册.png", PDF),  # a PDF named as an image
        ("setup.exe", EXE),
        ("roster.txt", b"plain text roster\n"),
        ("工资名册.pdf", b""),
        ("工资名册.pdf", PDF * 4),  # over the (small) limit set below
    ],
)
def test_a_bad_attachment_is_refused(
    active_incident: Incident,
    step: StepOf,
    move: Move,
    media: Path,
    settings: Settings,
    name: str,
    content: bytes,
) -> None:
    settings.CHECKLIST_ATTACHMENT_MAX_BYTES = len(PDF) * 2
    verify = step(active_incident, "hr_verify")
    upload = SimpleUploadedFile(name, content)
    error = refused(
        Invalid, lambda: move("liaison_hrss", verify, "done", attachment=upload), verify
    )
    assert fields_of(error) == {"attachment"}
    assert stored_files(media) == []


def test_a_long_chinese_file_name_is_stored(
    active_incident: Incident, step: StepOf, move: Move, media: Path
) -> None:
    verify = step(active_incident, "hr_verify")
    name = "练市新城项目农民工工资发放花名册" * 5 + "（经工人代表逐人签字确认）.pdf"
    assert len(name) < 200
    moved = move("liaison_hrss", verify, "done", attachment=SimpleUploadedFile(name, PDF))
    assert moved.state == "done"
    assert moved.attachment_name == name
    (stored,) = stored_files(media)
    assert stored.read_bytes() == PDF


def test_a_closed_incidents_checklist_is_commands_alone(
    active_incident: Incident, transition: Transition, step: StepOf, move: Move
) -> None:
    transition(active_incident, "close", reason="工资已现场发放")
    police = step(active_incident, "police_order")
    refused(Forbidden, lambda: move("liaison_police", police, "done"), police)
    town = step(active_incident, "town_on_site")
    refused(Forbidden, lambda: move("liaison_lianshi", town, "in_progress"), town)
    moved = move("command", police, "done")
    assert moved.state == "done"


# --- events --------------------------------------------------------------------------------


def streams_of(event: Event) -> set[str]:
    return set(event.entries.values_list("stream", flat=True))


def test_a_start_writes_one_event_in_the_incidents_and_the_owners_streams(
    active_incident: Incident,
) -> None:
    (event,) = Event.objects.filter(kind="checklist.started")
    checklist = Checklist.objects.get(incident=active_incident)
    assert event.incident == active_incident
    assert event.actor is not None
    assert event.actor.get_username() == "command"  # who activated
    assert event.at == active_incident.activated_at
    assert event.data["checklist_id"] == checklist.pk
    assert event.data["template"] == SITE_TEMPLATE
    assert event.data["version"] == 1
    assert event.data["steps"] == 8
    assert event.data["progress"] == {"done": 0, "total": 7}
    assert event.data["started_by_id"] == User.objects.get(username="command").pk
    owners = set(
        checklist.steps.filter(owner_unit__isnull=False).values_list("owner_unit_id", flat=True)
    )
    assert {
        district_stream(active_incident.district_id),
        incident_stream(active_incident.pk),
        *(unit_stream(u) for u in owners),
    } <= streams_of(event)


def test_every_move_writes_one_event(active_incident: Incident, step: StepOf, move: Move) -> None:
    police = step(active_incident, "police_order")
    moves = [
        ("liaison_police", "in_progress", {}),
        ("liaison_police", "done", {}),
        ("command", "open", {}),
        ("liaison_police", "skipped", {"note": "已由特警接管"}),
    ]
    before = "open"
    for n, (username, state, fields) in enumerate(moves, start=1):
        count = Event.objects.filter(kind="checklist.step_moved").count()
        move(username, police, state, **fields)
        (event,) = Event.objects.filter(kind="checklist.step_moved")[count:]
        assert event.actor == User.objects.get(username=username)
        assert (event.before, event.after) == (before, state)
        assert event.incident == active_incident
        assert event.data["step_id"] == police.pk
        assert event.data["step"] == "police_order"
        assert event.data["state"] == state
        assert event.data["owner"] == "police"
        assert event.data["revision"] == n
        done = 1 if state in {"done", "skipped"} else 0
        assert event.data["progress"] == {"done": done, "total": 7}
        assert {
            district_stream(active_incident.district_id),
            incident_stream(active_incident.pk),
            unit_stream(police.owner_unit_id),
        } <= streams_of(event)
        before = state
    assert Event.objects.filter(kind="checklist.step_moved").count() == len(moves)


def test_a_move_reaches_the_owning_units_stream_even_if_it_takes_no_other_part(
    active_incident: Incident, transition: Transition, step: StepOf, move: Move
) -> None:
    transition(active_incident, "set_level", level="II", reason="网上舆情发酵")
    opinion = step(active_incident, "online_opinion", template=GRAVE_TEMPLATE)
    move("command", opinion, "done")
    event = Event.objects.filter(kind="checklist.step_moved").latest("id")
    assert event.data["step_id"] == opinion.pk
    assert unit_stream(opinion.owner_unit_id) in streams_of(event)
    started_event = Event.objects.get(kind="checklist.started", data__template=GRAVE_TEMPLATE)
    assert unit_stream(opinion.owner_unit_id) in streams_of(started_event)
