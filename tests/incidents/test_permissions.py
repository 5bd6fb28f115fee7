"""Who may see and act on which case, through the API.

A case another unit answers for does not exist for a liaison (404, never 403: its number
is not leaked); a role that may read but not act gets 403; nobody's list shows a case they
may not open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from incidents.models import Case, Event, Membership
from tests.factories import intake_payload

URL = "/api/v1/cases"
ClientFor = Callable[[str], Client]


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def register(client: Client, **overrides: Any) -> str:
    response = post(client, URL, intake_payload(**overrides))
    assert response.status_code == 201, response.content
    return str(response.json()["case_number"])


def act(client: Client, number: str, action: str, **fields: Any) -> Any:
    return post(client, f"{URL}/{number}/transitions", {"action": action, **fields})


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return body


def state(number: str) -> tuple[str, int, int]:
    case = Case.objects.get(number=number)
    return case.state, case.revision, Event.objects.count()


@pytest.fixture
def cases(api_client: ClientFor) -> dict[str, str]:
    """Cases registered by command staff at the district window, one per situation.

    - housing_shuanglin: housing leads, Shuanglin assists (nothing to do with Lianshi)
    - housing_lianshi: housing leads, Lianshi assists
    - lianshi_town: Lianshi town leads (no project)
    - at_lianshi_window: reported at the Lianshi window, work in Shuanglin (transport)
    """
    command = api_client("command")
    return {
        "housing_shuanglin": register(command, window="district", town="shuanglin"),
        "housing_lianshi": register(command, window="district", town="lianshi"),
        "lianshi_town": register(command, window="district", town="lianshi", project=None),
        "at_lianshi_window": register(
            api_client("clerk_lianshi"),
            town="shuanglin",
            project={"name": "双林公路", "type": "transport"},
        ),
    }


def test_liaison_cannot_read_another_units_case(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    response = api_client("liaison_lianshi").get(f"{URL}/{cases['housing_shuanglin']}")
    body = assert_error(response, 404)
    assert "housing" not in json.dumps(body)


def test_liaison_cannot_act_on_another_units_case(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    number = cases["housing_shuanglin"]
    before = state(number)
    assert_error(act(api_client("liaison_lianshi"), number, "accept"), 404)
    assert state(number) == before


def test_assisting_liaison_reads_but_may_not_act(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    number = cases["housing_lianshi"]
    client = api_client("liaison_lianshi")
    assert client.get(f"{URL}/{number}").status_code == 200
    before = state(number)
    assert_error(act(client, number, "accept"), 403)
    assert state(number) == before


def test_liaison_accepts_its_own_units_case(api_client: ClientFor, cases: dict[str, str]) -> None:
    response = act(api_client("liaison_housing"), cases["housing_shuanglin"], "accept")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "accepted"


def test_liaison_may_not_take_command_actions_on_its_own_case(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    number = cases["lianshi_town"]
    before = state(number)
    assert_error(act(api_client("liaison_lianshi"), number, "reject", reason="x"), 403)
    assert_error(act(api_client("liaison_lianshi"), number, "dispatch", unit="housing"), 403)
    assert state(number) == before


def test_reviewer_reads_every_case_but_cannot_act(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    client = api_client("reviewer")
    for number in cases.values():
        assert client.get(f"{URL}/{number}").status_code == 200
    assert client.get(URL).json()["count"] == len(cases)
    number = cases["housing_shuanglin"]
    before = state(number)
    for action, fields in [
        ("accept", {}),
        ("reject", {"reason": "x"}),
        ("dispatch", {"unit": "water"}),
    ]:
        assert_error(act(client, number, action, **fields), 403)
    assert state(number) == before


def test_reviewer_may_not_register(api_client: ClientFor) -> None:
    before = Case.objects.count()
    assert_error(post(api_client("reviewer"), URL, intake_payload()), 403)
    assert_error(post(api_client("liaison_housing"), URL, intake_payload()), 403)
    assert Case.objects.count() == before


def test_clerk_sees_cases_at_its_window_or_in_its_town_only(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    client = api_client("clerk_lianshi")
    visible = {cases["housing_lianshi"], cases["lianshi_town"], cases["at_lianshi_window"]}
    for number in visible:
        assert client.get(f"{URL}/{number}").status_code == 200, number
    assert_error(client.get(f"{URL}/{cases['housing_shuanglin']}"), 404)
    listed = {c["case_number"] for c in client.get(URL).json()["results"]}
    assert listed == visible


def test_clerk_cannot_act_on_a_case_it_cannot_see(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    number = cases["housing_shuanglin"]
    before = state(number)
    assert_error(act(api_client("clerk_lianshi"), number, "reject", reason="x"), 404)
    assert state(number) == before


def test_integration_sees_only_what_it_registered(
    api_client: ClientFor, cases: dict[str, str]
) -> None:
    client = api_client("gateway_110")
    mine = register(client, channel="police_110", window=None)
    assert client.get(f"{URL}/{mine}").status_code == 200
    assert_error(client.get(f"{URL}/{cases['lianshi_town']}"), 404)
    assert {c["case_number"] for c in client.get(URL).json()["results"]} == {mine}
    assert_error(act(client, mine, "reject", reason="x"), 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("get", f"{URL}/NX-2026-000001"),
        ("post", URL),
        ("post", f"{URL}/NX-2026-000001/transitions"),
        ("get", "/api/v1/fund"),
        ("get", "/api/v1/blacklist"),
        ("get", f"{URL}/triage"),
    ],
)
def test_anonymous_gets_401_json(district: Any, method: str, path: str) -> None:
    client = Client()
    response = client.get(path) if method == "get" else post(client, path, intake_payload())
    assert_error(response, 401)
    assert Case.objects.count() == 0


@pytest.fixture
def outsider(district: Any) -> Client:
    """A logged-in account that belongs to no district (no membership)."""
    user = User.objects.create_user("outsider", password="x")
    user.groups.add(Group.objects.get(name="command"))
    client = Client()
    client.force_login(user)
    return client


def test_user_without_membership_gets_403_json(outsider: Client, cases: dict[str, str]) -> None:
    before = Case.objects.count()
    assert_error(outsider.get(URL), 403)
    assert_error(outsider.get(f"{URL}/{cases['lianshi_town']}"), 403)
    assert_error(post(outsider, URL, intake_payload()), 403)
    assert_error(act(outsider, cases["lianshi_town"], "reject", reason="x"), 403)
    assert Case.objects.count() == before


def test_user_without_role_sees_nothing(api_client: ClientFor, cases: dict[str, str]) -> None:
    user = User.objects.create_user("nobody", password="x")
    Membership.objects.create(user=user, district=Case.objects.first().district)
    client = Client()
    client.force_login(user)
    assert client.get(URL).json()["count"] == 0
    assert_error(client.get(f"{URL}/{cases['lianshi_town']}"), 404)


EXPECTED_VISIBLE = {
    "command": {"housing_shuanglin", "housing_lianshi", "lianshi_town", "at_lianshi_window"},
    "reviewer": {"housing_shuanglin", "housing_lianshi", "lianshi_town", "at_lianshi_window"},
    "inspector": {"housing_shuanglin", "housing_lianshi", "lianshi_town", "at_lianshi_window"},
    "clerk_lianshi": {"housing_lianshi", "lianshi_town", "at_lianshi_window"},
    "liaison_housing": {"housing_shuanglin", "housing_lianshi"},
    "liaison_lianshi": {"housing_lianshi", "lianshi_town"},
    "gateway_110": set(),
}


@pytest.mark.parametrize("username", sorted(EXPECTED_VISIBLE))
def test_lists_never_include_invisible_cases(
    api_client: ClientFor, cases: dict[str, str], username: str
) -> None:
    client = api_client(username)
    expected = {cases[k] for k in EXPECTED_VISIBLE[username]}

    body = client.get(f"{URL}?page_size=200").json()
    assert {c["case_number"] for c in body["results"]} == expected
    assert body["count"] == len(expected)
    # Filters narrow what a person sees; they never widen it.
    for query in ("unit=housing", "town=shuanglin", "state=dispatched", "overdue=false"):
        listed = {c["case_number"] for c in client.get(f"{URL}?{query}").json()["results"]}
        assert listed <= expected, query
    triage = client.get(f"{URL}/triage")
    if triage.status_code == 200:
        assert {c["case_number"] for c in triage.json()["results"]} <= expected
    for number in set(cases.values()) - expected:
        assert_error(client.get(f"{URL}/{number}"), 404)
