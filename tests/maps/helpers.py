"""Making positioned cases and incidents, and reading the map's GeoJSON feeds, for tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from incidents.domain.lifecycle import Action
from incidents.models import Case, Event, Incident, Unit
from incidents.policy import actor_for
from incidents.services import (
    IncidentChange,
    Intake,
    ProjectInput,
    TransitionInput,
    case_register,
    case_transition,
    incident_transition,
)
from maps.models import Place
from tests.factories import credit_code
from tests.live.helpers import incident_open

FEEDS = ["cases", "heat", "incidents", "windows", "projects", "places", "towns"]
GEOJSON = "application/geo+json"


def url(feed: str) -> str:
    return f"/api/v1/map/{feed}"


def make_case(
    *,
    town: str = "nanxun",
    lat: float | None = None,
    lng: float | None = None,
    project_type: str = "other_construction",
    project_name: str | None = None,
    builder: str | None = None,
    workers: int = 3,
    received_at: datetime | None = None,
    username: str = "command",
    window: str | None = None,
) -> Case:
    """A new complaint (a new employer each time, so it never merges), routed by project type."""
    actor = actor_for(User.objects.get(username=username))
    return case_register(
        actor=actor,
        intake=Intake(
            channel="window" if window else "labour_complaint",
            window=window,
            complainant_name="李海峰",
            complainant_phone="13912345678",
            workers_count=workers,
            amount_owed=Decimal("12000.50"),
            employer_name="南浔恒丰纺织有限公司",
            employer_credit_code=credit_code(),
            town=town,
            project=ProjectInput(project_name or f"{town}厂房", project_type, builder),  # type: ignore[arg-type]
            received_at=received_at,
            lat=lat,
            lng=lng,
        ),
    ).case


def close_case(number: str) -> Case:
    """Accept, resolve and close a case, as command staff."""
    command = actor_for(User.objects.get(username="command"))
    for change in (
        TransitionInput(action=Action.ACCEPT),
        TransitionInput(action=Action.RESOLVE, amount=Decimal("12000.50"), reason="已足额支付"),
        TransitionInput(action=Action.CLOSE),
    ):
        case = case_transition(actor=command, case_number=number, change=change)
    return case


def make_incident(
    *,
    town: str = "lianshi",
    lat: float = 30.713,
    lng: float = 120.429,
    people: int = 40,
    username: str = "command",
    cases: Iterable[str] = (),
) -> Incident:
    return incident_open(username, town=town, people=people, cases=list(cases), lat=lat, lng=lng)


def close_incident(incident: Incident) -> None:
    actor = actor_for(User.objects.get(username="command"))
    incident_transition(
        actor=actor, incident_id=incident.pk, change=IncidentChange("close", reason="人员已散去")
    )


def feed(client: Client, name: str, **params: Any) -> dict[str, Any]:
    """The feed's FeatureCollection, after checking it is one."""
    response = client.get(url(name), params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(GEOJSON)
    body: dict[str, Any] = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert body["count"] == len(body["features"])
    return body


def props(body: dict[str, Any], key: str) -> list[Any]:
    return [f["properties"][key] for f in body["features"]]


def coords_by(body: dict[str, Any], key: str) -> dict[Any, list[float]]:
    return {f["properties"][key]: f["geometry"]["coordinates"] for f in body["features"]}


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
    return body


def fields_of(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def snapshot() -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "cases": list(Case.objects.order_by("pk").values_list("pk", "state", "revision")),
        "incidents": list(Incident.objects.order_by("pk").values_list("pk", "status", "revision")),
        "events": Event.objects.count(),
        "places": Place.objects.count(),
        "outlines": list(Unit.objects.order_by("pk").values_list("pk", "outline")),
    }
