"""Who sees what on the map: cases and incidents as `visible_cases` and `visible_incidents`
give them, reference layers for everyone of the district and no one else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from incidents.domain.incidents import OPEN_STATUSES
from incidents.domain.lifecycle import OPEN_STATES
from incidents.models import District, Membership, Unit, Window
from incidents.policy import Actor, visible_cases, visible_incidents
from incidents.services import token_issue
from maps.models import Place
from tests.maps.conftest import Scene
from tests.maps.helpers import FEEDS, assert_error, feed, props, url

ClientFor = Callable[[str], Client]
ActorFor = Callable[[str], Actor]
PERSONAS = [
    "command",
    "clerk_lianshi",
    "liaison_housing",
    "liaison_lianshi",
    "liaison_police",
    "liaison_hrss",
    "liaison_petition",
    "inspector",
    "reviewer",
    "gateway_110",
]
DISTRICT_WIDE = ["command", "inspector", "reviewer"]
REFERENCE = ["windows", "places", "projects", "towns"]


def numbers(body: dict[str, Any]) -> set[str]:
    return set(props(body, "number"))


def ids(body: dict[str, Any]) -> set[int]:
    return set(props(body, "id"))


def open_cases_of(actor: Actor) -> set[str]:
    qs = visible_cases(actor).filter(state__in=[s.value for s in OPEN_STATES])
    return set(qs.values_list("number", flat=True))


def open_incidents_of(actor: Actor) -> set[int]:
    qs = visible_incidents(actor).filter(status__in=[s.value for s in OPEN_STATUSES])
    return set(qs.values_list("pk", flat=True))


@pytest.fixture
def outsider(map_data: District) -> Client:
    """Command staff of another district, which has a town, a window and a police station
    of its own."""
    other = District.objects.create(code="other", case_prefix="OT", name_zh="外区", name_en="Other")
    town = Unit.objects.create(
        district=other,
        code="waizhen",
        kind=Unit.Kind.TERRITORIAL,
        name_zh="外镇",
        name_en="Outer Town",
        lat=30.5,
        lng=120.1,
        outline={
            "type": "Polygon",
            "coordinates": [[[120.0, 30.4], [120.2, 30.4], [120.2, 30.6], [120.0, 30.4]]],
        },
    )
    Window.objects.create(
        district=other,
        code="waizhen",
        unit=town,
        name_zh="外镇专窗",
        name_en="W",
        lat=30.5,
        lng=120.1,
    )
    Place.objects.create(
        district=other,
        code="police_waizhen",
        kind=Place.Kind.POLICE,
        name_zh="外镇派出所",
        name_en="Outer Police",
        town=town,
        lat=30.51,
        lng=120.11,
    )
    user = User.objects.create(username="command_other")
    user.groups.set([Group.objects.get(name="command")])
    Membership.objects.create(user=user, district=other)
    client = Client()
    client.force_login(user)
    return client


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("name", FEEDS)
def test_anonymous_is_refused_with_401_json(map_data: District, name: str) -> None:
    body = assert_error(Client().get(url(name)), 401)
    assert body["errors"] == []


@pytest.mark.parametrize("name", FEEDS)
def test_someone_of_no_district_is_refused(map_data: District, name: str) -> None:
    client = Client()
    client.force_login(User.objects.create(username="drifter"))
    assert_error(client.get(url(name)), 403)


def test_an_integration_reads_the_map_with_its_bearer_token(scene: Scene) -> None:
    token = token_issue(user_id=User.objects.get(username="gateway_110").pk)
    response = Client().get(url("windows"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert Client().get(url("windows"), HTTP_AUTHORIZATION="Bearer nope").status_code == 401


# --- cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", PERSONAS)
def test_the_case_feed_shows_what_visible_cases_gives(
    scene: Scene, api_client: ClientFor, actor: ActorFor, username: str
) -> None:
    assert numbers(feed(api_client(username), "cases")) == open_cases_of(actor(username))


@pytest.mark.parametrize("username", PERSONAS)
def test_the_heat_map_counts_only_visible_cases(
    scene: Scene, api_client: ClientFor, actor: ActorFor, username: str
) -> None:
    since = timezone.now() - timedelta(days=30)
    expected = sorted(
        visible_cases(actor(username))
        .filter(received_at__gte=since)
        .values_list("workers_count", flat=True)
    )
    assert sorted(props(feed(api_client(username), "heat"), "weight")) == expected


@pytest.mark.parametrize("username", DISTRICT_WIDE)
def test_a_district_wide_role_sees_every_open_case(
    scene: Scene, api_client: ClientFor, username: str
) -> None:
    assert numbers(feed(api_client(username), "cases")) == {
        scene.housing.number,
        scene.nanxun.number,
        scene.bridge.number,
        scene.old.number,
    }


def test_the_lianshi_clerk_sees_the_cases_of_the_window_and_the_town(
    scene: Scene, api_client: ClientFor
) -> None:
    assert numbers(feed(api_client("clerk_lianshi"), "cases")) == {
        scene.housing.number,
        scene.bridge.number,
    }


def test_a_liaison_sees_the_cases_its_unit_handles_or_assists(
    scene: Scene, api_client: ClientFor
) -> None:
    assert numbers(feed(api_client("liaison_housing"), "cases")) == {scene.housing.number}
    # Lianshi assists on the housing case; the bridge in Lianshi is the transport bureau's.
    assert numbers(feed(api_client("liaison_lianshi"), "cases")) == {scene.housing.number}


def test_a_liaison_of_another_unit_does_not_see_the_housing_bureaus_cases(
    scene: Scene, api_client: ClientFor
) -> None:
    hrss = api_client("liaison_hrss")
    assert numbers(feed(hrss, "cases")) == set()
    assert numbers(feed(hrss, "cases", number=scene.housing.number)) == set()
    assert numbers(feed(hrss, "cases", unit="housing", state="all")) == set()
    assert feed(hrss, "heat", unit="housing")["count"] == 0


def test_asking_for_an_incident_shows_only_its_visible_cases(
    scene: Scene, api_client: ClientFor
) -> None:
    body = feed(api_client("liaison_housing"), "cases", incident=scene.incident.pk)
    assert numbers(body) == {scene.housing.number}


# --- incidents -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", PERSONAS)
def test_the_incident_feed_shows_what_visible_incidents_gives(
    scene: Scene, api_client: ClientFor, actor: ActorFor, username: str
) -> None:
    assert ids(feed(api_client(username), "incidents")) == open_incidents_of(actor(username))


def test_a_town_liaison_sees_the_incidents_in_its_town(scene: Scene, api_client: ClientFor) -> None:
    assert ids(feed(api_client("liaison_lianshi"), "incidents")) == {scene.incident.pk}
    assert ids(feed(api_client("liaison_lianshi"), "incidents", id=str(scene.small.pk))) == set()


def test_a_clerk_sees_no_incident(scene: Scene, api_client: ClientFor) -> None:
    assert feed(api_client("clerk_lianshi"), "incidents", status="all")["count"] == 0


def test_a_responder_sees_every_incident(scene: Scene, api_client: ClientFor) -> None:
    assert ids(feed(api_client("liaison_police"), "incidents", status="all")) == {
        scene.incident.pk,
        scene.small.pk,
        scene.over.pk,
    }


# --- reference layers ------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["liaison_hrss", "clerk_lianshi", "reviewer", "gateway_110"])
@pytest.mark.parametrize("name", REFERENCE)
def test_everyone_of_the_district_sees_its_reference_layers(
    scene: Scene, api_client: ClientFor, username: str, name: str
) -> None:
    assert feed(api_client(username), name) == feed(api_client("command"), name)


@pytest.mark.parametrize("name", FEEDS)
def test_someone_of_another_district_sees_none_of_this_districts_map(
    scene: Scene, outsider: Client, name: str
) -> None:
    body = feed(outsider, name, **({"state": "all"} if name == "cases" else {}))
    if name in ("windows", "places", "towns"):
        assert props(body, "code") == [
            {"windows": "waizhen", "places": "police_waizhen", "towns": "waizhen"}[name]
        ]
    else:
        assert body["count"] == 0


def test_this_districts_towns_are_unknown_to_another_district(
    scene: Scene, outsider: Client
) -> None:
    body = assert_error(outsider.get(url("windows"), {"town": "lianshi"}), 422)
    assert body["errors"][0]["field"] == "town"


def test_another_districts_map_is_hidden_from_this_one(
    scene: Scene, outsider: Client, api_client: ClientFor
) -> None:
    command = api_client("command")
    assert "waizhen" not in props(feed(command, "windows"), "code")
    assert "police_waizhen" not in props(feed(command, "places"), "code")
    assert "waizhen" not in props(feed(command, "towns"), "code")
    assert_error(command.get(url("towns"), {"town": "waizhen"}), 422)
