"""Random bodies at the intake endpoint: never a 5xx, and a refusal stores nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Case, Event, Report
from tests.factories import intake_payload

ClientFor = Callable[[str], Client]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = list(intake_payload())


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid intake with one to three fields replaced, removed or nested values broken."""
    payload = intake_payload()
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            payload[field] = draw(json_values)
        else:
            payload.pop(field)
    return payload


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(mutated_payloads(), json_values))
def test_random_bodies_never_fail_with_5xx_and_refusals_store_nothing(
    api_client: ClientFor, body: Any
) -> None:
    client = api_client("clerk_lianshi")
    before = (Case.objects.count(), Report.objects.count(), Event.objects.count())

    response = client.post("/api/v1/cases", json.dumps(body), content_type="application/json")

    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        assert set(response.json()) == {"detail", "errors"}
        assert (Case.objects.count(), Report.objects.count(), Event.objects.count()) == before


transition_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"action": st.sampled_from(["dispatch", "accept", "resolve", "close", "advance_payment"])},
        optional={
            "reason": json_values,
            "unit": json_values,
            "amount": json_values,
            "override": json_values,
            "into": json_values,
            "expected_revision": json_values,
        },
    ),
)


@pytest.mark.django_db
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=transition_bodies)
def test_random_transition_bodies_never_fail_with_5xx(api_client: ClientFor, body: Any) -> None:
    clerk, command = api_client("clerk_lianshi"), api_client("command")
    created = clerk.post(
        "/api/v1/cases", json.dumps(intake_payload()), content_type="application/json"
    )
    number = created.json()["case_number"]
    before = (Case.objects.get(number=number).revision, Event.objects.count())

    response = command.post(
        f"/api/v1/cases/{number}/transitions", json.dumps(body), content_type="application/json"
    )

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert set(response.json()) == {"detail", "errors"}
        assert (Case.objects.get(number=number).revision, Event.objects.count()) == before
