"""The mass-incident API: reporting, who sees what, the room's event stream and the actions.

Every refusal is a JSON `{"detail", "errors"}` answer and stores nothing: no incident, no
event, no change of status, level or revision.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from incidents.models import District, Event, Incident, IncidentSettings
from incidents.services import incident_settings
from tests.live.helpers import register_case

URL = "/api/v1/incidents"
ClientFor = Callable[[str], Client]
# Every incident involves its town, the default responders (police, hrss, petition) and the
# units paged for it (the four departments: housing joins that way).
TAKING_PART = {"lianshi", "police", "hrss", "petition", "housing"}


def transport_liaison(client_for: ClientFor) -> Client:
    """The transport bureau's liaison: a unit that takes no part in a Lianshi incident."""
    from django.contrib.auth.models import Group

    from incidents.models import Membership, Unit

    user = User.objects.create_user("liaison_transport")
    user.groups.set([Group.objects.get(name="liaison")])
    unit = Unit.objects.get(code="transport")
    Membership.objects.create(user=user, district=unit.district, unit=unit)
    return client_for("liaison_transport")


COMMAND_ACTIONS_REPORTED = [
    "activate",
    "close",
    "set_level",
    "update",
    "link_cases",
    "take_command",
]


def post(client: Client, url: str, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/v1/incidents body; keyword arguments replace top-level fields."""
    body: dict[str, Any] = {
        "title": "练市新城工地农民工聚集讨薪",
        "town": "lianshi",
        "location": {"lat": 30.713, "lng": 120.429},
        "people_count": 40,
        "kind": "site_gathering",
    }
    body.update(overrides)
    return body


def report(client: Client, **overrides: Any) -> dict[str, Any]:
    response = post(client, URL, payload(**overrides))
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def act(client: Client, incident_id: int, action: str, **fields: Any) -> Any:
    return post(client, f"{URL}/{incident_id}/transitions", {"action": action, **fields})


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


# Opening an incident also raises SMS alerts (alert.* events, tested in tests/alerts).
INCIDENT_EVENTS = Event.objects.filter(kind__startswith="incident.")


def counts() -> tuple[int, int]:
    return Incident.objects.count(), INCIDENT_EVENTS.count()


def snapshot(incident_id: int) -> dict[str, Any]:
    incident = Incident.objects.get(pk=incident_id)
    return {
        "status": incident.status,
        "level": incident.level,
        "level_set_by_hand": incident.level_set_by_hand,
        "people_count": incident.people_count,
        "description": incident.description,
        "commander": incident.commander_id,
        "revision": incident.revision,
        "cases": sorted(incident.cases.values_list("number", flat=True)),
        "units": sorted(incident.units.values_list("code", flat=True)),
        "events": Event.objects.count(),
    }


def events(client: Client, incident_id: int, **query: Any) -> dict[str, Any]:
    return ok(client.get(f"{URL}/{incident_id}/events", query))


def unit_codes(body: dict[str, Any]) -> set[str]:
    return {u["code"] for u in body["units"]}


def last_event(incident_id: int) -> Event:
    return INCIDENT_EVENTS.filter(incident_id=incident_id).order_by("-id")[0]


# --- reporting -----------------------------------------------------------------------------------


def test_command_reports_an_incident(api_client: ClientFor) -> None:
    case = register_case(workers=12)  # real estate in Lianshi: housing leads
    before_incidents, before_events = counts()

    body = report(api_client("command"), people_count=120, case_numbers=[case.number])

    assert body["level"] == "II"
    assert body["status"] == "reported"
    assert body["commander"] == "command"
    assert body["reported_by"] == "command"
    assert body["source"] == "command"
    assert body["level_set_by_hand"] is False
    assert body["town"]["code"] == "lianshi"
    assert body["location"] == {"lat": 30.713, "lng": 120.429}
    assert body["code"] == f"INC-{body['id']}"
    assert body["revision"] == 0
    assert body["activated_at"] is None
    assert body["closed_at"] is None
    assert unit_codes(body) == {"lianshi", "police", "hrss", "petition", "housing"}
    assert [c["case_number"] for c in body["cases"]] == [case.number]
    assert body["cases"][0]["visible"] is True
    assert body["cases"][0]["workers_count"] == 12
    assert body["cases"][0]["amount_owed"] == "86000.00"
    assert body["allowed_actions"] == COMMAND_ACTIONS_REPORTED

    incident = Incident.objects.get(pk=body["id"])
    assert (incident.level, incident.people_count, incident.kind) == ("II", 120, "site_gathering")
    assert counts() == (before_incidents + 1, before_events + 1)
    event = INCIDENT_EVENTS.get(incident=incident)
    assert event.kind == "incident.reported"
    assert event.actor is not None
    assert event.actor.username == "command"
    assert event.after == "reported"
    assert event.data["case_numbers"] == [case.number]
    assert event.data["source"] == "command"
    # The head is the newest event of the room: the SMS alerts raised with the report.
    assert body["head"] == Event.objects.filter(incident=incident).order_by("-id")[0].pk


@pytest.mark.parametrize(
    ("people", "kind", "level"),
    [
        (0, "site_gathering", "IV"),
        (29, "gate_gathering", "IV"),
        (30, "site_gathering", "III"),
        (99, "site_gathering", "III"),
        (100, "gate_gathering", "II"),
        (299, "site_gathering", "II"),
        (300, "site_gathering", "I"),
        (29, "road_blocking", "III"),
        (99, "extreme_act", "II"),
        (299, "road_blocking", "I"),
        (300, "extreme_act", "I"),
    ],
)
def test_level_is_computed_from_the_table(
    api_client: ClientFor, people: int, kind: str, level: str
) -> None:
    body = report(api_client("command"), people_count=people, kind=kind)
    assert body["level"] == level
    assert Incident.objects.get(pk=body["id"]).level == level


def test_gateway_110_reports_and_sees_only_its_own(api_client: ClientFor) -> None:
    gateway = api_client("gateway_110")
    by_command = report(api_client("command"), title="指挥中心录入")

    body = report(gateway, title="110 接警: 工地聚集", people_count=35)

    assert body["source"] == "police_110"
    assert body["reported_by"] == "gateway_110"
    assert body["commander"] is None
    assert body["level"] == "III"
    assert unit_codes(body) == TAKING_PART
    assert body["allowed_actions"] == ["update"]
    listed = ok(gateway.get(URL))
    assert listed["count"] == 1
    assert [i["id"] for i in listed["results"]] == [body["id"]]
    assert ok(gateway.get(f"{URL}/{body['id']}"))["id"] == body["id"]
    assert_error(gateway.get(f"{URL}/{by_command['id']}"), 404)
    assert_error(gateway.get(f"{URL}/{by_command['id']}/events"), 404)
    # Command sees both.
    assert ok(api_client("command").get(URL))["count"] == 2


def test_liaison_reports_from_a_case_of_thirty_workers(api_client: ClientFor) -> None:
    case = register_case(workers=30)  # housing leads, Lianshi assists

    body = report(api_client("liaison_housing"), case_numbers=[case.number])

    assert body["reported_by"] == "liaison_housing"
    assert body["source"] == "command"
    assert body["commander"] is None  # only command staff take command on reporting
    assert "housing" in unit_codes(body)
    assert [c["case_number"] for c in body["cases"]] == [case.number]
    assert body["cases"][0]["visible"] is True


@pytest.mark.parametrize("username", ["liaison_housing", "liaison_lianshi", "clerk_lianshi"])
def test_a_case_of_fewer_than_thirty_workers_offers_no_incident(
    api_client: ClientFor, username: str
) -> None:
    case = register_case(workers=29)
    before = counts()

    assert_error(post(api_client(username), URL, payload(case_numbers=[case.number])), 403)

    assert counts() == before


@pytest.mark.parametrize("username", ["liaison_housing", "liaison_police", "clerk_lianshi"])
def test_liaison_or_clerk_without_a_case_may_not_report(
    api_client: ClientFor, username: str
) -> None:
    before = counts()
    assert_error(post(api_client(username), URL, payload()), 403)
    assert counts() == before


def test_reviewer_may_not_report_even_with_a_large_case(api_client: ClientFor) -> None:
    case = register_case(workers=60)
    before = counts()
    assert_error(post(api_client("reviewer"), URL, payload()), 403)
    assert_error(post(api_client("reviewer"), URL, payload(case_numbers=[case.number])), 403)
    assert counts() == before


def test_liaison_may_not_report_with_a_large_case_of_another_unit(api_client: ClientFor) -> None:
    case = register_case(workers=60)  # housing's; the police cannot see it
    before = counts()
    body = assert_error(
        post(api_client("liaison_police"), URL, payload(case_numbers=[case.number])), 422
    )
    assert fields_of(body) == {"case_numbers"}
    assert counts() == before


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "riot"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"town": "atlantis"}, "town"),
        ({"town": "housing"}, "town"),  # a bureau is not a town
        ({"location": {"lat": 91, "lng": 120.4}}, "location.lat"),
        ({"location": {"lat": -90.5, "lng": 120.4}}, "location.lat"),
        ({"location": {"lat": 30.7, "lng": 181}}, "location.lng"),
        ({"people_count": -1}, "people_count"),
        ({"people_count": "40"}, "people_count"),
        ({"people_count": 40.5}, "people_count"),
        ({"people_count": 1_000_001}, "people_count"),
        ({"colour": "red"}, "colour"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"case_numbers": ["NX-2026-999999"]}, "case_numbers"),
    ],
)
def test_invalid_report_is_422_naming_the_field(
    api_client: ClientFor, overrides: dict[str, Any], field: str
) -> None:
    before = counts()

    body = assert_error(post(api_client("command"), URL, payload(**overrides)), 422)

    assert field in fields_of(body), body
    assert counts() == before


@pytest.mark.parametrize("missing", ["title", "town", "location", "people_count", "kind"])
def test_missing_field_is_422(api_client: ClientFor, missing: str) -> None:
    body = payload()
    del body[missing]
    before = counts()
    answer = assert_error(post(api_client("command"), URL, body), 422)
    assert missing in fields_of(answer)
    assert counts() == before


def test_case_invisible_to_the_reporter_is_refused_by_name(api_client: ClientFor) -> None:
    case = register_case(workers=40)  # registered at the Lianshi window, not by 110
    before = counts()

    body = assert_error(
        post(api_client("gateway_110"), URL, payload(case_numbers=[case.number])), 422
    )

    assert fields_of(body) == {"case_numbers"}
    assert case.number in body["errors"][0]["message"]
    assert counts() == before


def test_one_unknown_case_among_known_ones_stores_nothing(api_client: ClientFor) -> None:
    case = register_case(workers=40)
    before = counts()
    body = assert_error(
        post(api_client("command"), URL, payload(case_numbers=[case.number, "NX-2026-999999"])),
        422,
    )
    assert "NX-2026-999999" in body["errors"][0]["message"]
    assert case.number not in body["errors"][0]["message"]
    assert counts() == before


def test_a_body_that_is_not_json_is_refused(api_client: ClientFor) -> None:
    before = counts()
    response = api_client("command").post(URL, "{not json", content_type="application/json")
    assert_error(response, 400)
    form = api_client("command").post(URL, {"title": "x"})
    assert form.status_code == 415
    assert counts() == before


# --- seeing incidents ----------------------------------------------------------------------------


def test_town_liaison_sees_an_incident_in_its_town_others_do_not(api_client: ClientFor) -> None:
    body = report(api_client("command"))

    seen = ok(api_client("liaison_lianshi").get(f"{URL}/{body['id']}"))
    assert seen["id"] == body["id"]
    assert ok(api_client("liaison_lianshi").get(URL))["count"] == 1

    transport = transport_liaison(api_client)
    assert_error(transport.get(f"{URL}/{body['id']}"), 404)
    assert_error(transport.get(f"{URL}/{body['id']}/events"), 404)
    assert ok(transport.get(URL)) == {"count": 0, "results": []}
    # The responders and the paged units take part, so they see it; district-wide roles
    # see everything.
    for username in [
        "liaison_police",
        "liaison_hrss",
        "liaison_petition",
        "liaison_housing",
        "reviewer",
    ]:
        assert ok(api_client(username).get(f"{URL}/{body['id']}"))["id"] == body["id"]


def test_incident_elsewhere_is_invisible_to_a_town_liaison(api_client: ClientFor) -> None:
    body = report(api_client("command"), town="shuanglin")
    assert body["town"]["code"] == "shuanglin"
    assert_error(api_client("liaison_lianshi").get(f"{URL}/{body['id']}"), 404)
    assert_error(api_client("liaison_lianshi").get(f"{URL}/999999"), 404)


def test_linked_case_another_unit_handles_is_named_not_opened(api_client: ClientFor) -> None:
    case = register_case(workers=35)  # housing's case
    body = report(api_client("command"), case_numbers=[case.number])

    police = ok(api_client("liaison_police").get(f"{URL}/{body['id']}"))
    [linked] = police["cases"]
    assert linked == {
        "case_number": case.number,
        "state": case.state,
        "workers_count": None,
        "amount_owed": None,
        "responsible_unit": "housing",
        "visible": False,
    }
    assert police["allowed_actions"] == ["update"]

    housing = ok(api_client("liaison_housing").get(f"{URL}/{body['id']}"))
    [own] = housing["cases"]
    assert own["visible"] is True
    assert own["workers_count"] == 35
    assert own["amount_owed"] == "86000.00"


def test_reviewer_reads_but_may_do_nothing(api_client: ClientFor) -> None:
    body = report(api_client("command"))
    seen = ok(api_client("reviewer").get(f"{URL}/{body['id']}"))
    assert seen["allowed_actions"] == []


def test_list_filters_by_status(api_client: ClientFor) -> None:
    command = api_client("command")
    reported = report(command, title="甲")
    active = report(command, title="乙")
    closed = report(command, title="丙")
    ok(act(command, active["id"], "activate"))
    ok(act(command, closed["id"], "close", reason="误报"))

    def ids(**query: Any) -> list[int]:
        body = ok(command.get(URL, query))
        assert body["count"] == len(body["results"])
        return [i["id"] for i in body["results"]]

    assert ids() == [closed["id"], active["id"], reported["id"]]  # newest first
    assert ids(status="reported") == [reported["id"]]
    assert ids(status="active") == [active["id"]]
    assert ids(status="closed") == [closed["id"]]
    assert ids(status="contained") == []
    assert ids(status="open") == [active["id"], reported["id"]]
    results = ok(command.get(URL, {"status": "active"}))["results"]
    assert results[0]["status"] == "active"
    assert results[0]["title"] == "乙"
    assert_error(command.get(URL, {"status": "burning"}), 422)


def test_list_pages_with_limit_and_offset(api_client: ClientFor) -> None:
    command = api_client("command")
    made = [report(command, title=f"事件{i}")["id"] for i in range(3)]
    first = ok(command.get(URL, {"limit": 2}))
    second = ok(command.get(URL, {"limit": 2, "offset": 2}))
    assert first["count"] == second["count"] == 3
    assert [i["id"] for i in first["results"] + second["results"]] == made[::-1]
    assert_error(command.get(URL, {"limit": 0}), 422)


# --- the room's event stream ---------------------------------------------------------------------


def test_events_are_the_incident_stream_in_id_order(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command)
    other = report(command, title="另一起")  # its events are not in this stream
    ok(act(command, body["id"], "activate"))
    ok(act(command, other["id"], "activate"))
    ok(act(command, body["id"], "update", people_count=45))
    ok(act(command, body["id"], "contain"))

    stream = events(command, body["id"])

    assert [f["id"] for f in stream["events"]] == list(
        Event.objects.filter(incident_id=body["id"]).order_by("id").values_list("id", flat=True)
    )
    frames = [f for f in stream["events"] if f["kind"].startswith("incident.")]
    assert [f["kind"] for f in frames] == [
        "incident.reported",
        "incident.activate",
        "incident.update",
        "incident.contain",
    ]
    ids = [f["id"] for f in stream["events"]]
    assert ids == sorted(ids)
    assert all(f["data"]["incident_id"] == body["id"] for f in stream["events"])
    assert stream["more"] is False
    assert stream["last_id"] == ids[-1]
    assert ok(command.get(f"{URL}/{body['id']}"))["head"] == ids[-1]

    activate = frames[1]
    assert activate["type"] == "event"
    assert activate["actor"] == "command"
    assert (activate["before"], activate["after"]) == ("reported", "active")
    assert activate["reason"] == ""
    assert activate["at"]
    assert frames[0]["before"] is None
    assert frames[0]["after"] == "reported"


def test_events_page_with_more_and_after(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command)
    for count in (41, 42, 43, 44):
        ok(act(command, body["id"], "update", people_count=count))
    all_ids = [f["id"] for f in events(command, body["id"])["events"]]
    assert all_ids == list(
        Event.objects.filter(incident_id=body["id"]).order_by("id").values_list("id", flat=True)
    )
    assert len(all_ids) >= 5

    paged: list[int] = []
    after = 0
    while True:
        page = events(command, body["id"], limit=2, after=after)
        ids = [f["id"] for f in page["events"]]
        assert len(ids) == (2 if page["more"] else len(ids)) <= 2
        paged += ids
        if not page["more"]:
            break
        assert page["last_id"] == ids[-1]
        after = page["last_id"]
    assert paged == all_ids

    after_first = events(command, body["id"], after=all_ids[0])
    assert [f["id"] for f in after_first["events"]] == all_ids[1:]
    caught_up = events(command, body["id"], after=all_ids[-1])
    assert caught_up == {"events": [], "last_id": all_ids[-1], "more": False}


@pytest.mark.parametrize("query", [{"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 501}])
def test_events_with_a_bad_query_is_422(api_client: ClientFor, query: dict[str, Any]) -> None:
    body = report(api_client("command"))
    answer = assert_error(api_client("command").get(f"{URL}/{body['id']}/events", query), 422)
    assert set(query) <= fields_of(answer)


def test_linked_cases_events_join_the_incident_stream(api_client: ClientFor) -> None:
    case = register_case(workers=35)
    command = api_client("command")
    body = report(command, case_numbers=[case.number])
    head = ok(command.get(f"{URL}/{body['id']}"))["head"]

    accepted = post(
        api_client("liaison_housing"),
        f"/api/v1/cases/{case.number}/transitions",
        {"action": "accept"},
    )
    assert accepted.status_code == 200, accepted.content

    frames = events(command, body["id"], after=head)["events"]
    assert [f["kind"] for f in frames] == ["case.accept"]
    assert frames[0]["data"]["case_number"] == case.number


# --- transitions ----------------------------------------------------------------------------------


def test_activate_contain_close(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command)
    incident_id = body["id"]

    active = ok(act(command, incident_id, "activate"))
    assert active["status"] == "active"
    assert active["activated_at"]
    assert active["revision"] == 1
    assert active["allowed_actions"] == [
        "contain",
        "close",
        "set_level",
        "update",
        "link_cases",
        "take_command",
    ]
    event = last_event(incident_id)
    assert event.kind == "incident.activate"
    assert (event.before, event.after) == ("reported", "active")
    assert event.actor is not None
    assert event.actor.username == "command"

    contained = ok(act(command, incident_id, "contain"))
    assert contained["status"] == "contained"
    assert contained["contained_at"]
    assert contained["activated_at"] == active["activated_at"]
    assert (last_event(incident_id).before, last_event(incident_id).after) == (
        "active",
        "contained",
    )

    flared = ok(act(command, incident_id, "activate"))  # flared up again
    assert flared["status"] == "active"

    closed = ok(act(command, incident_id, "close", reason="人员已疏散"))
    assert closed["status"] == "closed"
    assert closed["closed_at"]
    assert closed["allowed_actions"] == []
    assert closed["revision"] == 4
    event = last_event(incident_id)
    assert (event.kind, event.before, event.after) == ("incident.close", "active", "closed")
    assert event.reason == "人员已疏散"
    assert INCIDENT_EVENTS.filter(incident_id=incident_id).count() == 5


def test_activation_gives_the_incident_a_commander(api_client: ClientFor) -> None:
    body = report(api_client("gateway_110"))
    assert body["commander"] is None
    active = ok(act(api_client("command"), body["id"], "activate"))
    assert active["commander"] == "command"


def test_close_from_reported_is_allowed(api_client: ClientFor) -> None:
    body = report(api_client("command"))
    closed = ok(act(api_client("command"), body["id"], "close", reason="误报,已散去"))
    assert closed["status"] == "closed"
    assert closed["activated_at"] is None
    assert closed["closed_at"]
    event = last_event(body["id"])
    assert (event.before, event.after, event.reason) == ("reported", "closed", "误报,已散去")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_close_without_a_reason_is_422(api_client: ClientFor, reason: str | None) -> None:
    body = report(api_client("command"))
    ok(act(api_client("command"), body["id"], "activate"))
    before = snapshot(body["id"])
    fields = {} if reason is None else {"reason": reason}

    answer = assert_error(act(api_client("command"), body["id"], "close", **fields), 422)

    assert fields_of(answer) == {"reason"}
    assert snapshot(body["id"]) == before


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("activate", {}),
        ("contain", {}),
        ("close", {"reason": "再次关闭"}),
        ("set_level", {"level": "I", "reason": "升级"}),
        ("update", {"people_count": 80}),
        ("link_cases", {}),  # a real case is named below
        ("take_command", {}),
    ],
)
def test_nothing_may_be_done_to_a_closed_incident(
    api_client: ClientFor, action: str, fields: dict[str, Any]
) -> None:
    command = api_client("command")
    body = report(command)
    ok(act(command, body["id"], "close", reason="误报"))
    if action == "link_cases":
        fields = {"case_numbers": [register_case().number]}
    before = snapshot(body["id"])

    response = post(
        command,
        f"{URL}/{body['id']}/transitions",
        {"action": action, **fields},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    answer = assert_error(response, 422)
    assert "closed" in answer["detail"]
    assert snapshot(body["id"]) == before


@pytest.mark.parametrize(
    ("setup", "action"),
    [([], "contain"), (["activate"], "activate"), (["activate", "contain"], "contain")],
)
def test_a_move_not_in_the_table_is_422(
    api_client: ClientFor, setup: list[str], action: str
) -> None:
    command = api_client("command")
    body = report(command)
    for earlier in setup:
        ok(act(command, body["id"], earlier))
    before = snapshot(body["id"])
    assert_error(act(command, body["id"], action), 422)
    assert snapshot(body["id"]) == before


def test_set_level_by_hand_sticks(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command, people_count=40)
    assert body["level"] == "III"

    raised = ok(act(command, body["id"], "set_level", level="I", reason="涉及敏感项目"))

    assert raised["level"] == "I"
    assert raised["level_set_by_hand"] is True
    assert raised["status"] == "reported"
    event = last_event(body["id"])
    assert event.kind == "incident.set_level"
    assert event.data["level_before"] == "III"
    assert event.data["level"] == "I"
    assert event.reason == "涉及敏感项目"

    # A later count does not recompute a level set by hand, up or down.
    for people in (5, 500):
        updated = ok(act(command, body["id"], "update", people_count=people))
        assert updated["people_count"] == people
        assert updated["level"] == "I"
        assert "level_before" not in last_event(body["id"]).data
    assert Incident.objects.get(pk=body["id"]).level == "I"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reason": "升级"}, "level"),
        ({"level": "I"}, "reason"),
        ({"level": "I", "reason": "  "}, "reason"),
        ({"level": "V", "reason": "升级"}, "level"),
        ({"level": "1", "reason": "升级"}, "level"),
    ],
)
def test_set_level_needs_a_level_and_a_reason(
    api_client: ClientFor, fields: dict[str, Any], field: str
) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])

    answer = assert_error(act(api_client("command"), body["id"], "set_level", **fields), 422)

    assert field in fields_of(answer)
    assert snapshot(body["id"]) == before


def test_update_recomputes_the_level(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command, people_count=40)
    assert body["level"] == "III"

    updated = ok(act(command, body["id"], "update", people_count=120, description="人数增加"))

    assert updated["people_count"] == 120
    assert updated["level"] == "II"
    assert updated["level_set_by_hand"] is False
    assert updated["description"] == "人数增加"
    assert updated["status"] == "reported"
    event = last_event(body["id"])
    assert event.kind == "incident.update"
    assert event.data["level_before"] == "III"
    assert event.data["level"] == "II"
    assert event.data["people_count"] == 120
    assert event.data["people_count_before"] == 40
    assert event.before == event.after == "reported"

    # The same level again: no level change is recorded.
    ok(act(command, body["id"], "update", people_count=150))
    assert "level_before" not in last_event(body["id"]).data
    # Down again.
    lowered = ok(act(command, body["id"], "update", people_count=10))
    assert lowered["level"] == "IV"
    assert last_event(body["id"]).data["level_before"] == "II"


def test_update_keeps_the_raise_of_the_kind(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command, people_count=20, kind="road_blocking")
    assert body["level"] == "III"
    assert ok(act(command, body["id"], "update", people_count=100))["level"] == "I"


@pytest.mark.parametrize(
    "fields",
    [{}, {"people_count": -1}, {"people_count": "50"}, {"people_count": 1_000_001}],
)
def test_update_without_a_valid_change_is_422(
    api_client: ClientFor, fields: dict[str, Any]
) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])
    answer = assert_error(act(api_client("command"), body["id"], "update", **fields), 422)
    assert "people_count" in fields_of(answer)
    assert snapshot(body["id"]) == before


def test_link_cases_adds_the_case_and_its_unit(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command)
    assert "transport" not in unit_codes(body)
    transport = transport_liaison(api_client)
    assert_error(transport.get(f"{URL}/{body['id']}"), 404)
    case = register_case(workers=12, project_type="transport")

    linked = ok(act(command, body["id"], "link_cases", case_numbers=[case.number]))

    assert [c["case_number"] for c in linked["cases"]] == [case.number]
    assert "transport" in unit_codes(linked)
    assert linked["status"] == "reported"
    event = last_event(body["id"])
    assert event.kind == "incident.link_cases"
    assert event.data["case_numbers"] == [case.number]
    # Transport takes part now, so its liaison sees the incident.
    assert ok(transport.get(f"{URL}/{body['id']}"))["id"] == body["id"]


@pytest.mark.parametrize("numbers", [[], ["NX-2026-999999"]])
def test_link_cases_needs_known_cases(api_client: ClientFor, numbers: list[str]) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])
    answer = assert_error(
        act(api_client("command"), body["id"], "link_cases", case_numbers=numbers), 422
    )
    assert fields_of(answer) == {"case_numbers"}
    assert snapshot(body["id"]) == before


def test_take_command(api_client: ClientFor) -> None:
    body = report(api_client("gateway_110"))
    assert body["commander"] is None

    taken = ok(act(api_client("command"), body["id"], "take_command"))

    assert taken["commander"] == "command"
    assert taken["status"] == "reported"
    event = last_event(body["id"])
    assert event.kind == "incident.take_command"
    assert event.data["commander"] == "command"
    assert event.data["commander_before"] is None
    assert Incident.objects.get(pk=body["id"]).commander == User.objects.get(username="command")


def test_stale_expected_revision_is_409(api_client: ClientFor) -> None:
    command = api_client("command")
    body = report(command)
    ok(act(command, body["id"], "update", people_count=45))
    before = snapshot(body["id"])
    assert before["revision"] == 1

    assert_error(act(command, body["id"], "activate", expected_revision=0), 409)
    assert snapshot(body["id"]) == before

    active = ok(act(command, body["id"], "activate", expected_revision=1))
    assert active["status"] == "active"
    assert active["revision"] == 2


@pytest.mark.parametrize(
    "payload_",
    [
        {"action": "teleport"},
        {"action": "update", "people_count": 50, "colour": "red"},
        {"action": "activate", "expected_revision": "0"},
        {"action": "set_level", "level": 1, "reason": "x"},
        {},
    ],
)
def test_bad_transition_body_is_422(api_client: ClientFor, payload_: dict[str, Any]) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])
    assert_error(post(api_client("command"), f"{URL}/{body['id']}/transitions", payload_), 422)
    assert snapshot(body["id"]) == before


# --- who may act --------------------------------------------------------------------------------


def test_taking_part_liaison_updates_but_does_not_run_the_incident(api_client: ClientFor) -> None:
    body = report(api_client("command"), people_count=40)
    police = api_client("liaison_police")

    updated = ok(act(police, body["id"], "update", people_count=120))
    assert updated["level"] == "II"
    event = last_event(body["id"])
    assert event.actor is not None
    assert event.actor.username == "liaison_police"

    before = snapshot(body["id"])
    refused: list[tuple[str, dict[str, Any]]] = [
        ("activate", {}),
        ("close", {"reason": "散了"}),
        ("set_level", {"level": "I", "reason": "升级"}),
        ("take_command", {}),
        ("link_cases", {"case_numbers": ["NX-2026-000001"]}),
    ]
    for action, fields in refused:
        assert_error(act(police, body["id"], action, **fields), 403)
    assert snapshot(body["id"]) == before


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("activate", {}),
        ("contain", {}),
        ("close", {"reason": "x"}),
        ("set_level", {"level": "I", "reason": "x"}),
        ("update", {"people_count": 50}),
        ("link_cases", {"case_numbers": ["NX-2026-000001"]}),
        ("take_command", {}),
    ],
)
def test_reviewer_may_take_no_action(
    api_client: ClientFor, action: str, fields: dict[str, Any]
) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])
    assert_error(act(api_client("reviewer"), body["id"], action, **fields), 403)
    assert snapshot(body["id"]) == before


def test_liaison_who_cannot_see_the_incident_gets_404(api_client: ClientFor) -> None:
    body = report(api_client("command"))
    before = snapshot(body["id"])
    transport = transport_liaison(api_client)
    assert_error(act(transport, body["id"], "update", people_count=50), 404)
    assert snapshot(body["id"]) == before


def test_gateway_110_updates_what_it_reported_only(api_client: ClientFor) -> None:
    gateway = api_client("gateway_110")
    own = report(gateway)
    other = report(api_client("command"))

    updated = ok(act(gateway, own["id"], "update", people_count=130))
    assert updated["level"] == "II"
    assert_error(act(gateway, own["id"], "activate"), 403)
    before = snapshot(other["id"])
    assert_error(act(gateway, other["id"], "update", people_count=130), 404)
    assert snapshot(other["id"]) == before


# --- idempotency ----------------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer(api_client: ClientFor) -> None:
    command = api_client("command")
    before_incidents, before_events = counts()

    first = post(command, URL, payload(), HTTP_IDEMPOTENCY_KEY="inc-1")
    second = post(command, URL, payload(), HTTP_IDEMPOTENCY_KEY="inc-1")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert counts() == (before_incidents + 1, before_events + 1)

    changed = post(command, URL, payload(people_count=99), HTTP_IDEMPOTENCY_KEY="inc-1")
    assert_error(changed, 422)
    assert counts() == (before_incidents + 1, before_events + 1)

    other_key = post(command, URL, payload(), HTTP_IDEMPOTENCY_KEY="inc-2")
    assert other_key.status_code == 201
    assert other_key.json()["id"] != first.json()["id"]
    assert counts() == (before_incidents + 2, before_events + 2)


def test_idempotency_key_does_not_store_a_refusal(api_client: ClientFor) -> None:
    command = api_client("command")
    before = counts()
    refused = post(command, URL, payload(town="atlantis"), HTTP_IDEMPOTENCY_KEY="inc-3")
    assert_error(refused, 422)
    assert counts() == before
    # The fixed request under the same key goes through.
    accepted = post(command, URL, payload(), HTTP_IDEMPOTENCY_KEY="inc-3")
    assert accepted.status_code == 201, accepted.content


# --- the district's level table ------------------------------------------------------------------


def test_edited_level_table_changes_the_computed_level(
    api_client: ClientFor, district: District
) -> None:
    command = api_client("command")
    assert report(command, people_count=10)["level"] == "IV"
    assert report(command, people_count=50, kind="road_blocking")["level"] == "II"

    row = incident_settings(district.pk)
    row.min_people_iii = 10
    row.raising_kinds = []
    row.full_clean()
    row.save()

    assert report(command, people_count=9)["level"] == "IV"
    assert report(command, people_count=10)["level"] == "III"
    assert report(command, people_count=50, kind="road_blocking")["level"] == "III"
    assert report(command, people_count=150, kind="extreme_act")["level"] == "II"


def test_edited_table_is_used_when_updating(api_client: ClientFor, district: District) -> None:
    command = api_client("command")
    body = report(command, people_count=20)
    assert body["level"] == "IV"
    IncidentSettings.objects.filter(district=district).update(
        min_people_iii=5, min_people_ii=20, min_people_i=40
    )
    assert ok(act(command, body["id"], "update", people_count=25))["level"] == "II"
    assert ok(act(command, body["id"], "update", people_count=40))["level"] == "I"


def test_settings_are_made_with_the_plans_defaults(district: District) -> None:
    row = incident_settings(district.pk)
    assert (row.min_people_iii, row.min_people_ii, row.min_people_i) == (30, 100, 300)
    assert sorted(row.raising_kinds) == ["extreme_act", "road_blocking"]
    assert row.offer_from_workers == 30
    assert sorted(row.responders.values_list("code", flat=True)) == ["hrss", "petition", "police"]
    assert incident_settings(district.pk).pk == row.pk


def test_edited_offer_threshold_lets_a_smaller_case_offer_an_incident(
    api_client: ClientFor, district: District
) -> None:
    case = register_case(workers=12)
    liaison = api_client("liaison_housing")
    assert_error(post(liaison, URL, payload(case_numbers=[case.number])), 403)
    IncidentSettings.objects.filter(district=district).update(offer_from_workers=10)
    body = report(liaison, case_numbers=[case.number])
    assert body["reported_by"] == "liaison_housing"


def test_edited_responders_join_new_incidents(api_client: ClientFor, district: District) -> None:
    from alerts.services import alert_settings

    row = incident_settings(district.pk)
    row.responders.set(row.responders.filter(code="police"))
    paging = alert_settings(district.pk)
    paging.paged_units.set(paging.paged_units.filter(code="police"))
    body = report(api_client("command"))
    assert unit_codes(body) == {"lianshi", "police"}
    assert_error(api_client("liaison_hrss").get(f"{URL}/{body['id']}"), 404)


def test_invalid_table_is_refused_by_the_model(district: District) -> None:
    row = incident_settings(district.pk)
    row.min_people_ii = row.min_people_iii
    with pytest.raises(ValidationError):
        row.full_clean()


# --- the live socket ticket -----------------------------------------------------------------------


def test_ws_ticket(api_client: ClientFor) -> None:
    response = post(api_client("liaison_police"), "/api/v1/ws-ticket", {})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ticket"]
    assert body["dashboard"] == f"/ws/dashboard/?ticket={body['ticket']}"
    assert body["incident_room"] == f"/ws/incidents/{{id}}/?ticket={body['ticket']}"
    again = post(api_client("liaison_police"), "/api/v1/ws-ticket", {}).json()
    assert again["ticket"] != body["ticket"]


def test_anonymous_is_401(district: District) -> None:
    client = Client()
    before = counts()
    assert_error(client.get(URL), 401)
    assert_error(post(client, URL, payload()), 401)
    assert counts() == before
