"""Town outlines: checking a GeoJSON geometry, and Voronoi cells from town centres."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from maps.demo import DISTRICT_BOX
from maps.domain.geometry import MAX_POSITIONS, GeometryError, check_outline, voronoi_cells
from tests.maps.geo import ring_contains

SQUARE = [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]
HOLE = [[120.02, 30.02], [120.02, 30.08], [120.08, 30.08], [120.02, 30.02]]
FAR_SQUARE = [[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.0]]


def polygon(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [*rings]}


def ring_of(n: int) -> list[list[float]]:
    """A closed ring of `n` positions around a small circle near Nanxun."""
    points = [
        [
            120.42 + 0.01 * math.cos(2 * math.pi * i / (n - 1)),
            30.87 + 0.01 * math.sin(2 * math.pi * i / (n - 1)),
        ]
        for i in range(n - 1)
    ]
    return [*points, points[0]]


def contains(cell: dict[str, Any], x: float, y: float) -> bool:
    return ring_contains(cell["coordinates"][0], x, y)


# --- check_outline ---------------------------------------------------------------------------


def test_a_polygon_is_an_outline() -> None:
    assert check_outline(polygon(SQUARE)) == polygon(SQUARE)


def test_a_polygon_with_a_hole_is_an_outline() -> None:
    assert check_outline(polygon(SQUARE, HOLE)) == polygon(SQUARE, HOLE)


def test_a_multipolygon_is_an_outline() -> None:
    geometry = {"type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [FAR_SQUARE]]}
    assert check_outline(geometry) == geometry


def test_positions_may_carry_an_altitude_and_integers() -> None:
    ring = [[120, 30, 5.0], [121, 30, 5.0], [121, 31, 5.0], [120, 30, 5.0]]
    assert check_outline(polygon(ring)) == polygon(ring)


def test_members_other_than_type_and_coordinates_are_dropped() -> None:
    geometry = {**polygon(SQUARE), "bbox": [120.0, 30.0, 120.1, 30.1], "crs": "EPSG:4326"}
    assert check_outline(geometry) == polygon(SQUARE)


def test_as_many_positions_as_allowed_is_an_outline() -> None:
    check_outline(polygon(ring_of(MAX_POSITIONS)))


@pytest.mark.parametrize(
    ("geometry", "where"),
    [
        pytest.param("Polygon", "GeoJSON geometry object", id="a-string"),
        pytest.param(None, "GeoJSON geometry object", id="none"),
        pytest.param([SQUARE], "GeoJSON geometry object", id="a-list"),
        pytest.param({"coordinates": [SQUARE]}, "type: None", id="no-type"),
        pytest.param({"type": "Point", "coordinates": [120.0, 30.0]}, "type: 'Point'", id="point"),
        pytest.param(
            {"type": "LineString", "coordinates": SQUARE}, "type: 'LineString'", id="line"
        ),
        pytest.param({"type": "polygon", "coordinates": [SQUARE]}, "type: 'polygon'", id="case"),
        pytest.param({"type": "Polygon"}, "coordinates:", id="no-coordinates"),
        pytest.param(polygon(), "coordinates:", id="no-rings"),
        pytest.param({"type": "Polygon", "coordinates": SQUARE[0]}, "coordinates[0]", id="flat"),
        pytest.param(polygon(SQUARE[:3]), "coordinates[0]: a ring needs at least 4", id="short"),
        pytest.param(polygon("ring"), "coordinates[0]: a ring needs at least 4", id="str-ring"),
        pytest.param(polygon(SQUARE[:4]), "coordinates[0]: a ring must end where", id="open"),
        pytest.param(
            polygon(SQUARE, HOLE[:3]), "coordinates[1]: a ring needs at least 4", id="short-hole"
        ),
        pytest.param(
            polygon([*SQUARE[:2], [120.1, 91.0], *SQUARE[3:]]),
            "coordinates[0][2]: 91.0, 120.1 is not a latitude, longitude",
            id="latitude-91",
        ),
        pytest.param(
            polygon([*SQUARE[:2], [180.5, 30.0], *SQUARE[3:]]),
            "coordinates[0][2]",
            id="longitude-180.5",
        ),
        pytest.param(
            polygon([*SQUARE[:2], [math.nan, 30.0], *SQUARE[3:]]),
            "coordinates[0][2]",
            id="nan",
        ),
        pytest.param(
            polygon([*SQUARE[:2], [120.1, True], *SQUARE[3:]]),
            "coordinates[0][2]: a position is [longitude, latitude]",
            id="boolean",
        ),
        pytest.param(
            polygon([*SQUARE[:1], ["120.1", "30.0"], *SQUARE[2:]]),
            "coordinates[0][1]: a position is [longitude, latitude]",
            id="strings",
        ),
        pytest.param(
            polygon([*SQUARE[:3], [120.0], SQUARE[4]]),
            "coordinates[0][3]: a position is [longitude, latitude]",
            id="one-number",
        ),
        pytest.param(
            polygon([*SQUARE[:3], [120.0, 30.1, 0.0, 0.0], SQUARE[4]]),
            "coordinates[0][3]: a position is [longitude, latitude]",
            id="four-numbers",
        ),
        pytest.param(
            polygon([*SQUARE[:3], {"lng": 120.0, "lat": 30.1}, SQUARE[4]]),
            "coordinates[0][3]",
            id="object",
        ),
        pytest.param({"type": "MultiPolygon", "coordinates": []}, "coordinates:", id="multi-empty"),
        pytest.param(
            {"type": "MultiPolygon", "coordinates": [[SQUARE], "nope"]},
            "coordinates[1]: a polygon is a list of rings",
            id="multi-not-a-polygon",
        ),
        pytest.param(
            {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE[:4]]]},
            "coordinates[1][0]: a ring must end where",
            id="multi-open",
        ),
        pytest.param(
            {
                "type": "MultiPolygon",
                "coordinates": [[SQUARE], [[*SQUARE[:2], [120.1, -95.0], *SQUARE[3:]]]],
            },
            "coordinates[1][0][2]",
            id="multi-latitude",
        ),
    ],
)
def test_an_unusable_outline_is_refused_saying_where(geometry: Any, where: str) -> None:
    with pytest.raises(GeometryError) as refused:
        check_outline(geometry)
    assert where in str(refused.value)


def test_more_positions_than_allowed_are_refused() -> None:
    with pytest.raises(GeometryError, match=f"more than {MAX_POSITIONS}"):
        check_outline(polygon(ring_of(MAX_POSITIONS + 1)))


def test_positions_are_counted_across_the_polygons_of_a_multipolygon() -> None:
    half = ring_of(MAX_POSITIONS // 2 + 1)
    with pytest.raises(GeometryError, match=f"{2 * len(half)} positions"):
        check_outline({"type": "MultiPolygon", "coordinates": [[half], [half]]})


def test_a_geometry_error_is_a_value_error() -> None:
    assert issubclass(GeometryError, ValueError)


# --- voronoi_cells ---------------------------------------------------------------------------

WEST, SOUTH, EAST, NORTH = DISTRICT_BOX
K = math.cos(math.radians((SOUTH + NORTH) / 2))  # the module's longitude scale


def scaled_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * K, a[1] - b[1])


site = st.tuples(
    st.floats(min_value=WEST + 0.001, max_value=EAST - 0.001),
    st.floats(min_value=SOUTH + 0.001, max_value=NORTH - 0.001),
)


def far_apart(sites: list[tuple[float, float]]) -> bool:
    return all(scaled_distance(a, b) > 0.002 for i, a in enumerate(sites) for b in sites[i + 1 :])


def test_a_single_site_gets_the_whole_box() -> None:
    [cell] = voronoi_cells([(120.3, 30.8)], DISTRICT_BOX)
    ring = cell["coordinates"][0]
    assert cell["type"] == "Polygon"
    assert ring[0] == ring[-1]
    assert {tuple(p) for p in ring} == {
        (WEST, SOUTH),
        (EAST, SOUTH),
        (EAST, NORTH),
        (WEST, NORTH),
    }


def test_no_sites_no_cells() -> None:
    assert voronoi_cells([], DISTRICT_BOX) == []


def test_two_sites_split_the_box_on_their_bisector() -> None:
    box = (0.0, -1.0, 2.0, 1.0)  # centred on the equator: no longitude scaling
    left, right = voronoi_cells([(0.5, 0.0), (1.5, 0.0)], box)
    assert {tuple(p) for p in left["coordinates"][0]} == {(0, -1), (1, -1), (1, 1), (0, 1)}
    assert {tuple(p) for p in right["coordinates"][0]} == {(1, -1), (2, -1), (2, 1), (1, 1)}


def test_cells_are_fair_on_the_ground_not_on_paper() -> None:
    # Two sites half a degree of longitude apart at 60°N: the bisector is their midpoint,
    # and a point a quarter degree of latitude north of the west site is nearer to it on
    # the ground (0.25° of latitude against hypot(0.5 cos 60°, 0.25) ≈ 0.354) as well.
    box = (10.0, 59.0, 11.0, 61.0)
    west, east = voronoi_cells([(10.25, 60.0), (10.75, 60.0)], box)
    assert contains(west, 10.26, 60.25)
    assert not contains(east, 10.26, 60.25)


def test_the_demo_towns_each_get_a_cell_holding_their_centre() -> None:
    from incidents.demo import TOWNS

    centres = [(lng, lat) for _code, _zh, _en, lat, lng in TOWNS]
    cells = voronoi_cells(centres, DISTRICT_BOX)
    assert len(cells) == len(TOWNS)
    for centre, cell in zip(centres, cells, strict=True):
        assert contains(cell, *centre)


@given(st.lists(site, min_size=1, max_size=8))
def test_one_closed_valid_polygon_per_site(sites: list[tuple[float, float]]) -> None:
    assume(far_apart(sites))
    cells = voronoi_cells(sites, DISTRICT_BOX)
    assert len(cells) == len(sites)
    for cell in cells:
        assert cell["type"] == "Polygon"
        ring = cell["coordinates"][0]
        assert len(ring) >= 4
        assert ring[0] == ring[-1]
        assert check_outline(cell) == cell
        for x, y in ring:
            assert WEST <= x <= EAST
            assert SOUTH <= y <= NORTH


@given(st.lists(site, min_size=1, max_size=8))
def test_each_site_lies_inside_its_own_cell(sites: list[tuple[float, float]]) -> None:
    assume(far_apart(sites))
    for s, cell in zip(sites, voronoi_cells(sites, DISTRICT_BOX), strict=True):
        assert contains(cell, *s)


@given(st.lists(site, min_size=2, max_size=8), site)
def test_a_point_belongs_to_the_cell_of_its_nearest_site(
    sites: list[tuple[float, float]], p: tuple[float, float]
) -> None:
    assume(far_apart(sites))
    by_distance = sorted(range(len(sites)), key=lambda i: scaled_distance(p, sites[i]))
    nearest, second = by_distance[0], by_distance[1]
    # Not on (or within rounding of) a border between two cells.
    assume(scaled_distance(p, sites[second]) - scaled_distance(p, sites[nearest]) > 1e-4)
    cells = voronoi_cells(sites, DISTRICT_BOX)
    assert contains(cells[nearest], *p)
    for i in by_distance[1:]:
        assert not contains(cells[i], *p)


def test_identical_sites_share_one_cell() -> None:
    first, second, other = voronoi_cells(
        [(120.2, 30.7), (120.2, 30.7), (120.4, 30.8)], DISTRICT_BOX
    )
    assert first == second
    assert first != other
    assert contains(first, 120.2, 30.7)
