"""Phone and ID numbers: masked everywhere but where a role needs them, each unmasked look logged.

One complainant with a distinctive mobile and ID number, written into everything that can
carry them: the report, the case's description, a transition's reason, an incident's title
and description, chat, a situation report's notes, the blacklist. Then the bytes of every
surface are searched:

- command staff, clerks and inspectors see the numbers on the case page and in the case API,
  and each such look is one `PersonalDataAccess` row (who, what, when, via);
- liaisons, reviewers, integrations and the province see only the masks, and nothing is
  logged for them;
- free text that fans out (events in the log, the socket frames, timelines, activity logs,
  situation and after-action reports, exports) carries no full number for anyone;
- no SMS carries a complainant's number, full or masked; officers' own numbers are masked
  wherever the hub shows them.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from alerts.models import Officer
from alerts.services import outbox_send
from command_center.situation import situation_edit
from incidents import demo
from incidents.domain.identifiers import mask_numbers_in, mask_numbers_in_text
from incidents.events import event_frame, event_record
from incidents.models import District, Event, Incident, PersonalDataAccess
from incidents.pdf import FontMissing, report_font
from incidents.policy import actor_for
from incidents.services import (
    IncidentChange,
    IncidentInput,
    incident_report,
    incident_transition,
    room_chat,
)
from tests.alerts.helpers import use_fake_twilio
from tests.conftest import in_ci
from tests.factories import intake_payload
from tests.fakes.twilio_server import FakeTwilioServer
from tests.live.test_consumers import connect
from tests.test_situation_report import drafted_today

ClientFor = Callable[[str], Client]

PHONE = "13912345678"
ID_NUMBER = "110101199003071233"
PHONE_MASKED = "139****5678"
ID_MASKED = "110101********1233"
# How people type them in free text; none of these may leave unmasked either.
WRITTEN = f"联系电话 +86 139 1234 5678 / {PHONE}，身份证{ID_NUMBER}"
FULL = (PHONE, ID_NUMBER, "139 1234 5678")

NEED_NUMBERS = ("command", "clerk_lianshi", "inspector")
MASKED_ROLES = ("liaison_housing", "liaison_lianshi", "reviewer")
# One of each kind of reader (clerks and inspectors read as command staff do here).
READERS = ("command", *MASKED_ROLES, "gateway_110")
LIANSHI = (30.713, 120.429)


def leaks(content: bytes | str) -> list[str]:
    """The full numbers found in `content` (JSON escapes undone)."""
    text = content.decode() if isinstance(content, bytes) else content
    with contextlib.suppress(ValueError):  # not JSON: the text as it is
        text += json.dumps(json.loads(text), ensure_ascii=False)
    return [n for n in FULL if n in text]


@dataclass(frozen=True)
class World:
    case_number: str
    incident: Incident


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def build_world(api_client: ClientFor, *, people: int = 40) -> World:
    """The complainant's case (40 workers, dispatched to housing, accepted with a reason that
    quotes the numbers) and an incident from it whose title, description and chat do too."""
    body = intake_payload(
        complainant={"name": "王建国", "phone": PHONE, "id_number": ID_NUMBER},
        workers_count=40,
        description=f"40名木工被拖欠工资，{WRITTEN}",
    )
    created = api_client("clerk_lianshi").post(
        "/api/v1/cases", json.dumps(body), content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert not leaks(created.content)
    number = created.json()["case_number"]
    accepted = api_client("liaison_housing").post(
        f"/api/v1/cases/{number}/transitions",
        json.dumps({"action": "accept", "reason": f"已联系投诉人 {WRITTEN}"}),
        content_type="application/json",
    )
    assert accepted.status_code == 200, accepted.content
    command = actor_for(User.objects.get(username="command"))
    incident = incident_report(
        actor=command,
        data=IncidentInput(
            title=f"练市新城讨薪 {PHONE}",
            town="lianshi",
            lat=LIANSHI[0],
            lng=LIANSHI[1],
            people_count=people,
            kind="site_gathering",
            description=f"带头人{WRITTEN}",
            case_numbers=[number],
        ),
    )
    room_chat(actor=command, incident_id=incident.pk, text=f"请回拨 {WRITTEN}")
    PersonalDataAccess.objects.all().delete()  # the accept answer above was the liaison's
    return World(number, incident)


@pytest.fixture
def world(on_duty: None, api_client: ClientFor) -> World:
    return build_world(api_client)


# --- the masks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (PHONE, PHONE_MASKED),
        ("+8613912345678", PHONE_MASKED),
        ("0086-139-1234-5678", PHONE_MASKED),
        ("电话139 1234 5678。", f"电话{PHONE_MASKED}。"),
        (ID_NUMBER, ID_MASKED),
        ("11010119900307123X", "110101********123X"),  # a wrong check digit is still an ID
        ("座机0572-2123456", "座机057*****3456"),
        (
            "NX-2026-000123 欠款86000.00元 2026-11-27 14:30",
            "NX-2026-000123 欠款86000.00元 2026-11-27 14:30",
        ),
        ("91330503MA2B3C4D5N", "91330503MA2B3C4D5N"),  # a credit code is no one's number
        # Digits inside a run of letters and digits are a code (an SMS id, a fingerprint).
        ("SMa013912345678b", "SMa013912345678b"),
        ("f0572212345678e9", "f0572212345678e9"),
        ("", ""),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_numbers_in_text(text) == masked


def test_payloads_are_masked_all_the_way_down() -> None:
    payload = {"text": PHONE, "list": [{"note": ID_NUMBER}, 3], "n": 13912345678}
    assert mask_numbers_in(payload) == {
        "text": PHONE_MASKED,
        "list": [{"note": ID_MASKED}, 3],
        "n": 13912345678,
    }


def test_any_event_is_stored_and_framed_masked_whoever_wrote_it(district: District) -> None:
    """`event_record` masks every writer's reason and payload; `event_frame` masks events
    stored before that (they cannot be changed)."""
    written = event_record(
        district=district, kind="test.note", actor=None, reason=WRITTEN, data={"n": [WRITTEN]}
    )
    stored = Event.objects.get(pk=written.pk)
    old = Event.objects.create(
        district=district, kind="test.old", reason=WRITTEN, data={"x": PHONE}
    )
    for event in (stored, old):
        frame = json.dumps(event_frame(event), ensure_ascii=False)
        assert PHONE_MASKED in frame
        assert not any(n in frame for n in FULL)
    assert not any(n in json.dumps([stored.reason, stored.data], ensure_ascii=False) for n in FULL)


# --- case reads ---------------------------------------------------------------------------


def test_roles_that_do_not_need_the_numbers_see_masks_and_log_nothing(
    world: World, api_client: ClientFor
) -> None:
    number = world.case_number
    for username in MASKED_ROLES:
        client = api_client(username)
        for url in (f"/api/v1/cases/{number}", f"/cases/{number}/"):
            response = client.get(url)
            assert response.status_code == 200, (username, url)
            assert not leaks(response.content), (username, url)
            assert PHONE_MASKED in response.content.decode(), (username, url)
            assert ID_MASKED in response.content.decode(), (username, url)
        detail = client.get(f"/api/v1/cases/{number}").json()
        assert detail["reports"][0]["complainant"]["phone"] == PHONE_MASKED
        assert PHONE_MASKED in detail["description"]
    assert not PersonalDataAccess.objects.exists()


def test_an_integration_reads_its_own_complaint_masked(
    api_client: ClientFor, on_duty: None
) -> None:
    body = intake_payload(
        channel="police_110",
        window=None,
        complainant={"name": "李四", "phone": PHONE, "id_number": ID_NUMBER},
    )
    gateway = api_client("gateway_110")
    created = gateway.post("/api/v1/cases", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    detail = gateway.get(f"/api/v1/cases/{created.json()['case_number']}")
    assert detail.status_code == 200
    assert not leaks(created.content + detail.content)
    assert detail.json()["reports"][0]["complainant"]["id_number"] == ID_MASKED
    assert not PersonalDataAccess.objects.exists()


def test_roles_that_need_the_numbers_see_them_and_each_look_is_logged(
    world: World, api_client: ClientFor
) -> None:
    number = world.case_number
    before = timezone.now()
    for username in NEED_NUMBERS:
        client = api_client(username)
        api = client.get(f"/api/v1/cases/{number}")
        page = client.get(f"/cases/{number}/")
        assert api.status_code == page.status_code == 200, username
        complainant = api.json()["reports"][0]["complainant"]
        assert (complainant["phone"], complainant["id_number"]) == (PHONE, ID_NUMBER)
        assert PHONE in page.content.decode()
        assert ID_NUMBER in page.content.decode()
    rows = PersonalDataAccess.objects.select_related("user", "case").order_by("id")
    assert [(r.user.username, r.case.number if r.case else None, r.via) for r in rows] == [
        (username, number, via) for username in NEED_NUMBERS for via in ("api", "page")
    ]
    assert all(before <= r.at <= timezone.now() for r in rows)


def test_a_transition_answer_with_numbers_is_a_logged_look(
    world: World, api_client: ClientFor
) -> None:
    response = api_client("command").post(
        f"/api/v1/cases/{world.case_number}/transitions",
        json.dumps({"action": "escalate_inspection", "reason": "转劳动监察"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["reports"][0]["complainant"]["phone"] == PHONE
    log = PersonalDataAccess.objects.get()
    assert (log.user.username, log.via, log.rows) == ("command", "api", 1)


# --- everything else: no full number for anyone -------------------------------------------


def test_lists_dashboards_rooms_and_activity_logs_carry_no_full_number(
    world: World, api_client: ClientFor
) -> None:
    incident = world.incident.pk
    urls = [
        "/",
        "/dashboard/panels/",
        "/cases/",
        "/cases/triage/",
        "/api/v1/cases",
        "/api/v1/cases/triage",
        "/incidents/",
        f"/incidents/{incident}/",
        f"/incidents/{incident}/activity/",
        f"/incidents/{incident}/activity/?format=csv",
        "/units/housing/activity/",
        "/units/housing/activity/?format=csv",
        "/api/v1/incidents",
        f"/api/v1/incidents/{incident}",
        f"/api/v1/incidents/{incident}/events",
        "/alerts/",
        "/api/v1/alerts",
        f"/slips/ZB-{world.case_number}-1/",
    ]
    shown = 0
    for username in READERS:
        client = api_client(username)
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, (username, url)
            if response.status_code == 200:
                shown += 1
                assert not leaks(response.content), (username, url)
    assert shown > len(urls) * 3  # most of them were shown to most people
    # The command's room shows the masked description, the chat and the reason.
    room = api_client("command").get(f"/incidents/{incident}/").content.decode()
    assert f"带头人联系电话 {PHONE_MASKED}" in room
    assert not PersonalDataAccess.objects.exists()


def test_events_in_the_log_carry_no_full_number(world: World) -> None:
    events = list(Event.objects.all())
    assert {"case.registered", "case.accept", "incident.reported", "incident.chat"} <= {
        e.kind for e in events
    }
    for event in events:
        stored = json.dumps(event.data, ensure_ascii=False) + event.reason
        assert not leaks(stored), (event.kind, stored)
    chat = next(e for e in events if e.kind == "incident.chat")
    assert (
        chat.data["text"] == f"请回拨 联系电话 {PHONE_MASKED} / {PHONE_MASKED}，身份证{ID_MASKED}"
    )


def test_incident_moves_and_notes_are_masked_in_the_log(world: World) -> None:
    command = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=command,
        incident_id=world.incident.pk,
        change=IncidentChange(action="activate", reason=f"带头人 {PHONE}"),
    )
    moved = Event.objects.get(kind="incident.activate")
    assert moved.reason == f"带头人 {PHONE_MASKED}"


@pytest.mark.django_db(transaction=True)
def test_socket_frames_in_the_room_and_to_the_province_carry_no_full_number(
    district: District,
) -> None:
    demo.load_province([district])
    command = actor_for(User.objects.get(username="command"))
    grave = incident_report(  # level II: the province's stream carries it
        actor=command,
        data=IncidentInput(
            title="工人聚集讨薪",
            town="lianshi",
            lat=LIANSHI[0],
            lng=LIANSHI[1],
            people_count=150,
            kind="site_gathering",
        ),
    )

    async def scenario() -> list[dict[str, Any]]:
        room, hello = await connect(f"/ws/incidents/{grave.pk}/", user="liaison_lianshi")
        assert hello["type"] == "hello"
        province, hello = await connect("/ws/province/", user="province_command")
        assert hello["type"] == "hello"
        await room.receive_json_from(timeout=5)  # presence
        await room.send_json_to({"type": "chat", "text": f"投诉人电话{WRITTEN}"})
        received = []
        for ws in (room, province):
            while not await ws.receive_nothing(timeout=0.5):
                received.append(await ws.receive_json_from(timeout=5))
            await ws.disconnect()
        return received

    frames = async_to_sync(scenario)()
    chats = [f for f in frames if f.get("kind") == "incident.chat"]
    assert len(chats) == 2  # the room's and the province's
    assert all(PHONE_MASKED in f["data"]["text"] for f in chats)
    assert not leaks(json.dumps(frames, ensure_ascii=False))
    connection.close()


# --- SMS ----------------------------------------------------------------------------------


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(phone_number="+8613800000000") as fake:
        use_fake_twilio(settings, fake, number="+8613800000000")
        yield fake


def test_no_sms_carries_a_complainants_number_and_officers_numbers_are_masked(
    on_duty: None, api_client: ClientFor, fake_twilio: FakeTwilioServer
) -> None:
    world = build_world(api_client, people=150)  # level II: every department is paged
    assert outbox_send() > 0
    bodies = [m.body for m in fake_twilio.messages]
    assert bodies
    for body in bodies:
        assert not leaks(body), body
        assert PHONE_MASKED not in body
        assert ID_MASKED not in body
    officers = [o.phone for o in Officer.objects.all()]  # E.164: +86139…
    paged = {m.to for m in fake_twilio.messages}
    assert paged <= set(officers)
    stored = json.dumps([e.data for e in Event.objects.all()], ensure_ascii=False)
    for phone in paged:
        assert phone not in stored
        assert phone[3:] not in stored
    for username in ("command", "liaison_housing", "reviewer"):
        client = api_client(username)
        for url in ("/alerts/", "/api/v1/alerts", f"/incidents/{world.incident.pk}/"):
            content = client.get(url).content.decode()
            assert not any(phone[3:] in content for phone in paged), (username, url)


# --- the blacklist ------------------------------------------------------------------------


def test_blacklisted_persons_id_numbers_are_masked_or_logged(
    on_duty: None, api_client: ClientFor
) -> None:
    listed = api_client("command").post(
        "/api/v1/blacklist",
        json.dumps(
            {
                "reason": f"恶意欠薪，举报人{PHONE}",
                "person_name": "张老板",
                "person_id_number": ID_NUMBER,
            }
        ),
        content_type="application/json",
    )
    assert listed.status_code == 201, listed.content
    for event in Event.objects.all():
        assert not leaks(json.dumps(event.data, ensure_ascii=False) + event.reason), event.kind
    PersonalDataAccess.objects.all().delete()
    for username in ("liaison_housing", "reviewer"):
        response = api_client(username).get("/api/v1/blacklist")
        assert response.status_code == 200
        assert not leaks(response.content)
        assert response.json()["results"][0]["person"]["id_number"] == ID_MASKED
    assert not PersonalDataAccess.objects.exists()
    response = api_client("inspector").get("/api/v1/blacklist")
    assert response.json()["results"][0]["person"]["id_number"] == ID_NUMBER
    log = PersonalDataAccess.objects.select_related("user").get()
    assert (log.user.username, log.case, log.subject, log.rows, log.via) == (
        "inspector",
        None,
        "blacklist",
        1,
        "api",
    )


# --- reports and exports ------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


def xlsx_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return " ".join(
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )


def test_reports_and_exports_carry_no_full_number(
    world: World, api_client: ClientFor, district: District
) -> None:
    command = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=command,
        incident_id=world.incident.pk,
        change=IncidentChange(action="close", reason=f"已处置，联系人{PHONE}"),
    )
    today = timezone.localdate()
    report = drafted_today(district)
    situation_edit(actor=command, report_id=report.pk, notes=f"重点关注 {WRITTEN}")
    month = today.strftime("%Y-%m")
    text_urls = [
        f"/incidents/{world.incident.pk}/after-action/",
        f"/api/v1/incidents/{world.incident.pk}/after-action",
        f"/reports/situation/{report.pk}/",
        "/reports/situation/",
        f"/reports/monthly/?month={month}&format=csv",
        f"/reports/ranking/?month={month}&format=csv",
        f"/incidents/{world.incident.pk}/activity/?format=csv",
    ]
    binary_urls = [
        f"/reports/monthly/?month={month}&format=xlsx",
        f"/reports/ranking/?month={month}&format=xlsx",
    ]
    for username in ("command", "reviewer", "inspector"):
        client = api_client(username)
        for url in text_urls:
            response = client.get(url)
            assert response.status_code == 200, (username, url, response.status_code)
            assert not leaks(response.content), (username, url)
        for url in binary_urls:
            response = client.get(url)
            assert response.status_code == 200, (username, url)
            assert not leaks(xlsx_text(response.content)), (username, url)
    situation = api_client("reviewer").get(f"/reports/situation/{report.pk}/").content.decode()
    assert PHONE_MASKED in situation
    try:
        report_font()
    except FontMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true: {exc}")
        return  # no CJK font on this machine: the PDF is not made
    pdf = api_client("reviewer").get(f"/incidents/{world.incident.pk}/after-action.pdf")
    assert pdf.status_code == 200
    assert not leaks(pdf_text(pdf.content))
    assert not PersonalDataAccess.objects.exists()


def test_the_province_pages_carry_no_full_number(
    on_duty: None, api_client: ClientFor, district: District
) -> None:
    demo.load_province([district])
    world = build_world(api_client, people=150)
    client = _client("province_command")
    shown = []
    for url in (
        "/province/",
        "/province/panels/",
        f"/province/incidents/{world.incident.pk}/",
        "/api/v1/province/summary",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not leaks(response.content), url
        shown.append(response.content.decode())
    assert PHONE_MASKED in shown[2]  # the chat, masked
    assert not PersonalDataAccess.objects.exists()
