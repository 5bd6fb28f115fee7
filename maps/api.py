"""GeoJSON feeds of the map's layers under /api/v1/map/.

Each feed answers a `FeatureCollection` (`application/geo+json`, gzip when the client takes
it). Parameters are checked strictly: an unknown parameter, an unknown town or unit code, a
malformed date, position or box is a 422 naming the parameter, never an empty map that
looks like good news.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.views.decorators.gzip import gzip_page
from ninja import Query, Router, Schema
from ninja.decorators import decorate_view
from pydantic import ConfigDict, Field

from incidents.domain.lifecycle import CaseState
from incidents.errors import Invalid
from incidents.models import Unit
from incidents.policy import Actor, actor_for
from maps import selectors
from maps.domain.coords import valid_lat_lng
from maps.models import Place
from maps.selectors import MapQuery

router = Router(tags=["map"])

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
CASE_STATE_VALUES = frozenset({"open", "all"} | {s.value for s in CaseState})
MAX_LIST = 100
MAX_WITHIN_M = 50_000


class FeedQuery(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    datum: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="gcj02 shifts every position for a map drawn on GCJ-02 tiles"
    )


class TownQuery(FeedQuery):
    town: Code | None = Field(None, description="a town's code")


class AreaQuery(TownQuery):
    bbox: str | None = Field(
        None, description="west,south,east,north in degrees (WGS-84)", max_length=100
    )


class NearQuery(AreaQuery):
    near: str | None = Field(None, description="lat,lng of a point", max_length=60)
    within: Annotated[int, Field(ge=10, le=MAX_WITHIN_M)] | None = Field(
        None, description="metres from `near` (default MAP_NEARBY_METRES)"
    )


class PeriodQuery(AreaQuery):
    unit: Code | None = Field(None, description="the responsible unit's code")
    date_from: date | None = None
    date_to: date | None = None


class CaseFeedQuery(PeriodQuery):
    state: str = Field("open", description="a case state, open (default) or all", max_length=20)
    overdue: bool | None = None
    incident: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="linked to incident"
    )
    number: str | None = Field(None, description="case numbers, comma-separated", max_length=4000)


class IncidentFeedQuery(PeriodQuery):
    status: Literal["open", "all", "reported", "active", "contained", "closed"] = "open"
    level: Literal["I", "II", "III", "IV"] | None = None
    id: str | None = Field(None, description="incident ids, comma-separated", max_length=1200)
    near: str | None = Field(None, description="lat,lng of a point", max_length=60)
    within: Annotated[int, Field(ge=10, le=MAX_WITHIN_M)] | None = None


class ProjectFeedQuery(NearQuery):
    unit: Code | None = Field(None, description="the builder's code")


class WarningFeedQuery(AreaQuery):
    status: Literal["open", "all"] = Field("open", description="open (default) or all")
    level: Literal["yellow", "orange", "red"] | None = None


class PlaceFeedQuery(NearQuery):
    kind: Place.Kind | None = None


def _error(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", [{"field": field, "message": message}])


def _refuse_unknown(request: HttpRequest, schema: type[Schema]) -> None:
    unknown = sorted(set(request.GET) - set(schema.model_fields))
    if unknown:
        raise Invalid(
            f"Unknown parameter {unknown[0]!r}.",
            [{"field": name, "message": "unknown parameter"} for name in unknown],
        )
    for name in request.GET:
        if len(request.GET.getlist(name)) > 1:
            raise _error(name, "give this parameter once")


def _floats(value: str, field: str, count: int) -> list[float]:
    parts = value.split(",")
    if len(parts) != count:
        raise _error(field, f"expected {count} comma-separated numbers")
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise _error(field, "not a number") from None


def _position(value: str, field: str) -> tuple[float, float]:
    lat, lng = _floats(value, field, 2)
    if not valid_lat_lng(lat, lng):
        raise _error(field, "not a latitude and longitude")
    return lat, lng


def _bbox(value: str) -> tuple[float, float, float, float]:
    west, south, east, north = _floats(value, "bbox", 4)
    if not (valid_lat_lng(south, west) and valid_lat_lng(north, east)):
        raise _error("bbox", "not longitudes and latitudes")
    if west >= east or south >= north:
        raise _error("bbox", "west must be less than east and south less than north")
    return south, west, north, east


def _unit_id(actor: Actor, code: str | None, field: str, *, town: bool) -> int | None:
    if code is None:
        return None
    units = Unit.objects.filter(district_id=actor.district_id, code=code)
    if town:
        units = units.filter(kind=Unit.Kind.TERRITORIAL)
    found = units.values_list("pk", flat=True).first()
    if found is None:
        raise _error(field, f"no {'town' if town else 'unit'} {code!r} in this district")
    return found


def _list(value: str | None, field: str) -> list[str]:
    if value is None:
        return []
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise _error(field, "an empty item in the list")
    if len(items) > MAX_LIST:
        raise _error(field, f"at most {MAX_LIST} items")
    return items


def map_query(actor: Actor, params: FeedQuery) -> MapQuery:
    """The checked `MapQuery` of a feed's parameters, or `Invalid` naming the bad one."""
    p: dict[str, Any] = params.model_dump()
    fields: dict[str, Any] = {"datum": p["datum"]}
    if "town" in p:
        fields["town_id"] = _unit_id(actor, p["town"], "town", town=True)
    if "unit" in p:
        fields["unit_id"] = _unit_id(actor, p["unit"], "unit", town=False)
    if p.get("bbox") is not None:
        fields["bbox"] = _bbox(p["bbox"])
    if p.get("near") is not None:
        fields["near"] = _position(p["near"], "near")
    if p.get("within") is not None:
        if p.get("near") is None:
            raise _error("within", "give near as well")
        fields["within_m"] = p["within"]
    if p.get("date_from") and p.get("date_to") and p["date_from"] > p["date_to"]:
        raise _error("date_from", "must not be after date_to")
    for key in ("date_from", "date_to", "overdue", "level", "kind"):
        if p.get(key) is not None:
            fields[key] = p[key]
    if "state" in p:
        if p["state"] not in CASE_STATE_VALUES:
            raise _error("state", "not a case state, open or all")
        fields["state"] = p["state"]
    if "status" in p:
        fields["status"] = p["status"]
    if p.get("incident") is not None:
        fields["incident_id"] = p["incident"]
    if "number" in p:
        numbers = _list(p["number"], "number")
        if any(len(n) > 32 for n in numbers):
            raise _error("number", "a case number has at most 32 characters")
        fields["numbers"] = tuple(numbers)
    if "id" in p:
        items = _list(p["id"], "id")
        if not all(i.isascii() and i.isdigit() for i in items):
            raise _error("id", "incident ids are whole numbers")
        ids = tuple(int(i) for i in items)
        if any(i < 1 for i in ids):
            raise _error("id", "incident ids are positive")
        fields["ids"] = ids
    return MapQuery(**fields)


def _feed(
    request: HttpRequest,
    params: FeedQuery,
    build: Callable[[Actor, MapQuery], dict[str, Any]],
) -> HttpResponse:
    _refuse_unknown(request, type(params))
    actor = actor_for(request.user)
    body = build(actor, map_query(actor, params))
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/geo+json; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


GEOJSON = {200: dict[str, Any]}


@router.get("/map/cases", response=GEOJSON, summary="Cases on the map")
@decorate_view(gzip_page)
def map_cases(request: HttpRequest, params: Query[CaseFeedQuery]) -> HttpResponse:
    """Open cases by default (`state=all` or a state for others); properties `number`,
    `state`, `overdue`, `colour`, `workers`, `amount`, `town`, `unit`, `received` and
    `approx` (placed at its town's centre for want of its own position)."""
    return _feed(request, params, selectors.case_features)


@router.get("/map/heat", response=GEOJSON, summary="Cases over a period, for the heat map")
@decorate_view(gzip_page)
def map_heat(request: HttpRequest, params: Query[PeriodQuery]) -> HttpResponse:
    """Every case received from `date_from` to `date_to` (default: the last MAP_HEAT_DAYS
    days), with `weight` = its number of workers."""
    return _feed(request, params, selectors.heat_features)


@router.get("/map/incidents", response=GEOJSON, summary="Mass incidents on the map")
@decorate_view(gzip_page)
def map_incidents(request: HttpRequest, params: Query[IncidentFeedQuery]) -> HttpResponse:
    """Open incidents by default; `pulse` is true while the response is active."""
    return _feed(request, params, selectors.incident_features)


@router.get("/map/windows", response=GEOJSON, summary="Intake windows")
@decorate_view(gzip_page)
def map_windows(request: HttpRequest, params: Query[NearQuery]) -> HttpResponse:
    return _feed(request, params, selectors.window_features)


@router.get("/map/projects", response=GEOJSON, summary="Construction projects")
@decorate_view(gzip_page)
def map_projects(request: HttpRequest, params: Query[ProjectFeedQuery]) -> HttpResponse:
    return _feed(request, params, selectors.project_features)


@router.get("/map/warnings", response=GEOJSON, summary="Early warnings on the map")
@decorate_view(gzip_page)
def map_warnings(request: HttpRequest, params: Query[WarningFeedQuery]) -> HttpResponse:
    """Open early warnings at their enterprise's or project's position; properties `id`,
    `code`, `subject`, `level` (yellow, orange, red), `colour`, `score`, `state`, `unit`."""
    return _feed(request, params, selectors.warning_features)


@router.get("/map/places", response=GEOJSON, summary="Police stations and other landmarks")
@decorate_view(gzip_page)
def map_places(request: HttpRequest, params: Query[PlaceFeedQuery]) -> HttpResponse:
    return _feed(request, params, selectors.place_features)


@router.get("/map/towns", response=GEOJSON, summary="Town outlines")
@decorate_view(gzip_page)
def map_towns(request: HttpRequest, params: Query[TownQuery]) -> HttpResponse:
    return _feed(request, params, selectors.town_features)
