"""Phone and ID numbers: masked for roles that do not need them, every unmasked look logged."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.test import Client

from incidents.models import PersonalDataAccess
from tests.factories import id_number, intake_payload

ClientFor = Callable[[str], Client]


def register_housing_case(api_client: ClientFor) -> str:
    body = intake_payload(
        complainant={"name": "王建国", "phone": "13812345678", "id_number": id_number()}
    )
    response = api_client("clerk_lianshi").post(
        "/api/v1/cases", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    return response.json()["case_number"]


def test_command_sees_full_numbers_and_the_look_is_logged(api_client: ClientFor) -> None:
    number = register_housing_case(api_client)

    response = api_client("command").get(f"/api/v1/cases/{number}")

    complainant = response.json()["reports"][0]["complainant"]
    assert complainant["phone"] == "13812345678"
    assert complainant["id_number"] == id_number()
    log = PersonalDataAccess.objects.get()
    assert (log.user.username, log.case.number, log.via) == ("command", number, "api")


def test_liaison_sees_masked_numbers_and_nothing_is_logged(api_client: ClientFor) -> None:
    number = register_housing_case(api_client)

    response = api_client("liaison_housing").get(f"/api/v1/cases/{number}")

    complainant = response.json()["reports"][0]["complainant"]
    assert complainant["phone"] == "138****5678"
    assert complainant["id_number"].startswith("330503")
    assert "*" in complainant["id_number"]
    assert not PersonalDataAccess.objects.exists()


def test_clerk_case_page_look_is_logged(api_client: ClientFor) -> None:
    number = register_housing_case(api_client)

    response = api_client("clerk_lianshi").get(f"/cases/{number}/")

    assert response.status_code == 200
    assert "13812345678" in response.content.decode()
    log = PersonalDataAccess.objects.get()
    assert (log.user.username, log.via) == ("clerk_lianshi", "page")


def test_masked_looks_of_assisting_unit_and_reviewer_log_nothing(api_client: ClientFor) -> None:
    number = register_housing_case(api_client)  # Lianshi assists the housing bureau

    for username in ("liaison_lianshi", "reviewer"):
        response = api_client(username).get(f"/api/v1/cases/{number}")
        assert response.status_code == 200
        assert response.json()["reports"][0]["complainant"]["phone"] == "138****5678"
    assert not PersonalDataAccess.objects.exists()
