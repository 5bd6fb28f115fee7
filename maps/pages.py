"""What each page's map shows: the command map, the dashboard's, a room's, an intake form's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Avg
from django.urls import reverse
from django.utils.translation import gettext as _

from incidents.events import stream_head
from incidents.models import Incident, Unit
from incidents.policy import Actor, dashboard_stream
from maps import rendering, selectors
from maps.domain import styles
from maps.selectors import MapQuery

# Where a district with no positioned town is shown: the middle of China.
FALLBACK_CENTRE = (34.0, 108.0)
# Which of the command map's filters each feed takes.
FEED_FILTERS = {
    "cases": ("town", "unit", "date_from", "date_to"),
    "incidents": ("town", "unit", "date_from", "date_to"),
    "heat": ("town", "unit", "date_from", "date_to"),
    "windows": ("town",),
    "projects": ("town",),
    "places": ("town",),
    "warnings": ("town",),
}


def datum_param() -> str | None:
    """The feeds' `datum` for the configured tiles (none: WGS-84, the feeds' default)."""
    datum = rendering.current_tiles().datum
    return None if datum == "wgs84" else datum


def feed_url(layer: str, **params: Any) -> str:
    base = reverse("api:map_cases").removesuffix("cases")
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{base}{layer}" + (f"?{query}" if query else "")


def district_centre(district_id: int) -> tuple[float, float]:
    centre = Unit.objects.filter(
        district_id=district_id, kind=Unit.Kind.TERRITORIAL, lat__isnull=False, lng__isnull=False
    ).aggregate(lat=Avg("lat"), lng=Avg("lng"))
    if centre["lat"] is None or centre["lng"] is None:
        return FALLBACK_CENTRE
    return centre["lat"], centre["lng"]


def _towns(actor: Actor) -> dict[str, Any]:
    """The town outlines, drawn into the map itself, in the tiles' datum."""
    return selectors.town_features(actor, MapQuery(datum=datum_param() or "wgs84"))


def command_map_spec(
    actor: Actor,
    params: dict[str, str],
    *,
    heat: bool = False,
    embedded: bool = False,
) -> rendering.MapSpec:
    """The command map: every layer, filtered by `params`, live from the person's stream;
    or, `embedded`, the dashboard's smaller map of cases, incidents and windows."""
    datum = datum_param()
    layers = ("cases", "incidents", "windows", "warnings") if embedded else tuple(FEED_FILTERS)
    feeds = {
        layer: feed_url(
            layer, **{k: v for k, v in params.items() if k in FEED_FILTERS[layer]}, datum=datum
        )
        for layer in layers
    }
    stream = dashboard_stream(actor)
    live = "page" if embedded else ("own" if stream else "none")
    if embedded:
        script_url = reverse("dashboard-map-js")
    else:
        query = urlencode({**params, **({"heat": "on"} if heat else {})})
        script_url = reverse("command-map-js") + (f"?{query}" if query else "")
    return rendering.MapSpec(
        purpose="dashboard" if embedded else "command",
        script_url=script_url,
        centre=district_centre(actor.district_id),
        zoom=rendering.DISTRICT_ZOOM,
        feeds=feeds,
        towns=_towns(actor),
        show_heat=heat,
        live=live,
        after=stream_head(stream) if stream and live == "own" else 0,
        css_height="420px" if embedded else "72vh",
    )


def incident_map_spec(actor: Actor, incident: Incident) -> rendering.MapSpec:
    """An incident's room map: its site, the windows and police near it, its linked cases."""
    dat = datum_param()
    near = f"{incident.lat},{incident.lng}"
    return rendering.MapSpec(
        purpose="incident",
        script_url=reverse("incident-map-js", args=[incident.pk]),
        centre=(incident.lat, incident.lng),
        zoom=rendering.SITE_ZOOM,
        feeds={
            "incidents": feed_url("incidents", id=incident.pk, status="all", datum=dat),
            "cases": feed_url("cases", incident=incident.pk, state="all", datum=dat),
            "windows": feed_url("windows", near=near, datum=dat),
            "places": feed_url("places", near=near, datum=dat),
        },
        towns=_towns(actor),
        live="page",
        css_height="340px",
        focus={"incident_id": incident.pk},
    )


def picker_map_spec(actor: Actor) -> rendering.MapSpec:
    """A map in an intake form: a click sets the latitude and longitude fields (the forms'
    `lat`, `lng` and `town` fields, as Django names their elements)."""
    return rendering.MapSpec(
        purpose="picker",
        script_url=reverse("picker-map-js"),
        centre=district_centre(actor.district_id),
        zoom=rendering.DISTRICT_ZOOM,
        feeds={"windows": feed_url("windows", datum=datum_param())},
        towns=_towns(actor),
        css_height="320px",
        picker={"lat": "id_lat", "lng": "id_lng", "town": "id_town"},
    )


def legend() -> dict[str, Any]:
    return {
        "cases": [
            (styles.CASE_NEW, _("waiting for the unit")),
            (styles.CASE_WORKING, _("being handled")),
            (styles.CASE_ESCALATED, _("inspection, meeting or fund")),
            (styles.CASE_SETTLED, _("resolved")),
            (styles.OVERDUE, _("overdue")),
        ],
        "levels": list(styles.LEVEL_COLOURS.items()),
    }


def nearby(actor: Actor, incident: Incident, *, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The windows and police stations nearest the incident's site, for the room's list."""
    query = MapQuery(near=(incident.lat, incident.lng))
    windows = selectors.window_features(actor, query)["features"][:limit]
    police = selectors.place_features(
        actor, MapQuery(near=(incident.lat, incident.lng), kind="police")
    )["features"][:limit]
    return {
        "windows": [f["properties"] for f in windows],
        "police": [f["properties"] for f in police],
    }
