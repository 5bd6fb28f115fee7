"""The checklist in the incident room and on the dashboard: what each person sees and may
press, moving a step with the plain form (with or without an evidence file), downloading the
evidence, adding a playbook, and the late steps on the dashboard.

The incident is a gathering of 40 people at a site in Shuanglin (level III), activated by
command staff, so the "site gathering, level IV–III" playbook runs for it. Shuanglin has no
liaison of its own: `liaison_lianshi` is a town liaison who takes no part and sees nothing.

A refused request changes nothing: no step moved, no file stored, no checklist started.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from incidents.models import District, Event, Incident
from incidents.policy import actor_for
from incidents.services import IncidentChange, incident_transition
from playbooks.models import Checklist, ChecklistStep
from playbooks.services import checklists_sweep, playbooks_install_defaults
from tests.live.helpers import incident_open

ClientFor = Callable[[str], Client]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# The running playbook's steps, in order: (key, owner as the page names it, required).
SITE_STEPS = [
    ("town_on_site", "shuanglin", True),
    ("police_order", "police", True),
    ("hr_verify", "hrss", True),
    ("representatives", "petition", True),
    ("first_report", "command", True),
    ("payment_plan", "hrss", True),
    ("stand_down", "shuanglin", True),
    ("review", "command", False),
]


# --- fixtures and helpers -------------------------------------------------------------------


def activate(incident: Incident) -> None:
    command = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=command, incident_id=incident.pk, change=IncidentChange(action="activate")
    )


@pytest.fixture
def installed_playbooks(district: District) -> None:
    playbooks_install_defaults(district_id=district.pk)


@pytest.fixture
def incident(installed_playbooks: None) -> Incident:
    """A level III site gathering in Shuanglin, activated: its playbook has started."""
    opened = incident_open("command", town="shuanglin")
    assert opened.level == "III"
    activate(opened)
    return Incident.objects.get(pk=opened.pk)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Every service (and every model default) reads `moment` as the time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        yield


def step(incident: Incident, key: str) -> ChecklistStep:
    return ChecklistStep.objects.get(checklist__incident=incident, key=key)


def step_rows(incident: Incident) -> list[tuple[Any, ...]]:
    return list(
        ChecklistStep.objects.filter(checklist__incident=incident)
        .order_by("pk")
        .values_list("pk", "state", "revision", "remark", "attachment", "attachment_name")
    )


def moves_made() -> int:
    return Event.objects.filter(kind="checklist.step_moved").count()


def room(client: Client, incident: Incident, language: str = "en") -> str:
    response = client.get(f"/incidents/{incident.pk}/", headers={"accept-language": language})
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def item(content: str, step_id: int) -> str:
    found = re.search(rf'<li class="step [^"]*" id="step-{step_id}".*?</li>', content, re.S)
    assert found, f"step {step_id} is not on the page"
    return found.group(0)


def step_form(item_html: str) -> str | None:
    """The opening tag of the step's form, if the page has one."""
    found = re.search(r'<form class="step-form"[^>]*>', item_html)
    return found.group(0) if found else None


def buttons_shown(item_html: str) -> set[str]:
    """The states of the step's buttons a reader sees (none when the form is hidden)."""
    form = step_form(item_html)
    if form is None or " hidden" in form:
        return set()
    return {
        value
        for value, hidden in re.findall(
            r'<button type="submit" name="state" value="(\w+)"[^>]*?( hidden)?>', item_html
        )
        if not hidden
    }


def progress_text(content: str, checklist: Checklist) -> str:
    found = re.search(rf'data-progress-text="{checklist.pk}">([^<]*)<', content)
    assert found, f"no progress for checklist {checklist.pk}"
    return found.group(1)


def error_box(content: str) -> str:
    found = re.search(r'<div class="error-box" id="action-error"[^>]*>(.*?)</div>', content, re.S)
    assert found, "no error box on the page"
    return html.unescape(found.group(1))


def post_step(client: Client, incident: Incident, target: ChecklistStep, **fields: Any) -> Any:
    return client.post(
        f"/incidents/{incident.pk}/checklist/{target.pk}/",
        fields,
        headers={"accept-language": "en"},
    )


def download(client: Client, incident: Incident, target: ChecklistStep) -> Any:
    return client.get(f"/incidents/{incident.pk}/checklist/{target.pk}/attachment")


def body_of(response: Any) -> bytes:
    # The test client closes the file once the stream is read to its end.
    return b"".join(response.streaming_content)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# --- what the room shows ------------------------------------------------------------------


def test_the_room_lists_every_step_with_its_owner_due_time_and_the_progress(
    api_client: ClientFor, incident: Incident
) -> None:
    (checklist,) = Checklist.objects.filter(incident=incident)
    steps = list(checklist.steps.select_related("owner_unit").order_by("position"))
    assert [(s.key, s.required) for s in steps] == [(k, r) for k, _, r in SITE_STEPS]

    content = room(api_client("command"), incident)

    section = re.search(
        r'<section class="card room-checklist" id="room-checklist".*?</section>', content, re.S
    )
    assert section
    assert f'id="checklist-{checklist.pk}"' in section.group(0)
    assert re.findall(r'<li class="step [^"]*" id="step-(\d+)"', section.group(0)) == [
        str(s.pk) for s in steps
    ]
    for s, (_, owner, _) in zip(steps, SITE_STEPS, strict=True):
        shown = item(content, s.pk)
        assert 'data-state="open"' in shown
        assert f'data-owner="{owner}"' in shown
        assert f'lang="en">{html.escape(s.title_en)}</strong>' in shown  # the reader's language
        owner_name = s.owner_unit.name_en if s.owner_unit else "joint command"
        assert f'<span class="owner">{owner_name}</span>' in shown
        due = timezone.localtime(s.due_at)
        assert f'data-due="{due.isoformat()}"' in shown
        assert f">{due.strftime('%m-%d %H:%M')}</time>" in shown
        assert " late" not in shown.split(">", 1)[0]  # nothing is due yet
    in_chinese = room(api_client("command"), incident, "zh-hans")
    for s in steps:
        assert f'lang="zh-Hans">{s.title_zh}</strong>' in item(in_chinese, s.pk)
    # Seven required steps (the review is optional), none finished.
    assert progress_text(content, checklist) == "0/7"
    assert re.search(rf'<progress max="7" value="0" data-progress="{checklist.pk}">', content)


def test_command_staff_see_every_move_on_every_unfinished_step(
    api_client: ClientFor, incident: Incident
) -> None:
    content = room(api_client("command"), incident)

    first_report = step(incident, "first_report")
    assert buttons_shown(item(content, first_report.pk)) == {"in_progress", "done", "skipped"}
    assert buttons_shown(item(content, step(incident, "police_order").pk)) == {
        "in_progress",
        "done",
        "skipped",
    }
    # The other playbook for incidents may be added; the running one is not offered again.
    add = re.search(
        r'<form method="post" action="([^"]+)" class="checklist-add">(.*?)</form>', content, re.S
    )
    assert add
    assert add.group(1) == f"/incidents/{incident.pk}/checklists/"
    assert re.findall(r'<option value="([^"]+)">', add.group(2)) == ["gathering_ii_i"]


def test_a_liaison_sees_buttons_only_on_their_units_steps(
    api_client: ClientFor, incident: Incident
) -> None:
    content = room(api_client("liaison_police"), incident)

    police = item(content, step(incident, "police_order").pk)
    assert " hidden" not in (step_form(police) or " hidden")
    assert buttons_shown(police) == {"in_progress", "done", "skipped"}
    for key in ("hr_verify", "first_report", "town_on_site"):
        other = item(content, step(incident, key).pk)
        form = step_form(other)
        assert form is not None
        assert form.endswith(" hidden>"), key
        assert buttons_shown(other) == set()
    assert 'class="checklist-add"' not in content


def test_a_reviewer_sees_the_checklist_but_no_step_forms(
    api_client: ClientFor, incident: Incident
) -> None:
    content = room(api_client("reviewer"), incident)

    assert len(re.findall(r'<li class="step ', content)) == len(SITE_STEPS)
    assert 'class="step-form"' not in content
    assert 'class="checklist-add"' not in content
    assert 'data-command="" data-unit=""' in content


def test_a_finished_step_offers_only_command_staff_a_reopen(
    api_client: ClientFor, incident: Incident
) -> None:
    police = step(incident, "police_order")
    liaison = api_client("liaison_police")
    assert post_step(liaison, incident, police, state="done", revision=0).status_code == 302

    assert buttons_shown(item(room(liaison, incident), police.pk)) == set()
    assert buttons_shown(item(room(api_client("command"), incident), police.pk)) == {"open"}


# --- moving a step with the form ----------------------------------------------------------


def test_the_owning_liaison_moves_a_step_and_lands_back_on_it(
    api_client: ClientFor, incident: Incident
) -> None:
    police = step(incident, "police_order")
    (checklist,) = Checklist.objects.filter(incident=incident)
    liaison = api_client("liaison_police")

    started = post_step(liaison, incident, police, state="in_progress", revision=0)

    assert started.status_code == 302
    assert started["Location"] == f"/incidents/{incident.pk}/#step-{police.pk}"
    police.refresh_from_db()
    assert (police.state, police.revision, police.changed_by) == (
        "in_progress",
        1,
        User.objects.get(username="liaison_police"),
    )
    (event,) = Event.objects.filter(kind="checklist.step_moved")
    assert (event.before, event.after, event.incident_id) == ("open", "in_progress", incident.pk)
    assert event.data["step_id"] == police.pk
    content = room(liaison, incident)
    shown = item(content, police.pk)
    assert 'data-state="in_progress"' in shown
    assert 'data-revision="1"' in shown
    assert buttons_shown(shown) == {"open", "done", "skipped"}
    assert progress_text(content, checklist) == "0/7"

    done = post_step(liaison, incident, police, state="done", note="已到场", revision=1)

    assert done.status_code == 302
    assert done["Location"] == f"/incidents/{incident.pk}/#step-{police.pk}"
    police.refresh_from_db()
    assert (police.state, police.remark, police.revision) == ("done", "已到场", 2)
    content = room(liaison, incident)
    assert 'data-state="done"' in item(content, police.pk)
    assert "已到场" in item(content, police.pk)
    assert progress_text(content, checklist) == "1/7"


def test_a_skip_without_a_reason_is_refused_on_the_room_page_and_changes_nothing(
    api_client: ClientFor, incident: Incident
) -> None:
    police = step(incident, "police_order")
    before = step_rows(incident)

    response = post_step(
        api_client("liaison_police"), incident, police, state="skipped", note="  ", revision=0
    )

    assert response.status_code in (400, 422)
    content = response.content.decode()
    assert 'id="room-checklist"' in content  # the room again, not a bare error
    assert "Give the reason for skipping the step." in error_box(content)
    assert 'data-state="open"' in item(content, police.pk)
    assert step_rows(incident) == before
    assert moves_made() == 0


@pytest.mark.parametrize(
    ("username", "key", "fields", "status", "message"),
    [
        (
            "liaison_police",
            "hr_verify",
            {"state": "in_progress"},
            403,
            "Only the owning unit or command staff move this step.",
        ),
        (
            "liaison_police",
            "first_report",
            {"state": "done"},
            403,
            "Only the owning unit or command staff move this step.",
        ),
        (
            "reviewer",
            "police_order",
            {"state": "in_progress"},
            403,
            "Only the owning unit's liaison or command staff move a step.",
        ),
        (
            "liaison_police",
            "police_order",
            {"state": "in_progress", "revision": 5},
            409,
            "The step changed since you loaded it; reload and try again.",
        ),
        (
            "liaison_police",
            "police_order",
            {"state": "open"},
            409,
            "The step is already open.",
        ),
        ("liaison_police", "police_order", {"state": "finished"}, 400, "State:"),
        (
            "liaison_hrss",
            "payment_plan",
            {"state": "done"},
            422,
            "Write a note on what was done before marking it done.",
        ),
        (
            "command",
            "stand_down",
            {"state": "done", "number": "-3"},
            400,
            "Figure:",
        ),
        (
            "command",
            "stand_down",
            {"state": "done"},
            422,
            "Give the figure (已疏散人数 / people dispersed) before marking it done.",
        ),
    ],
    ids=[
        "another-units-step",
        "a-command-step",
        "reviewer",
        "stale-revision",
        "same-state",
        "unknown-state",
        "done-without-the-note",
        "negative-figure",
        "done-without-the-figure",
    ],
)
def test_a_refused_move_says_why_and_changes_nothing(
    api_client: ClientFor,
    incident: Incident,
    username: str,
    key: str,
    fields: dict[str, Any],
    status: int,
    message: str,
) -> None:
    target = step(incident, key)
    before = step_rows(incident)

    response = post_step(api_client(username), incident, target, **fields)

    assert response.status_code == status
    assert message in error_box(response.content.decode())
    assert step_rows(incident) == before
    assert moves_made() == 0


def test_a_step_is_not_found_through_another_incident_or_by_an_outsider(
    api_client: ClientFor, incident: Incident
) -> None:
    police = step(incident, "police_order")
    other = incident_open("command", town="lianshi")
    before = step_rows(incident)

    outsider = api_client("liaison_lianshi").post(
        f"/incidents/{incident.pk}/checklist/{police.pk}/", {"state": "in_progress"}
    )
    wrong_room = api_client("command").post(
        f"/incidents/{other.pk}/checklist/{police.pk}/", {"state": "in_progress"}
    )

    assert (outsider.status_code, wrong_room.status_code) == (404, 404)
    assert step_rows(incident) == before


def test_the_step_form_needs_a_login_and_a_post(client: Client, incident: Incident) -> None:
    police = step(incident, "police_order")
    url = f"/incidents/{incident.pk}/checklist/{police.pk}/"

    anonymous = client.post(url, {"state": "in_progress"})

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=")
    client.force_login(User.objects.get(username="liaison_police"))
    assert client.get(url).status_code == 405
    assert step_rows(incident)[1][1] == "open"


# --- evidence files -----------------------------------------------------------------------


@pytest.fixture
def media(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def pdf(name: str = "wage-roster.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_the_owner_marks_a_step_done_with_its_file_and_command_downloads_it(
    api_client: ClientFor, incident: Incident, media: Path
) -> None:
    hr_verify = step(incident, "hr_verify")
    hrss = api_client("liaison_hrss")

    response = post_step(hrss, incident, hr_verify, state="done", revision=0, attachment=pdf())

    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/#step-{hr_verify.pk}"
    hr_verify.refresh_from_db()
    assert (hr_verify.state, hr_verify.attachment_name) == ("done", "wage-roster.pdf")
    (stored,) = stored_files(media)
    assert stored.read_bytes() == PDF
    assert Path(hr_verify.attachment.path) == stored
    link = f'href="/incidents/{incident.pk}/checklist/{hr_verify.pk}/attachment"'
    assert link in item(room(api_client("command"), incident), hr_verify.pk)

    for username in ("command", "liaison_hrss", "liaison_police", "reviewer"):
        got = download(api_client(username), incident, hr_verify)
        assert got.status_code == 200, username
        assert got["Content-Type"] == "application/pdf"
        assert got["Content-Disposition"] == 'attachment; filename="wage-roster.pdf"'
        assert got["X-Content-Type-Options"] == "nosniff"
        assert body_of(got) == PDF


def test_the_evidence_is_hidden_from_those_who_cannot_see_the_incident(
    api_client: ClientFor, client: Client, incident: Incident, media: Path
) -> None:
    hr_verify = step(incident, "hr_verify")
    hrss = api_client("liaison_hrss")
    assert post_step(hrss, incident, hr_verify, state="done", attachment=pdf()).status_code == 302
    url = f"/incidents/{incident.pk}/checklist/{hr_verify.pk}/attachment"

    outsider = api_client("liaison_lianshi").get(url)
    anonymous = client.get(url)
    wrong_room = api_client("command").get(
        f"/incidents/{incident_open('command').pk}/checklist/{hr_verify.pk}/attachment"
    )
    no_file = download(api_client("command"), incident, step(incident, "police_order"))

    assert outsider.status_code == 404
    assert PDF not in outsider.content
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/accounts/login/?next={url}"
    assert (wrong_room.status_code, no_file.status_code) == (404, 404)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (pdf("wage-roster.png"), "The file's content does not match its name."),
        (pdf("wage-roster.exe"), "Attach a PDF, JPEG, PNG, DOCX or XLSX file."),
        (pdf("wage-roster.pdf", b""), "The submitted file is empty."),
    ],
    ids=["pdf-named-png", "program", "empty"],
)
def test_a_file_that_is_not_what_it_says_is_refused_and_not_stored(
    api_client: ClientFor,
    incident: Incident,
    media: Path,
    upload: SimpleUploadedFile,
    message: str,
) -> None:
    hr_verify = step(incident, "hr_verify")
    before = step_rows(incident)

    response = post_step(
        api_client("liaison_hrss"), incident, hr_verify, state="done", attachment=upload
    )

    assert response.status_code in (400, 422)
    assert message in error_box(response.content.decode())
    assert step_rows(incident) == before
    assert stored_files(media) == []
    assert moves_made() == 0


def test_a_step_that_asks_for_a_file_is_not_done_without_one(
    api_client: ClientFor, incident: Incident, media: Path
) -> None:
    hr_verify = step(incident, "hr_verify")
    before = step_rows(incident)

    response = post_step(api_client("liaison_hrss"), incident, hr_verify, state="done")

    assert response.status_code == 422
    assert "Attach the file (工资名册 / wage roster) before marking it done." in error_box(
        response.content.decode()
    )
    assert step_rows(incident) == before


def test_a_file_over_the_size_limit_is_refused_and_not_stored(
    api_client: ClientFor, incident: Incident, media: Path, settings: Settings
) -> None:
    settings.CHECKLIST_ATTACHMENT_MAX_BYTES = 1024 * 1024
    hr_verify = step(incident, "hr_verify")
    before = step_rows(incident)
    too_big = pdf(content=PDF + b"0" * (1024 * 1024 - len(PDF) + 1))

    response = post_step(
        api_client("liaison_hrss"), incident, hr_verify, state="done", attachment=too_big
    )

    assert response.status_code == 422
    assert "The file is too large (limit 1 MB)." in error_box(response.content.decode())
    assert step_rows(incident) == before
    assert stored_files(media) == []


def test_a_file_from_someone_who_may_not_move_the_step_is_not_stored(
    api_client: ClientFor, incident: Incident, media: Path
) -> None:
    hr_verify = step(incident, "hr_verify")
    before = step_rows(incident)

    response = post_step(
        api_client("liaison_police"), incident, hr_verify, state="done", attachment=pdf()
    )

    assert response.status_code == 403
    assert step_rows(incident) == before
    assert stored_files(media) == []


def test_a_file_with_a_chinese_name_downloads_under_that_name(
    api_client: ClientFor, incident: Incident, media: Path
) -> None:
    hr_verify = step(incident, "hr_verify")
    sent = post_step(
        api_client("liaison_hrss"),
        incident,
        hr_verify,
        state="done",
        attachment=pdf("工资名册.pdf"),
    )
    assert sent.status_code == 302

    got = download(api_client("command"), incident, hr_verify)

    assert got.status_code == 200
    assert got["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E5%B7%A5%E8%B5%84%E5%90%8D%E5%86%8C.pdf"
    )
    assert got["Content-Type"] == "application/pdf"
    assert body_of(got) == PDF
    assert "工资名册.pdf</a>" in item(room(api_client("command"), incident), hr_verify.pk)


# --- a closed incident ----------------------------------------------------------------------


def test_a_closed_incidents_checklist_is_changed_by_command_staff_only(
    api_client: ClientFor, incident: Incident
) -> None:
    command = api_client("command")
    closed = command.post(f"/incidents/{incident.pk}/act/", {"action": "close", "reason": "已散去"})
    assert closed.status_code == 302
    police = step(incident, "police_order")
    liaison = api_client("liaison_police")

    assert buttons_shown(item(room(liaison, incident), police.pk)) == set()
    refused = post_step(liaison, incident, police, state="done")
    assert refused.status_code == 403
    assert "The incident is closed; only command staff change its checklist." in error_box(
        refused.content.decode()
    )
    assert step(incident, "police_order").state == "open"

    content = room(command, incident)
    assert buttons_shown(item(content, police.pk)) == {"in_progress", "done", "skipped"}
    assert 'class="checklist-add"' not in content
    added = command.post(
        f"/incidents/{incident.pk}/checklists/",
        {"template": "gathering_ii_i"},
        headers={"accept-language": "en"},
    )
    assert added.status_code == 422
    assert "The incident is closed." in error_box(added.content.decode())
    assert Checklist.objects.filter(incident=incident).count() == 1
    assert post_step(command, incident, police, state="done").status_code == 302
    assert step(incident, "police_order").state == "done"


# --- adding a playbook --------------------------------------------------------------------


def test_command_staff_add_a_playbook_and_the_room_lists_both(
    api_client: ClientFor, incident: Incident
) -> None:
    command = api_client("command")

    response = command.post(f"/incidents/{incident.pk}/checklists/", {"template": "gathering_ii_i"})

    assert response.status_code == 302
    first, added = Checklist.objects.filter(incident=incident).order_by("pk")
    assert (first.template.key, added.template.key) == ("site_gathering_iv_iii", "gathering_ii_i")
    assert response["Location"] == f"/incidents/{incident.pk}/#checklist-{added.pk}"
    content = room(command, incident)
    assert re.findall(r'<div class="checklist" id="checklist-(\d+)"', content) == [
        str(first.pk),
        str(added.pk),
    ]
    assert added.name in html.unescape(content)
    assert len(re.findall(r'<li class="step ', content)) == len(SITE_STEPS) + 12
    assert (progress_text(content, first), progress_text(content, added)) == ("0/7", "0/12")
    assert 'class="checklist-add"' not in content  # nothing left to add
    assert Event.objects.filter(kind="checklist.started", incident=incident).count() == 2

    again = command.post(
        f"/incidents/{incident.pk}/checklists/",
        {"template": "gathering_ii_i"},
        headers={"accept-language": "en"},
    )
    assert again.status_code == 409
    assert "This playbook is already running for the incident." in error_box(again.content.decode())
    assert Checklist.objects.filter(incident=incident).count() == 2


@pytest.mark.parametrize("username", ["liaison_police", "reviewer"])
def test_only_command_staff_add_a_playbook(
    api_client: ClientFor, incident: Incident, username: str
) -> None:
    response = api_client(username).post(
        f"/incidents/{incident.pk}/checklists/",
        {"template": "gathering_ii_i"},
        headers={"accept-language": "en"},
    )

    assert response.status_code == 403
    assert "Only command staff add a playbook to an incident." in error_box(
        response.content.decode()
    )
    assert Checklist.objects.filter(incident=incident).count() == 1


@pytest.mark.parametrize(
    ("template", "status", "message"),
    [
        ("no_such_playbook", 422, "No such playbook."),
        ("holiday_colocation", 422, "No such playbook."),  # a sensitive period's, not an incident's
        ("", 400, "Playbook:"),
    ],
)
def test_adding_an_unknown_playbook_is_refused(
    api_client: ClientFor, incident: Incident, template: str, status: int, message: str
) -> None:
    response = api_client("command").post(
        f"/incidents/{incident.pk}/checklists/",
        {"template": template},
        headers={"accept-language": "en"},
    )

    assert response.status_code == status
    assert message in error_box(response.content.decode())
    assert Checklist.objects.filter(incident=incident).count() == 1


# --- the dashboard ------------------------------------------------------------------------


def checklists_panel(content: str) -> str:
    found = re.search(
        r'<section class="card checklists-card[^"]*" id="checklists-panel".*?</section>',
        content,
        re.S,
    )
    assert found, "no checklists panel"
    return found.group(0)


def panel_row(panel: str, checklist: Checklist) -> str:
    found = re.search(
        rf'<li class="checklist-row[^"]*" data-checklist="{checklist.pk}">(.*?)\n    </li>',
        panel,
        re.S,
    )
    assert found, f"checklist {checklist.pk} is not on the dashboard"
    return found.group(1)


def dashboard(client: Client, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_dashboard_shows_each_running_checklists_progress(
    api_client: ClientFor, incident: Incident
) -> None:
    (checklist,) = Checklist.objects.filter(incident=incident)
    command = api_client("command")
    assert (
        post_step(command, incident, step(incident, "first_report"), state="done").status_code
        == 302
    )

    for path in ("/", "/dashboard/panels/"):
        panel = checklists_panel(dashboard(command, path))
        row = panel_row(panel, checklist)
        assert f'href="/incidents/{incident.pk}/#checklist-{checklist.pk}"' in row
        assert incident.code in row
        assert '<progress max="7" value="1"></progress>' in row
        assert '<span class="progress-text">1/7</span>' in row
        assert 'class="late-steps"' not in row
        assert "alarm" not in panel.split(">", 1)[0]


def test_a_closed_incidents_checklist_leaves_the_dashboard(
    api_client: ClientFor, incident: Incident
) -> None:
    command = api_client("command")
    closed = command.post(f"/incidents/{incident.pk}/act/", {"action": "close", "reason": "已散去"})
    assert closed.status_code == 302

    assert 'data-checklist="' not in checklists_panel(dashboard(command))


@pytest.fixture
def four_days_ago(installed_playbooks: None) -> Incident:
    """The same incident, reported and activated four days ago: every step is past due."""
    with clock_at(timezone.now() - timedelta(days=4)):
        opened = incident_open("command", town="shuanglin")
        activate(opened)
    return Incident.objects.get(pk=opened.pk)


def test_the_dashboard_lists_the_late_steps_after_the_sweep(
    api_client: ClientFor, four_days_ago: Incident
) -> None:
    incident = four_days_ago
    (checklist,) = Checklist.objects.filter(incident=incident)
    command = api_client("command")
    police = step(incident, "police_order")
    assert post_step(command, incident, police, state="done").status_code == 302
    unfinished = set(
        ChecklistStep.objects.filter(checklist=checklist)
        .exclude(pk=police.pk)
        .values_list("pk", flat=True)
    )

    assert checklists_sweep(now=timezone.now()) == len(unfinished)

    assert (
        set(ChecklistStep.objects.filter(late_at__isnull=False).values_list("pk", flat=True))
        == unfinished
    )
    for path in ("/", "/dashboard/panels/"):
        panel = checklists_panel(dashboard(command, path))
        assert 'class="card checklists-card alarm"' in panel
        row = panel_row(panel, checklist)
        assert '<span class="progress-text">1/7</span>' in row
        late = {int(pk) for pk in re.findall(r'<li class="overdue" data-step="(\d+)">', row)}
        assert late == unfinished
        first_report = step(incident, "first_report")
        due = timezone.localtime(first_report.due_at).strftime("%H:%M")
        assert re.search(
            rf'data-step="{first_report.pk}">{re.escape(first_report.title_zh)} · [^<]* · '
            rf"[^<]* {due}</li>",
            row,
        )

    content = room(command, incident)
    for pk in unfinished:
        assert re.search(rf'<li class="step [^"]* late" id="step-{pk}"', content)
    assert 'class="step state-done" id="step-' + str(police.pk) in content
    assert re.search(rf'data-late-count="{checklist.pk}">{len(unfinished)} late<', content)
