"""Every operation of the OpenAPI schema, fuzzed by schemathesis through the WSGI app.

Each example is a request that fits the schema or one that breaks it (schemathesis'
positive and negative modes), sent as one persona (a bearer token: command staff, a
liaison, a reviewer, the 110 gateway) or with no credentials, with its path pointing at a
real case, incident, step or alert half of the time. Whatever is sent: no 5xx, a body that
fits the schema where the schema describes the status, every refusal in the API's one error
shape, no credentials → 401, and a refusal (4xx) changes nothing in the database.

One test walks the operations, each with its own hypothesis run, so that the world (the
demo district, a case, an incident with its checklist) is built once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import given, note
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from alerts.models import Alert, EarlyWarning
from incidents.models import BlacklistEntry
from playbooks.models import ChecklistStep
from tests.fuzz.conftest import PERSONAS, World, fuzz_settings, snapshot

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
OPERATIONS = [result.ok() for result in schema.get_all_operations()]

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Ninja documents every answer as application/json; these answer GeoJSON and CAP XML (as
# their descriptions say), so their media type is not checked against the schema.
OTHER_MEDIA = ("/map/", "/cap.xml")


def checks_for(operation: Any) -> list[Any]:
    if any(part in operation.path for part in OTHER_MEDIA):
        return [not_a_server_error, response_schema_conformance]
    return CHECKS


# Path parameters that may point at a row the world holds.
REAL = ("case_number", "incident_id", "step_id", "alert_id", "entry_id", "warning_id")


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """What Django's test client does: a request through the WSGI app must not close the
    test's database connection (its transaction holds the world)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_ids(world: World) -> dict[str, Any]:
    step = ChecklistStep.objects.filter(checklist__incident=world.incident).first()
    alert = Alert.objects.first()
    entry = BlacklistEntry.objects.first()
    warning = EarlyWarning.objects.first()
    return {
        "case_number": world.case_number,
        "incident_id": world.incident.pk,
        "step_id": step.pk if step else 1,
        "alert_id": alert.pk if alert else 1,
        "entry_id": entry.pk if entry else 1,
        "warning_id": warning.pk if warning else 1,
    }


def call_and_check(case: schemathesis.Case, persona: str | None, real: bool, world: World) -> None:
    if real and case.path_parameters:
        ids = real_ids(world)
        for name in REAL:
            if name in case.path_parameters:
                case.path_parameters[name] = ids[name]
    # Plain bodies, so that they can be read back (the map feeds gzip when asked).
    headers = {"Accept-Encoding": "identity"}
    if persona:
        headers["Authorization"] = f"Bearer {world.tokens[persona]}"
    note(f"as {persona or 'nobody'}: {case.as_curl_command(headers=headers)}")
    before = snapshot()

    response = case.call(headers=headers)

    note(f"-> {response.status_code} {response.content[:500].decode(errors='replace')}")
    case.validate_response(response, checks=checks_for(case.operation), headers=headers)
    status = response.status_code
    if persona is None:
        # A (made-up) session cookie on a POST fails the CSRF check first; a path that
        # matches no route is a 404 whoever asks.
        assert status in ((401, 403, 404) if case.cookies else (401, 404)), response.text
    if 400 <= status < 500:
        content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
        assert content_type[0].startswith("application/json"), content_type
        assert set(json.loads(response.text)) == {"detail", "errors"}
        assert snapshot() == before, "a refused request changed the database"


@pytest.mark.django_db
def test_no_request_fails_with_5xx_and_no_refusal_changes_anything(
    world: World, keep_connection: None
) -> None:
    assert len(OPERATIONS) > 40
    for operation in OPERATIONS:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @fuzz_settings(quick=4)
        @given(case=cases, persona=st.sampled_from([*PERSONAS, None]), real=st.booleans())
        def fuzz(case: schemathesis.Case, persona: str | None, real: bool) -> None:
            call_and_check(case, persona, real, world)

        try:
            fuzz()
        except Exception as exc:
            exc.add_note(f"operation: {operation.label}")
            raise


@pytest.mark.django_db
def test_a_post_without_credentials_is_401_and_an_unknown_path_a_json_404(world: World) -> None:
    client = Client(enforce_csrf_checks=True)

    anonymous = client.post("/api/v1/cases", "{}", content_type="application/json")
    unknown = client.post("/api/v1/incidents/null/transitions", "{}", "application/json")

    assert anonymous.status_code == 401, anonymous.content
    assert unknown.status_code == 404, unknown.content
    assert set(unknown.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_a_body_nested_past_the_parsers_depth_is_a_400(world: World) -> None:
    client = Client()
    body = "[" * 5000 + "]" * 5000
    headers = {"Authorization": f"Bearer {world.tokens['command']}"}

    response = client.post("/api/v1/cases", body, "application/json", headers=headers)

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/incidents/%0A/after-action", "/api/v1/x%0Ay", "/api/"])
def test_any_unknown_api_path_is_a_json_404(world: World, path: str) -> None:
    response = Client().get(path, headers={"Authorization": f"Bearer {world.tokens['command']}"})

    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/map/cases"])
def test_an_id_past_the_databases_integers_is_a_422(world: World, path: str) -> None:
    response = Client().get(
        path,
        {"incident": str(2**70)},
        headers={"Authorization": f"Bearer {world.tokens['command']}"},
    )

    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["incident"]
