"""The dashboard and incident pages: who gets what, the figures, and the room's controls."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from incidents.models import Event, Incident
from tests.live.helpers import incident_open, register_case

pytestmark = pytest.mark.django_db

ClientFor = Callable[[str], Client]


def test_command_staff_land_on_the_live_dashboard(api_client: ClientFor) -> None:
    case = register_case()
    incident = incident_open("command", people=120, kind="road_blocking")
    response = api_client("command").get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-ws="/ws/dashboard/"' in html
    after = int(re.search(r'data-after="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert after == Event.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    assert case.number in html  # in the latest events
    assert f'data-incident="{incident.pk}"' in html
    assert 'class="level-badge level-I"' in html  # 120 people blocking a road: II raised to I
    assert re.search(r'id="kpi-cases">\s*1\s*<', html)
    assert "/static/vendor/htmx/htmx.min.js" in html


def test_people_without_a_dashboard_start_at_the_case_list(api_client: ClientFor) -> None:
    clerk = api_client("clerk_lianshi")
    response = clerk.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/cases/"
    assert clerk.get("/dashboard/panels/").status_code == 403


def test_panels_count_open_cases_by_state_and_unit(api_client: ClientFor) -> None:
    for _ in range(2):
        register_case(project_type="real_estate")
    register_case(project_type="transport")
    html = api_client("command").get("/dashboard/panels/").content.decode()
    assert re.search(
        r'<tr data-state="dispatched"><th scope="row">[^<]+</th><td class="num">3<', html
    )
    assert re.search(r'<tr data-unit="housing"><th scope="row">[^<]+</th><td class="num">2<', html)
    assert re.search(
        r'<tr data-unit="transport"><th scope="row">[^<]+</th><td class="num">1<', html
    )


def test_a_liaisons_dashboard_holds_only_its_units_cases(api_client: ClientFor) -> None:
    housing = register_case(project_type="real_estate")
    transport = register_case(project_type="transport")
    html = api_client("liaison_housing").get("/").content.decode()
    assert housing.number in html
    assert transport.number not in html


def test_a_big_case_offers_a_mass_incident_and_a_small_one_does_not(
    api_client: ClientFor,
) -> None:
    big = register_case(workers=40)
    small = register_case(workers=5)
    clerk = api_client("clerk_lianshi")
    assert 'id="report-incident"' in clerk.get(f"/cases/{big.number}/").content.decode()
    assert 'id="report-incident"' not in clerk.get(f"/cases/{small.number}/").content.decode()
    assert clerk.get(f"/incidents/new/?case={small.number}").status_code == 403
    form = clerk.get(f"/incidents/new/?case={big.number}").content.decode()
    assert f'value="{big.number}"' in form  # the case is linked in advance

    response = clerk.post(
        f"/incidents/new/?case={big.number}",
        {
            "title": "练市新城工地聚集",
            "kind": "site_gathering",
            "town": "lianshi",
            "people_count": "40",
            "lat": "30.71",
            "lng": "120.43",
            "case_numbers": big.number,
        },
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert list(incident.cases.all()) == [big]
    assert incident.level == "III"


def test_a_bad_report_form_stores_nothing(api_client: ClientFor) -> None:
    response = api_client("command").post(
        "/incidents/new/",
        {"title": "", "kind": "dance", "town": "nowhere", "people_count": "-3", "lat": "91"},
    )
    assert response.status_code == 400
    assert 'id="form-errors"' in response.content.decode()
    assert not Incident.objects.exists()


def test_the_room_page_and_its_controls(api_client: ClientFor) -> None:
    incident = incident_open("command")
    command = api_client("command")
    html = command.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'data-ws="/ws/incidents/{incident.pk}/"' in html
    assert 'id="action-activate"' in html
    assert 'id="chat-form"' in html

    # A stale revision is refused with the reason, and changes nothing.
    stale = command.post(f"/incidents/{incident.pk}/act/", {"action": "activate", "revision": "99"})
    assert stale.status_code == 409
    assert 'id="action-error"' in stale.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == "reported"

    done = command.post(
        f"/incidents/{incident.pk}/act/", {"action": "activate", "revision": incident.revision}
    )
    assert done.status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == "active"

    no_reason = command.post(f"/incidents/{incident.pk}/act/", {"action": "close"})
    assert no_reason.status_code == 422
    assert Incident.objects.get(pk=incident.pk).status == "active"


def test_the_room_refuses_outsiders_and_reviewers_only_read(api_client: ClientFor) -> None:
    incident = incident_open("command", town="shuanglin")
    assert api_client("liaison_lianshi").get(f"/incidents/{incident.pk}/").status_code == 404
    reviewer = api_client("reviewer")
    html = reviewer.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="chat-form"' not in html
    assert 'id="action-activate"' not in html
    response = reviewer.post(f"/incidents/{incident.pk}/act/", {"action": "activate"})
    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == "reported"


def test_incident_list_filters_by_status(api_client: ClientFor) -> None:
    open_one = incident_open("command")
    closed = incident_open("command")
    command = api_client("command")
    command.post(f"/incidents/{closed.pk}/act/", {"action": "close", "reason": "已散去"})
    html = command.get("/incidents/").content.decode()
    assert f'data-incident="{open_one.pk}"' in html
    assert f'data-incident="{closed.pk}"' not in html
    html = command.get("/incidents/?status=closed").content.decode()
    assert f'data-incident="{closed.pk}"' in html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_pages_speak_the_readers_language(api_client: ClientFor, language: str) -> None:
    incident = incident_open("command")
    client = api_client("command")
    html = client.get(
        f"/incidents/{incident.pk}/", headers={"accept-language": language}
    ).content.decode()
    expected: Any = "确认接报" if language == "zh-hans" else "Acknowledge"
    assert expected in html
