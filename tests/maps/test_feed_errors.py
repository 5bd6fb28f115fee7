"""Bad parameters: a 422 JSON `{"detail", "errors": [{"field", "message"}]}` naming the
parameter, never an empty map that looks like good news; and nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from incidents.models import District
from tests.maps.conftest import Scene
from tests.maps.helpers import FEEDS, assert_error, feed, fields_of, snapshot, url

ClientFor = Callable[[str], Client]
NEAR = "30.713,120.429"
TOO_MANY_IDS = ",".join(str(i) for i in range(1, 102))
TOO_MANY_NUMBERS = ",".join(f"NX-2026-{i:06d}" for i in range(1, 102))

BAD = [
    # unknown parameters, each feed knowing only its own
    ("cases", {"colour": "red"}, "colour"),
    ("cases", {"near": NEAR}, "near"),
    ("cases", {"status": "open"}, "status"),
    ("heat", {"state": "all"}, "state"),
    ("heat", {"overdue": "true"}, "overdue"),
    ("incidents", {"state": "open"}, "state"),
    ("incidents", {"number": "NX-2026-000001"}, "number"),
    ("windows", {"kind": "police"}, "kind"),
    ("windows", {"unit": "housing"}, "unit"),
    ("places", {"unit": "housing"}, "unit"),
    ("towns", {"bbox": "120,30,121,31"}, "bbox"),
    ("towns", {"near": NEAR}, "near"),
    ("towns", {"Town": "lianshi"}, "Town"),
    # towns and units
    ("cases", {"town": "atlantis"}, "town"),
    ("cases", {"town": "housing"}, "town"),  # a bureau is no town
    ("cases", {"town": "nx_invest"}, "town"),
    ("cases", {"town": "Lianshi"}, "town"),
    ("cases", {"town": ""}, "town"),
    ("cases", {"town": "x" * 41}, "town"),
    ("heat", {"town": "atlantis"}, "town"),
    ("incidents", {"town": "housing"}, "town"),
    ("windows", {"town": "atlantis"}, "town"),
    ("places", {"town": "police"}, "town"),
    ("projects", {"town": "atlantis"}, "town"),
    ("towns", {"town": "housing"}, "town"),
    ("cases", {"unit": "nobody"}, "unit"),
    ("heat", {"unit": "nobody"}, "unit"),
    ("incidents", {"unit": "nobody"}, "unit"),
    ("projects", {"unit": "nobody"}, "unit"),
    ("cases", {"unit": "HOUSING"}, "unit"),
    # dates
    ("cases", {"date_from": "2026-02-30"}, "date_from"),
    ("cases", {"date_to": "yesterday"}, "date_to"),
    ("cases", {"date_from": ""}, "date_from"),
    ("heat", {"date_to": "26/03/2026"}, "date_to"),
    ("incidents", {"date_from": "2026-13-01"}, "date_from"),
    ("cases", {"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
    ("heat", {"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
    ("incidents", {"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
    # boxes
    ("cases", {"bbox": "120,30,121"}, "bbox"),
    ("cases", {"bbox": "120,30,121,31,5"}, "bbox"),
    ("cases", {"bbox": "a,b,c,d"}, "bbox"),
    ("cases", {"bbox": ""}, "bbox"),
    ("cases", {"bbox": "121,30,120,31"}, "bbox"),  # west after east
    ("cases", {"bbox": "120,30,120,31"}, "bbox"),  # no width
    ("cases", {"bbox": "120,31,121,30"}, "bbox"),  # south after north
    ("cases", {"bbox": "120,30,200,31"}, "bbox"),
    ("cases", {"bbox": "-181,30,121,31"}, "bbox"),
    ("cases", {"bbox": "120,-91,121,31"}, "bbox"),
    ("cases", {"bbox": "nan,30,121,31"}, "bbox"),
    ("cases", {"bbox": "120,30,inf,31"}, "bbox"),
    ("cases", {"bbox": "1" * 101}, "bbox"),
    ("incidents", {"bbox": "120,30,121"}, "bbox"),
    ("windows", {"bbox": "121,30,120,31"}, "bbox"),
    ("places", {"bbox": "120,30,121,95"}, "bbox"),
    # near and within
    ("windows", {"near": "30.7"}, "near"),
    ("windows", {"near": "30.7,120.4,5"}, "near"),
    ("windows", {"near": "a,b"}, "near"),
    ("windows", {"near": ""}, "near"),
    ("windows", {"near": "91,120"}, "near"),
    ("windows", {"near": "30,181"}, "near"),
    ("windows", {"near": "nan,120"}, "near"),
    ("windows", {"near": "1" * 61}, "near"),
    ("places", {"near": "120.4,30.7"}, "near"),  # lng,lat the GeoJSON way: 120 is no latitude
    ("incidents", {"near": "30.7;120.4"}, "near"),
    ("projects", {"near": "-95,120"}, "near"),
    ("windows", {"within": "1000"}, "within"),
    ("places", {"within": "1000"}, "within"),
    ("incidents", {"within": "1000"}, "within"),
    ("projects", {"within": "1000"}, "within"),
    ("windows", {"near": NEAR, "within": "50001"}, "within"),
    ("incidents", {"near": NEAR, "within": "100000"}, "within"),
    ("places", {"near": NEAR, "within": "9"}, "within"),
    ("places", {"near": NEAR, "within": "-5"}, "within"),
    ("places", {"near": NEAR, "within": "1km"}, "within"),
    ("places", {"near": NEAR, "within": "10.5"}, "within"),
    # case states and flags
    ("cases", {"state": "finished"}, "state"),
    ("cases", {"state": "Open"}, "state"),
    ("cases", {"state": ""}, "state"),
    ("cases", {"state": "x" * 21}, "state"),
    ("cases", {"overdue": "maybe"}, "overdue"),
    ("cases", {"incident": "0"}, "incident"),
    ("cases", {"incident": "-3"}, "incident"),
    ("cases", {"incident": "INC-1"}, "incident"),
    # number lists
    ("cases", {"number": "X" * 33}, "number"),
    ("cases", {"number": f"NX-2026-000001,{'X' * 33}"}, "number"),
    ("cases", {"number": "NX-2026-000001,,NX-2026-000002"}, "number"),
    ("cases", {"number": ""}, "number"),
    ("cases", {"number": TOO_MANY_NUMBERS}, "number"),
    # incident ids, statuses and levels
    ("incidents", {"id": "a,b"}, "id"),
    ("incidents", {"id": "1.5"}, "id"),
    ("incidents", {"id": "INC-1"}, "id"),
    ("incidents", {"id": "0"}, "id"),
    ("incidents", {"id": "1,-2"}, "id"),
    ("incidents", {"id": "1,,2"}, "id"),
    ("incidents", {"id": ""}, "id"),
    ("incidents", {"id": TOO_MANY_IDS}, "id"),
    ("incidents", {"status": "finished"}, "status"),
    ("incidents", {"status": "Closed"}, "status"),
    ("incidents", {"level": "V"}, "level"),
    ("incidents", {"level": "3"}, "level"),
    ("incidents", {"level": "iii"}, "level"),
    # places
    ("places", {"kind": "hospital"}, "kind"),
    ("places", {"kind": "Police"}, "kind"),
    # datum, on every feed
    *((name, {"datum": "bd09"}, "datum") for name in FEEDS),
    ("cases", {"datum": "GCJ02"}, "datum"),
    ("towns", {"datum": ""}, "datum"),
]


def params_id(value: Any) -> str:
    if isinstance(value, dict):
        text = "&".join(f"{k}={v}" for k, v in value.items())
        return text if len(text) <= 40 else text[:37] + "..."
    return str(value)


@pytest.mark.parametrize(("name", "params", "field"), BAD, ids=params_id)
def test_a_bad_parameter_is_a_422_naming_it_and_changes_nothing(
    map_data: District, api_client: ClientFor, name: str, params: dict[str, str], field: str
) -> None:
    before = snapshot()
    body = assert_error(api_client("command").get(url(name), params), 422)
    assert fields_of(body) == {field}
    assert all(e["message"] for e in body["errors"])
    assert snapshot() == before


@pytest.mark.parametrize("name", FEEDS)
def test_a_repeated_parameter_is_refused(
    map_data: District, api_client: ClientFor, name: str
) -> None:
    before = snapshot()
    response = api_client("command").get(url(name), {"datum": ["wgs84", "gcj02"]})
    body = assert_error(response, 422)
    assert body["errors"] == [{"field": "datum", "message": "give this parameter once"}]
    assert snapshot() == before


def test_a_parameter_repeated_with_the_same_value_is_refused_too(
    scene: Scene, api_client: ClientFor
) -> None:
    response = api_client("command").get(url("cases"), {"town": ["lianshi", "lianshi"]})
    assert fields_of(assert_error(response, 422)) == {"town"}


def test_every_unknown_parameter_is_named(scene: Scene, api_client: ClientFor) -> None:
    response = api_client("command").get(
        url("cases"), {"zoom": "12", "layer": "x", "town": "nanxun"}
    )
    body = assert_error(response, 422)
    assert body["errors"] == [
        {"field": "layer", "message": "unknown parameter"},
        {"field": "zoom", "message": "unknown parameter"},
    ]
    assert "layer" in body["detail"]


def test_an_unknown_town_message_names_the_code(scene: Scene, api_client: ClientFor) -> None:
    body = assert_error(api_client("command").get(url("cases"), {"town": "atlantis"}), 422)
    assert "atlantis" in body["errors"][0]["message"]


def test_a_hundred_case_numbers_are_taken(scene: Scene, api_client: ClientFor) -> None:
    wanted = [c.number for c in (scene.housing, scene.nanxun, scene.bridge, scene.old)]
    filler = [f"XX-{i:06d}" for i in range(100 - len(wanted))]
    body = feed(api_client("command"), "cases", number=",".join(filler + wanted))
    assert body["count"] == 4


def test_a_case_number_of_32_characters_is_taken(scene: Scene, api_client: ClientFor) -> None:
    assert feed(api_client("command"), "cases", number="N" * 32)["count"] == 0


def test_a_hundred_incident_ids_are_taken(scene: Scene, api_client: ClientFor) -> None:
    # Ids are whatever the database gives (PostgreSQL's sequences run on across tests).
    wanted = [scene.incident.pk, scene.small.pk, scene.over.pk]
    unused = [10**9 + i for i in range(100 - len(wanted))]
    client = api_client("command")
    ids = ",".join(str(i) for i in wanted + unused)
    assert feed(client, "incidents", id=ids)["count"] == 2
    assert feed(client, "incidents", id=",".join(map(str, wanted)))["count"] == 2


@pytest.mark.parametrize("within", ["10", "50000"])
def test_the_smallest_and_largest_radius_are_taken(
    scene: Scene, api_client: ClientFor, within: str
) -> None:
    body = feed(api_client("command"), "windows", near=NEAR, within=within)
    assert "lianshi" in [f["properties"]["code"] for f in body["features"]]


def test_a_box_at_the_edge_of_the_world_is_taken(scene: Scene, api_client: ClientFor) -> None:
    assert feed(api_client("command"), "cases", bbox="-180,-90,180,90")["count"] == 4


def test_a_bad_parameter_from_an_outsider_is_refused_before_anything_is_read(
    scene: Scene,
) -> None:
    response = Client().get(url("cases"), {"town": "atlantis"})
    assert_error(response, 401)
