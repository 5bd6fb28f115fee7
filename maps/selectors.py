"""The map's layers as GeoJSON, read with the same permission filters as the rest of the hub.

Cases and incidents go through `visible_cases` and `visible_incidents`; windows, projects,
landmarks and town outlines are the district's reference data, readable by all its people.
Every feed is a `FeatureCollection` of WGS-84 positions, or GCJ-02 when asked
(`datum="gcj02"`, for a map drawn on GCJ-02 tiles). Large layers are read with `values()`
and built as plain dicts: ten thousand cases must not cost ten thousand model instances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language

from incidents.domain import incidents as incident_rules
from incidents.domain.lifecycle import OPEN_STATES
from incidents.models import Case, Incident, Project, Unit, Window
from incidents.policy import Actor, visible_cases, visible_incidents
from incidents.selectors import overdue_exists
from incidents.services import local_tz
from maps.domain import styles
from maps.domain.coords import box_around, distance_m, wgs84_to_gcj02
from maps.models import Place

Position = tuple[float, float]  # (lat, lng)
OPEN_STATUS_VALUES = sorted(s.value for s in incident_rules.OPEN_STATUSES)
OPEN_STATE_VALUES = sorted(s.value for s in OPEN_STATES)


@dataclass(frozen=True)
class MapQuery:
    """What a feed is asked for, already checked (see `maps.api`). Empty means no filter."""

    town_id: int | None = None
    unit_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    state: str = "open"  # a case state, "open" or "all"
    overdue: bool | None = None
    incident_id: int | None = None
    numbers: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    status: str = "open"  # an incident status, "open" or "all"
    level: str | None = None
    kind: str | None = None
    near: Position | None = None
    within_m: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # south, west, north, east
    datum: str = "wgs84"


def shifted(lat: float, lng: float, datum: str) -> Position:
    """(`lat`, `lng`) in the map's datum: GCJ-02 for such tiles, else as stored."""
    return wgs84_to_gcj02(lat, lng) if datum == "gcj02" else (lat, lng)


def point(lat: float, lng: float, properties: dict[str, Any], datum: str) -> dict[str, Any]:
    """A GeoJSON Point feature ([longitude, latitude], rounded to about 10 cm)."""
    y, x = shifted(lat, lng, datum)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
        "properties": properties,
    }


def collection(features: list[dict[str, Any]], layer: str, **meta: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "layer": layer,
        "count": len(features),
        **meta,
        "features": features,
    }


def _day_range(q: MapQuery) -> tuple[datetime | None, datetime | None]:
    tz = local_tz()
    start = datetime.combine(q.date_from, time.min, tz) if q.date_from else None
    end = datetime.combine(q.date_to, time.max, tz) if q.date_to else None
    return start, end


def _within(q: MapQuery) -> int:
    return q.within_m or settings.MAP_NEARBY_METRES


def _box_q(q: MapQuery, lat: str = "lat", lng: str = "lng") -> Q:
    """A cheap bounding box for `bbox` or `near`; the exact distance is checked after."""
    boxes = []
    if q.bbox:
        boxes.append(q.bbox)
    if q.near:
        boxes.append(box_around(q.near[0], q.near[1], _within(q)))
    cond = Q()
    for south, west, north, east in boxes:
        cond &= Q(**{f"{lat}__gte": south, f"{lat}__lte": north})
        cond &= Q(**{f"{lng}__gte": west, f"{lng}__lte": east})
    return cond


def _nearby(rows: Iterable[Any], q: MapQuery) -> list[tuple[dict[str, Any], float | None]]:
    """Rows with their distance from `near`, the ones beyond `within` left out, nearest first."""
    if q.near is None:
        return [(row, None) for row in rows]
    radius = _within(q)
    out: list[tuple[dict[str, Any], float | None]] = []
    for row in rows:
        d = distance_m(q.near[0], q.near[1], row["lat"], row["lng"])
        if d <= radius:
            out.append((row, d))
    out.sort(key=lambda pair: pair[1] if pair[1] is not None else 0.0)
    return out


def _with_distance(props: dict[str, Any], d: float | None) -> dict[str, Any]:
    if d is not None:
        props["distance_m"] = round(d)
    return props


# --- cases and heat -------------------------------------------------------------------


def _case_rows(actor: Actor, q: MapQuery) -> QuerySet[Case]:
    qs = visible_cases(actor)
    if q.state == "open":
        qs = qs.filter(state__in=OPEN_STATE_VALUES)
    elif q.state != "all":
        qs = qs.filter(state=q.state)
    if q.town_id:
        qs = qs.filter(town_id=q.town_id)
    if q.unit_id:
        qs = qs.filter(responsible_unit_id=q.unit_id)
    if q.incident_id:
        qs = qs.filter(incidents=q.incident_id)
    if q.numbers:
        qs = qs.filter(number__in=q.numbers)
    start, end = _day_range(q)
    if start:
        qs = qs.filter(received_at__gte=start)
    if end:
        qs = qs.filter(received_at__lte=end)
    if q.bbox:
        # A case without its own position is drawn at its town's centre.
        south, west, north, east = q.bbox
        own = Q(lat__gte=south, lat__lte=north, lng__gte=west, lng__lte=east)
        town = Q(
            lat__isnull=True,
            town__lat__gte=south,
            town__lat__lte=north,
            town__lng__gte=west,
            town__lng__lte=east,
        )
        qs = qs.filter(own | town)
    return qs


def case_features(actor: Actor, q: MapQuery, *, now: datetime | None = None) -> dict[str, Any]:
    """Cases as points, coloured by state, red when a deadline is missed.

    A case registered without a position sits at its town's centre with `approx: true`;
    one whose town has no position either is left off and counted in `unplaced`.
    """
    now = now or timezone.now()
    qs = _case_rows(actor, q).annotate(overdue=overdue_exists(now))
    if q.overdue is not None:
        qs = qs.filter(overdue=q.overdue)
    rows = qs.order_by("-received_at", "-id").values(
        "number",
        "state",
        "lat",
        "lng",
        "town__code",
        "town__lat",
        "town__lng",
        "responsible_unit__code",
        "workers_count",
        "amount_owed",
        "received_at",
        "overdue",
    )
    tz = local_tz()
    features = []
    unplaced = 0
    for row in rows:
        approx = row["lat"] is None or row["lng"] is None
        lat, lng = (row["town__lat"], row["town__lng"]) if approx else (row["lat"], row["lng"])
        if lat is None or lng is None:
            unplaced += 1
            continue
        features.append(
            point(
                lat,
                lng,
                {
                    "number": row["number"],
                    "state": row["state"],
                    "overdue": row["overdue"],
                    "colour": styles.case_colour(row["state"], row["overdue"]),
                    "workers": row["workers_count"],
                    "amount": f"{row['amount_owed']:.2f}",
                    "town": row["town__code"],
                    "unit": row["responsible_unit__code"],
                    "received": row["received_at"].astimezone(tz).date().isoformat(),
                    "approx": approx,
                },
                q.datum,
            )
        )
    return collection(features, "cases", unplaced=unplaced)


def heat_period(q: MapQuery, today: date) -> tuple[date, date]:
    """The heat map's period: the query's dates, or the last `MAP_HEAT_DAYS` days."""
    end = q.date_to or max(today, q.date_from or today)
    start = q.date_from or end - timedelta(days=settings.MAP_HEAT_DAYS - 1)
    return start, end


def heat_features(actor: Actor, q: MapQuery, *, today: date | None = None) -> dict[str, Any]:
    """Every case received in the period, open or not, weighted by its number of workers."""
    today = today or timezone.localdate()
    start, end = heat_period(q, today)
    period = replace(q, date_from=start, date_to=end, state="all")
    rows = _case_rows(actor, period).values("lat", "lng", "town__lat", "town__lng", "workers_count")
    features = []
    for row in rows:
        lat, lng = row["lat"], row["lng"]
        if lat is None or lng is None:
            lat, lng = row["town__lat"], row["town__lng"]
        if lat is None or lng is None:
            continue
        features.append(point(lat, lng, {"weight": row["workers_count"]}, q.datum))
    return collection(features, "heat", date_from=start.isoformat(), date_to=end.isoformat())


# --- incidents ------------------------------------------------------------------------


def incident_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """Mass incidents by level; an active one pulses."""
    qs = visible_incidents(actor)
    if q.status == "open":
        qs = qs.filter(status__in=OPEN_STATUS_VALUES)
    elif q.status != "all":
        qs = qs.filter(status=q.status)
    if q.level:
        qs = qs.filter(level=q.level)
    if q.town_id:
        qs = qs.filter(town_id=q.town_id)
    if q.unit_id:
        qs = qs.filter(pk__in=Incident.objects.filter(units=q.unit_id).values("pk"))
    if q.ids:
        qs = qs.filter(pk__in=q.ids)
    start, end = _day_range(q)
    if start:
        qs = qs.filter(reported_at__gte=start)
    if end:
        qs = qs.filter(reported_at__lte=end)
    if q.bbox or q.near:
        qs = qs.filter(_box_q(q))
    rows = qs.order_by("-reported_at").values(
        "id",
        "title",
        "kind",
        "level",
        "status",
        "people_count",
        "lat",
        "lng",
        "town__code",
        "reported_at",
    )
    features = []
    for row, d in _nearby(rows, q):
        features.append(
            point(
                row["lat"],
                row["lng"],
                _with_distance(
                    {
                        "id": row["id"],
                        "code": f"INC-{row['id']}",
                        "title": row["title"],
                        "kind": row["kind"],
                        "level": row["level"],
                        "status": row["status"],
                        "people": row["people_count"],
                        "colour": styles.incident_colour(row["level"], row["status"]),
                        "pulse": row["status"] == incident_rules.Status.ACTIVE,
                        "town": row["town__code"],
                        "reported_at": timezone.localtime(row["reported_at"]).isoformat(),
                    },
                    d,
                ),
                q.datum,
            )
        )
    return collection(features, "incidents")


# --- reference layers -----------------------------------------------------------------


def window_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """The intake windows (专窗) of the district."""
    qs = Window.objects.filter(district_id=actor.district_id, lat__isnull=False, lng__isnull=False)
    if q.town_id:
        qs = qs.filter(unit_id=q.town_id)
    qs = qs.filter(_box_q(q))
    rows = qs.order_by("code").values("code", "name_zh", "name_en", "unit__code", "lat", "lng")
    return collection(
        [
            point(
                row["lat"],
                row["lng"],
                _with_distance(
                    {"code": row["code"], "name": _name(row), "town": row["unit__code"]}, d
                ),
                q.datum,
            )
            for row, d in _nearby(rows, q)
        ],
        "windows",
    )


def project_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """Construction projects with a position, and how many open cases each has."""
    qs = Project.objects.filter(district_id=actor.district_id, lat__isnull=False, lng__isnull=False)
    if q.town_id:
        qs = qs.filter(town_id=q.town_id)
    if q.unit_id:
        qs = qs.filter(builder_id=q.unit_id)
    qs = qs.filter(_box_q(q)).annotate(
        open_cases=Count("cases", filter=Q(cases__state__in=OPEN_STATE_VALUES))
    )
    rows = qs.order_by("name").values(
        "id", "name", "type", "builder__code", "town__code", "lat", "lng", "open_cases"
    )
    return collection(
        [
            point(
                row["lat"],
                row["lng"],
                _with_distance(
                    {
                        "id": row["id"],
                        "name": row["name"],
                        "type": row["type"],
                        "builder": row["builder__code"],
                        "town": row["town__code"],
                        "open_cases": row["open_cases"],
                    },
                    d,
                ),
                q.datum,
            )
            for row, d in _nearby(rows, q)
        ],
        "projects",
    )


def warning_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """Open early warnings (`q.status` "all": closed ones too), at their subject's position;
    properties `id`, `code`, `subject`, `level`, `colour`, `score`, `state`, `unit`."""
    from alerts.policy import warnings_visible
    from alerts.selectors_risk import subject_positions, warning_rows

    qs = warnings_visible(actor)
    if q.status != "all":
        qs = qs.exclude(state="closed")
    if q.level:
        qs = qs.filter(level=q.level)
    if q.town_id:
        qs = qs.filter(
            Q(subject__project__town_id=q.town_id) | Q(subject__enterprise__town_id=q.town_id)
        )
    rows = list(warning_rows(qs).order_by("-raised_at")[:2000])
    positions = subject_positions([w.subject for w in rows])
    features = []
    for w in rows:
        if w.subject_id not in positions:
            continue
        lat, lng = positions[w.subject_id]
        if q.bbox is not None and not _in_box(q.bbox, lat, lng):
            continue
        features.append(
            point(
                lat,
                lng,
                {
                    "id": w.pk,
                    "code": w.code,
                    "subject": w.subject.label,
                    "level": w.level,
                    "colour": styles.WARNING_COLOURS.get(w.level, styles.CASE_DONE),
                    "score": w.score,
                    "state": w.state,
                    "unit": w.unit.code if w.unit else None,
                },
                q.datum,
            )
        )
    return collection(features, "warnings")


def _in_box(bbox: tuple[float, float, float, float], lat: float, lng: float) -> bool:
    south, west, north, east = bbox
    return south <= lat <= north and west <= lng <= east


def place_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """Police stations, government gates and other landmarks."""
    qs = Place.objects.filter(district_id=actor.district_id)
    if q.kind:
        qs = qs.filter(kind=q.kind)
    if q.town_id:
        qs = qs.filter(town_id=q.town_id)
    qs = qs.filter(_box_q(q))
    rows = qs.order_by("kind", "code").values(
        "code", "kind", "name_zh", "name_en", "town__code", "phone", "lat", "lng"
    )
    return collection(
        [
            point(
                row["lat"],
                row["lng"],
                _with_distance(
                    {
                        "code": row["code"],
                        "kind": row["kind"],
                        "name": _name(row),
                        "town": row["town__code"],
                        "phone": row["phone"],
                    },
                    d,
                ),
                q.datum,
            )
            for row, d in _nearby(rows, q)
        ],
        "places",
    )


def _shift_rings(coords: Any, datum: str) -> Any:
    """Every position of a (Multi)Polygon's coordinates in `datum`."""
    if coords and isinstance(coords[0], int | float):
        lat, lng = shifted(coords[1], coords[0], datum)
        return [round(lng, 6), round(lat, 6)]
    return [_shift_rings(c, datum) for c in coords]


def town_features(actor: Actor, q: MapQuery) -> dict[str, Any]:
    """The outlines of the district's towns (those that have one)."""
    qs = Unit.objects.filter(
        district_id=actor.district_id,
        kind=Unit.Kind.TERRITORIAL,
        active=True,
        outline__isnull=False,
    )
    if q.town_id:
        qs = qs.filter(pk=q.town_id)
    features = []
    for town in qs.order_by("code"):
        geometry = town.outline or {}
        coords = geometry.get("coordinates")
        if q.datum != "wgs84":
            coords = _shift_rings(coords, q.datum)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": geometry.get("type"), "coordinates": coords},
                "properties": {"code": town.code, "name": town.name},
            }
        )
    return collection(features, "towns")


def _name(row: dict[str, Any]) -> str:
    """A reference row's name in the active language (as `BilingualName.name`)."""
    return row["name_en"] if (get_language() or "").startswith("en") else row["name_zh"]
