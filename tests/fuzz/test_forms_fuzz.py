"""Arbitrary values in the hub's forms and in its pages' query parameters.

The intake form, the incident report form, a case's and an incident's action forms get
their own fields filled with anything (unicode, NUL characters, huge text, negative and
enormous numbers, malformed dates) plus unknown fields: the answer is a re-rendered form
(200/400/403/404/409/422) or a redirect after success, never a 5xx, and a refusal changes
nothing. The report, list and map pages get arbitrary values for their query parameters
(dates, months, ids, boxes, states, page numbers): never a 5xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import given, note
from hypothesis import strategies as st

from incidents.forms import IntakeForm, TransitionForm
from incidents.forms_incidents import IncidentActionForm, IncidentForm
from tests.fuzz.conftest import World, fuzz_settings, snapshot

ClientFor = Callable[[str], Client]

# Values a person (or a script) might type into any field.
values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(str),
    st.dates().map(str),
    st.sampled_from(
        ["", "\x00", "0", "-1", "1e309", "NaN", "2025-02-30", "9999-12-31", "true", "x" * 5000]
    ),
    st.sampled_from(["lianshi", "housing", "window", "real_estate", "dispatch", "close"]),
)


def form_data(fields: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(
        st.sampled_from(fields) | st.text(min_size=1, max_size=10), values, max_size=len(fields)
    )


def post_checked(client: Client, url: str, data: dict[str, str]) -> None:
    note(f"POST {url} {data!r:.800}")
    before = snapshot()
    response = client.post(url, data)
    note(f"-> {response.status_code}")
    assert response.status_code < 500
    if response.status_code != 302:
        assert response.status_code in (200, 400, 403, 404, 409, 422), response.status_code
        assert snapshot() == before


CASE_ACTION = "/cases/{w.case_number}/transition/"
FORMS = {
    "intake": ("clerk_lianshi", "/cases/new/", IntakeForm),
    "incident": ("command", "/incidents/new/", IncidentForm),
    "case-action": ("command", CASE_ACTION, TransitionForm),
    "case-action-unit": ("liaison_housing", CASE_ACTION, TransitionForm),
    "incident-action": ("command", "/incidents/{w.incident.pk}/act/", IncidentActionForm),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("user", "url", "form"), FORMS.values(), ids=FORMS.keys())
def test_arbitrary_form_input_is_refused_cleanly_and_changes_nothing(
    world: World, api_client: ClientFor, user: str, url: str, form: Any
) -> None:
    client = api_client(user)
    url = url.format(w=world)

    @fuzz_settings(quick=12)
    @given(data=form_data(list(form.base_fields)))
    def fuzz(data: dict[str, str]) -> None:
        post_checked(client, url, data)

    fuzz()


PAGES = {
    "/cases/": ["state", "unit", "town", "channel", "overdue", "received_from", "received_to"],
    "/cases/triage/": ["page"],
    "/incidents/": ["status", "page"],
    "/incidents/new/": ["case"],
    "/reports/monthly/": ["month", "from", "to", "format"],
    "/reports/ranking/": ["month", "format"],
    "/reports/units/housing/": ["month", "from", "to"],
    "/units/housing/activity/": ["from", "to", "format"],
    "/maps/": ["layer", "town", "unit", "state", "date_from", "date_to", "bbox", "near"],
    "/alerts/": ["state"],
    "/alerts/roster/": ["day"],
    "/alerts/warnings/": ["state", "level", "unit", "page"],
    "/reports/situation/": ["page", "from", "to"],
    "/": ["page"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["command", "liaison_housing"])
def test_arbitrary_query_parameters_never_fail_a_page(
    world: World, api_client: ClientFor, user: str
) -> None:
    client = api_client(user)

    @fuzz_settings(quick=30)
    @given(path=st.sampled_from(sorted(PAGES)), data=st.data())
    def fuzz(path: str, data: st.DataObject) -> None:
        params = data.draw(form_data(PAGES[path]))
        note(f"GET {path} {params!r:.800}")
        response = client.get(path, params)
        assert response.status_code < 500, response.status_code
        assert response.status_code in (200, 302, 400, 403, 404), response.status_code

    fuzz()
