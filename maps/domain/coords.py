"""Coordinates: WGS-84 as stored, GCJ-02 for tile sources that use it, and distances.

Everything the hub stores and serves is WGS-84 (what GPS gives and GeoJSON means). Some
Chinese map providers (Amap/Gaode, Tencent) draw their tiles in GCJ-02, an obfuscated
datum offset from WGS-84 by up to several hundred metres. On such tiles a WGS-84 point must
be shifted into GCJ-02 to sit on the right street, and a click on them shifted back.

The forward transform is the published one (Krasovsky 1940 ellipsoid constants and the
polynomial offset); it applies inside mainland China only and leaves other points alone.
The inverse has no closed form: `gcj02_to_wgs84` iterates until the round trip is within a
millimetre or so.
"""

from __future__ import annotations

import math

# Krasovsky 1940: semi-major axis and first eccentricity squared.
_A = 6378245.0
_EE = 0.00669342162296594323
EARTH_RADIUS_M = 6371008.8


def valid_lat_lng(lat: float, lng: float) -> bool:
    """A finite latitude in [-90, 90] and longitude in [-180, 180]."""
    return (
        math.isfinite(lat)
        and math.isfinite(lng)
        and -90.0 <= lat <= 90.0
        and -180.0 <= lng <= 180.0
    )


def in_china(lat: float, lng: float) -> bool:
    """The rough box where GCJ-02 applies (mainland China); outside it, nothing shifts."""
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lng <= 137.8347


def _offset_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """The GCJ-02 position of a WGS-84 point (unchanged outside mainland China)."""
    if not in_china(lat, lng):
        return lat, lng
    return _shift(lat, lng)


def _shift(lat: float, lng: float) -> tuple[float, float]:
    """The GCJ-02 offset applied, wherever the point is."""
    d_lat = _offset_lat(lng - 105.0, lat - 35.0)
    d_lng = _offset_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float, *, tolerance: float = 1e-9) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 position is (`lat`, `lng`), to within `tolerance`
    degrees (1e-9° is about 0.1 mm).

    The iteration shifts wherever it steps, so that it converges near the edge of the box
    too; a source found outside the box means the point was never shifted, and it is
    given back as it is.
    """
    if not valid_lat_lng(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(30):
        g_lat, g_lng = _shift(w_lat, w_lng)
        e_lat, e_lng = g_lat - lat, g_lng - lng
        if abs(e_lat) < tolerance and abs(e_lng) < tolerance:
            break
        w_lat, w_lng = w_lat - e_lat, w_lng - e_lng
    # (A source on the box's very edge may converge a hair outside it.)
    if not (in_china(w_lat, w_lng) or in_china(round(w_lat, 7), round(w_lng, 7))):
        return lat, lng
    return w_lat, w_lng


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine on a sphere of the mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def box_around(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a box that holds every point within `radius_m`, for a
    cheap database pre-filter before the exact distance.

    A circle on the sphere is widest a little poleward of its centre: its half-width in
    longitude is asin(sin δ / cos φ), not δ / cos φ. Near a pole it spans every longitude.
    """
    delta = radius_m / EARTH_RADIUS_M
    d_lat = math.degrees(delta)
    south, north = max(-90.0, lat - d_lat), min(90.0, lat + d_lat)
    ratio = math.sin(min(delta, math.pi / 2)) / max(math.cos(math.radians(lat)), 1e-12)
    if ratio >= 1.0 or south <= -90.0 or north >= 90.0:
        return south, -180.0, north, 180.0
    d_lng = math.degrees(math.asin(ratio))
    return south, lng - d_lng, north, lng + d_lng
