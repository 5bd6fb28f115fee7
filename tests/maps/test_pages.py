"""The map pages: what they embed, that they load nothing from another host, their filters,
the tile settings, and the outline import."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from incidents.models import District, Unit
from maps.demo import load_map_reference
from maps.domain.coords import wgs84_to_gcj02
from tests.html import page_urls
from tests.live.helpers import incident_open

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.40, 30.70], [120.45, 30.70], [120.45, 30.74], [120.40, 30.70]]],
}


@pytest.fixture
def mapped(district: District) -> District:
    load_map_reference(district)
    return district


def page(client: Client, path: str, status: int = 200) -> str:
    """The page, followed by the map scripts it loads (no script runs inline)."""
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    html = response.content.decode()
    scripts = []
    for url in re.findall(r'<script src="(/maps/[^"]+)"', html):
        script = client.get(url.replace("&amp;", "&"))
        assert script.status_code == 200, url
        assert script["Content-Type"].startswith("text/javascript")
        scripts.append(script.content.decode())
    return "\n".join([html, *scripts])


def map_config(html: str) -> list[dict[str, Any]]:
    """The configuration each folium map hands to static/js/map.js."""
    return [json.loads(m) for m in re.findall(r"config: (\{.*?\})\s*\}\);", html, re.S)]


def external_references(html: str) -> list[str]:
    """Every absolute or protocol-relative address in the page, its markup or its scripts,
    and in the stylesheets and scripts it loads from the static files."""
    urls = page_urls(html)
    found = [u for u in urls if re.match(r"^(https?:)?//", u)]
    found += re.findall(r"(?:https?:)?//[a-z0-9.{}-]+\.[a-z]{2,}[^\s\"'<>)]*", html, re.I)
    for url in urls:
        if url.startswith(settings.STATIC_URL) and url.endswith((".css", ".js")):
            path = finders.find(url.removeprefix(settings.STATIC_URL))
            assert path, f"{url} is not in the static files"
            text = Path(str(path)).read_text(errors="replace")
            found += [
                f"{url}: {m}"
                for m in re.findall(
                    r"(?:@import|url\(|\bfetch\(|src=)\s*[\"']?((?:https?:)?//)", text
                )
            ]
    return found


@pytest.fixture
def pages(mapped: District, api_client: Callable[[str], Client]) -> dict[str, str]:
    incident = incident_open("command")
    command = api_client("command")
    clerk = api_client("clerk_lianshi")
    return {
        "map": page(command, "/maps/"),
        "dashboard": page(command, "/"),
        "room": page(command, f"/incidents/{incident.pk}/"),
        "case_new": page(clerk, "/cases/new/"),
        "incident_new": page(command, "/incidents/new/"),
    }


def test_map_pages_reference_no_external_host(pages: dict[str, str]) -> None:
    for name, html in pages.items():
        assert "hub-map" in html, name
        assert external_references(html) == [], name


def test_map_pages_load_leaflet_and_plugins_from_the_static_files(pages: dict[str, str]) -> None:
    html = pages["map"]
    for asset in (
        "vendor/leaflet/leaflet.js",
        "vendor/leaflet/leaflet.css",
        "vendor/leaflet.markercluster/leaflet.markercluster.js",
        "vendor/leaflet.markercluster/MarkerCluster.css",
        "vendor/leaflet.heat/leaflet-heat.js",
        "js/map.js",
    ):
        assert f"{settings.STATIC_URL}{asset}" in html, asset
        assert finders.find(asset), asset
    for foreign in ("jquery", "bootstrap", "font-awesome", "fontawesome", "awesome-markers"):
        assert foreign not in html.lower()


def test_each_page_embeds_its_kind_of_map(pages: dict[str, str]) -> None:
    purposes = {name: [c["purpose"] for c in map_config(html)] for name, html in pages.items()}
    assert purposes == {
        "map": ["command"],
        "dashboard": ["dashboard"],
        "room": ["incident"],
        "case_new": ["picker"],
        "incident_new": ["picker"],
    }


def test_command_map_has_every_layer_and_follows_its_own_stream(pages: dict[str, str]) -> None:
    (config,) = map_config(pages["map"])
    assert set(config["feeds"]) == {
        "cases",
        "incidents",
        "windows",
        "projects",
        "places",
        "heat",
        "warnings",
    }
    assert all(url.startswith("/api/v1/map/") for url in config["feeds"].values())
    assert config["live"] == "own"
    assert config["datum"] == "wgs84"
    # The layer control's names are in the reader's language (JSON-escaped in the script).
    assert json.dumps("镇街边界")[1:-1] in pages["map"]


def test_room_map_shows_the_site_its_cases_and_what_is_near(
    mapped: District, api_client: Callable[[str], Client]
) -> None:
    incident = incident_open("command")
    html = page(api_client("command"), f"/incidents/{incident.pk}/")
    (config,) = map_config(html)
    feeds = {k: parse_qs(urlsplit(v).query) for k, v in config["feeds"].items()}
    assert feeds["incidents"]["id"] == [str(incident.pk)]
    assert feeds["cases"]["incident"] == [str(incident.pk)]
    assert feeds["windows"]["near"] == [f"{incident.lat},{incident.lng}"]
    assert config["live"] == "page"
    assert config["focus"] == {"incident_id": incident.pk}
    nearest = re.search(r'<ul id="nearby-windows">(.*?)</ul>', html, re.S)
    assert nearest is not None
    assert "练市镇矛调中心欠薪专窗" in nearest.group(1)
    police = re.search(r'<ul id="nearby-police">(.*?)</ul>', html, re.S)
    assert police is not None
    assert "练市派出所" in police.group(1)


def test_intake_form_map_writes_the_position_fields(pages: dict[str, str]) -> None:
    (config,) = map_config(pages["case_new"])
    assert config["picker"] == {"lat": "id_lat", "lng": "id_lng", "town": "id_town"}
    assert 'id="id_lat"' in pages["case_new"]
    assert 'id="id_lng"' in pages["case_new"]


def test_filters_reach_the_feeds(mapped: District, api_client: Callable[[str], Client]) -> None:
    html = page(
        api_client("command"),
        "/maps/?town=lianshi&unit=housing&date_from=2026-01-01&date_to=2026-06-30&heat=on",
    )
    (config,) = map_config(html)
    cases = parse_qs(urlsplit(config["feeds"]["cases"]).query)
    assert cases == {
        "town": ["lianshi"],
        "unit": ["housing"],
        "date_from": ["2026-01-01"],
        "date_to": ["2026-06-30"],
    }
    windows = parse_qs(urlsplit(config["feeds"]["windows"]).query)
    assert windows == {"town": ["lianshi"]}


@pytest.mark.parametrize(
    "query",
    ["town=nowhere", "date_from=2026-06-30&date_to=2026-01-01", "date_from=yesterday"],
)
def test_bad_filters_are_shown_with_a_400_and_filter_nothing(
    mapped: District, api_client: Callable[[str], Client], query: str
) -> None:
    html = page(api_client("command"), f"/maps/?{query}", status=400)
    assert 'id="form-errors"' in html
    (config,) = map_config(html)
    assert all("?" not in url for url in config["feeds"].values())


def test_the_map_needs_a_login(mapped: District) -> None:
    response = Client().get("/maps/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_people_without_a_dashboard_get_a_map_without_a_socket(
    mapped: District, api_client: Callable[[str], Client]
) -> None:
    html = page(api_client("clerk_lianshi"), "/maps/")
    (config,) = map_config(html)
    assert config["live"] == "none"
    assert 'id="live-status"' not in html


def test_tianditu_tiles_are_the_only_other_host(
    mapped: District, api_client: Callable[[str], Client], settings: Any
) -> None:
    settings.MAP_TILES = "tianditu"
    settings.MAP_TIANDITU_KEY = "abc123"
    html = page(api_client("command"), "/maps/")
    hosts = {urlsplit(u).netloc for u in external_references(html) if "//" in u}
    assert hosts == {"t{s}.tianditu.gov.cn"}
    assert "tk=abc123" in html
    assert '"subdomains": "01234567"' in html


def test_a_gcj02_tile_source_shifts_every_layer(
    mapped: District, api_client: Callable[[str], Client], settings: Any
) -> None:
    settings.MAP_TILES = "/tiles/{z}/{x}/{y}.png"
    settings.MAP_TILES_DATUM = "gcj02"
    html = page(api_client("command"), "/maps/")
    (config,) = map_config(html)
    assert config["datum"] == "gcj02"
    for layer, url in config["feeds"].items():
        assert parse_qs(urlsplit(url).query)["datum"] == ["gcj02"], layer
    lianshi = Unit.objects.get(code="lianshi")
    assert lianshi.outline is not None
    lng, lat = lianshi.outline["coordinates"][0][0]
    shifted_lat, shifted_lng = wgs84_to_gcj02(lat, lng)
    assert f"[{round(shifted_lng, 6)}, {round(shifted_lat, 6)}]" in html
    assert external_references(html) == []


def test_without_tiles_the_outlines_are_drawn_on_a_blank_map(pages: dict[str, str]) -> None:
    html = pages["map"]
    assert "L.tileLayer" not in html
    assert "L.geoJson" in html
    assert json.dumps("练市镇")[1:-1] in html


def test_no_map_code_runs_inline(pages: dict[str, str]) -> None:
    for name, text in pages.items():
        html = text.split("</html>")[0]
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (name, tag)


def test_a_map_script_is_only_for_those_who_may_see_the_map(
    mapped: District, api_client: Callable[[str], Client]
) -> None:
    incident = incident_open("command")
    script = f"/maps/incidents/{incident.pk}.js"
    assert api_client("command").get(script).status_code == 200
    assert api_client("gateway_110").get(script).status_code == 404
    anonymous = Client().get(script)
    assert anonymous.status_code == 302
    assert Client().get("/maps/command.js").status_code == 302
    response = api_client("command").get("/maps/command.js")
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAP_TILES": "tianditu"}, "MAP_TIANDITU_KEY"),
        ({"MAP_TILES": "https://tiles.example.cn/{z}/{x}.png"}, "{y}"),
        ({"MAP_TILES_DATUM": "bd09"}, "MAP_TILES_DATUM"),
    ],
)
def test_a_tile_source_that_cannot_work_fails_the_checks(
    settings: Any, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        setattr(settings, key, value)
    errors = [e for e in run_checks() if e.id == "hub.E020"]
    assert len(errors) == 1
    assert message in errors[0].msg


def test_the_default_tile_setting_passes_the_checks() -> None:
    assert [e for e in run_checks() if e.id == "hub.E020"] == []


def write(tmp_path: Path, body: Any) -> Path:
    path = tmp_path / "outlines.geojson"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_outlines_sets_the_towns_named(district: District, tmp_path: Path) -> None:
    body = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "lianshi"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {"code": "linghu"}, "geometry": SQUARE},
        ],
    }
    call_command("import_outlines", str(write(tmp_path, body)))
    assert Unit.objects.get(code="lianshi").outline == SQUARE
    assert Unit.objects.get(code="linghu").outline == SQUARE
    assert Unit.objects.get(code="hefu").outline is None


def test_import_outlines_with_any_bad_feature_imports_nothing(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unclosed = {
        "type": "Polygon",
        "coordinates": [[[120.4, 30.7], [120.5, 30.7], [120.5, 30.8], [120.4, 30.9]]],
    }
    body = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "lianshi"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {"code": "linghu"}, "geometry": unclosed},
            {"type": "Feature", "properties": {"code": "housing"}, "geometry": SQUARE},
            {"type": "Feature", "properties": {}, "geometry": SQUARE},
        ],
    }
    with pytest.raises(CommandError, match="problems: nothing imported"):
        call_command("import_outlines", str(write(tmp_path, body)))
    err = capsys.readouterr().err
    assert "features[1].geometry" in err
    assert "must end where it starts" in err
    assert "features[3].properties.code: missing" in err
    assert Unit.objects.filter(outline__isnull=False).count() == 0


def test_import_outlines_refuses_a_code_that_is_not_a_town(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": "housing"}, "geometry": SQUARE}],
    }
    with pytest.raises(CommandError):
        call_command("import_outlines", str(write(tmp_path, body)))
    assert "'housing' is not a town of this district" in capsys.readouterr().err
    assert Unit.objects.get(code="housing").outline is None


def test_import_outlines_refuses_a_file_that_is_not_json(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "outlines.geojson"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("import_outlines", str(path))


def test_the_admin_refuses_a_bad_outline(district: District) -> None:
    town = Unit.objects.get(code="lianshi")
    town.outline = {"type": "Point", "coordinates": [120.4, 30.7]}
    with pytest.raises(ValidationError) as caught:
        town.full_clean()
    assert "outline" in caught.value.message_dict
