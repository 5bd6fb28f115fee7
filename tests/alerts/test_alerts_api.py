"""The alerting API: alerts and who sees them, acknowledging, rosters, daily reports, CAP.

Personas: `command` sees and acknowledges everything; `liaison_police` acts for the police
bureau; `liaison_housing` is the liaison of a unit the incident does not page; `reviewer`
reads everything and acts on nothing. Every refusal is a JSON `{"detail", "errors"}` answer
and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.domain.cap import CAP_NAMESPACE
from alerts.models import Alert, DutyShift, Officer, SmsMessage, ZeroReport
from incidents.models import Event, Incident, Unit
from incidents.services import IncidentChange, incident_transition
from tests.alerts.test_cap import NS, text, texts, valid_tree
from tests.conftest import PUBLIC
from tests.live.helpers import incident_open, register_case

ClientFor = Callable[[str], Client]

# The five units a level III gathering in Lianshi pages: four departments and the town.
PAGED = {"hrss", "housing", "police", "petition", "lianshi"}
MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    return body


def acknowledge(client: Client, alert_id: int) -> Any:
    return post(client, f"/api/v1/alerts/{alert_id}/acknowledge", {})


def police_alert(incident: Incident) -> Alert:
    return Alert.objects.get(incident=incident, unit__code="police")


def alert_rows() -> list[tuple[Any, ...]]:
    return list(
        Alert.objects.order_by("pk").values_list(
            "pk", "stage", "state", "escalate_at", "acknowledged_at", "acknowledged_by"
        )
    )


# --- the alert list ---------------------------------------------------------------------


@pytest.mark.parametrize("username", ["command", "reviewer"])
def test_command_and_reviewers_see_every_alert_of_the_district(
    api_client: ClientFor, incident: Incident, username: str
) -> None:
    body = ok(api_client(username).get("/api/v1/alerts"))

    assert body["count"] == 5
    assert {a["unit"] for a in body["results"]} == PAGED
    assert {a["incident_id"] for a in body["results"]} == {incident.pk}


def test_a_liaison_sees_only_the_alerts_of_their_unit(
    api_client: ClientFor, incident: Incident
) -> None:
    body = ok(api_client("liaison_police").get("/api/v1/alerts"))

    assert body["count"] == 1
    (alert,) = body["results"]
    assert alert["id"] == police_alert(incident).pk
    assert alert["unit"] == "police"
    assert alert["state"] == "open"
    assert alert["ladder"] == [["primary"], ["backup"], ["leader"], ["command"]]


@pytest.mark.parametrize(
    ("username", "unit"),
    [("liaison_housing", "housing"), ("liaison_lianshi", "lianshi"), ("clerk_lianshi", "lianshi")],
)
def test_everyone_of_a_unit_sees_only_that_units_alerts(
    api_client: ClientFor, incident: Incident, username: str, unit: str
) -> None:
    body = ok(api_client(username).get("/api/v1/alerts"))

    assert [a["unit"] for a in body["results"]] == [unit]


def test_phone_numbers_are_masked_in_the_alert_list(
    api_client: ClientFor, incident: Incident
) -> None:
    response = api_client("command").get("/api/v1/alerts")
    body = ok(response)

    messages = [m for a in body["results"] for m in a["messages"]]
    assert len(messages) == 5
    assert all(MASKED.match(m["to"]) for m in messages), [m["to"] for m in messages]
    police = next(a for a in body["results"] if a["unit"] == "police")
    (message,) = police["messages"]
    primary = DutyShift.objects.get(
        unit__code="police", day=timezone.localdate(), rung="primary"
    ).officer
    assert message["to"] == f"139****{primary.phone[-4:]}"
    assert message["officer"] == primary.name
    text_of_answer = response.content.decode()
    for phone in SmsMessage.objects.values_list("to", flat=True):
        assert phone not in text_of_answer
        assert phone[3:] not in text_of_answer


def test_the_list_filters_by_state_and_by_incident(
    api_client: ClientFor, incident: Incident
) -> None:
    client = api_client("command")
    ok(acknowledge(client, police_alert(incident).pk))
    other = incident_open("command", town="nanxun")

    acknowledged = ok(client.get("/api/v1/alerts?state=acknowledged"))
    waiting = ok(client.get("/api/v1/alerts?state=open"))
    of_first = ok(client.get(f"/api/v1/alerts?incident={incident.pk}"))
    of_other = ok(client.get(f"/api/v1/alerts?incident={other.pk}&state=open"))

    assert [a["unit"] for a in acknowledged["results"]] == ["police"]
    assert waiting["count"] == 9
    assert of_first["count"] == 5
    assert {a["incident_id"] for a in of_first["results"]} == {incident.pk}
    assert {a["unit"] for a in of_other["results"]} == PAGED - {"lianshi"} | {"nanxun"}


def test_the_list_filters_the_alerts_of_a_closed_incident(
    api_client: ClientFor, incident: Incident, actor: Callable[[str], Any]
) -> None:
    incident_transition(
        actor=actor("command"),
        incident_id=incident.pk,
        change=IncidentChange(action="close", reason="人员已散去"),
    )

    body = ok(api_client("command").get("/api/v1/alerts?state=cancelled"))

    assert body["count"] == 5
    assert {a["state"] for a in body["results"]} == {"cancelled"}


@pytest.mark.parametrize(
    "query",
    [
        "state=lost",
        "incident=0",
        "incident=abc",
        "limit=0",
        "limit=201",
        "offset=-1",
    ],
)
def test_a_bad_alert_query_is_refused(api_client: ClientFor, normal_time: None, query: str) -> None:
    assert_error(api_client("command").get(f"/api/v1/alerts?{query}"), 422)


# --- acknowledging ------------------------------------------------------------------------


def test_the_units_liaison_acknowledges_its_alert(
    api_client: ClientFor, incident: Incident
) -> None:
    alert = police_alert(incident)

    body = ok(acknowledge(api_client("liaison_police"), alert.pk))

    assert body["id"] == alert.pk
    assert body["state"] == "acknowledged"
    assert body["acknowledged_via"] == "api"
    assert body["acknowledged_by"] == "liaison_police"
    assert body["escalate_at"] is None
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_by == Officer.objects.get(user__username="liaison_police")
    (event,) = Event.objects.filter(kind="alert.acknowledged")
    assert event.data["alert_id"] == alert.pk
    assert event.data["via"] == "api"


def test_another_units_liaison_cannot_see_the_alert(
    api_client: ClientFor, incident: Incident
) -> None:
    alert = police_alert(incident)
    before = alert_rows()

    response = acknowledge(api_client("liaison_housing"), alert.pk)

    assert_error(response, 404)
    assert alert_rows() == before
    assert not Event.objects.filter(kind="alert.acknowledged").exists()


@pytest.mark.parametrize("username", ["reviewer", "clerk_lianshi"])
def test_someone_who_sees_but_does_not_answer_for_the_alert_may_not_acknowledge_it(
    api_client: ClientFor, incident: Incident, username: str
) -> None:
    alert = Alert.objects.get(incident=incident, unit__code="lianshi")
    before = alert_rows()

    response = acknowledge(api_client(username), alert.pk)

    assert_error(response, 403)
    assert alert_rows() == before
    assert not Event.objects.filter(kind="alert.acknowledged").exists()


def test_acknowledging_an_unknown_alert_is_not_found(
    api_client: ClientFor, incident: Incident
) -> None:
    assert_error(acknowledge(api_client("command"), 999999), 404)


def test_acknowledging_twice_changes_nothing_the_second_time(
    api_client: ClientFor, incident: Incident
) -> None:
    alert = police_alert(incident)
    client = api_client("liaison_police")
    first = ok(acknowledge(client, alert.pk))
    before = alert_rows()

    second = ok(acknowledge(api_client("command"), alert.pk))

    assert second == first
    assert alert_rows() == before
    assert Event.objects.filter(kind="alert.acknowledged").count() == 1


# --- rosters ------------------------------------------------------------------------------


def test_the_roster_names_each_units_duty_officers_for_the_day(
    api_client: ClientFor, on_duty: None
) -> None:
    day = timezone.localdate()

    body = ok(api_client("command").get(f"/api/v1/roster?day={day.isoformat()}"))

    assert body["day"] == day.isoformat()
    assert body["sensitive_period"] is None
    units = {row["unit"]: row for row in body["units"]}
    assert set(units) == set(Unit.objects.filter(active=True).values_list("code", flat=True))
    for shift in DutyShift.objects.filter(day=day).select_related("unit", "officer"):
        assert units[shift.unit.code][shift.rung] == shift.officer.name


def test_the_roster_of_a_day_without_shifts_names_nobody(
    api_client: ClientFor, on_duty: None
) -> None:
    body = ok(api_client("command").get("/api/v1/roster?day=2001-01-01&unit=police"))

    assert body["units"] == [{"unit": "police", "primary": None, "backup": None, "leader": None}]


def test_the_roster_filters_by_unit(api_client: ClientFor, on_duty: None) -> None:
    body = ok(api_client("reviewer").get("/api/v1/roster?unit=housing"))

    assert [row["unit"] for row in body["units"]] == ["housing"]
    assert body["units"][0]["primary"]


def test_a_liaison_sees_only_their_own_units_roster(api_client: ClientFor, on_duty: None) -> None:
    client = api_client("liaison_police")

    own = ok(client.get("/api/v1/roster"))
    other = ok(client.get("/api/v1/roster?unit=housing"))

    assert [row["unit"] for row in own["units"]] == ["police"]
    assert other["units"] == []


@pytest.mark.parametrize("query", ["day=tomorrow", "day=2026-02-30", "unit=" + "x" * 41])
def test_a_bad_roster_query_is_refused(
    api_client: ClientFor, normal_time: None, query: str
) -> None:
    assert_error(api_client("command").get(f"/api/v1/roster?{query}"), 422)


# --- daily reports ------------------------------------------------------------------------


def test_a_liaison_files_the_units_daily_report_once(
    api_client: ClientFor, normal_time: None
) -> None:
    client = api_client("liaison_police")

    first = ok(post(client, "/api/v1/daily-reports", {"nothing_to_report": True}), 201)
    again = ok(
        post(client, "/api/v1/daily-reports", {"nothing_to_report": False, "note": "有情况"}),
        200,
    )

    assert first["unit"] == "police"
    assert first["day"] == timezone.localdate().isoformat()
    assert first["nothing_to_report"] is True
    assert first["filed_by"] == "liaison_police"
    assert again == first
    assert ZeroReport.objects.count() == 1
    assert Event.objects.filter(kind="zero_report.filed").count() == 1


def test_a_report_with_something_to_report_keeps_its_note(
    api_client: ClientFor, normal_time: None
) -> None:
    body = ok(
        post(
            api_client("liaison_lianshi"),
            "/api/v1/daily-reports",
            {"nothing_to_report": False, "note": "  练市新城工地仍有20人聚集  "},
        ),
        201,
    )

    assert body["note"] == "练市新城工地仍有20人聚集"
    assert ZeroReport.objects.get().note == "练市新城工地仍有20人聚集"


@pytest.mark.parametrize("username", ["command", "reviewer", "clerk_lianshi"])
def test_only_a_units_liaison_files_a_daily_report(
    api_client: ClientFor, normal_time: None, username: str
) -> None:
    response = post(api_client(username), "/api/v1/daily-reports", {"nothing_to_report": True})

    assert_error(response, 403)
    assert not ZeroReport.objects.exists()
    assert not Event.objects.filter(kind="zero_report.filed").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nothing_to_report": False}, "note"),
        ({"nothing_to_report": False, "note": "   "}, "note"),
        ({"nothing_to_report": False, "note": "x" * 2001}, "note"),
        ({"nothing_to_report": True, "note": "x" * 2001}, "note"),
        ({"nothing_to_report": True, "unit": "housing"}, "unit"),
        ({"nothing_to_report": "perhaps"}, "nothing_to_report"),
    ],
)
def test_a_bad_daily_report_is_refused(
    api_client: ClientFor, normal_time: None, body: dict[str, Any], field: str
) -> None:
    response = post(api_client("liaison_police"), "/api/v1/daily-reports", body)

    error = assert_error(response, 422)
    assert field in {e["field"] for e in error["errors"]}
    assert not ZeroReport.objects.exists()


def test_the_daily_report_status_lists_filed_and_missing_units(
    api_client: ClientFor, normal_time: None
) -> None:
    ok(post(api_client("liaison_police"), "/api/v1/daily-reports", {}), 201)
    ok(post(api_client("liaison_lianshi"), "/api/v1/daily-reports", {}), 201)

    body = ok(api_client("command").get("/api/v1/daily-reports"))

    towns = set(Unit.objects.filter(kind=Unit.Kind.TERRITORIAL).values_list("code", flat=True))
    assert body["day"] == timezone.localdate().isoformat()
    assert body["sensitive_period"] is None
    assert body["due_hour"] == 10
    assert {r["unit"] for r in body["filed"]} == {"police", "lianshi"}
    assert set(body["missing"]) == (towns | {"hrss", "housing", "police", "petition"}) - {
        "police",
        "lianshi",
    }
    assert len(body["missing"]) == 12


# --- CAP export ---------------------------------------------------------------------------


def cap(client: Client, incident: Incident) -> Any:
    response = client.get(f"/api/v1/incidents/{incident.pk}/cap.xml")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/cap+xml")
    return response


def test_an_incident_exports_as_a_valid_cap_alert(
    api_client: ClientFor, incident: Incident
) -> None:
    tree = valid_tree(cap(api_client("command"), incident).content)

    assert tree.tag == f"{{{CAP_NAMESPACE}}}alert"
    code = incident.district.code
    assert text(tree, "cap:identifier") == f"{code}-{incident.code}-r0"
    assert text(tree, "cap:sender") == f"{code}@hub.example.gov.cn"
    assert text(tree, "cap:msgType") == "Alert"
    assert tree.find("cap:references", NS) is None
    assert text(tree, "cap:incidents") == incident.code
    assert texts(tree, "cap:info/cap:web") == [f"{PUBLIC}/i/{incident.pk}"] * 2
    assert texts(tree, "cap:info[1]/cap:parameter[cap:valueName='level']/cap:value") == ["III"]
    assert texts(tree, "cap:info/cap:area/cap:areaDesc")[0] == "练市镇"


def test_after_a_change_the_cap_export_is_an_update_referring_to_the_first(
    api_client: ClientFor, incident: Incident, actor: Callable[[str], Any]
) -> None:
    first = valid_tree(cap(api_client("command"), incident).content)
    incident_transition(
        actor=actor("command"), incident_id=incident.pk, change=IncidentChange(action="activate")
    )

    tree = valid_tree(cap(api_client("liaison_police"), incident).content)

    code = incident.district.code
    assert text(tree, "cap:identifier") == f"{code}-{incident.code}-r1"
    assert text(tree, "cap:msgType") == "Update"
    (reference,) = text(tree, "cap:references").split(" ")
    sender, identifier, sent = reference.split(",")
    assert sender == text(first, "cap:sender")
    assert identifier == text(first, "cap:identifier")
    assert sent == text(first, "cap:sent")
    assert texts(tree, "cap:info[1]/cap:parameter[cap:valueName='status']/cap:value") == ["active"]


@pytest.mark.parametrize("username", ["clerk_lianshi", "gateway_110"])
def test_the_cap_export_of_an_incident_one_cannot_see_is_not_found(
    api_client: ClientFor, incident: Incident, username: str
) -> None:
    response = api_client(username).get(f"/api/v1/incidents/{incident.pk}/cap.xml")

    assert_error(response, 404)


def test_the_cap_export_of_an_unknown_incident_is_not_found(
    api_client: ClientFor, normal_time: None
) -> None:
    assert_error(api_client("command").get("/api/v1/incidents/999999/cap.xml"), 404)


@pytest.mark.parametrize(
    "username",
    [
        "liaison_hrss",
        "liaison_housing",
        "liaison_lianshi",
        "liaison_petition",
        "liaison_police",
    ],
)
def test_every_paged_units_liaison_may_open_the_incident(
    api_client: ClientFor, incident: Incident, username: str
) -> None:
    client = api_client(username)
    assert ok(client.get("/api/v1/alerts"))["count"] == 1

    assert client.get(f"/api/v1/incidents/{incident.pk}/cap.xml").status_code == 200
    assert client.get(f"/incidents/{incident.pk}/").status_code == 200


def test_the_cap_export_never_names_the_complainant(api_client: ClientFor, on_duty: None) -> None:
    case = register_case()
    (complaint,) = case.reports.all()
    assert (complaint.complainant_name, complaint.complainant_phone) == ("王建国", "13812345678")
    incident = incident_open("command", cases=[case.number])
    assert list(incident.cases.all()) == [case]

    document = cap(api_client("command"), incident).content
    valid_tree(document)

    decoded = document.decode()
    for secret in ("王建国", "13812345678", "12345678", "138****5678"):
        assert secret not in decoded
