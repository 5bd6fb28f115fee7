"""The hub's maps in a real browser against the real server (MAP_TILES=none: no tiles, the
town outlines drawn, every position WGS-84).

- The command map shows as many cases, incidents and windows as the GeoJSON feeds give the
  same person, and every open case is on the map, in a cluster or on its own.
- An incident reported through the API appears on the command map and on the dashboard's
  without a reload, at its position; it pulses while active and leaves the map when closed.
- No map page asks another host for anything, nor names one.
- In the intake form, a click on the map writes its position into the latitude and longitude
  fields, and positions typed into the fields move the chosen marker.
- The page's GCJ-02 transform is the Python one.
- An incident room shows its site and the intake windows nearest to it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from incidents.demo import TOWNS
from maps.domain.coords import gcj02_to_wgs84, wgs84_to_gcj02
from tests.e2e.conftest import api_get, api_post, in_language
from tests.e2e.test_intake_journey import log_in, new_credit_code
from tests.factories import intake_payload

if TYPE_CHECKING:
    from tests.e2e.conftest import LiveHub

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_S = 8.0  # an event must reach the map within this
TOWN_CENTRES = {code: (lat, lng) for code, _zh, _en, lat, lng in TOWNS}
COUNTED = re.compile(r"^\d+$")

# The hub map of one purpose (command, dashboard, incident, picker) in the page.
HUB_MAP = "purpose => window.hubMaps.find(m => m.node.dataset.map === purpose)"

MARKER_JS = f"""([purpose, kind, key]) => {{
  const hubMap = ({HUB_MAP})(purpose);
  const markers = hubMap && hubMap.markers[kind];
  const marker = markers && markers.get(key);
  if (!marker) return null;
  const icon = marker.getElement();
  const at = marker.getLatLng();
  return {{
    lat: at.lat,
    lng: at.lng,
    classes: icon ? [...icon.classList] : [],
    shown: Boolean(icon && icon.isConnected),
  }};
}}"""

CASES_IN_DOM_JS = """node => {
  const clusters = [...node.querySelectorAll('.case-cluster')];
  const counts = clusters.map(c => Number(c.querySelector('span').textContent));
  const single = node.querySelectorAll('.case-marker').length;
  return {clusters: clusters.length, clustered: counts.reduce((a, b) => a + b, 0), single};
}"""

# The map's view stays put between two looks 250 ms apart, with no animation running.
SETTLED_JS = f"""purpose => {{
  const hubMap = ({HUB_MAP})(purpose);
  if (!hubMap) return false;
  const map = hubMap.map;
  const view = JSON.stringify([map.getZoom(), map.getCenter(), map.getSize()]);
  const moving = map._animatingZoom || (map._panAnim && map._panAnim._inProgress);
  const same = !moving && window.__lastView === view;
  window.__lastView = view;
  return same;
}}"""

FOREIGN_REFERENCES_JS = """() => {
  const local = new Set(['data:', 'blob:', 'about:', 'javascript:', 'mailto:', 'tel:']);
  const named = [];
  for (const node of document.querySelectorAll('[src], [*|href], [action]')) {
    for (const attr of node.attributes) {
      if (!['src', 'href', 'xlink:href', 'action'].includes(attr.name) || !attr.value) continue;
      const url = new URL(attr.value, document.baseURI);
      if (url.host !== window.location.host && !local.has(url.protocol)) {
        named.push(`<${node.tagName.toLowerCase()} ${attr.name}="${attr.value}">`);
      }
    }
  }
  return named;
}"""


# --- helpers ---------------------------------------------------------------------------------


def open_as(page: Any, hub: str, username: str, path: str) -> None:
    page.goto(f"{hub}/accounts/login/?next={path}")
    log_in(page, hub, username)  # type: ignore[arg-type]
    assert urlsplit(page.url).path == urlsplit(path).path, page.url


def map_node(page: Any, purpose: str) -> Any:
    return page.locator(f'.hub-map[data-map="{purpose}"]')


def loaded_count(page: Any, purpose: str, layer: str) -> int:
    """The number of markers the map says its `layer` holds, once that layer has loaded."""
    node = map_node(page, purpose)
    expect(node).to_have_attribute(f"data-count-{layer}", COUNTED)
    return int(node.get_attribute(f"data-count-{layer}"))


def wait_for(page: Any, what: str, probe: Callable[[], Any], timeout_s: float = LIVE_TIMEOUT_S):
    """`probe()` once it is truthy; fails with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s:.0f} s for {what}; last seen: {value!r}")
        page.wait_for_timeout(100)


def marker(page: Any, purpose: str, kind: str, key: str | int) -> dict[str, Any] | None:
    return page.evaluate(MARKER_JS, [purpose, kind, str(key)])


def wait_until_settled(page: Any, purpose: str) -> None:
    page.wait_for_function(SETTLED_JS, arg=purpose, polling=250)


def report_incident(hub: str, token: str, title: str, lat: float, lng: float) -> dict[str, Any]:
    return api_post(
        hub,
        token,
        "/api/v1/incidents",
        {
            "title": title,
            "town": "lianshi",
            "location": {"lat": lat, "lng": lng},
            "people_count": 45,
            "kind": "site_gathering",
        },
    )


def move_incident(hub: str, token: str, incident_id: int, action: str, reason: str = "") -> None:
    body = {"action": action, **({"reason": reason} if reason else {})}
    api_post(hub, token, f"/api/v1/incidents/{incident_id}/transitions", body)


def register_case(hub: str, token: str, town: str, location: dict[str, float] | None) -> str:
    payload = intake_payload(
        employer={"name": "湖州宏达建筑劳务有限公司", "credit_code": new_credit_code()},
        town=town,
        location=location,
    )
    return str(api_post(hub, token, "/api/v1/cases", payload)["case_number"])


def host_of(url: str) -> str:
    return urlsplit(url).netloc


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def command_token(live_hub: LiveHub) -> str:
    return live_hub.manage("issue_token", "command").strip()


@pytest.fixture(scope="module")
def clerk_token(live_hub: LiveHub) -> str:
    return live_hub.manage("issue_token", "clerk_lianshi").strip()


@pytest.fixture(scope="module")
def site_incident(live_hub: LiveHub, command_token: str) -> Iterator[dict[str, Any]]:
    """An open incident near Lianshi's intake window, closed again after the module."""
    incident = report_incident(live_hub, command_token, "练市新城工地农民工聚集", 30.7151, 120.4312)
    yield incident
    move_incident(live_hub, command_token, int(incident["id"]), "close", "人员已散去")


@pytest.fixture(scope="module")
def open_cases(live_hub: LiveHub, clerk_token: str) -> list[str]:
    """Open cases to count: a pile on one site (one cluster at the district's zoom), one in
    each of some towns, and two without a position (placed at their town's centre)."""
    numbers = []
    lat, lng = TOWN_CENTRES["lianshi"]
    for i in range(8):
        spot = {"lat": round(lat + 0.002 + i * 0.00001, 6), "lng": round(lng - 0.003, 6)}
        numbers.append(register_case(live_hub, clerk_token, "lianshi", spot))
    for town in ("nanxun", "shuanglin", "linghu", "hefu", "qianjin"):
        lat, lng = TOWN_CENTRES[town]
        spot = {"lat": round(lat + 0.004, 6), "lng": round(lng + 0.004, 6)}
        numbers.append(register_case(live_hub, clerk_token, town, spot))
    for town in ("shicong", "shanlian"):
        numbers.append(register_case(live_hub, clerk_token, town, None))
    return numbers


# --- the command map -------------------------------------------------------------------------


def test_command_map_shows_as_many_markers_as_the_feeds_give(
    live_hub: LiveHub,
    page: Any,
    command_token: str,
    open_cases: list[str],
    site_incident: dict[str, Any],
) -> None:
    open_as(page, live_hub, "command", "/maps/")
    node = map_node(page, "command")
    expect(node).to_have_count(1)

    for layer in ("cases", "incidents", "windows"):
        shown = loaded_count(page, "command", layer)
        fed = api_get(live_hub, command_token, f"/api/v1/map/{layer}")
        assert fed["count"] == len(fed["features"])
        assert shown == fed["count"], f"{layer}: the map shows {shown}, the feed gives {fed}"
    cases = int(node.get_attribute("data-count-cases"))
    assert cases >= len(open_cases)
    assert int(node.get_attribute("data-count-incidents")) >= 1

    # Every case is on the map as loaded: in a cluster's count or as a marker of its own.
    def in_dom() -> dict[str, int] | None:
        seen = node.evaluate(CASES_IN_DOM_JS)
        return seen if seen["clustered"] + seen["single"] == cases else None

    seen = wait_for(page, f"{cases} cases in the map's clusters and markers", in_dom)
    assert seen["clusters"] >= 1, seen  # the pile of eight on one site

    # The layers hidden at first are fetched when shown, and hold what their feeds give.
    for layer, name in (("places", "Police and landmarks"), ("projects", "Construction projects")):
        assert node.get_attribute(f"data-count-{layer}") is None
        overlay = node.locator(".leaflet-control-layers-overlays label").filter(
            has_text=in_language("zh-hans", name)
        )
        overlay.locator("input").check()
        shown = loaded_count(page, "command", layer)
        assert shown == api_get(live_hub, command_token, f"/api/v1/map/{layer}")["count"] > 0

    # No tiles (MAP_TILES=none); the town outlines are drawn instead.
    towns = api_get(live_hub, command_token, "/api/v1/map/towns")["count"]
    assert towns >= 1
    expect(node.locator(".leaflet-tile")).to_have_count(0)
    expect(node.locator(".leaflet-overlay-pane path")).to_have_count(towns)


def test_a_reported_incident_appears_on_the_command_map_and_follows_its_status_without_reload(
    live_hub: LiveHub, page: Any, command_token: str
) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    open_as(page, live_hub, "command", "/maps/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    before = loaded_count(page, "command", "incidents")
    page.evaluate("window.__noReload = true")
    node = map_node(page, "command")

    lat, lng = 30.721234, 120.421234
    incident = report_incident(live_hub, command_token, "练市大桥工地农民工聚集", lat, lng)
    incident_id = int(incident["id"])

    expect(node).to_have_attribute("data-count-incidents", str(before + 1))
    placed = wait_for(
        page, "the incident's marker", lambda: marker(page, "command", "incidents", incident_id)
    )
    assert placed["lat"] == pytest.approx(lat, abs=1e-9)
    assert placed["lng"] == pytest.approx(lng, abs=1e-9)
    assert placed["shown"], placed
    assert "incident-marker" in placed["classes"]
    assert f"level-{incident['level']}" in placed["classes"]
    assert "pulse" not in placed["classes"]  # reported, not yet active
    # Only the one incident was asked for again.
    refetched = [
        parse_qs(urlsplit(u).query)
        for u in fetched
        if urlsplit(u).path == "/api/v1/map/incidents" and "id=" in u
    ]
    assert {"id": [str(incident_id)]} in refetched, fetched

    move_incident(live_hub, command_token, incident_id, "activate")
    wait_for(
        page,
        "the incident's marker to pulse",
        lambda: (
            "pulse"
            in (marker(page, "command", "incidents", incident_id) or {"classes": []})["classes"]
        ),
    )

    move_incident(live_hub, command_token, incident_id, "contain")
    contained = wait_for(
        page,
        "the incident's marker to stop pulsing",
        lambda: (
            (m := marker(page, "command", "incidents", incident_id))
            and "pulse" not in m["classes"]
            and m
        ),
    )
    assert contained["shown"]
    expect(node).to_have_attribute("data-count-incidents", str(before + 1))

    # The command map shows open incidents only: a closed one leaves it.
    move_incident(live_hub, command_token, incident_id, "close", "工资已现场发放，人员已散去")
    expect(node).to_have_attribute("data-count-incidents", str(before))
    wait_for(
        page,
        "the incident's marker to go",
        lambda: marker(page, "command", "incidents", incident_id) is None,
    )
    expect(node.locator(f'.incident-marker[title^="INC-{incident_id} "]')).to_have_count(0)
    assert page.evaluate("window.__noReload") is True


def test_the_dashboard_map_gets_a_new_incident_and_case_without_reload(
    live_hub: LiveHub, page: Any, command_token: str, clerk_token: str
) -> None:
    open_as(page, live_hub, "command", "/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    incidents_before = loaded_count(page, "dashboard", "incidents")
    cases_before = loaded_count(page, "dashboard", "cases")
    page.evaluate("window.__noReload = true")
    node = map_node(page, "dashboard")

    lat, lng = 30.709876, 120.436789
    incident_id = int(
        report_incident(live_hub, command_token, "练市镇政府门前聚集", lat, lng)["id"]
    )
    try:
        expect(node).to_have_attribute("data-count-incidents", str(incidents_before + 1))
        placed = wait_for(
            page,
            "the incident's marker",
            lambda: marker(page, "dashboard", "incidents", incident_id),
        )
        assert (placed["lat"], placed["lng"]) == (pytest.approx(lat), pytest.approx(lng))
        assert placed["shown"], placed
        assert "incident-marker" in placed["classes"], placed

        spot = {"lat": 30.716543, "lng": 120.425432}
        number = register_case(live_hub, clerk_token, "lianshi", spot)
        expect(node).to_have_attribute("data-count-cases", str(cases_before + 1))
        case = wait_for(
            page, "the case's marker", lambda: marker(page, "dashboard", "cases", number)
        )
        assert (case["lat"], case["lng"]) == (
            pytest.approx(spot["lat"]),
            pytest.approx(spot["lng"]),
        )
        assert page.evaluate("window.__noReload") is True
    finally:
        move_incident(live_hub, command_token, incident_id, "close", "误报")


# --- nothing from elsewhere ------------------------------------------------------------------


def test_map_pages_load_and_name_nothing_from_another_host(
    live_hub: LiveHub, browser: Any, site_incident: dict[str, Any]
) -> None:
    host = host_of(live_hub)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("websocket", lambda socket: requested.append(socket.url))
        room = f"/incidents/{site_incident['id']}/"
        pages = {"/maps/": "command", "/": "dashboard", room: "incident", "/cases/new/": "picker"}
        open_as(page, live_hub, "command", "/maps/")
        for path, purpose in pages.items():
            if urlsplit(page.url).path != path:
                page.goto(f"{live_hub}{path}")
            loaded_count(page, purpose, "windows")  # the map is up and has fetched a feed
            named = page.evaluate(FOREIGN_REFERENCES_JS)
            assert not named, f"{path} names another host: {named}"
            attribution = map_node(page, purpose).locator(".leaflet-control-attribution")
            expect(attribution.locator("a")).to_have_count(0)
        network = [u for u in requested if urlsplit(u).scheme not in {"data", "blob"}]
        foreign = [u for u in network if host_of(u) != host]
        assert not foreign, foreign
        assert any(u.startswith(f"{live_hub}/static/vendor/leaflet/") for u in network)
        assert any(u.startswith(f"ws://{host}/ws/dashboard/") for u in network)
    finally:
        context.close()


# --- click to place --------------------------------------------------------------------------


def open_picker(page: Any, hub: str) -> Any:
    """The case intake form as Lianshi's clerk, its map loaded and still; returns the map."""
    open_as(page, hub, "clerk_lianshi", "/cases/new/")
    node = map_node(page, "picker")
    node.scroll_into_view_if_needed()
    loaded_count(page, "picker", "windows")
    wait_until_settled(page, "picker")
    return node


def free_spot(page: Any) -> dict[str, float]:
    """A point of the picker map (container pixels, and where that is on the screen) with no
    marker or control on it, so that a click there reaches the map."""
    return page.evaluate(
        f"""() => {{
  const hubMap = ({HUB_MAP})('picker');
  const box = hubMap.node.getBoundingClientRect();
  const size = hubMap.map.getSize();
  for (let y = 60; y < size.y - 40; y += 17) {{
    for (let x = 90; x < size.x - 60; x += 23) {{
      const clientX = box.left + hubMap.node.clientLeft + x;
      const clientY = box.top + hubMap.node.clientTop + y;
      const hit = document.elementFromPoint(clientX, clientY);
      if (hit && hubMap.node.contains(hit)
          && !hit.closest('.leaflet-marker-icon, .leaflet-control, .map-message')) {{
        return {{x, y, clientX, clientY}};
      }}
    }}
  }}
  return null;
}}"""
    )


def record_next_click(page: Any) -> None:
    """Note where Leaflet puts the next click on the picker map, read before the page's own
    handlers run (they may move the view)."""
    page.evaluate(
        f"""() => {{
  const hubMap = ({HUB_MAP})('picker');
  window.__click = null;
  hubMap.node.addEventListener('click', (event) => {{
    const point = hubMap.map.mouseEventToContainerPoint(event);
    const at = hubMap.map.containerPointToLatLng(point);
    window.__click = {{
      x: point.x, y: point.y, lat: at.lat, lng: at.lng,
      latText: at.lat.toFixed(6), lngText: at.lng.toFixed(6),
      zoom: hubMap.map.getZoom(), centre: hubMap.map.getCenter(),
    }};
  }}, {{capture: true, once: true}});
}}"""
    )


def click_free_spot(page: Any) -> dict[str, Any]:
    spot = free_spot(page)
    assert spot, "no free spot on the picker map to click"
    record_next_click(page)
    page.mouse.click(spot["clientX"], spot["clientY"])
    clicked = wait_for(page, "the click on the map", lambda: page.evaluate("window.__click"))
    assert abs(clicked["x"] - spot["x"]) <= 1, (spot, clicked)
    assert abs(clicked["y"] - spot["y"]) <= 1, (spot, clicked)
    return clicked


def picked_marker(page: Any) -> dict[str, float] | None:
    return page.evaluate(
        f"""() => {{
  const layers = ({HUB_MAP})('picker').layers.picked.getLayers();
  if (!layers.length) return null;
  const at = layers[0].getLatLng();
  return {{lat: at.lat, lng: at.lng}};
}}"""
    )


def test_a_click_on_the_intake_map_sets_the_position_and_typed_values_move_the_marker(
    live_hub: LiveHub, page: Any
) -> None:
    node = open_picker(page, live_hub)
    expect(page.locator("#id_lat")).to_have_value("")
    assert node.get_attribute("data-picked") is None

    clicked = click_free_spot(page)

    # MAP_TILES=none: the map is WGS-84, so the fields get the clicked point as it is.
    expect(page.locator("#id_lat")).to_have_value(clicked["latText"])
    expect(page.locator("#id_lng")).to_have_value(clicked["lngText"])
    lat = float(page.locator("#id_lat").input_value())
    lng = float(page.locator("#id_lng").input_value())
    assert lat == pytest.approx(clicked["lat"], abs=5e-7)
    assert lng == pytest.approx(clicked["lng"], abs=5e-7)
    expect(node).to_have_attribute("data-picked", f"{clicked['latText']},{clicked['lngText']}")
    at = picked_marker(page)
    assert at is not None
    # The chosen marker sits where the fields say, to their six decimals.
    assert at["lat"] == pytest.approx(lat, abs=5e-7)
    assert at["lng"] == pytest.approx(lng, abs=5e-7)

    # Typed values move the chosen marker.
    page.locator("#id_lat").fill("30.7226")
    page.locator("#id_lng").fill("120.4258")
    page.locator("#id_lng").press("Tab")
    expect(node).to_have_attribute("data-picked", "30.722600,120.425800")
    moved = picked_marker(page)
    assert moved == {"lat": pytest.approx(30.7226), "lng": pytest.approx(120.4258)}
    expect(node.locator(".picked-marker")).to_have_count(1)

    # Out-of-range values are not shown.
    page.locator("#id_lat").fill("91")
    page.locator("#id_lat").press("Tab")
    expect(node).to_have_attribute("data-picked", "30.722600,120.425800")


def test_a_click_on_the_intake_map_leaves_the_marker_under_the_pointer(
    live_hub: LiveHub, page: Any
) -> None:
    open_picker(page, live_hub)
    clicked = click_free_spot(page)
    expect(map_node(page, "picker")).to_have_attribute("data-picked", re.compile(r"^[\d.]+,"))
    page.wait_for_timeout(600)  # past any zoom or pan animation
    wait_until_settled(page, "picker")
    where = page.evaluate(
        f"""() => {{
  const hubMap = ({HUB_MAP})('picker');
  const marker = hubMap.layers.picked.getLayers()[0];
  const point = hubMap.map.latLngToContainerPoint(marker.getLatLng());
  return {{x: point.x, y: point.y, zoom: hubMap.map.getZoom()}};
}}"""
    )
    assert where["zoom"] == clicked["zoom"], (where, clicked)
    assert abs(where["x"] - clicked["x"]) <= 1, (where, clicked)
    assert abs(where["y"] - clicked["y"]) <= 1, (where, clicked)


# --- GCJ-02 ----------------------------------------------------------------------------------

# (lat, lng): across mainland China, near the edges of its box, and a few outside it.
POINTS = [
    (30.8720, 120.4180),  # Nanxun
    (30.7130, 120.4290),  # Lianshi
    (39.9087, 116.3975),  # Beijing
    (31.2304, 121.4737),  # Shanghai
    (23.1291, 113.2644),  # Guangzhou
    (22.5431, 114.0579),  # Shenzhen
    (30.5728, 104.0668),  # Chengdu
    (43.8256, 87.6168),  # Urumqi
    (29.6520, 91.1721),  # Lhasa
    (45.8038, 126.5349),  # Harbin
    (25.0389, 102.7183),  # Kunming
    (18.2528, 109.5119),  # Sanya
    (53.4724, 122.3392),  # Mohe, far north
    (39.4704, 75.9898),  # Kashgar, far west
    (47.7260, 134.6880),  # Fuyuan, far east
    (3.8400, 112.2800),  # Zengmu Reef, far south
    (0.8293, 72.004),  # the box's corner itself
    (0.8400, 72.0200),  # just inside it
    (51.5074, -0.1278),  # London: outside, unchanged
    (-33.8688, 151.2093),  # Sydney: outside, unchanged
    (35.6762, 139.6503),  # Tokyo: east of the box, unchanged
]


def test_the_page_gcj02_transform_is_the_python_one(live_hub: LiveHub, page: Any) -> None:
    open_as(page, live_hub, "command", "/maps/")
    page.wait_for_function("window.hubGcj02 && window.hubGcj02.wgs84ToGcj02")
    answers = page.evaluate(
        """points => points.map(([lat, lng]) => {
  const gcj = window.hubGcj02.wgs84ToGcj02(lat, lng);
  return {gcj, back: window.hubGcj02.gcj02ToWgs84(gcj[0], gcj[1])};
})""",
        [list(p) for p in POINTS],
    )
    moved = 0
    for (lat, lng), answer in zip(POINTS, answers, strict=True):
        py_lat, py_lng = wgs84_to_gcj02(lat, lng)
        js_lat, js_lng = answer["gcj"]
        assert math.isclose(js_lat, py_lat, abs_tol=1e-9), ((lat, lng), js_lat, py_lat)
        assert math.isclose(js_lng, py_lng, abs_tol=1e-9), ((lat, lng), js_lng, py_lng)
        moved += (py_lat, py_lng) != (lat, lng)
        back_lat, back_lng = answer["back"]
        assert math.isclose(back_lat, lat, abs_tol=1e-8), ((lat, lng), answer)
        assert math.isclose(back_lng, lng, abs_tol=1e-8), ((lat, lng), answer)
        py_back = gcj02_to_wgs84(py_lat, py_lng)
        assert math.isclose(back_lat, py_back[0], abs_tol=1e-9)
        assert math.isclose(back_lng, py_back[1], abs_tol=1e-9)
    assert moved == len(POINTS) - 3  # every point in the box shifts; the three outside do not


# --- an incident room ------------------------------------------------------------------------


def test_an_incident_room_shows_its_site_and_the_nearest_windows(
    live_hub: LiveHub, page: Any, command_token: str
) -> None:
    lat, lng = 30.7151, 120.4312
    incident = report_incident(live_hub, command_token, "练市锦绣花园工地聚集", lat, lng)
    incident_id = int(incident["id"])
    try:
        open_as(page, live_hub, "command", f"/incidents/{incident_id}/")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
        node = map_node(page, "incident")
        assert loaded_count(page, "incident", "incidents") == 1
        site = marker(page, "incident", "incidents", incident_id)
        assert site is not None
        assert (site["lat"], site["lng"]) == (pytest.approx(lat), pytest.approx(lng))
        assert site["shown"], site
        assert "incident-marker" in site["classes"], site
        in_view = page.evaluate(
            f"""([lat, lng]) => ({HUB_MAP})('incident').map.getBounds().contains([lat, lng])""",
            [lat, lng],
        )
        assert in_view, "the room's map does not show the incident's site"

        # The nearby windows: the map's layer and the list, nearest first.
        near = api_get(live_hub, command_token, f"/api/v1/map/windows?near={lat},{lng}")
        assert near["count"] >= 1
        assert loaded_count(page, "incident", "windows") == near["count"]
        listed = [" ".join(t.split()) for t in page.locator("#nearby-windows li").all_inner_texts()]
        expected = [
            f"{f['properties']['name']} {f['properties']['distance_m']} m"
            for f in near["features"][:5]
        ]
        assert listed == expected
        assert [f["properties"]["distance_m"] for f in near["features"]] == sorted(
            f["properties"]["distance_m"] for f in near["features"]
        )

        # The room's map follows the room: activated, the site pulses.
        page.evaluate("window.__noReload = true")
        move_incident(live_hub, command_token, incident_id, "activate")
        wait_for(
            page,
            "the site marker to pulse",
            lambda: (
                "pulse"
                in (marker(page, "incident", "incidents", incident_id) or {"classes": []})[
                    "classes"
                ]
            ),
        )
        expect(node).to_have_attribute("data-count-incidents", "1")
        assert page.evaluate("window.__noReload") is True
    finally:
        move_incident(live_hub, command_token, incident_id, "close", "人员已散去")
