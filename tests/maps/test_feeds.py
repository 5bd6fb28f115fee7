"""The map's GeoJSON feeds under /api/v1/map/: their shape and their filters.

Every feed is a FeatureCollection of WGS-84 positions ([longitude, latitude]), or GCJ-02
when asked; cases and incidents as the caller may see them (see test_feed_access.py).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from incidents.demo import TOWNS
from incidents.models import District, Unit, Window
from incidents.policy import actor_for
from incidents.services import IncidentChange, incident_transition, local_tz
from incidents.services.clocks import clock_start
from maps.demo import DISTRICT_BOX, PROJECT_SITES, load_map_reference
from maps.domain import styles
from maps.domain.coords import distance_m, wgs84_to_gcj02
from maps.domain.geometry import check_outline
from maps.models import Place
from tests.maps.conftest import BRIDGE_SITE, NANXUN_SITE, Scene
from tests.maps.geo import ring_contains
from tests.maps.helpers import (
    FEEDS,
    GEOJSON,
    assert_error,
    close_case,
    coords_by,
    feed,
    fields_of,
    make_case,
    props,
    url,
)

ClientFor = Callable[[str], Client]
CENTRES = {code: (lat, lng) for code, _zh, _en, lat, lng in TOWNS}
WEST, SOUTH, EAST, NORTH = DISTRICT_BOX
CASE_PROPERTIES = {
    "number", "state", "overdue", "colour", "workers", "amount", "town", "unit", "received",
    "approx",
}  # fmt: skip
INCIDENT_PROPERTIES = {
    "id", "code", "title", "kind", "level", "status", "people", "colour", "pulse", "town",
    "reported_at",
}  # fmt: skip


def numbers(body: dict[str, Any]) -> set[str]:
    return set(props(body, "number"))


def ids(body: dict[str, Any]) -> set[int]:
    return set(props(body, "id"))


@pytest.fixture
def command(api_client: ClientFor) -> Client:
    return api_client("command")


# --- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FEEDS)
def test_every_feed_is_a_geojson_feature_collection(
    scene: Scene, command: Client, name: str
) -> None:
    response = command.get(url(name))
    assert response.status_code == 200
    assert response["Content-Type"] == f"{GEOJSON}; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert body["layer"] == name
    assert body["count"] == len(body["features"]) > 0
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)


@pytest.mark.parametrize("name", [f for f in FEEDS if f != "towns"])
def test_every_point_feed_gives_longitude_then_latitude(
    scene: Scene, command: Client, name: str
) -> None:
    for f in feed(command, name)["features"]:
        assert f["geometry"]["type"] == "Point"
        lng, lat = f["geometry"]["coordinates"]
        assert WEST <= lng <= EAST
        assert SOUTH <= lat <= NORTH


def test_a_case_is_drawn_at_its_own_position(scene: Scene, command: Client) -> None:
    body = feed(command, "cases")
    [nanxun] = [f for f in body["features"] if f["properties"]["number"] == scene.nanxun.number]
    assert nanxun["geometry"]["coordinates"] == [NANXUN_SITE[1], NANXUN_SITE[0]]
    assert nanxun["properties"] == {
        "number": scene.nanxun.number,
        "state": "dispatched",
        "overdue": False,
        "colour": styles.CASE_NEW,
        "workers": 5,
        "amount": "12000.50",
        "town": "nanxun",
        "unit": "nanxun",
        "received": timezone.localdate().isoformat(),
        "approx": False,
    }


def test_a_case_without_a_position_sits_at_its_towns_centre(scene: Scene, command: Client) -> None:
    body = feed(command, "cases")
    for f in body["features"]:
        assert set(f["properties"]) == CASE_PROPERTIES
    [housing] = [f for f in body["features"] if f["properties"]["number"] == scene.housing.number]
    lat, lng = CENTRES["lianshi"]
    assert housing["geometry"]["coordinates"] == [lng, lat]
    assert housing["properties"]["approx"] is True
    assert housing["properties"]["unit"] == "housing"
    assert body["unplaced"] == 0


def test_a_case_whose_town_has_no_position_either_is_counted_as_unplaced(
    scene: Scene, command: Client
) -> None:
    Unit.objects.filter(code="lianshi").update(lat=None, lng=None)
    body = feed(command, "cases")
    assert scene.housing.number not in numbers(body)
    assert scene.bridge.number in numbers(body)  # has its own position
    assert body["unplaced"] == 1


def test_cases_come_newest_first(scene: Scene, command: Client) -> None:
    body = feed(command, "cases")
    received = props(body, "received")
    assert received == sorted(received, reverse=True)
    assert props(body, "number")[-1] == scene.old.number


def test_an_incident_has_its_level_colour_and_site(scene: Scene, command: Client) -> None:
    body = feed(command, "incidents")
    for f in body["features"]:
        assert set(f["properties"]) == INCIDENT_PROPERTIES
    [lianshi] = [f for f in body["features"] if f["properties"]["id"] == scene.incident.pk]
    assert lianshi["geometry"]["coordinates"] == [120.429, 30.713]
    p = lianshi["properties"]
    assert p["code"] == f"INC-{scene.incident.pk}"
    assert (p["level"], p["status"], p["people"], p["town"]) == ("III", "reported", 40, "lianshi")
    assert p["colour"] == styles.LEVEL_COLOURS["III"]
    assert p["pulse"] is False
    assert p["reported_at"].endswith("+08:00")


def test_an_active_incident_pulses(scene: Scene, command: Client) -> None:
    incident_transition(
        actor=actor_for(User.objects.get(username="command")),
        incident_id=scene.small.pk,
        change=IncidentChange("activate"),
    )
    body = feed(command, "incidents")
    pulse = dict(zip(props(body, "id"), props(body, "pulse"), strict=True))
    assert pulse == {scene.small.pk: True, scene.incident.pk: False}


def test_a_closed_incident_is_grey(scene: Scene, command: Client) -> None:
    body = feed(command, "incidents", status="closed")
    assert props(body, "colour") == [styles.INCIDENT_CLOSED]


def test_the_windows_are_every_window_of_the_district_by_code(
    map_data: District, command: Client
) -> None:
    body = feed(command, "windows")
    codes = list(
        Window.objects.filter(district=map_data).order_by("code").values_list("code", flat=True)
    )
    assert props(body, "code") == codes
    town_of = dict(zip(props(body, "code"), props(body, "town"), strict=True))
    assert town_of["district"] is None
    assert town_of["lianshi"] == "lianshi"
    lat, lng = CENTRES["lianshi"]
    assert coords_by(body, "code")["lianshi"] == [lng, lat]
    assert "练市镇" in dict(zip(props(body, "code"), props(body, "name"), strict=True))["lianshi"]


@pytest.mark.parametrize(
    ("language", "lianshi", "bureau"),
    [
        ("zh-hans", "练市派出所", "区公安分局"),
        ("en", "Lianshi Police Station", "District Public Security Bureau"),
    ],
)
def test_names_follow_the_language(
    map_data: District, command: Client, language: str, lianshi: str, bureau: str
) -> None:
    response = command.get(url("places"), {"kind": "police"}, HTTP_ACCEPT_LANGUAGE=language)
    body = json.loads(response.content)
    names = dict(zip(props(body, "code"), props(body, "name"), strict=True))
    assert names["police_lianshi"] == lianshi
    assert names["police_district"] == bureau


def test_the_places_are_the_police_stations_and_government_gates(
    map_data: District, command: Client
) -> None:
    body = feed(command, "places")
    assert body["count"] == Place.objects.filter(district=map_data).count() == 2 * len(TOWNS) + 2
    by_code = {f["properties"]["code"]: f for f in body["features"]}
    station = by_code["police_lianshi"]
    assert station["properties"]["kind"] == "police"
    assert station["properties"]["town"] == "lianshi"
    lat, lng = CENTRES["lianshi"]
    assert station["geometry"]["coordinates"] == [round(lng + 0.005, 6), round(lat - 0.004, 6)]
    assert by_code["police_district"]["properties"]["phone"] == "110"
    assert by_code["gov_district"]["properties"]["town"] is None


def test_a_project_is_drawn_at_its_site_with_its_open_cases(scene: Scene, command: Client) -> None:
    body = feed(command, "projects")
    [bridge] = body["features"]  # only the demo projects that exist get a site
    town, d_lat, d_lng = PROJECT_SITES["练市大桥改建"]
    lat, lng = CENTRES[town]
    assert bridge["geometry"]["coordinates"] == [round(lng + d_lng, 6), round(lat + d_lat, 6)]
    assert bridge["properties"]["name"] == "练市大桥改建"
    assert bridge["properties"]["type"] == "transport"
    assert bridge["properties"]["town"] == "lianshi"
    assert bridge["properties"]["open_cases"] == 1


def test_a_projects_closed_cases_are_not_counted(scene: Scene, command: Client) -> None:
    close_case(scene.bridge.number)
    make_case(town="lianshi", project_type="transport", project_name="练市大桥改建")
    make_case(town="lianshi", project_type="transport", project_name="练市大桥改建")
    assert props(feed(command, "projects"), "open_cases") == [2]


def test_projects_by_builder(map_data: District, command: Client) -> None:
    resettlement = make_case(
        town="nanxun",
        project_type="government_investment",
        project_name="南浔古镇安置房",
        builder="nx_invest",
    )
    assert resettlement.responsible_unit_id == Unit.objects.get(code="nx_invest").pk
    make_case(town="lianshi", project_type="transport", project_name="练市大桥改建")
    load_map_reference(map_data)  # the projects exist now: they get their sites
    assert set(props(feed(command, "projects"), "name")) == {"南浔古镇安置房", "练市大桥改建"}
    body = feed(command, "projects", unit="nx_invest")
    assert props(body, "name") == ["南浔古镇安置房"]
    assert props(body, "builder") == ["nx_invest"]
    assert feed(command, "projects", unit="transport")["count"] == 0


def test_a_project_without_a_site_is_not_drawn(map_data: District, command: Client) -> None:
    make_case(town="lianshi", project_name="无坐标项目")
    assert feed(command, "projects")["count"] == 0


def test_every_town_has_a_valid_outline_holding_its_centre(
    map_data: District, command: Client
) -> None:
    body = feed(command, "towns")
    assert props(body, "code") == sorted(CENTRES)
    for f in body["features"]:
        assert check_outline(f["geometry"]) == f["geometry"]
        lat, lng = CENTRES[f["properties"]["code"]]
        assert ring_contains(f["geometry"]["coordinates"][0], lng, lat)
    assert dict(zip(props(body, "code"), props(body, "name"), strict=True))["lianshi"] == "练市镇"


def test_a_town_without_an_outline_is_left_off(map_data: District, command: Client) -> None:
    Unit.objects.filter(code="devzone").update(outline=None)
    Unit.objects.filter(code="hefu").update(active=False)
    assert set(props(feed(command, "towns"), "code")) == set(CENTRES) - {"devzone", "hefu"}


def test_no_outlines_no_towns(district: District, command: Client) -> None:
    assert feed(command, "towns")["count"] == 0


# --- case filters ----------------------------------------------------------------------------


def test_open_cases_by_default(scene: Scene, command: Client) -> None:
    open_numbers = {c.number for c in (scene.housing, scene.nanxun, scene.bridge, scene.old)}
    assert numbers(feed(command, "cases")) == open_numbers
    assert numbers(feed(command, "cases", state="open")) == open_numbers


def test_state_all_adds_the_closed_cases(scene: Scene, command: Client) -> None:
    body = feed(command, "cases", state="all")
    assert scene.closed.number in numbers(body)
    assert body["count"] == 5
    [closed] = [f for f in body["features"] if f["properties"]["number"] == scene.closed.number]
    assert closed["properties"]["state"] == "closed"
    assert closed["properties"]["colour"] == styles.CASE_DONE


def test_a_state_gives_only_its_cases(scene: Scene, command: Client) -> None:
    assert numbers(feed(command, "cases", state="closed")) == {scene.closed.number}
    assert numbers(feed(command, "cases", state="accepted")) == set()
    assert len(numbers(feed(command, "cases", state="dispatched"))) == 4


def test_cases_by_town(scene: Scene, command: Client) -> None:
    assert numbers(feed(command, "cases", town="lianshi")) == {
        scene.housing.number,
        scene.bridge.number,
    }
    assert numbers(feed(command, "cases", town="nanxun")) == {scene.nanxun.number}
    assert numbers(feed(command, "cases", town="shicong")) == set()


def test_cases_by_responsible_unit(scene: Scene, command: Client) -> None:
    assert numbers(feed(command, "cases", unit="housing")) == {scene.housing.number}
    assert numbers(feed(command, "cases", unit="transport")) == {scene.bridge.number}
    # Lianshi assists on the housing case but is responsible for none.
    assert numbers(feed(command, "cases", unit="lianshi")) == set()


def test_cases_by_the_day_they_were_received(scene: Scene, command: Client) -> None:
    today = timezone.localdate()
    old_day = timezone.localtime(scene.old.received_at).date()
    recent = {scene.housing.number, scene.nanxun.number, scene.bridge.number}
    assert numbers(feed(command, "cases", date_from=today.isoformat())) == recent
    assert numbers(feed(command, "cases", date_to=old_day.isoformat())) == {scene.old.number}
    assert numbers(
        feed(command, "cases", date_from=old_day.isoformat(), date_to=old_day.isoformat())
    ) == {scene.old.number}
    one_day_after = (old_day + timedelta(days=1)).isoformat()
    assert numbers(feed(command, "cases", date_from=one_day_after)) == recent
    day_before = (old_day - timedelta(days=1)).isoformat()
    assert numbers(feed(command, "cases", date_to=day_before)) == set()


def test_a_day_runs_from_local_midnight_to_local_midnight(
    map_data: District, command: Client
) -> None:
    tz = local_tz()
    day = timezone.localdate() - timedelta(days=3)
    # 00:00:30 and 23:59:30 in Shanghai are 16:00:30 the day before and 15:59:30 in UTC.
    early = make_case(received_at=datetime.combine(day, time(0, 0, 30), tz)).number
    late = make_case(received_at=datetime.combine(day, time(23, 59, 30), tz)).number
    before = make_case(received_at=datetime.combine(day, time(0, 0, 30), tz) - timedelta(minutes=1))
    after = make_case(
        received_at=datetime.combine(day, time(23, 59, 30), tz) + timedelta(minutes=1)
    )
    on_day = {"date_from": day.isoformat(), "date_to": day.isoformat()}
    assert numbers(feed(command, "cases", **on_day)) == {early, late}
    assert numbers(feed(command, "cases", date_to=day.isoformat())) == {early, late, before.number}
    assert numbers(feed(command, "cases", date_from=day.isoformat())) >= {early, late, after.number}
    assert before.number not in numbers(feed(command, "cases", date_from=day.isoformat()))
    assert props(feed(command, "cases", **on_day), "received") == [day.isoformat()] * 2


def test_overdue_cases_are_red(scene: Scene, command: Client) -> None:
    now = timezone.now()
    # A 7-day commitment that ran out an hour ago (the sweep has not marked it yet).
    clock_start(
        scene.nanxun,
        "commitment",
        started_at=now - timedelta(days=8),
        due_at=now - timedelta(hours=1),
    )
    late = feed(command, "cases", overdue="true")
    assert numbers(late) == {scene.nanxun.number}
    assert props(late, "overdue") == [True]
    assert props(late, "colour") == [styles.OVERDUE]
    on_time = feed(command, "cases", overdue="false")
    assert numbers(on_time) == {scene.housing.number, scene.bridge.number, scene.old.number}
    assert set(props(on_time, "overdue")) == {False}


def test_the_cases_of_an_incident(scene: Scene, command: Client) -> None:
    assert numbers(feed(command, "cases", incident=scene.incident.pk)) == {
        scene.housing.number,
        scene.bridge.number,
    }
    assert numbers(feed(command, "cases", incident=scene.small.pk)) == set()
    assert numbers(feed(command, "cases", incident=999_999)) == set()


def test_cases_by_number(scene: Scene, command: Client) -> None:
    wanted = f"{scene.nanxun.number}, {scene.old.number}"
    assert numbers(feed(command, "cases", number=wanted)) == {
        scene.nanxun.number,
        scene.old.number,
    }
    assert numbers(feed(command, "cases", number="NX-1999-000001")) == set()
    # The number does not lift the state filter.
    assert numbers(feed(command, "cases", number=scene.closed.number)) == set()
    assert numbers(feed(command, "cases", number=scene.closed.number, state="all")) == {
        scene.closed.number
    }


def test_cases_in_a_box_by_their_own_position_or_their_towns(scene: Scene, command: Client) -> None:
    around_nanxun = "120.41,30.87,120.44,30.89"
    assert numbers(feed(command, "cases", bbox=around_nanxun)) == {scene.nanxun.number}
    # The Lianshi centre (where the housing case is drawn) and the bridge site.
    around_lianshi = "120.42,30.70,120.45,30.72"
    assert numbers(feed(command, "cases", bbox=around_lianshi)) == {
        scene.housing.number,
        scene.bridge.number,
    }
    # The bridge site alone: the housing case is drawn outside.
    lat, lng = BRIDGE_SITE
    around_bridge = f"{lng - 0.001},{lat - 0.001},{lng + 0.001},{lat + 0.001}"
    assert numbers(feed(command, "cases", bbox=around_bridge)) == {scene.bridge.number}
    assert numbers(feed(command, "cases", bbox="0,0,1,1")) == set()


def test_filters_combine(scene: Scene, command: Client) -> None:
    assert numbers(feed(command, "cases", town="lianshi", unit="transport")) == {
        scene.bridge.number
    }
    assert numbers(feed(command, "cases", town="nanxun", unit="transport")) == set()


# --- heat ------------------------------------------------------------------------------------


def test_heat_covers_the_last_days_by_default(scene: Scene, command: Client, settings: Any) -> None:
    settings.MAP_HEAT_DAYS = 90
    today = timezone.localdate()
    body = feed(command, "heat")
    assert body["date_to"] == today.isoformat()
    assert body["date_from"] == (today - timedelta(days=89)).isoformat()
    # Closed cases count too; the one received 120 days ago does not.
    assert sorted(props(body, "weight")) == sorted(
        c.workers_count for c in (scene.housing, scene.nanxun, scene.bridge, scene.closed)
    )
    for f in body["features"]:
        assert set(f["properties"]) == {"weight"}


def test_heat_days_start_at_local_midnight(
    map_data: District, command: Client, settings: Any
) -> None:
    settings.MAP_HEAT_DAYS = 90
    tz, today = local_tz(), timezone.localdate()
    first_day = today - timedelta(days=89)
    make_case(received_at=datetime.combine(first_day, time.min, tz), workers=7)
    make_case(
        received_at=datetime.combine(first_day, time.min, tz) - timedelta(seconds=1), workers=9
    )
    body = feed(command, "heat")
    assert body["date_from"] == first_day.isoformat()
    assert props(body, "weight") == [7]


def test_heat_days_come_from_the_setting(scene: Scene, command: Client, settings: Any) -> None:
    settings.MAP_HEAT_DAYS = 150
    body = feed(command, "heat")
    assert body["date_from"] == (timezone.localdate() - timedelta(days=149)).isoformat()
    assert scene.old.workers_count in props(body, "weight")
    assert body["count"] == 5


def test_heat_over_a_chosen_period(scene: Scene, command: Client) -> None:
    old_day = timezone.localtime(scene.old.received_at).date()
    body = feed(command, "heat", date_from=old_day.isoformat(), date_to=old_day.isoformat())
    assert (body["date_from"], body["date_to"]) == (old_day.isoformat(), old_day.isoformat())
    assert props(body, "weight") == [scene.old.workers_count]
    assert body["features"][0]["geometry"]["coordinates"] == [
        scene.old.lng,
        scene.old.lat,
    ]


def test_heat_up_to_a_chosen_day_covers_the_days_before_it(
    scene: Scene, command: Client, settings: Any
) -> None:
    settings.MAP_HEAT_DAYS = 30
    old_day = timezone.localtime(scene.old.received_at).date()
    end = old_day + timedelta(days=10)
    body = feed(command, "heat", date_to=end.isoformat())
    assert body["date_from"] == (end - timedelta(days=29)).isoformat()
    assert props(body, "weight") == [scene.old.workers_count]


def test_the_heat_period_is_never_inverted(scene: Scene, command: Client) -> None:
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = command.get(url("heat"), {"date_from": tomorrow})
    if response.status_code == 422:
        assert fields_of(assert_error(response, 422)) == {"date_from"}
    else:
        body = json.loads(response.content)
        assert body["date_from"] <= body["date_to"]


def test_heat_by_town_and_unit(scene: Scene, command: Client) -> None:
    assert sorted(props(feed(command, "heat", town="lianshi"), "weight")) == [8, 12]
    assert props(feed(command, "heat", unit="housing"), "weight") == [12]
    assert props(feed(command, "heat", town="hefu"), "weight") == [2]  # closed, still heat


def test_heat_puts_a_case_without_a_position_at_its_towns_centre(
    scene: Scene, command: Client
) -> None:
    body = feed(command, "heat", unit="housing")
    lat, lng = CENTRES["lianshi"]
    assert body["features"][0]["geometry"]["coordinates"] == [lng, lat]


# --- incident filters ------------------------------------------------------------------------


def test_open_incidents_by_default(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents")) == {scene.incident.pk, scene.small.pk}
    assert ids(feed(command, "incidents", status="open")) == {scene.incident.pk, scene.small.pk}


def test_incidents_by_status(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents", status="all")) == {
        scene.incident.pk,
        scene.small.pk,
        scene.over.pk,
    }
    assert ids(feed(command, "incidents", status="closed")) == {scene.over.pk}
    assert ids(feed(command, "incidents", status="reported")) == {
        scene.incident.pk,
        scene.small.pk,
    }
    assert ids(feed(command, "incidents", status="active")) == set()


def test_incidents_by_level(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents", level="III")) == {scene.incident.pk}
    assert ids(feed(command, "incidents", level="IV")) == {scene.small.pk}
    assert ids(feed(command, "incidents", level="II")) == set()  # closed
    assert ids(feed(command, "incidents", level="II", status="all")) == {scene.over.pk}


def test_incidents_by_town(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents", town="nanxun")) == {scene.small.pk}
    assert ids(feed(command, "incidents", town="lianshi")) == {scene.incident.pk}
    assert ids(feed(command, "incidents", town="hefu")) == set()


def test_incidents_by_unit_taking_part(scene: Scene, command: Client) -> None:
    # The transport bureau joined through its linked case; the police join every incident.
    assert ids(feed(command, "incidents", unit="transport")) == {scene.incident.pk}
    assert ids(feed(command, "incidents", unit="police")) == {scene.incident.pk, scene.small.pk}
    assert ids(feed(command, "incidents", unit="water")) == set()


def test_incidents_by_id(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents", id=f"{scene.small.pk}")) == {scene.small.pk}
    assert ids(feed(command, "incidents", id=f"{scene.small.pk}, {scene.incident.pk}")) == {
        scene.small.pk,
        scene.incident.pk,
    }
    assert ids(feed(command, "incidents", id=f"{scene.over.pk}")) == set()
    assert ids(feed(command, "incidents", id=f"{scene.over.pk}", status="all")) == {scene.over.pk}
    assert ids(feed(command, "incidents", id="999999")) == set()


def test_incidents_by_the_day_they_were_reported(scene: Scene, command: Client) -> None:
    today = timezone.localdate()
    both = {scene.incident.pk, scene.small.pk}
    assert ids(feed(command, "incidents", date_from=today.isoformat())) == both
    assert ids(feed(command, "incidents", date_to=today.isoformat())) == both
    yesterday = (today - timedelta(days=1)).isoformat()
    assert ids(feed(command, "incidents", date_to=yesterday)) == set()


def test_incidents_near_a_point_nearest_first(scene: Scene, command: Client) -> None:
    near = "30.72,120.43"
    body = feed(command, "incidents", near=near, within=50_000)
    assert props(body, "id") == [scene.incident.pk, scene.small.pk]
    distances = props(body, "distance_m")
    assert distances == [
        round(distance_m(30.72, 120.43, 30.713, 120.429)),
        round(distance_m(30.72, 120.43, 30.875, 120.430)),
    ]
    assert ids(feed(command, "incidents", near=near, within=2000)) == {scene.incident.pk}


def test_incidents_near_a_point_within_the_default_radius(
    scene: Scene, command: Client, settings: Any
) -> None:
    settings.MAP_NEARBY_METRES = 10_000
    assert ids(feed(command, "incidents", near="30.875,120.43")) == {scene.small.pk}
    settings.MAP_NEARBY_METRES = 100_000
    assert ids(feed(command, "incidents", near="30.875,120.43")) == {
        scene.small.pk,
        scene.incident.pk,
    }


def test_incidents_without_near_have_no_distance(scene: Scene, command: Client) -> None:
    for f in feed(command, "incidents")["features"]:
        assert "distance_m" not in f["properties"]


def test_incidents_in_a_box(scene: Scene, command: Client) -> None:
    assert ids(feed(command, "incidents", bbox="120.42,30.70,120.44,30.72")) == {scene.incident.pk}


# --- windows, places, projects and towns -----------------------------------------------------


def expected_near(
    rows: list[tuple[str, Any, Any]], lat: float, lng: float, within: float
) -> list[tuple[str, int]]:
    found = [(code, distance_m(lat, lng, r_lat, r_lng)) for code, r_lat, r_lng in rows]
    return [(code, round(d)) for code, d in sorted(found, key=lambda p: p[1]) if d <= within]


def test_windows_near_a_point_nearest_first_with_their_distance(
    map_data: District, command: Client
) -> None:
    rows = list(Window.objects.filter(district=map_data).values_list("code", "lat", "lng"))
    near = (30.80, 120.33)  # between Shuanglin and Shicong
    for within in (1000, 5000, 10_000, 20_000):
        body = feed(command, "windows", near=f"{near[0]},{near[1]}", within=within)
        got = list(zip(props(body, "code"), props(body, "distance_m"), strict=True))
        assert got == expected_near(rows, *near, within)
    assert props(feed(command, "windows", near="30.80,120.33", within=5000), "code") == [
        "shuanglin",
        "shicong",
    ]


def test_windows_near_a_point_use_the_nearby_setting(
    map_data: District, command: Client, settings: Any
) -> None:
    settings.MAP_NEARBY_METRES = 1000
    assert props(feed(command, "windows", near="30.7135,120.4295"), "code") == ["lianshi"]
    settings.MAP_NEARBY_METRES = 50_000
    assert feed(command, "windows", near="30.7135,120.4295")["count"] == len(TOWNS) + 1


def test_a_window_right_at_the_point_is_at_distance_zero(
    map_data: District, command: Client
) -> None:
    lat, lng = CENTRES["nanxun"]
    body = feed(command, "windows", near=f"{lat},{lng}", within=10)
    assert props(body, "code") == ["nanxun"]
    assert props(body, "distance_m") == [0]


def test_windows_by_town_and_box(map_data: District, command: Client) -> None:
    assert props(feed(command, "windows", town="lianshi"), "code") == ["lianshi"]
    lat, lng = CENTRES["hefu"]
    box = f"{lng - 0.01},{lat - 0.01},{lng + 0.01},{lat + 0.01}"
    assert props(feed(command, "windows", bbox=box), "code") == ["hefu"]


def test_places_near_a_point_nearest_first(map_data: District, command: Client) -> None:
    rows = list(Place.objects.filter(district=map_data).values_list("code", "lat", "lng"))
    lat, lng = CENTRES["lianshi"]
    body = feed(command, "places", near=f"{lat},{lng}", within=3000)
    got = list(zip(props(body, "code"), props(body, "distance_m"), strict=True))
    assert got == expected_near(rows, lat, lng, 3000)
    assert {code for code, _d in got} == {"police_lianshi", "gov_lianshi"}


def test_places_by_kind(map_data: District, command: Client) -> None:
    police = feed(command, "places", kind="police")
    assert set(props(police, "kind")) == {"police"}
    assert police["count"] == len(TOWNS) + 1
    government = feed(command, "places", kind="government")
    assert set(props(government, "kind")) == {"government"}
    assert feed(command, "places", kind="other")["count"] == 0


def test_the_nearest_police_station(map_data: District, command: Client) -> None:
    lat, lng = CENTRES["shanlian"]
    body = feed(command, "places", kind="police", near=f"{lat},{lng}", within=2000)
    assert props(body, "code") == ["police_shanlian"]


def test_places_by_town(map_data: District, command: Client) -> None:
    assert set(props(feed(command, "places", town="hefu"), "code")) == {"police_hefu", "gov_hefu"}


def test_projects_by_town_and_near(scene: Scene, command: Client) -> None:
    assert feed(command, "projects", town="lianshi")["count"] == 1
    assert feed(command, "projects", town="nanxun")["count"] == 0
    lat, lng = CENTRES["lianshi"]
    body = feed(command, "projects", near=f"{lat},{lng}", within=2000)
    assert props(body, "name") == ["练市大桥改建"]
    assert props(body, "distance_m")[0] > 0
    assert feed(command, "projects", near=f"{lat},{lng}", within=100)["count"] == 0


def test_towns_by_code(map_data: District, command: Client) -> None:
    body = feed(command, "towns", town="lianshi")
    assert props(body, "code") == ["lianshi"]
    assert body["features"][0]["geometry"] == Unit.objects.get(code="lianshi").outline


# --- datum -----------------------------------------------------------------------------------


def shifted(lat: float, lng: float) -> list[float]:
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    return [round(g_lng, 6), round(g_lat, 6)]


@pytest.mark.parametrize("name", [f for f in FEEDS if f != "towns"])
def test_gcj02_shifts_every_point_as_wgs84_to_gcj02_does(
    scene: Scene, command: Client, name: str
) -> None:
    plain = feed(command, name)
    moved = feed(command, name, datum="gcj02")
    assert moved["count"] == plain["count"]
    for p, m in zip(plain["features"], moved["features"], strict=True):
        lng, lat = p["geometry"]["coordinates"]
        m_lng, m_lat = m["geometry"]["coordinates"]
        assert [m_lng, m_lat] == pytest.approx(shifted(lat, lng), abs=2e-6)
        assert 100 < distance_m(lat, lng, m_lat, m_lng) < 700
        assert m["properties"] == p["properties"]


def test_gcj02_shifts_every_position_of_the_town_outlines(
    map_data: District, command: Client
) -> None:
    plain = feed(command, "towns")
    moved = feed(command, "towns", datum="gcj02")
    for p, m in zip(plain["features"], moved["features"], strict=True):
        assert m["properties"] == p["properties"]
        assert m["geometry"]["type"] == p["geometry"]["type"]
        [ring] = p["geometry"]["coordinates"]
        [moved_ring] = m["geometry"]["coordinates"]
        assert len(moved_ring) == len(ring)
        for (lng, lat), position in zip(ring, moved_ring, strict=True):
            assert position == pytest.approx(shifted(lat, lng), abs=2e-6)


def test_wgs84_is_the_default_datum(scene: Scene, command: Client) -> None:
    assert feed(command, "cases", datum="wgs84") == feed(command, "cases")


# --- gzip ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["places", "windows", "towns"])
def test_a_large_feed_is_gzipped_for_a_client_that_takes_it(
    map_data: District, command: Client, name: str
) -> None:
    plain = command.get(url(name))
    zipped = command.get(url(name), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert "Content-Encoding" not in plain
    assert zipped.status_code == 200
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert zipped["Content-Type"].startswith(GEOJSON)
    assert len(zipped.content) < len(plain.content)
    assert json.loads(gzip.decompress(zipped.content)) == json.loads(plain.content)


def test_a_small_feed_is_not_gzipped(district: District, command: Client) -> None:
    response = command.get(url("towns"), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert json.loads(response.content)["count"] == 0
