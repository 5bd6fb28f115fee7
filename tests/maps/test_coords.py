"""Coordinates: the WGS-84 / GCJ-02 shift, the validity check, distances and search boxes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maps.domain.coords import (
    EARTH_RADIUS_M,
    box_around,
    distance_m,
    gcj02_to_wgs84,
    in_china,
    valid_lat_lng,
    wgs84_to_gcj02,
)

NANXUN = (30.87, 120.42)
OUTSIDE_CHINA = [
    pytest.param(35.68, 139.76, id="tokyo"),
    pytest.param(51.5074, -0.1278, id="london"),
    pytest.param(40.7128, -74.006, id="new-york"),
    pytest.param(-33.8688, 151.2093, id="sydney"),
    pytest.param(0.0, 0.0, id="null-island"),
]
# China's box, with a margin a little wider than the largest shift: near its very edge a
# shifted point can leave the box (see the edge test below).
MARGIN = 0.02
china_lat = st.floats(min_value=0.8293 + MARGIN, max_value=55.8271 - MARGIN)
china_lng = st.floats(min_value=72.004 + MARGIN, max_value=137.8347 - MARGIN)
lat = st.floats(min_value=-89.0, max_value=89.0)
lng = st.floats(min_value=-180.0, max_value=180.0)


def test_gcj02_shift_near_nanxun_is_a_few_hundred_metres() -> None:
    shifted = wgs84_to_gcj02(*NANXUN)
    assert 100 < distance_m(*NANXUN, *shifted) < 700


def test_gcj02_moves_nanxun_about_230_m_south_and_440_m_east() -> None:
    g_lat, g_lng = wgs84_to_gcj02(*NANXUN)
    assert distance_m(NANXUN[0], NANXUN[1], g_lat, NANXUN[1]) == pytest.approx(229, abs=5)
    assert g_lat < NANXUN[0]
    assert distance_m(NANXUN[0], NANXUN[1], NANXUN[0], g_lng) == pytest.approx(441, abs=5)
    assert g_lng > NANXUN[1]


@pytest.mark.parametrize(("p_lat", "p_lng"), OUTSIDE_CHINA)
def test_points_outside_china_are_not_shifted(p_lat: float, p_lng: float) -> None:
    assert wgs84_to_gcj02(p_lat, p_lng) == (p_lat, p_lng)
    assert gcj02_to_wgs84(p_lat, p_lng) == (p_lat, p_lng)


@pytest.mark.parametrize(
    ("p_lat", "p_lng", "inside"),
    [
        (30.87, 120.42, True),
        (39.9042, 116.4074, True),  # Beijing
        (0.8293, 72.004, True),  # the box's corners belong to it
        (55.8271, 137.8347, True),
        (0.8292, 100.0, False),
        (55.8272, 100.0, False),
        (30.0, 72.0039, False),
        (30.0, 137.8348, False),
        (35.68, 139.76, False),
        (-30.87, -120.42, False),
    ],
)
def test_in_china_is_the_published_box(p_lat: float, p_lng: float, inside: bool) -> None:
    assert in_china(p_lat, p_lng) is inside


@pytest.mark.parametrize(
    ("p_lat", "p_lng", "valid"),
    [
        (0.0, 0.0, True),
        (90.0, 180.0, True),
        (-90.0, -180.0, True),
        (30.87, 120.42, True),
        (90.0001, 0.0, False),
        (-90.0001, 0.0, False),
        (0.0, 180.0001, False),
        (0.0, -180.0001, False),
        (math.nan, 0.0, False),
        (0.0, math.nan, False),
        (math.inf, 0.0, False),
        (0.0, -math.inf, False),
    ],
)
def test_valid_lat_lng_needs_finite_values_in_range(
    p_lat: float, p_lng: float, valid: bool
) -> None:
    assert valid_lat_lng(p_lat, p_lng) is valid


def test_gcj02_to_wgs84_undoes_the_shift_near_nanxun() -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(*NANXUN))
    assert back == pytest.approx(NANXUN, abs=1e-9)


@given(china_lat, china_lng)
def test_round_trip_through_gcj02_comes_back_inside_china(p_lat: float, p_lng: float) -> None:
    back_lat, back_lng = gcj02_to_wgs84(*wgs84_to_gcj02(p_lat, p_lng))
    assert abs(back_lat - p_lat) < 1e-6
    assert abs(back_lng - p_lng) < 1e-6


@given(china_lat, china_lng)
def test_the_shift_inside_china_is_under_a_kilometre(p_lat: float, p_lng: float) -> None:
    shifted = wgs84_to_gcj02(p_lat, p_lng)
    assert distance_m(p_lat, p_lng, *shifted) < 1000


@pytest.mark.parametrize(
    ("p_lat", "p_lng"),
    [
        pytest.param(30.0, 72.004, id="west-edge"),
        pytest.param(30.0, 137.8347, id="east-edge"),
        pytest.param(55.8271, 100.0, id="north-edge"),
    ],
)
def test_round_trip_through_gcj02_holds_at_the_edge_of_the_box(p_lat: float, p_lng: float) -> None:
    assert in_china(p_lat, p_lng)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(p_lat, p_lng))
    assert back == pytest.approx((p_lat, p_lng), abs=1e-6)


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert distance_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195, rel=0.005)
    assert distance_m(-0.5, 0.0, 0.5, 0.0) == pytest.approx(111_195, rel=0.005)


def test_one_degree_of_longitude_shrinks_with_latitude() -> None:
    at_equator = distance_m(0.0, 120.0, 0.0, 121.0)
    at_sixty = distance_m(60.0, 120.0, 60.0, 121.0)
    assert at_equator == pytest.approx(111_195, rel=0.005)
    assert at_sixty == pytest.approx(at_equator / 2, rel=0.005)


def test_antipodes_are_half_the_earth_apart() -> None:
    assert distance_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M, rel=1e-9)


@given(lat, lng, lat, lng)
def test_distance_is_symmetric(lat1: float, lng1: float, lat2: float, lng2: float) -> None:
    assert distance_m(lat1, lng1, lat2, lng2) == pytest.approx(
        distance_m(lat2, lng2, lat1, lng1), abs=1e-6
    )


@given(lat, lng)
def test_distance_to_the_same_point_is_zero(p_lat: float, p_lng: float) -> None:
    assert distance_m(p_lat, p_lng, p_lat, p_lng) == 0


@given(lat, lng, lat, lng)
def test_distance_is_never_negative_nor_beyond_half_the_earth(
    lat1: float, lng1: float, lat2: float, lng2: float
) -> None:
    assert 0 <= distance_m(lat1, lng1, lat2, lng2) <= math.pi * EARTH_RADIUS_M + 1e-6


def test_box_around_is_centred_on_the_point() -> None:
    south, west, north, east = box_around(*NANXUN, 1000)
    assert south < NANXUN[0] < north
    assert west < NANXUN[1] < east
    assert (south + north) / 2 == pytest.approx(NANXUN[0])
    assert (west + east) / 2 == pytest.approx(NANXUN[1])
    # A kilometre north and south is the box's half height.
    assert distance_m(south, NANXUN[1], *NANXUN) == pytest.approx(1000, rel=1e-6)


def destination(
    c_lat: float, c_lng: float, metres: float, bearing_deg: float
) -> tuple[float, float]:
    """The point `metres` from the centre on `bearing_deg` (great-circle destination)."""
    angular = metres / EARTH_RADIUS_M
    phi1, lam1, theta = math.radians(c_lat), math.radians(c_lng), math.radians(bearing_deg)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(angular) + math.cos(phi1) * math.sin(angular) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(angular) * math.cos(phi1),
        math.cos(angular) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), math.degrees(lam2)


# Rounding only (about 0.1 mm in degrees).
SLACK = 1e-9


@given(
    st.floats(min_value=-80.0, max_value=80.0),
    st.floats(min_value=-170.0, max_value=170.0),
    st.floats(min_value=10.0, max_value=50_000.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=360.0),
)
def test_every_point_within_the_radius_lies_in_the_box(
    c_lat: float, c_lng: float, radius: float, fraction: float, bearing_deg: float
) -> None:
    p_lat, p_lng = destination(c_lat, c_lng, fraction * radius, bearing_deg)
    assert distance_m(c_lat, c_lng, p_lat, p_lng) <= radius + 1e-6
    south, west, north, east = box_around(c_lat, c_lng, radius)
    assert south - SLACK <= p_lat <= north + SLACK
    assert west - SLACK <= p_lng <= east + SLACK


def test_the_widest_point_of_the_circle_lies_in_the_box() -> None:
    c_lat, c_lng, radius = 53.0, 122.5, 50_000.0  # Mohe, with the largest `within`
    d = radius / EARTH_RADIUS_M
    p_lat = math.degrees(math.asin(math.sin(math.radians(c_lat)) / math.cos(d)))
    p_lng = c_lng + math.degrees(math.asin(math.sin(d) / math.cos(math.radians(c_lat))))
    assert distance_m(c_lat, c_lng, p_lat, p_lng) == pytest.approx(radius, abs=1e-3)
    south, west, north, east = box_around(c_lat, c_lng, radius)
    assert south <= p_lat <= north
    assert west <= p_lng <= east
