"""Town outlines: checking a GeoJSON geometry, and approximate outlines from town centres.

Outlines are GeoJSON geometries (RFC 7946: positions are [longitude, latitude], WGS-84),
a `Polygon` or a `MultiPolygon`. A district's surveying bureau has the true ones; until they
are imported, `voronoi_cells` gives each town the area closer to its centre than to any
other, inside the district's box, which is enough to colour a blank map by town.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maps.domain.coords import valid_lat_lng

MAX_POSITIONS = 20_000

Point = tuple[float, float]  # (lng, lat), GeoJSON order


class GeometryError(ValueError):
    """The geometry is not a usable outline; the message says where."""


def _ring(ring: Any, where: str) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise GeometryError(f"{where}: a ring needs at least 4 positions")
    for i, pos in enumerate(ring):
        if (
            not isinstance(pos, list | tuple)
            or len(pos) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
        ):
            raise GeometryError(f"{where}[{i}]: a position is [longitude, latitude]")
        if not valid_lat_lng(float(pos[1]), float(pos[0])):
            raise GeometryError(f"{where}[{i}]: {pos[1]}, {pos[0]} is not a latitude, longitude")
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise GeometryError(f"{where}: a ring must end where it starts")
    return len(ring)


def _polygon(rings: Any, where: str) -> int:
    if not isinstance(rings, list) or not rings:
        raise GeometryError(f"{where}: a polygon is a list of rings")
    return sum(_ring(r, f"{where}[{i}]") for i, r in enumerate(rings))


def check_outline(geometry: Any) -> dict[str, Any]:
    """`geometry` if it is a valid GeoJSON Polygon or MultiPolygon, else `GeometryError`."""
    if not isinstance(geometry, dict):
        raise GeometryError("an outline is a GeoJSON geometry object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        count = _polygon(coords, "coordinates")
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise GeometryError("coordinates: a MultiPolygon is a list of polygons")
        count = sum(_polygon(p, f"coordinates[{i}]") for i, p in enumerate(coords))
    else:
        raise GeometryError(f"type: {kind!r} is not Polygon or MultiPolygon")
    if count > MAX_POSITIONS:
        raise GeometryError(f"coordinates: {count} positions, more than {MAX_POSITIONS}")
    return {"type": kind, "coordinates": coords}


def _clip(polygon: list[Point], a: float, b: float, c: float) -> list[Point]:
    """The part of `polygon` where a*x + b*y <= c (one Sutherland–Hodgman pass)."""
    out: list[Point] = []
    for i, cur in enumerate(polygon):
        prev = polygon[i - 1]
        cur_in = a * cur[0] + b * cur[1] <= c
        prev_in = a * prev[0] + b * prev[1] <= c
        if cur_in != prev_in:
            dx, dy = cur[0] - prev[0], cur[1] - prev[1]
            t = (c - a * prev[0] - b * prev[1]) / (a * dx + b * dy)
            out.append((prev[0] + t * dx, prev[1] + t * dy))
        if cur_in:
            out.append(cur)
    return out


def voronoi_cells(
    sites: Sequence[Point], box: tuple[float, float, float, float]
) -> list[dict[str, Any]]:
    """One GeoJSON Polygon per site: the part of `box` (west, south, east, north) nearer to
    it than to any other site. Distances are measured with longitude scaled by the cosine
    of the box's middle latitude, so cells are fair on the ground, not only on paper."""
    import math

    west, south, east, north = box
    k = math.cos(math.radians((south + north) / 2))
    cells = []
    for i, (x0, y0) in enumerate(sites):
        cell: list[Point] = [(west, south), (east, south), (east, north), (west, north)]
        for j, (x1, y1) in enumerate(sites):
            if i == j or (x0, y0) == (x1, y1):
                continue
            # Points nearer to site i: 2(x1-x0)k²x + 2(y1-y0)y <= (x1²-x0²)k² + y1²-y0².
            a = 2 * (x1 - x0) * k * k
            b = 2 * (y1 - y0)
            c = (x1 * x1 - x0 * x0) * k * k + y1 * y1 - y0 * y0
            cell = _clip(cell, a, b, c)
            if not cell:
                break
        ring = [[round(x, 6), round(y, 6)] for x, y in cell]
        if ring:
            ring.append(ring[0])
        cells.append({"type": "Polygon", "coordinates": [ring]})
    return cells


def outlines_from(collection: Any, code_property: str = "code") -> dict[str, dict[str, Any]]:
    """Each feature's checked geometry by the town code in its `code_property`.

    Raises `OutlineProblems` listing every bad feature (by its index in `features`), so
    that one reading of a file tells everything wrong with it.
    """
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise OutlineProblems(["the file is not a GeoJSON FeatureCollection"])
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise OutlineProblems(["features: the collection has no features"])
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"{where}: not a GeoJSON Feature")
            continue
        props = feature.get("properties") or {}
        code = props.get(code_property) if isinstance(props, dict) else None
        if not isinstance(code, str) or not code.strip():
            problems.append(f"{where}.properties.{code_property}: missing")
            continue
        code = code.strip()
        if code in found:
            problems.append(f"{where}: a second outline for {code!r}")
            continue
        try:
            found[code] = check_outline(feature.get("geometry"))
        except GeometryError as exc:
            problems.append(f"{where}.geometry: {exc}")
    if problems:
        raise OutlineProblems(problems)
    return found


class OutlineProblems(ValueError):
    """Everything wrong with an outline file, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
