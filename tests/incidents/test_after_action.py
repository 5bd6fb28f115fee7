"""After-action reports (事后评估报告): drafted on close, computed from the event log up to
their cutoff, edited and signed by command staff and reviewers, shown as JSON, HTML and PDF.

The scripted incident: a case is registered, an incident reported (its alerts sent),
activated, the case linked, the town's first step done 25 minutes late, the town's alert
acknowledged in the room, the case resolved with part of the wages paid, the incident closed.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from alerts.services.outbox import outbox_send
from incidents.domain.lifecycle import Action
from incidents.domain.streams import incident_stream
from incidents.events import stream_head
from incidents.models import AfterActionReport, District, Event, Incident, Unit
from incidents.pdf import FontMissing, report_font
from incidents.policy import actor_for
from incidents.services import (
    IncidentChange,
    TransitionInput,
    case_transition,
    incident_transition,
    room_acknowledge,
)
from incidents.services.after_action import after_action_draft
from playbooks.models import ChecklistStep
from playbooks.services import StepMove, playbooks_install_defaults, step_move
from tests.conftest import in_ci
from tests.live.helpers import incident_open, register_case

ClientFor = Callable[[str], Client]
TITLE = "练市新城工地农民工聚集讨薪"
OUTCOME = "工资部分当场兑付，工人散去"


def act_as(username: str) -> Any:
    return actor_for(User.objects.get(username=username))


def transition(incident: Incident, action: str, **fields: Any) -> Event:
    return incident_transition(
        actor=act_as("command"), incident_id=incident.pk, change=IncidentChange(action, **fields)
    )


def url(incident: Incident | int, suffix: str = "") -> str:
    pk = incident if isinstance(incident, int) else incident.pk
    return f"/api/v1/incidents/{pk}/after-action{suffix}"


def send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    call = getattr(client, method)
    return call(path, json.dumps(body), content_type="application/json")


def body_of(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def routes() -> None:
    """The after-action API is registered with the others (not the JSON 404 of /api/)."""
    from django.urls import resolve

    from command_center.api import not_found as api_not_found

    assert resolve(url(1)).func is not api_not_found
    assert resolve(url(1)).func is not api_not_found


@pytest.fixture
def open_incident(district: District, on_duty: None) -> Incident:
    playbooks_install_defaults(district_id=district.pk)
    return incident_open("command", people=40)


@pytest.fixture
def scripted(open_incident: Incident) -> dict[str, Any]:
    incident = open_incident
    case = register_case()
    outbox_send()
    transition(incident, "activate")
    transition(incident, "link_cases", case_numbers=[case.number])
    town = ChecklistStep.objects.get(checklist__incident=incident, key="town_on_site")
    # Its due time 25 minutes ago: marking it done now is late by 25 minutes.
    ChecklistStep.objects.filter(pk=town.pk).update(due_at=timezone.now() - timedelta(minutes=25))
    step_move(
        actor=act_as("liaison_lianshi"),
        step_id=town.pk,
        move=StepMove(state="done"),
        incident_id=incident.pk,
    )
    room_acknowledge(actor=act_as("liaison_lianshi"), incident_id=incident.pk, note="已到场")
    housing = act_as("liaison_housing")
    case_transition(
        actor=housing, case_number=case.number, change=TransitionInput(action=Action.ACCEPT)
    )
    case_transition(
        actor=housing,
        case_number=case.number,
        change=TransitionInput(action=Action.RESOLVE, amount=Decimal("50000.00")),
    )
    transition(incident, "close", reason=OUTCOME)
    incident.refresh_from_db()
    return {"incident": incident, "case": case}


@pytest.fixture
def closed(scripted: dict[str, Any]) -> Incident:
    incident: Incident = scripted["incident"]
    return incident


# --- drafting ------------------------------------------------------------------------------


def test_closing_drafts_the_report_up_to_the_last_event(closed: Incident) -> None:
    report = AfterActionReport.objects.get(incident=closed)
    assert report.state == "draft"
    assert report.cutoff_event_id == stream_head(incident_stream(closed.pk))
    assert report.drafted_at == closed.closed_at
    kinds = set(
        Event.objects.filter(entries__stream=incident_stream(closed.pk)).values_list(
            "kind", flat=True
        )
    )
    assert "alert.cancelled" in kinds  # stopped by the closing, and inside the cutoff
    assert report.revision == 0


def test_drafting_twice_changes_nothing(closed: Incident) -> None:
    first = AfterActionReport.objects.get(incident=closed)
    again = after_action_draft(incident=closed, now=timezone.now() + timedelta(days=1))
    assert again.pk == first.pk
    assert again.cutoff_event_id == first.cutoff_event_id
    assert AfterActionReport.objects.count() == 1


def test_a_closed_incident_without_report_gets_one_when_read(
    closed: Incident, api_client: ClientFor, routes: None
) -> None:
    AfterActionReport.objects.all().delete()
    body = body_of(api_client("reviewer").get(url(closed)))
    assert body["cutoff_event_id"] == stream_head(incident_stream(closed.pk))
    assert AfterActionReport.objects.filter(incident=closed).exists()


# --- the JSON ------------------------------------------------------------------------------


def test_json_shape_and_figures(
    scripted: dict[str, Any], api_client: ClientFor, routes: None
) -> None:
    incident, case = scripted["incident"], scripted["case"]
    body = body_of(api_client("reviewer").get(url(incident)))
    assert set(body) == {
        "incident",
        "state",
        "drafted_at",
        "cutoff_event_id",
        "events_after_cutoff",
        "lessons",
        "sign_off",
        "edited",
        "revision",
        "facts",
    }
    assert body["incident"] == {"id": incident.pk, "code": incident.code, "title": TITLE}
    assert body["state"] == "draft"
    assert body["events_after_cutoff"] == 0
    assert body["sign_off"] == {"by": None, "at": None, "note": ""}
    assert body["drafted_at"].endswith("+08:00")
    facts = body["facts"]
    assert set(facts) == {"summary", "timeline", "steps", "alerts", "money", "cases"}

    summary = facts["summary"]
    assert summary["title"] == TITLE
    assert summary["town"] == "lianshi"
    assert summary["town_name"] == "练市镇"
    assert (summary["level"], summary["people"]) == ("III", 40)
    assert summary["outcome"] == OUTCOME
    assert summary["reported_at"].endswith("+08:00")
    assert summary["activated_at"] is not None
    assert summary["closed_at"] is not None
    assert summary["duration_minutes"] == 0

    kinds = [t["kind"] for t in facts["timeline"]]
    for kind in (
        "incident.reported",
        "alert.raised",
        "incident.activate",
        "checklist.started",
        "incident.link_cases",
        "checklist.step_moved",
        "incident.acknowledged",
        "alert.acknowledged",
        "case.accept",
        "case.resolve",
        "incident.close",
    ):
        assert kind in kinds
    assert not [k for k in kinds if k.startswith("sms.") or k == "incident.chat"]
    assert "case.registered" not in kinds  # before the case was linked
    assert kinds.index("incident.reported") < kinds.index("incident.close")
    close = facts["timeline"][kinds.index("incident.close")]
    assert (close["who"], close["reason"]) == ("command", OUTCOME)

    steps = {s["key"]: s for s in facts["steps"]}
    town = steps["town_on_site"]
    assert (town["state"], town["late"], town["minutes_late"]) == ("done", True, 25)
    assert town["owner"] == "lianshi"
    assert town["done_at"] is not None
    police = steps["police_order"]
    assert (police["state"], police["late"], police["done_at"]) == ("open", False, None)

    alerts = facts["alerts"]
    totals = alerts["totals"]
    assert totals["sent"] == totals["alerts"] == len(alerts["items"]) >= 2
    lianshi = [a for a in alerts["items"] if a["unit"] == "lianshi"]
    assert [(a["state"], a["acknowledged_via"]) for a in lianshi] == [("acknowledged", "room")]
    assert lianshi[0]["acknowledged_by"]
    assert lianshi[0]["response_seconds"] >= 0
    assert totals["acknowledged"] == 1
    assert totals["median_response_seconds"] == lianshi[0]["response_seconds"]

    assert facts["money"] == {
        "owed": "86000.00",
        "paid": "50000.00",
        "advanced": "0.00",
        "recovered": "0.00",
        "outstanding": "36000.00",
        "unrecovered": "0.00",
    }
    assert facts["cases"] == [
        {
            "number": case.number,
            "state": "resolved",
            "owed": "86000.00",
            "paid": "50000.00",
            "advanced": "0.00",
            "recovered": "0.00",
            "outstanding": "36000.00",
        }
    ]


def test_events_after_the_cutoff_wait_for_a_refresh(
    closed: Incident, api_client: ClientFor, routes: None
) -> None:
    reviewer = api_client("reviewer")
    room_acknowledge(actor=act_as("liaison_police"), incident_id=closed.pk, note="事后补充说明")
    body = body_of(reviewer.get(url(closed)))
    assert body["events_after_cutoff"] == 1
    notes = [dict(t["details"]).get("note") for t in body["facts"]["timeline"]]
    assert "事后补充说明" not in notes

    refreshed = body_of(send(reviewer, "post", url(closed, "/refresh"), {}))
    assert refreshed["cutoff_event_id"] > body["cutoff_event_id"]
    assert refreshed["revision"] == body["revision"] + 1
    assert refreshed["events_after_cutoff"] == 0
    notes = [t["details"].get("note") for t in refreshed["facts"]["timeline"]]
    assert "事后补充说明" in notes
    assert Event.objects.filter(kind="after_action.refreshed", incident=closed).count() == 1


# --- editing and signing -------------------------------------------------------------------


@pytest.mark.parametrize("username", ["reviewer", "command"])
def test_reviewers_and_command_edit_and_sign(
    closed: Incident, api_client: ClientFor, routes: None, username: str
) -> None:
    client = api_client(username)
    edited = body_of(
        send(
            client,
            "patch",
            url(closed),
            {
                "lessons": "  一、响应及时。\n二、名册核实偏慢。 ",
                "sign_off_note": "同意",
                "revision": 0,
            },
        )
    )
    assert edited["lessons"] == "一、响应及时。\n二、名册核实偏慢。"
    assert edited["sign_off"]["note"] == "同意"
    assert edited["revision"] == 1
    event = Event.objects.get(kind="after_action.edited", incident=closed)
    assert event.actor is not None
    assert event.actor.get_username() == username
    assert event.data["changed"] == ["lessons", "sign_off_note"]

    signed = body_of(send(client, "post", url(closed, "/sign"), {"note": "经审核签发"}))
    assert signed["state"] == "signed"
    assert signed["sign_off"]["by"] == username
    assert signed["sign_off"]["at"] is not None
    assert signed["sign_off"]["note"] == "经审核签发"
    assert Event.objects.filter(kind="after_action.signed", incident=closed).count() == 1
    report = AfterActionReport.objects.get(incident=closed)
    assert (report.state, report.revision) == ("signed", 2)


@pytest.mark.parametrize("username", ["liaison_lianshi", "clerk_lianshi", "inspector"])
def test_others_may_not_edit_or_sign(
    closed: Incident, api_client: ClientFor, routes: None, username: str
) -> None:
    client = api_client(username)
    before = AfterActionReport.objects.get(incident=closed)
    for method, suffix, payload in (
        ("patch", "", {"lessons": "x", "revision": 0}),
        ("post", "/sign", {"note": "x"}),
        ("post", "/refresh", {}),
    ):
        body = body_of(send(client, method, url(closed, suffix), payload), 403)
        assert set(body) == {"detail", "errors"}
    after = AfterActionReport.objects.get(incident=closed)
    assert (after.lessons, after.state, after.revision) == (before.lessons, "draft", 0)
    assert not Event.objects.filter(kind__startswith="after_action.").exists()


def test_a_liaison_of_the_incident_reads_the_report(
    closed: Incident, api_client: ClientFor, routes: None
) -> None:
    assert body_of(api_client("liaison_lianshi").get(url(closed)))["state"] == "draft"


def test_signing_needs_lessons(closed: Incident, api_client: ClientFor, routes: None) -> None:
    body = body_of(send(api_client("reviewer"), "post", url(closed, "/sign"), {"note": ""}), 422)
    assert [e["field"] for e in body["errors"]] == ["lessons"]
    assert AfterActionReport.objects.get(incident=closed).state == "draft"


def test_a_signed_report_is_frozen(closed: Incident, api_client: ClientFor, routes: None) -> None:
    client = api_client("reviewer")
    body_of(send(client, "patch", url(closed), {"lessons": "教训", "revision": 0}))
    body_of(send(client, "post", url(closed, "/sign"), {}))
    for method, suffix, payload in (
        ("patch", "", {"lessons": "改", "revision": 2}),
        ("post", "/sign", {}),
        ("post", "/refresh", {}),
    ):
        body_of(send(client, method, url(closed, suffix), payload), 409)
    report = AfterActionReport.objects.get(incident=closed)
    assert (report.lessons, report.revision) == ("教训", 2)


def test_a_stale_revision_is_refused(closed: Incident, api_client: ClientFor, routes: None) -> None:
    client = api_client("reviewer")
    body_of(send(client, "patch", url(closed), {"lessons": "第一稿", "revision": 0}))
    body_of(
        send(api_client("command"), "patch", url(closed), {"lessons": "旧", "revision": 0}), 409
    )
    assert AfterActionReport.objects.get(incident=closed).lessons == "第一稿"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"lessons": "x", "revision": 0, "colour": "red"}, "colour"),
        ({"lessons": "x"}, "revision"),
        ({"lessons": "x" * 20_001, "revision": 0}, "lessons"),
        ({"sign_off_note": "x" * 301, "revision": 0}, "sign_off_note"),
        ({"lessons": "x", "revision": "0"}, "revision"),
    ],
)
def test_bad_bodies_are_refused(
    closed: Incident, api_client: ClientFor, routes: None, payload: dict[str, Any], field: str
) -> None:
    body = body_of(send(api_client("reviewer"), "patch", url(closed), payload), 422)
    assert field in {e["field"] for e in body["errors"]}
    assert AfterActionReport.objects.get(incident=closed).revision == 0


def test_unknown_fields_refused_when_signing(
    closed: Incident, api_client: ClientFor, routes: None
) -> None:
    body_of(send(api_client("reviewer"), "post", url(closed, "/sign"), {"force": True}), 422)


def test_an_open_incident_has_no_report_yet(
    open_incident: Incident, api_client: ClientFor, routes: None
) -> None:
    body_of(api_client("reviewer").get(url(open_incident)), 409)
    body_of(send(api_client("reviewer"), "patch", url(open_incident), {"revision": 0}), 409)
    assert not AfterActionReport.objects.exists()


def another_districts_incident() -> Incident:
    other = District.objects.create(
        code="other", case_prefix="OT", name_zh="别的区", name_en="Other"
    )
    town = Unit.objects.create(
        district=other, code="town", kind=Unit.Kind.TERRITORIAL, name_zh="别镇", name_en="T"
    )
    return Incident.objects.create(
        district=other,
        title="别处的事件",
        town=town,
        lat=30.0,
        lng=120.0,
        people_count=50,
        kind="site_gathering",
        level="III",
        status="closed",
        reported_by=User.objects.get(username="command"),
    )


def test_another_districts_incident_is_not_found(
    district: District, api_client: ClientFor, routes: None
) -> None:
    incident = another_districts_incident()
    for username in ("reviewer", "command"):
        body_of(api_client(username).get(url(incident)), 404)
        body_of(send(api_client(username), "patch", url(incident), {"revision": 0}), 404)
    assert api_client("reviewer").get(f"/incidents/{incident.pk}/after-action/").status_code == 404
    assert (
        api_client("reviewer").get(f"/incidents/{incident.pk}/after-action.pdf").status_code == 404
    )
    assert not AfterActionReport.objects.exists()


# --- the page ------------------------------------------------------------------------------


def test_the_page_shows_the_report_and_the_forms_to_a_reviewer(
    closed: Incident, api_client: ClientFor
) -> None:
    response = api_client("reviewer").get(f"/incidents/{closed.pk}/after-action/")
    assert response.status_code == 200
    html = response.content.decode()
    assert TITLE in html
    assert OUTCOME in html
    assert "练市镇" in html
    assert 'id="lessons-form"' in html
    assert 'id="sign-form"' in html
    assert "csrfmiddlewaretoken" in html
    assert f"/incidents/{closed.pk}/after-action.pdf" in html
    assert f"/api/v1/incidents/{closed.pk}/after-action" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert " style=" not in html


def test_the_page_has_no_forms_for_a_liaison(closed: Incident, api_client: ClientFor) -> None:
    response = api_client("liaison_lianshi").get(f"/incidents/{closed.pk}/after-action/")
    assert response.status_code == 200
    assert 'id="lessons-form"' not in response.content.decode()


def test_the_page_saves_and_signs(closed: Incident, api_client: ClientFor) -> None:
    client = api_client("command")
    page = f"/incidents/{closed.pk}/after-action/"
    saved = client.post(page, {"lessons": "现场处置有序", "sign_off_note": "", "revision": "0"})
    assert saved.status_code == 302
    refused = client.post(page, {"lessons": "旧稿", "sign_off_note": "", "revision": "0"})
    assert refused.status_code == 409
    signed = client.post(f"{page}sign/", {"note": "签发", "revision": "1"})
    assert signed.status_code == 302
    report = AfterActionReport.objects.get(incident=closed)
    assert (report.state, report.lessons, report.sign_off_note) == (
        "signed",
        "现场处置有序",
        "签发",
    )
    frozen = client.get(page).content.decode()
    assert 'id="lessons-form"' not in frozen


def test_the_page_of_an_open_incident_says_it_is_not_ready(
    open_incident: Incident, api_client: ClientFor
) -> None:
    response = api_client("reviewer").get(f"/incidents/{open_incident.pk}/after-action/")
    assert response.status_code == 409


# --- the PDF -------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    """The PDF's text without whitespace. pypdf reads the 2-byte codes of a CFF-based CJK
    font (Noto Sans CJK) as 1-byte ones and puts a NUL before each character: dropped."""
    reader = PdfReader(io.BytesIO(content))
    text = "".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[\s\x00]+", "", text)


@pytest.fixture
def cjk_font() -> None:
    """A CJK font on this machine (fonts-noto-cjk); skipped without one, failed under CI."""
    try:
        report_font()
    except FontMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true: {exc}")
        pytest.skip(str(exc))


def test_the_pdf_holds_the_chinese_title_and_unit_names(
    closed: Incident, api_client: ClientFor, cjk_font: None
) -> None:
    response = api_client("reviewer").get(f"/incidents/{closed.pk}/after-action.pdf")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert TITLE in text
    assert "练市镇" in text
    assert "属地镇街负责人到场稳控" in text  # the step's title
    assert re.sub(r"\s+", "", OUTCOME) in text
    assert "86000.00" in text


def test_the_pdf_speaks_the_readers_language(
    closed: Incident, api_client: ClientFor, cjk_font: None, settings: Any
) -> None:
    settings.REPORT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2"
    english = api_client("reviewer").get(
        f"/incidents/{closed.pk}/after-action.pdf", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.status_code == 200
    text = pdf_text(english.content)
    assert "Timeline" in text
    assert "LianshiTown" in text  # the unit's English name
    assert TITLE in text  # what people wrote stays as written


def test_no_font_means_503_not_empty_boxes(
    closed: Incident, api_client: ClientFor, settings: Any
) -> None:
    settings.REPORT_FONT = "/nonexistent/NoSuchFont.ttc"
    response = api_client("reviewer").get(f"/incidents/{closed.pk}/after-action.pdf")
    assert response.status_code == 503
    assert "NoSuchFont" in response.content.decode()
